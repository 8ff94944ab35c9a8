package devcluster

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestInitialTokensSpreadTheRing(t *testing.T) {
	t.Parallel()

	tests := map[int][]string{
		1: {"-9223372036854775808"},
		2: {"-9223372036854775808", "0"},
		3: {"-9223372036854775808", "-3074457345618258603", "3074457345618258602"},
	}
	for nodes, want := range tests {
		var got []string
		for i := 1; i <= nodes; i++ {
			got = append(got, initialToken(i, nodes))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tokens for %d nodes (-want +got):\n%s", nodes, diff)
		}
		for _, tok := range got {
			v, ok := new(big.Int).SetString(tok, 10)
			if !ok || !v.IsInt64() {
				t.Errorf("token %s is not a Murmur3 token", tok)
			}
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "TooManyNodes", opts: Options{Nodes: 4}, want: "nodes must be between 1 and 3, got 4"},
		{name: "NotFiveZero", opts: Options{Version: "4.1.5"}, want: `version must be a 5.0.x release, got "4.1.5"`},
		{name: "TinyHeap", opts: Options{HeapMB: 64}, want: "heap must be at least 256 MiB, got 64"},
		{name: "AddrNotLoopback", opts: Options{Addr: "10.0.0.1"}, want: `addr must be a loopback address 127.0.0.1 to 127.0.0.254, got "10.0.0.1"`},
		{name: "AddrRunsOff", opts: Options{Addr: "127.0.0.253", Nodes: 3}, want: `addr must be a loopback address 127.0.0.1 to 127.0.0.252, got "127.0.0.253"`},
		{name: "AddrLeadingZero", opts: Options{Addr: "127.0.0.011"}, want: `addr must be a loopback address 127.0.0.1 to 127.0.0.254, got "127.0.0.011"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("New() error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestProfileRoundTrip(t *testing.T) {
	t.Parallel()

	for _, o := range []Options{{Nodes: 1}, {Nodes: 3}, {Nodes: 1, Auth: true}, {Nodes: 1, TLS: true}, {Nodes: 2, Auth: true, TLS: true},
		{Nodes: 1, Auth: true, Addr: "127.0.0.11"}, {Nodes: 2, TLS: true, Addr: "127.0.0.12"}, {Nodes: 1, Features: true, Addr: "127.0.0.13"},
		{Nodes: 1, Auth: true, TLS: true, Features: true}} {
		got, ok := parseProfile(o.Profile())
		if !ok || got != o {
			t.Errorf("parseProfile(%q) = %+v, %v; want %+v", o.Profile(), got, ok, o)
		}
	}
	if _, ok := parseProfile("tmp"); ok {
		t.Error(`parseProfile("tmp") accepted a folder that is no profile`)
	}
}

func TestYAMLPerNode(t *testing.T) {
	t.Parallel()

	c, err := New(Options{Nodes: 3, Auth: true, TLS: true, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	y := c.node(2).yaml()
	for _, want := range []string{
		"listen_address: 127.0.0.2\n",
		"rpc_address: 127.0.0.2\n",
		`- seeds: "127.0.0.1:7000"`,
		"initial_token: -3074457345618258603\n",
		"authenticator: PasswordAuthenticator\n",
		"optional: false\n",
		"keystore: " + filepath.Join(c.TLSDir(), "server.pem") + "\n",
		"data_file_directories:\n  - " + filepath.Join(c.Dir(), "node2", "data", "data") + "\n",
	} {
		if !strings.Contains(y, want) {
			t.Errorf("yaml of node 2 lacks %q:\n%s", want, y)
		}
	}
	if strings.Contains(y, ": \n") {
		t.Errorf("yaml has an empty value, which Cassandra rejects:\n%s", y)
	}
}

// TestYAMLFeatures checks the keys of a node with Features, whose names
// Cassandra 5.0 checks at start (an unknown key aborts it), and that other
// nodes keep the shipped defaults.
func TestYAMLFeatures(t *testing.T) {
	t.Parallel()

	c, err := New(Options{Features: true, Addr: "127.0.0.13", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"materialized_views_enabled", "sasi_indexes_enabled", "dynamic_data_masking_enabled",
		"user_defined_functions_enabled", "drop_compact_storage_enabled"}
	y := c.node(1).yaml()
	for _, k := range keys {
		if !strings.Contains(y, "\n"+k+": true\n") {
			t.Errorf("yaml with Features lacks %s: true", k)
		}
	}
	def, _ := New(Options{CacheDir: t.TempDir()})
	for _, k := range keys {
		if strings.Contains(def.node(1).yaml(), k) {
			t.Errorf("yaml without Features sets %s", k)
		}
	}
	if got, want := filepath.Base(c.Dir()), "nodes1-features-127.0.0.13"; got != want {
		t.Errorf("profile folder = %s, want %s", got, want)
	}
}

// TestClusterOnOtherAddress checks what lets a second cluster run beside the
// default one: its own addresses, JMX ports, cluster name, seed, folder and
// certificate addresses.
func TestClusterOnOtherAddress(t *testing.T) {
	t.Parallel()

	c, err := New(Options{Nodes: 2, Auth: true, Addr: "127.0.0.11", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"127.0.0.11", "127.0.0.12"}, c.Hosts()); diff != "" {
		t.Errorf("Hosts() (-want +got):\n%s", diff)
	}
	if got, want := filepath.Base(c.Dir()), "nodes2-auth-127.0.0.11"; got != want {
		t.Errorf("profile folder = %s, want %s", got, want)
	}
	y := c.node(2).yaml()
	for _, want := range []string{
		"cluster_name: jobsharp-dev-127.0.0.11\n",
		"listen_address: 127.0.0.12\n",
		`- seeds: "127.0.0.11:7000"`,
	} {
		if !strings.Contains(y, want) {
			t.Errorf("yaml of node 2 lacks %q", want)
		}
	}
	if !strings.Contains(strings.Join(c.node(2).jvmArgs(&Installation{LibDir: "/lib"}), " "), "-Dcassandra.jmx.local.port=8299 ") {
		t.Error("node on 127.0.0.12 does not get JMX port 8299")
	}
	for addr, want := range map[string]int{"127.0.0.1": 7199, "127.0.0.3": 7399, "127.0.0.11": 8199, "127.0.0.12": 8299} {
		if got := JMXPort(addr); got != want {
			t.Errorf("JMXPort(%s) = %d, want %d", addr, got, want)
		}
	}
	def, _ := New(Options{Nodes: 3, CacheDir: t.TempDir()})
	if overlap(def.Hosts(), c.Hosts()) {
		t.Errorf("hosts %v and %v reported as overlapping", def.Hosts(), c.Hosts())
	}
	if !strings.Contains(def.node(1).yaml(), "cluster_name: jobsharp-dev\n") {
		t.Error("the default cluster changed its name; its existing data folders would no longer start")
	}

	dir := t.TempDir()
	if err := ensureTLS(dir, c.Hosts()); err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, serverFile))
	if err != nil {
		t.Fatal(err)
	}
	cert := lastCert(t, pemBytes)
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if diff := cmp.Diff(c.Hosts(), ips); diff != "" {
		t.Errorf("certificate addresses (-want +got):\n%s", diff)
	}
}

func lastCert(t *testing.T, pemBytes []byte) *x509.Certificate {
	t.Helper()
	var cert *x509.Certificate
	for {
		var b *pem.Block
		b, pemBytes = pem.Decode(pemBytes)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			cert = c
		}
	}
	if cert == nil {
		t.Fatal("no certificate")
	}
	return cert
}

// TestStartLockSerialises checks that a second starter of the same cluster
// waits for the first.
func TestStartLockSerialises(t *testing.T) {
	t.Parallel()

	c, err := New(Options{CacheDir: t.TempDir(), Addr: "127.0.0.200"})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := c.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := c.lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock() error = %v, want it to wait until the context ends", err)
	}
	unlock()
	unlock2, err := c.lock(context.Background())
	if err != nil {
		t.Fatalf("lock() after unlock: %v", err)
	}
	unlock2()
}

func TestDiagnose(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"ERROR [main] Failed to bind port 9042 on 127.0.0.1: Address already in use":                                                                  "a port is in use",
		"java.lang.reflect.InaccessibleObjectException: Unable to make field":                                                                         "--add-opens",
		"Exception (org.apache.cassandra.exceptions.ConfigurationException) encountered during startup: Invalid yaml. Please remove properties [foo]": "rejected its configuration",
		"java.lang.OutOfMemoryError: Java heap space":                                                                                                 "raise --heap",
		"nothing useful": "",
	}
	for logs, want := range tests {
		got := diagnose(logs)
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("diagnose(%q) = %q, want it to mention %q", logs, got, want)
		}
	}
}

func TestMavenUnreachableIsRecognised(t *testing.T) {
	t.Parallel()

	out := "[ERROR] Failed to execute goal on project x: Could not transfer artifact org.apache.cassandra:cassandra-all:pom:5.0.9 from/to central: Unknown host repo.maven.apache.org"
	if !unreachable(out) {
		t.Errorf("unreachable(%q) = false", out)
	}
	if unreachable("[ERROR] Failed to execute goal: some plugin bug") {
		t.Error("unreachable() = true for an unrelated failure")
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	err = portFree("127.0.0.1", port)
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("portFree() error = %v, want ErrPortInUse", err)
	}
	if !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("error %q does not name %s", err, l.Addr())
	}
}

// TestStartRefusesWhatItDidNotStart checks that a cluster whose addresses are
// taken by a node it does not own fails at once with ErrPortInUse instead of
// starting a second JVM. It needs a node answering on 127.0.0.1:9042 (make
// test starts one); that node is not of this temporary cache folder.
func TestStartRefusesWhatItDidNotStart(t *testing.T) {
	t.Parallel()

	conn, err := net.Dial("tcp", "127.0.0.1:9042")
	if err != nil {
		t.Fatalf("no node on 127.0.0.1:9042; start one with scripts/cassandra start: %v", err)
	}
	conn.Close()
	c, err := New(Options{Nodes: 2, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Start(context.Background())
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("Start() error = %v, want ErrPortInUse", err)
	}
	if entries, _ := os.ReadDir(c.Dir()); len(entries) != 0 {
		t.Errorf("Start() wrote %d entries into %s before failing", len(entries), c.Dir())
	}
}

func TestStopOnlyTouchesOwnPids(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	node := filepath.Join(dir, "clusters", "nodes1", "node1")
	if err := os.MkdirAll(node, 0o755); err != nil {
		t.Fatal(err)
	}
	// Our own pid is alive but is not a Cassandra daemon on that folder.
	if err := os.WriteFile(filepath.Join(node, "cassandra.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if pid := livePidIn(node); pid != 0 {
		t.Fatalf("livePidIn() = %d for a process that is not our daemon", pid)
	}
	if err := Stop(context.Background(), dir, 0, false, nil); err != nil {
		t.Fatalf("Stop() error = %v", err)
	}
}

// TestUnsafeSystemOnlyOnFastSingleNodes checks that every node meant to be
// killed flushes its system tables: a node with -Dcassandra.unsafesystem
// comes back from SIGKILL without its schema.
func TestUnsafeSystemOnlyOnFastSingleNodes(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		opts   Options
		unsafe bool
	}{
		{Options{Nodes: 1}, true},
		{Options{Nodes: 1, Auth: true, Addr: "127.0.0.11"}, true},
		{Options{Nodes: 1, Durable: true}, false},
		{Options{Nodes: 2}, false},
		{Options{Nodes: 3, Addr: "127.0.0.21"}, false},
	} {
		tt.opts.CacheDir = t.TempDir()
		c, err := New(tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= c.Nodes(); i++ {
			args := c.node(i).jvmArgs(&Installation{LibDir: "/lib"})
			if got := slices.Contains(args, unsafeSystemFlag); got != tt.unsafe {
				t.Errorf("%s node %d: %s in the JVM arguments = %v, want %v", tt.opts.Profile(), i, unsafeSystemFlag, got, tt.unsafe)
			}
			if !slices.Contains(args, "-Dcassandra.skip_sync=true") {
				t.Errorf("%s node %d lost -Dcassandra.skip_sync", tt.opts.Profile(), i)
			}
		}
	}
}

// TestUnsafeSystemSeenInProcess checks that Kill's refusal looks at how the
// running process was started.
func TestUnsafeSystemSeenInProcess(t *testing.T) {
	t.Parallel()

	cmd := exec.Command("sh", "-c", "sleep 30; :", "sh", unsafeSystemFlag)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// Start may return before the kernel has set the new command line up
	// (the exec is not finished when the parent resumes).
	for range 200 {
		if st := procState(cmd.Process.Pid); unsafeSystem(cmd.Process.Pid) && st == 'S' {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !unsafeSystem(cmd.Process.Pid) {
		t.Errorf("unsafeSystem() = false for a process started with %s", unsafeSystemFlag)
	}
	if unsafeSystem(os.Getpid()) {
		t.Error("unsafeSystem() = true for the test process")
	}
	if got := procState(cmd.Process.Pid); got != 'S' {
		t.Errorf("procState() of a sleeping shell = %q, want S", got)
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if procState(cmd.Process.Pid) == 'T' {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := procState(cmd.Process.Pid); got != 'T' {
		t.Errorf("procState() after SIGSTOP = %q, want T", got)
	}
	if err := terminate(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// A zombie counts as gone; the deferred Wait reaps it.
	if err := waitGone(context.Background(), cmd.Process.Pid, 10*time.Second); err != nil {
		t.Errorf("a stopped process did not end after terminate (SIGTERM + SIGCONT): %v", err)
	}
}

// TestFindNode checks that a node is found by address with the options its
// cluster was last started with, and that an address two stopped
// configurations share is refused rather than guessed.
func TestFindNode(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	c, err := New(Options{CacheDir: dir, Nodes: 3, Addr: "127.0.0.21", HeapMB: 512})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(c.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.saveOptions(); err != nil {
		t.Fatal(err)
	}
	found, i, err := FindNode(dir, "127.0.0.22")
	if err != nil {
		t.Fatal(err)
	}
	if i != 2 || found.Dir() != c.Dir() || found.Options().HeapMB != 512 {
		t.Errorf("FindNode(127.0.0.22) = node %d of %s with heap %d; want node 2 of %s with heap 512", i, found.Dir(), found.Options().HeapMB, c.Dir())
	}
	if _, _, err := FindNode(dir, "127.0.0.30"); !errors.Is(err, ErrNoNode) {
		t.Errorf("FindNode() of an address no cluster has: error = %v, want ErrNoNode", err)
	}
	other, err := New(Options{CacheDir: dir, Nodes: 1, Addr: "127.0.0.22"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(other.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := FindNode(dir, "127.0.0.22"); !errors.Is(err, ErrNoNode) || !strings.Contains(err.Error(), "several clusters") {
		t.Errorf("FindNode() of an address two stopped clusters share: error = %v", err)
	}
	if err := c.checkIndex(4); !errors.Is(err, ErrNoNode) {
		t.Errorf("checkIndex(4) of a three-node cluster: error = %v, want ErrNoNode", err)
	}
}
