package cqltest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/internal/devcluster"
)

// The fault cluster: three nodes on their own loopback addresses, so that
// tests can kill, restart and pause its nodes without touching the node
// every package shares (127.0.0.1) or the cluster `scripts/cassandra start
// --nodes 3` runs on 127.0.0.1–3.
const (
	// FaultAddr is the address of the fault cluster's first node; the
	// others follow (127.0.0.21, .22, .23).
	FaultAddr = "127.0.0.21"
	// FaultNodes is the number of nodes of the fault cluster.
	FaultNodes = 3
	// FaultNodeHeapMB is the heap of each of its nodes.
	FaultNodeHeapMB = 512
)

var faultNodes extraNodeState

// FaultCluster is the three-node fault cluster, held by one test.
type FaultCluster struct {
	t testing.TB
	c *devcluster.Cluster
}

// Faults returns the fault cluster, starting it when it does not answer
// (about 30 s; it stays up for later runs like the auth and TLS nodes), and
// holds it for the calling test alone: fault tests of other packages wait
// for it (a file lock across processes), so no test kills a node under
// another's feet. When the test ends, nodes it killed are started again and
// nodes it paused are resumed, and the lock is released. Tests that use it
// must not run in parallel with each other.
func Faults(t testing.TB) *FaultCluster {
	t.Helper()
	c := extraNode(t, &faultNodes, devcluster.Options{Addr: FaultAddr, Nodes: FaultNodes, HeapMB: FaultNodeHeapMB})
	unlock, err := lockFile(filepath.Join(c.Dir() + ".faults.lock"))
	if err != nil {
		t.Fatalf("cqltest: %v", err)
	}
	f := &FaultCluster{t: t, c: c}
	t.Cleanup(func() {
		defer unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if _, err := f.c.Start(ctx); err != nil {
			t.Errorf("cqltest: bring the fault cluster back after the test: %v", err)
		}
	})
	// A test that died before its cleanup may have left a node down, and
	// its keyspace behind.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := c.Start(ctx); err != nil {
		t.Fatalf("cqltest: the fault cluster is not whole: %v", err)
	}
	if s, err := f.admin(); err == nil {
		dropStale(s)
		s.Close()
	}
	return f
}

// AdminSession opens a session on the fault cluster without keyspace, for
// schema changes (a minute's timeout), closed when the test ends.
func (f *FaultCluster) AdminSession() *gocql.Session {
	f.t.Helper()
	s, err := f.admin()
	if err != nil {
		f.t.Fatalf("cqltest: session on the fault cluster: %v", err)
	}
	f.t.Cleanup(s.Close)
	return s
}

func (f *FaultCluster) admin() (*gocql.Session, error) {
	cfg := f.ClusterConfig()
	cfg.Timeout = time.Minute
	return cfg.CreateSession()
}

// lockFile takes an exclusive flock on path, waiting as long as it takes.
func lockFile(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
}

// Cluster is the launcher's handle on the fault cluster.
func (f *FaultCluster) Cluster() *devcluster.Cluster { return f.c }

// Hosts are the nodes' addresses, node 1 first.
func (f *FaultCluster) Hosts() []string { return f.c.Hosts() }

// Addr is the address of node i (from 1).
func (f *FaultCluster) Addr(i int) string { return f.c.NodeAddr(i) }

// LogFile is the path of node i's Cassandra log (system.log).
func (f *FaultCluster) LogFile(i int) string {
	return filepath.Join(f.c.Dir(), fmt.Sprintf("node%d", i), "logs", "system.log")
}

// Kill ends node i with SIGKILL and waits until its process is gone.
func (f *FaultCluster) Kill(i int) {
	f.t.Helper()
	if err := f.c.Kill(context.Background(), i); err != nil {
		f.t.Fatalf("cqltest: kill node %d: %v", i, err)
	}
}

// Restart starts node i again after Kill (or stops it with SIGTERM first if
// it runs) and returns once it answers CQL and every node sees every other
// up. It returns how long that took.
func (f *FaultCluster) Restart(i int) time.Duration {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()
	if err := f.c.Restart(ctx, i, false); err != nil {
		f.t.Fatalf("cqltest: restart node %d: %v", i, err)
	}
	return time.Since(began)
}

// Pause stops node i with SIGSTOP; Resume lets it go on.
func (f *FaultCluster) Pause(i int) {
	f.t.Helper()
	if err := f.c.Pause(i); err != nil {
		f.t.Fatalf("cqltest: pause node %d: %v", i, err)
	}
}

// Resume continues node i after Pause and returns once every node sees
// every other up again, with how long that took.
func (f *FaultCluster) Resume(i int) time.Duration {
	f.t.Helper()
	began := time.Now()
	if err := f.c.Resume(i); err != nil {
		f.t.Fatalf("cqltest: resume node %d: %v", i, err)
	}
	f.WaitUp()
	return time.Since(began)
}

// WaitUp returns once every node sees every other up.
func (f *FaultCluster) WaitUp() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := f.c.WaitUp(ctx); err != nil {
		f.t.Fatalf("cqltest: %v", err)
	}
}

// WaitDown returns once the other nodes hold node i for down, with how long
// that took (Cassandra's failure detector needs 10–20 s).
func (f *FaultCluster) WaitDown(i int) time.Duration {
	f.t.Helper()
	began := time.Now()
	if err := f.c.WaitDown(context.Background(), i, 2*time.Minute); err != nil {
		f.t.Fatalf("cqltest: %v", err)
	}
	return time.Since(began)
}

// ClusterConfig is a driver configuration for every node of the fault
// cluster, with the tests' settings (see Cluster: LOCAL_QUORUM, which is
// QUORUM in its one data center; generous timeouts) and no keyspace.
func (f *FaultCluster) ClusterConfig() *gocql.ClusterConfig { return clusterOf(f.Hosts()...) }

// NodeSession opens a session whose only coordinator is node i, closed when
// the test ends: what a client connected to that node alone sees.
func (f *FaultCluster) NodeSession(i int, keyspace string) *gocql.Session {
	f.t.Helper()
	c := f.ClusterConfig()
	c.Hosts = []string{f.Addr(i)}
	c.HostFilter = gocql.WhiteListHostFilter(f.Addr(i))
	c.Keyspace = keyspace
	s, err := c.CreateSession()
	if err != nil {
		f.t.Fatalf("cqltest: session on node %d (%s): %v", i, f.Addr(i), err)
	}
	f.t.Cleanup(s.Close)
	return s
}

// Keyspace creates a keyspace replicated to all three nodes (replication
// factor 3), runs schema in it, and drops it when the test ends. It
// returns the keyspace's name.
func (f *FaultCluster) Keyspace(schema ...string) string {
	f.t.Helper()
	s := f.AdminSession()
	ks := UniqueKeyspace(f.t)
	if err := execDDL(s, fmt.Sprintf(`CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}`, ks, FaultNodes)); err != nil {
		f.t.Fatalf("cqltest: create keyspace %s: %v", ks, err)
	}
	DropKeyspaceAtEnd(f.t, s, ks)
	if len(schema) > 0 {
		cfg := f.ClusterConfig()
		cfg.Timeout, cfg.Keyspace = time.Minute, ks
		in, err := cfg.CreateSession()
		if err != nil {
			f.t.Fatalf("cqltest: session on keyspace %s: %v", ks, err)
		}
		defer in.Close()
		for _, stmt := range schema {
			if err := execDDL(in, stmt); err != nil {
				f.t.Fatalf("cqltest: in keyspace %s: %v\n%s", ks, err, stmt)
			}
		}
	}
	return ks
}
