package devcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gocql/gocql"
)

// Cluster is one configuration of local nodes (see [Options.Profile]).
type Cluster struct {
	opts Options
	dir  string
}

// New validates opts and returns the cluster they describe. It starts nothing.
func New(opts Options) (*Cluster, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Cluster{opts: o, dir: filepath.Join(o.CacheDir, "clusters", o.Profile())}, nil
}

// Dir is the folder holding this configuration's nodes.
func (c *Cluster) Dir() string { return c.dir }

// TLSDir holds ca.pem, the CA clients trust when Options.TLS is set.
func (c *Cluster) TLSDir() string { return filepath.Join(c.dir, "tls") }

// Hosts are the nodes' CQL addresses.
func (c *Cluster) Hosts() []string {
	hosts := make([]string, c.opts.Nodes)
	for i := range hosts {
		hosts[i] = nodeAddr(c.opts.Addr, i+1)
	}
	return hosts
}

func (c *Cluster) node(i int) nodeConfig {
	return nodeConfig{index: i, nodes: c.opts.Nodes, dir: filepath.Join(c.dir, fmt.Sprintf("node%d", i)), opts: c.opts, tlsDir: c.TLSDir()}
}

// StartResult describes a running cluster.
type StartResult struct {
	Version string
	// AlreadyRunning is true when start found the cluster answering and did nothing.
	AlreadyRunning bool
	// Install and Boot split the time Start took.
	Install, Boot time.Duration
}

// Start installs what is missing and starts every node that is not running,
// one after the other (a node paused by [Cluster.Pause] is resumed),
// returning once each node answers a CQL query and every node sees all its
// peers up. When the cluster already answers it does nothing. When another
// configuration runs on one of its addresses it fails and says how to stop
// it. Processes that start the same cluster at once (parallel test
// binaries) take turns: the later ones find it running.
func (c *Cluster) Start(ctx context.Context) (*StartResult, error) {
	return c.start(ctx, func(int) bool { return true })
}

// start starts the nodes that want(i) selects and do not run, then waits
// until the cluster is up: every node when all run, else the started ones.
func (c *Cluster) start(ctx context.Context, want func(i int) bool) (*StartResult, error) {
	if v, err := c.readyAll(ctx); err == nil && !c.anyPaused() {
		return &StartResult{Version: v, AlreadyRunning: true}, nil
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := c.checkOthers(); err != nil {
		return nil, err
	}
	for i := 1; i <= c.opts.Nodes; i++ {
		if want(i) && c.Paused(i) {
			fmt.Fprintf(c.opts.Log, "node %d (%s) was paused; resuming it\n", i, c.NodeAddr(i))
			if err := c.Resume(i); err != nil {
				return nil, err
			}
		}
	}
	if v, err := c.readyAll(ctx); err == nil {
		return &StartResult{Version: v, AlreadyRunning: true}, nil
	}
	if running, _ := anyLiveNode(c.dir); !running {
		if addr := answeringForeign(c.Hosts()); addr != "" {
			return nil, fmt.Errorf("%w: something already listens on %s:%d but does not answer as the %s cluster; stop it first", ErrPortInUse, addr, CQLPort, c.opts.Profile())
		}
	}

	began := time.Now()
	inst, err := Install(ctx, c.opts.CacheDir, c.opts.Version, c.opts.Log)
	if err != nil {
		return nil, err
	}
	res := &StartResult{Version: inst.Version, Install: time.Since(began)}
	if c.opts.TLS {
		if err := ensureTLS(c.TLSDir(), c.Hosts()); err != nil {
			return nil, fmt.Errorf("write TLS certificates: %w", err)
		}
	}
	if err := c.saveOptions(); err != nil {
		return nil, err
	}
	booted := time.Now()
	for i := 1; i <= c.opts.Nodes; i++ {
		n := c.node(i)
		if pid := livePid(n); pid != 0 {
			fmt.Fprintf(c.opts.Log, "node %d (%s) already runs as pid %d\n", i, n.addr(), pid)
			continue
		}
		if !want(i) {
			continue
		}
		if err := c.startNode(ctx, n, inst); err != nil {
			return nil, err
		}
	}
	// A single node has no peers to see; the probe below would fail there
	// anyway, since consistency ALL counts system_distributed's replication
	// factor of 3, not the nodes that exist.
	if c.opts.Nodes > 1 && c.allRunning() {
		if err := c.waitPeers(ctx); err != nil {
			return nil, err
		}
		if err := c.WaitUp(ctx); err != nil {
			return nil, err
		}
	}
	res.Boot = time.Since(booted)
	return res, nil
}

func (c *Cluster) allRunning() bool {
	for i := 1; i <= c.opts.Nodes; i++ {
		if c.Pid(i) == 0 {
			return false
		}
	}
	return true
}

func (c *Cluster) anyPaused() bool {
	for i := 1; i <= c.opts.Nodes; i++ {
		if c.Paused(i) {
			return true
		}
	}
	return false
}

func (c *Cluster) startNode(ctx context.Context, n nodeConfig, inst *Installation) error {
	for _, port := range []int{StoragePort, CQLPort, JMXPort(n.addr())} {
		host := n.addr()
		if port == JMXPort(n.addr()) {
			host = "127.0.0.1" // local JMX always binds the loopback address
		}
		if err := portFree(host, port); err != nil {
			return err
		}
	}
	if err := n.writeFiles(); err != nil {
		return fmt.Errorf("write node %d configuration: %w", n.index, err)
	}
	args := n.jvmArgs(inst)
	if err := os.WriteFile(n.path("conf", "jvm.args"), []byte(strings.Join(args, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	console, err := os.Create(n.path("logs", "console.log"))
	if err != nil {
		return err
	}
	defer console.Close()
	cmd := exec.Command(inst.Java, args...)
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = console, console
	cmd.Env = append(os.Environ(), "MALLOC_ARENA_MAX=4", "JAVA_HOME="+JavaHome)
	// A session of its own: the node outlives this process and its terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	fmt.Fprintf(c.opts.Log, "starting node %d on %s (Cassandra %s, heap %d MiB, logs in %s)…\n", n.index, n.addr(), inst.Version, c.opts.HeapMB, n.path("logs"))
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: run %s: %w", ErrStartFailed, inst.Java, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(pidFile(n), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.NewTimer(c.opts.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return ctx.Err()
		case err := <-exited:
			_ = os.Remove(pidFile(n))
			return c.startFailure(n, fmt.Sprintf("the JVM exited (%v)", err))
		case <-deadline.C:
			_ = cmd.Process.Kill()
			<-exited
			_ = os.Remove(pidFile(n))
			return c.startFailure(n, fmt.Sprintf("no CQL answer within %s", c.opts.StartTimeout))
		case <-tick.C:
			if _, _, err := c.probe(ctx, n.addr()); err == nil {
				fmt.Fprintf(c.opts.Log, "node %d answers CQL on %s:%d after %s (pid %d)\n", n.index, n.addr(), CQLPort, time.Since(began).Round(100*time.Millisecond), pid)
				// Keep Wait's goroutine from holding the child: it is on its own now.
				return nil
			}
		}
	}
}

// startFailure builds the error of a node that did not start: the reason it
// could find in the logs and their last lines.
func (c *Cluster) startFailure(n nodeConfig, what string) error {
	system, _ := os.ReadFile(n.path("logs", "system.log"))
	console, _ := os.ReadFile(n.path("logs", "console.log"))
	reason := diagnose(string(system) + "\n" + string(console))
	var b strings.Builder
	fmt.Fprintf(&b, "node %d on %s: %s", n.index, n.addr(), what)
	if reason != "" {
		fmt.Fprintf(&b, "\nreason: %s", reason)
	}
	for _, l := range []struct {
		name string
		text []byte
	}{{"system.log", system}, {"console.log", console}} {
		if len(strings.TrimSpace(string(l.text))) > 0 {
			fmt.Fprintf(&b, "\nlast lines of %s:\n%s", n.path("logs", l.name), tail(string(l.text), 25))
		}
	}
	return fmt.Errorf("%w: %s", ErrStartFailed, b.String())
}

var bindFailure = regexp.MustCompile(`(?i)(address already in use|failed to bind|unable to bind)[^\n]*`)

// diagnose names the cause of a failed start from Cassandra's output.
func diagnose(logs string) string {
	switch {
	case bindFailure.MatchString(logs):
		return "a port is in use: " + bindFailure.FindString(logs)
	case strings.Contains(logs, "InaccessibleObjectException"), strings.Contains(logs, "unable to access required classes"):
		return "the JVM refused Cassandra's reflective access (a missing --add-opens/--add-exports flag, or not JDK 17)"
	case strings.Contains(logs, "UnsupportedClassVersionError"):
		return "the JDK is too old for Cassandra 5.0 (it needs JDK 11 or 17)"
	case strings.Contains(logs, "Invalid yaml"), strings.Contains(logs, "ConfigurationException"):
		return "Cassandra rejected its configuration: " + firstLine(logs, "Exception")
	case strings.Contains(logs, "Cannot change the number of tokens"), strings.Contains(logs, "Saved cluster name"):
		return "the data folder was written by another configuration; remove it with scripts/cassandra stop --wipe"
	case strings.Contains(logs, "OutOfMemoryError"):
		return "the node ran out of heap; raise --heap"
	case strings.Contains(logs, "No space left on device"):
		return "the disk is full"
	}
	return ""
}

func firstLine(s, substr string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, substr) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// portFree fails with ErrPortInUse when host:port cannot be bound.
func portFree(host string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("%w: %s:%d is taken by another process (find it with: ss -ltnp 'sport = :%d')", ErrPortInUse, host, port, port)
	}
	return l.Close()
}

// waitPeers waits until every node lists all the others in system.peers_v2.
func (c *Cluster) waitPeers(ctx context.Context) error {
	if c.opts.Nodes == 1 {
		return nil
	}
	deadline := time.Now().Add(c.opts.StartTimeout)
	for {
		var missing []string
		for _, h := range c.Hosts() {
			_, peers, err := c.probe(ctx, h)
			if err != nil || peers != c.opts.Nodes-1 {
				missing = append(missing, fmt.Sprintf("%s sees %d of %d peers", h, peers, c.opts.Nodes-1))
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: nodes do not see each other: %s", ErrStartFailed, strings.Join(missing, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// readyAll returns the release version when every node answers and sees all
// its peers.
func (c *Cluster) readyAll(ctx context.Context) (string, error) {
	var version string
	for _, h := range c.Hosts() {
		v, peers, err := c.probe(ctx, h)
		if err != nil {
			return "", err
		}
		if peers != c.opts.Nodes-1 {
			return "", fmt.Errorf("%s sees %d peers, want %d", h, peers, c.opts.Nodes-1)
		}
		version = v
	}
	return version, nil
}

var quietLogger = log.New(io.Discard, "", 0)

// Session opens a gocql session to one node with this cluster's credentials
// and TLS settings, and the short timeouts of a readiness probe.
func (c *Cluster) Session(host string) (*gocql.Session, error) {
	cl, err := c.ClusterConfig(host)
	if err != nil {
		return nil, err
	}
	return cl.CreateSession()
}

// ClusterConfig is the configuration Session uses: one node, this cluster's
// credentials (the superuser) and TLS settings, probe timeouts. Callers may
// change it before creating a session.
func (c *Cluster) ClusterConfig(host string) (*gocql.ClusterConfig, error) {
	cl := gocql.NewCluster(host)
	cl.Port = CQLPort
	cl.DisableInitialHostLookup = true
	cl.HostFilter = gocql.WhiteListHostFilter(host)
	cl.ConnectTimeout = 2 * time.Second
	cl.Timeout = 5 * time.Second
	cl.NumConns = 1
	cl.Logger = quietLogger
	// One attempt per probe; gocql v1.7.0 adds a nil connection (and later
	// panics) when MaxRetries is 0.
	cl.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 1, Interval: time.Second}
	if c.opts.Auth {
		cl.Authenticator = gocql.PasswordAuthenticator{Username: SuperUser, Password: SuperPassword}
	}
	if c.opts.TLS {
		cfg, err := ClientTLS(filepath.Join(c.TLSDir(), CAFile))
		if err != nil {
			return nil, err
		}
		cl.SslOpts = &gocql.SslOptions{Config: cfg, EnableHostVerification: true}
	}
	return cl, nil
}

// probe runs a real CQL query on one node: its release version and how many
// peers it knows.
func (c *Cluster) probe(ctx context.Context, host string) (version string, peers int, err error) {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(CQLPort)), time.Second)
	if err != nil {
		return "", 0, err
	}
	_ = conn.Close()
	s, err := c.Session(host)
	if err != nil {
		return "", 0, err
	}
	defer s.Close()
	if err := s.Query("SELECT release_version FROM system.local").WithContext(ctx).Scan(&version); err != nil {
		return "", 0, err
	}
	iter := s.Query("SELECT peer FROM system.peers_v2").WithContext(ctx).Iter()
	var peer net.IP
	for iter.Scan(&peer) {
		peers++
	}
	return version, peers, iter.Close()
}

// answeringForeign returns the first address whose CQL port accepts
// connections although no node of ours runs.
func answeringForeign(hosts []string) string {
	for _, h := range hosts {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(h, strconv.Itoa(CQLPort)), time.Second)
		if err == nil {
			_ = conn.Close()
			return h
		}
	}
	return ""
}

// checkOthers fails when a node of another configuration runs on one of
// this cluster's addresses: they would share its ports.
func (c *Cluster) checkOthers() error {
	for _, other := range clusters(c.opts.CacheDir) {
		if other.dir == c.dir || !overlap(c.Hosts(), other.Hosts()) {
			continue
		}
		if running, _ := anyLiveNode(other.dir); running {
			stop := "scripts/cassandra stop"
			if other.opts.Addr != DefaultAddr {
				stop += " --addr " + other.opts.Addr
			}
			return fmt.Errorf("%w: the %s cluster is running on the same addresses; stop it first with %s", ErrPortInUse, other.opts.Profile(), stop)
		}
	}
	return nil
}

// clusters returns the configuration of each folder under cacheDir/clusters
// whose name is a profile, so that each one's Dir is the folder listed.
func clusters(cacheDir string) []*Cluster {
	var out []*Cluster
	entries, _ := os.ReadDir(filepath.Join(cacheDir, "clusters"))
	for _, e := range entries {
		opts, ok := parseProfile(e.Name())
		if !ok {
			continue
		}
		opts.CacheDir = cacheDir
		c, err := New(opts)
		if err != nil || c.opts.Profile() != e.Name() {
			continue
		}
		c.loadOptions()
		out = append(out, c)
	}
	return out
}

func overlap(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// lock serialises starts of this cluster across processes with an exclusive
// flock on a file beside its folder. The lock goes with the process, so a
// killed starter never leaves it held.
func (c *Cluster) lock(ctx context.Context) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(c.dir), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(c.dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func pidFile(n nodeConfig) string { return n.path("cassandra.pid") }

// livePid returns the pid in the node's pid file when that process is still
// a Cassandra daemon running on this node's folder, else 0.
func livePid(n nodeConfig) int {
	return livePidIn(n.dir)
}

func livePidIn(nodeDir string) int {
	b, err := os.ReadFile(filepath.Join(nodeDir, "cassandra.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0
	}
	// A recycled pid runs something else: it must be our daemon on our folder.
	args := string(cmdline)
	if !strings.Contains(args, "org.apache.cassandra.service.CassandraDaemon") ||
		!strings.Contains(args, "-Dcassandra.storagedir="+filepath.Join(nodeDir, "data")+"\x00") {
		return 0
	}
	return pid
}

func anyLiveNode(clusterDir string) (bool, error) {
	nodes, err := filepath.Glob(filepath.Join(clusterDir, "node*"))
	if err != nil {
		return false, err
	}
	for _, n := range nodes {
		if livePidIn(n) != 0 {
			return true, nil
		}
	}
	return false, nil
}

// NodeStatus is one node's state as Status sees it.
type NodeStatus struct {
	Profile string
	Node    int
	Addr    string
	Pid     int // 0 when not running
	Version string
	Peers   int
	Err     error // why CQL does not answer, when Pid != 0
}

// Status reports every node of every configuration that has a live pid.
func Status(ctx context.Context, cacheDir string) ([]NodeStatus, error) {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	var out []NodeStatus
	for _, c := range clusters(cacheDir) {
		for i := 1; i <= c.opts.Nodes; i++ {
			n := c.node(i)
			pid := livePid(n)
			if pid == 0 {
				continue
			}
			st := NodeStatus{Profile: c.opts.Profile(), Node: i, Addr: n.addr(), Pid: pid}
			if procState(pid) == 'T' {
				st.Err = fmt.Errorf("paused (SIGSTOP); scripts/cassandra resume --addr %s lets it go on", n.addr())
			} else {
				st.Version, st.Peers, st.Err = c.probe(ctx, n.addr())
			}
			out = append(out, st)
		}
	}
	return out, nil
}

var profilePattern = regexp.MustCompile(`^nodes([1-9])(-auth)?(-tls)?(-features)?(?:-(127\.0\.0\.[0-9]{1,3}))?$`)

func parseProfile(name string) (Options, bool) {
	m := profilePattern.FindStringSubmatch(name)
	if m == nil {
		return Options{}, false
	}
	n, _ := strconv.Atoi(m[1])
	return Options{Nodes: n, Auth: m[2] != "", TLS: m[3] != "", Features: m[4] != "", Addr: m[5]}, true
}

// Stop ends every node whose pid file this package wrote under cacheDir:
// SIGTERM, then SIGKILL after timeout. With wipe it also removes the nodes'
// data. It never looks for processes by name.
func Stop(ctx context.Context, cacheDir string, timeout time.Duration, wipe bool, logw io.Writer) error {
	return StopAddr(ctx, cacheDir, "", timeout, wipe, logw)
}

// StopAddr is Stop limited to the clusters with a node on addr; an empty
// addr means every cluster.
func StopAddr(ctx context.Context, cacheDir, addr string, timeout time.Duration, wipe bool, logw io.Writer) error {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	if logw == nil {
		logw = io.Discard
	}
	var nodeDirs []string
	for _, c := range clusters(cacheDir) {
		if addr != "" && !slices.Contains(c.Hosts(), addr) {
			continue
		}
		dirs, err := filepath.Glob(filepath.Join(c.dir, "node*"))
		if err != nil {
			return err
		}
		nodeDirs = append(nodeDirs, dirs...)
	}
	type victim struct {
		dir string
		pid int
	}
	var victims []victim
	for _, d := range nodeDirs {
		if pid := livePidIn(d); pid != 0 {
			if err := terminate(pid); err != nil {
				return fmt.Errorf("stop pid %d: %w", pid, err)
			}
			fmt.Fprintf(logw, "stopping %s (pid %d)\n", d, pid)
			victims = append(victims, victim{d, pid})
		}
		_ = os.Remove(filepath.Join(d, "cassandra.pid"))
	}
	deadline := time.Now().Add(timeout)
	for _, v := range victims {
		for alive(v.pid) {
			if time.Now().After(deadline) {
				fmt.Fprintf(logw, "pid %d did not stop within %s; killing it\n", v.pid, timeout)
				_ = syscall.Kill(v.pid, syscall.SIGKILL)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	if wipe {
		for _, d := range nodeDirs {
			if err := os.RemoveAll(filepath.Join(d, "data")); err != nil {
				return err
			}
		}
		fmt.Fprintf(logw, "removed the data of %d nodes\n", len(nodeDirs))
	}
	if len(victims) == 0 {
		fmt.Fprintln(logw, "no node of ours was running")
	}
	return nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st := procState(pid)
	return st != 0 && st != 'Z'
}

// procState is the state letter of pid in /proc (R, S, T for stopped, Z for
// a zombie, …), or 0 when there is no such process.
func procState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The state follows the command name in parentheses: "pid (comm) S …".
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2]
	}
	return '?'
}
