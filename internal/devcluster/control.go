package devcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gocql/gocql"
)

// Node control for fault tests and for people who try failures by hand
// (scripts/cassandra kill, restart, pause, resume). Nodes are numbered from
// 1, in address order.

// ErrNotDurable is returned by [Cluster.Kill] for a node that runs with
// -Dcassandra.unsafesystem=true: killed, it would come back without its
// schema (see [Options.Durable]).
var ErrNotDurable = errors.New("node is not durable")

// ErrNoNode is returned for a node index or address that is not part of the
// cluster, or a node that does not run when it must.
var ErrNoNode = errors.New("no such node")

// NodeAddr is the address of node i.
func (c *Cluster) NodeAddr(i int) string { return nodeAddr(c.opts.Addr, i) }

// Nodes is the number of nodes.
func (c *Cluster) Nodes() int { return c.opts.Nodes }

// Pid returns the pid of node i, or 0 when it does not run.
func (c *Cluster) Pid(i int) int {
	if i < 1 || i > c.opts.Nodes {
		return 0
	}
	return livePid(c.node(i))
}

// Paused reports whether node i is stopped by SIGSTOP ([Cluster.Pause]).
func (c *Cluster) Paused(i int) bool {
	pid := c.Pid(i)
	return pid != 0 && procState(pid) == 'T'
}

func (c *Cluster) checkIndex(i int) error {
	if i < 1 || i > c.opts.Nodes {
		return fmt.Errorf("%w: node %d of the %s cluster (it has nodes 1 to %d)", ErrNoNode, i, c.opts.Profile(), c.opts.Nodes)
	}
	return nil
}

// running returns the pid of node i, or ErrNoNode when it does not run.
func (c *Cluster) running(i int) (int, error) {
	if err := c.checkIndex(i); err != nil {
		return 0, err
	}
	pid := c.Pid(i)
	if pid == 0 {
		return 0, fmt.Errorf("%w: node %d (%s) does not run", ErrNoNode, i, c.NodeAddr(i))
	}
	return pid, nil
}

// Kill ends node i with SIGKILL, as a crash would: no drain, no flush. It
// returns once the process is gone. It refuses a node that is not durable
// (ErrNotDurable), since that node would come back without its schema.
func (c *Cluster) Kill(ctx context.Context, i int) error {
	pid, err := c.running(i)
	if err != nil {
		return err
	}
	if unsafeSystem(pid) {
		return fmt.Errorf("%w: node %d (%s) runs with %s: killed, it would come back without the schema of the keyspaces created since it started. Kill works on clusters of several nodes and on a node started with --durable (Options.Durable)",
			ErrNotDurable, i, c.NodeAddr(i), unsafeSystemFlag)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill node %d (pid %d): %w", i, pid, err)
	}
	return waitGone(ctx, pid, time.Minute)
}

// Pause stops node i with SIGSTOP: its process keeps its connections open
// but answers nothing, like a node in a long GC pause or a frozen VM. It
// returns once the process is stopped. [Cluster.Resume] lets it go on.
func (c *Cluster) Pause(i int) error {
	if err := c.signal(i, syscall.SIGSTOP); err != nil {
		return err
	}
	// The signal is delivered asynchronously, thread by thread.
	for range 200 {
		if c.Paused(i) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("node %d (%s) did not stop within 2s of SIGSTOP", i, c.NodeAddr(i))
}

// Resume continues node i after [Cluster.Pause] (SIGCONT).
func (c *Cluster) Resume(i int) error { return c.signal(i, syscall.SIGCONT) }

func (c *Cluster) signal(i int, sig syscall.Signal) error {
	pid, err := c.running(i)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %v to node %d (pid %d): %w", sig, i, pid, err)
	}
	return nil
}

// StopNode stops node i cleanly: SIGTERM (Cassandra drains: it flushes
// every table), then SIGKILL if it still runs after timeout. A paused node
// is resumed so that it can drain. A node that does not run is left alone.
func (c *Cluster) StopNode(ctx context.Context, i int, timeout time.Duration) error {
	if err := c.checkIndex(i); err != nil {
		return err
	}
	pid := c.Pid(i)
	if pid == 0 {
		return nil
	}
	if err := terminate(pid); err != nil {
		return fmt.Errorf("stop node %d (pid %d): %w", i, pid, err)
	}
	if err := waitGone(ctx, pid, timeout); err == nil || ctx.Err() != nil {
		return err
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return waitGone(ctx, pid, time.Minute)
}

// StartNode starts node i if it does not run (a paused node is resumed)
// and returns once it answers CQL and, when every node runs, every node
// sees every other up ([Cluster.WaitUp]).
func (c *Cluster) StartNode(ctx context.Context, i int) error {
	if err := c.checkIndex(i); err != nil {
		return err
	}
	_, err := c.start(ctx, func(n int) bool { return n == i })
	return err
}

// Restart stops node i (cleanly with SIGTERM, or with SIGKILL when kill is
// set) and starts it again, returning once it is back up as StartNode says.
// A node that does not run is just started.
func (c *Cluster) Restart(ctx context.Context, i int, kill bool) error {
	if err := c.checkIndex(i); err != nil {
		return err
	}
	if c.Pid(i) != 0 {
		var err error
		if kill {
			err = c.Kill(ctx, i)
		} else {
			err = c.StopNode(ctx, i, time.Minute)
		}
		if err != nil {
			return err
		}
	}
	return c.StartNode(ctx, i)
}

// upProbe reads one partition of system_distributed (replicated to three
// nodes) at consistency ALL: a coordinator answers only when it holds every
// replica it knows of for alive, and fails at once with Unavailable when its
// failure detector holds one for down.
const upProbe = "SELECT host_id FROM system_distributed.view_build_status WHERE keyspace_name = 'jobsharp_devcluster' AND view_name = 'up'"

// WaitUp returns once every node answers CQL and sees every other node up:
// a read at consistency ALL coordinated by each node succeeds. It gives up
// after the start timeout.
func (c *Cluster) WaitUp(ctx context.Context) error {
	deadline := time.Now().Add(c.opts.StartTimeout)
	for {
		var down []string
		for i := 1; i <= c.opts.Nodes; i++ {
			if err := c.sees(ctx, i); err != nil {
				down = append(down, fmt.Sprintf("%s: %v", c.NodeAddr(i), err))
			}
		}
		if len(down) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: nodes do not all see each other up: %s", ErrStartFailed, strings.Join(down, "; "))
		}
		if err := pause(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// WaitDown returns once every other running node holds node i for down
// (its reads at consistency ALL fail with Unavailable): a node killed or
// paused is noticed by the failure detector after about 10–20 s with
// Cassandra's default phi_convict_threshold. It gives up after timeout.
func (c *Cluster) WaitDown(ctx context.Context, i int, timeout time.Duration) error {
	if err := c.checkIndex(i); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		var sees []string
		for j := 1; j <= c.opts.Nodes; j++ {
			if j == i || c.Pid(j) == 0 || c.Paused(j) {
				continue
			}
			var unavailable *gocql.RequestErrUnavailable
			if err := c.sees(ctx, j); !errors.As(err, &unavailable) {
				sees = append(sees, c.NodeAddr(j))
			}
		}
		if len(sees) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s, %s still hold node %d (%s) for up", timeout, strings.Join(sees, ", "), i, c.NodeAddr(i))
		}
		if err := pause(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// sees runs upProbe coordinated by node i.
func (c *Cluster) sees(ctx context.Context, i int) error {
	cl, err := c.ClusterConfig(c.NodeAddr(i))
	if err != nil {
		return err
	}
	s, err := cl.CreateSession()
	if err != nil {
		return err
	}
	defer s.Close()
	// The partition does not exist: the answer is empty, but it took every
	// replica to give it.
	return s.Query(upProbe).WithContext(ctx).Consistency(c.probeConsistency()).Iter().Close()
}

// probeConsistency is ALL where every replica of the probe's partition
// exists (three nodes or more) and TWO on a two-node cluster, where ALL
// would count system_distributed's third, absent replica. A single node is
// not probed at all.
func (c *Cluster) probeConsistency() gocql.Consistency {
	if c.opts.Nodes == 2 {
		return gocql.Two
	}
	return gocql.All
}

// unsafeSystem reports whether the process pid runs with unsafeSystemFlag.
func unsafeSystem(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && slices.Contains(strings.Split(string(cmdline), "\x00"), unsafeSystemFlag)
}

// terminate sends SIGTERM and then SIGCONT, so that a paused process also
// handles it.
func terminate(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	_ = syscall.Kill(pid, syscall.SIGCONT)
	return nil
}

// waitGone waits until pid no longer runs (a zombie counts as gone).
func waitGone(ctx context.Context, pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d still runs after %s", pid, timeout)
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Options returns the options of the cluster. For a cluster found on disk
// ([FindNode]) they are those it was last started with.
func (c *Cluster) Options() Options { return c.opts }

// startedWith is what a cluster folder remembers of the options its nodes
// were last started with, so that a node restarted by address gets the
// same heap and durability.
type startedWith struct {
	HeapMB  int  `json:"heap_mb"`
	Durable bool `json:"durable"`
}

func (c *Cluster) optionsFile() string { return filepath.Join(c.dir, "options.json") }

func (c *Cluster) saveOptions() error {
	b, err := json.Marshal(startedWith{HeapMB: c.opts.HeapMB, Durable: c.opts.Durable})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(c.optionsFile(), append(b, '\n'), 0o644)
}

// loadOptions applies the saved options, if any.
func (c *Cluster) loadOptions() {
	b, err := os.ReadFile(c.optionsFile())
	if err != nil {
		return
	}
	var w startedWith
	if json.Unmarshal(b, &w) == nil && w.HeapMB >= 256 {
		c.opts.HeapMB, c.opts.Durable = w.HeapMB, w.Durable
	}
}

// FindNode returns the cluster under cacheDir with a node on addr, and that
// node's index. When several configurations use the address, the one with
// a running node wins; if that does not decide, the error lists them.
func FindNode(cacheDir, addr string) (*Cluster, int, error) {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	var found, live []*Cluster
	for _, c := range clusters(cacheDir) {
		if !slices.Contains(c.Hosts(), addr) {
			continue
		}
		found = append(found, c)
		if ok, _ := anyLiveNode(c.dir); ok {
			live = append(live, c)
		}
	}
	pick := found
	if len(live) > 0 {
		pick = live
	}
	switch len(pick) {
	case 0:
		return nil, 0, fmt.Errorf("%w: no cluster has a node on %s (start one with scripts/cassandra start --addr ...)", ErrNoNode, addr)
	case 1:
		return pick[0], slices.Index(pick[0].Hosts(), addr) + 1, nil
	}
	var names []string
	for _, c := range pick {
		names = append(names, c.opts.Profile())
	}
	return nil, 0, fmt.Errorf("%w: several clusters have a node on %s (%s); start the one you mean first", ErrNoNode, addr, strings.Join(names, ", "))
}
