package cqltest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/internal/devcluster"
)

// Addresses of the extra nodes that authentication and TLS tests use. They
// run beside the default node (which `make test` shares among all
// packages), so starting them never disturbs other tests.
const (
	// AuthAddr runs a node with PasswordAuthenticator and CassandraAuthorizer;
	// its superuser is devcluster.SuperUser / devcluster.SuperPassword.
	AuthAddr = "127.0.0.11"
	// TLSAddr runs a node whose CQL port accepts TLS only, with a
	// certificate signed by the CA in TLSCAFile.
	TLSAddr = "127.0.0.12"
	// FeaturesAddr runs a node with the features Cassandra 5.0 ships
	// disabled turned on (devcluster.Options.Features): materialized views,
	// SASI, dynamic data masking, user-defined functions, DROP COMPACT
	// STORAGE. The generator's corpus test applies schema files to it.
	FeaturesAddr = "127.0.0.13"
	// ExtraNodeHeapMB is the heap of each extra node.
	ExtraNodeHeapMB = 512
)

// authNode, tlsNode and featuresNode start their node once per test binary;
// they start in parallel.
var authNode, tlsNode, featuresNode extraNodeState

type extraNodeState struct {
	once    sync.Once
	cluster *devcluster.Cluster
	err     error
}

// AuthCluster returns the authenticating node on AuthAddr, starting it if it
// does not answer. TLSCluster does the same for the TLS node on TLSAddr.
//
// The nodes are left running when the tests end, so later runs (and other
// test packages) find them at once; a first start takes 10–20 s.
// `scripts/cassandra stop` stops them with every other node, `scripts/cassandra
// stop --addr 127.0.0.11` alone; .ci/run stops the ones its run started.
// A node that cannot start fails the test with the launcher's diagnosis.
func AuthCluster(t testing.TB) *devcluster.Cluster {
	t.Helper()
	return extraNode(t, &authNode, devcluster.Options{Addr: AuthAddr, Auth: true, HeapMB: ExtraNodeHeapMB})
}

// TLSCluster returns the TLS node on TLSAddr, starting it if it does not
// answer; see AuthCluster.
func TLSCluster(t testing.TB) *devcluster.Cluster {
	t.Helper()
	return extraNode(t, &tlsNode, devcluster.Options{Addr: TLSAddr, TLS: true, HeapMB: ExtraNodeHeapMB})
}

// FeaturesCluster returns the node on FeaturesAddr, starting it if it does
// not answer; see AuthCluster.
func FeaturesCluster(t testing.TB) *devcluster.Cluster {
	t.Helper()
	return extraNode(t, &featuresNode, devcluster.Options{Addr: FeaturesAddr, Features: true, HeapMB: ExtraNodeHeapMB})
}

// TLSCAFile is the PEM file of the CA that signed the TLS node's
// certificate.
func TLSCAFile(c *devcluster.Cluster) string { return filepath.Join(c.TLSDir(), devcluster.CAFile) }

func extraNode(t testing.TB, st *extraNodeState, opts devcluster.Options) *devcluster.Cluster {
	t.Helper()
	// Once per binary and node; devcluster's file lock covers other
	// processes.
	st.once.Do(func() {
		var log bytes.Buffer
		opts.Log = &log
		c, err := devcluster.New(opts)
		if err != nil {
			st.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		word, flag := profile(opts)
		began := time.Now()
		res, err := c.Start(ctx)
		if err != nil {
			st.err = fmt.Errorf("start the %s on %s: %w\n%s\n(start it by hand with: scripts/cassandra start --addr %s %s --heap %d)",
				word, opts.Addr, err, log.String(), opts.Addr, flag, opts.HeapMB)
			return
		}
		st.cluster = c
		if !res.AlreadyRunning {
			t.Logf("cqltest: started the %s on %s in %s (boot %s); it stays up for later runs (scripts/cassandra stop --addr %s)",
				word, opts.Addr, time.Since(began).Round(100*time.Millisecond), res.Boot.Round(100*time.Millisecond), opts.Addr)
		}
	})
	if st.err != nil {
		t.Fatalf("cqltest: %v", st.err)
	}
	return st.cluster
}

// profile names an extra node's kind in messages, and the start flag that
// gives it.
func profile(o devcluster.Options) (word, flag string) {
	switch {
	case o.Auth:
		return "authenticating node", "--auth"
	case o.TLS:
		return "TLS node", "--tls"
	case o.Features:
		return "features node", "--features"
	}
	return fmt.Sprintf("%d-node fault cluster", o.Nodes), fmt.Sprintf("--nodes %d", o.Nodes)
}

// SuperSession opens a session as the superuser (auth node), with the
// cluster's CA (TLS node) or plainly (features node) on the first node of c, without keyspace, closed
// when the test ends. Its timeout, a minute, suits schema changes.
func SuperSession(t testing.TB, c *devcluster.Cluster) *gocql.Session {
	t.Helper()
	cl, err := c.ClusterConfig(c.Hosts()[0])
	if err != nil {
		t.Fatalf("cqltest: %v", err)
	}
	cl.Timeout, cl.ConnectTimeout = time.Minute, 10*time.Second
	s, err := cl.CreateSession()
	if err != nil {
		t.Fatalf("cqltest: session on %s: %v", c.Hosts()[0], err)
	}
	t.Cleanup(s.Close)
	return s
}

// DropKeyspaceAtEnd drops keyspace through s when the test ends.
func DropKeyspaceAtEnd(t testing.TB, s *gocql.Session, keyspace string) {
	t.Helper()
	t.Cleanup(func() {
		if err := dropKeyspace(s, keyspace); err != nil {
			t.Logf("cqltest: drop keyspace %s: %v", keyspace, err)
		}
	})
}

// UniqueKeyspace returns a keyspace name derived from the test's name, with
// the prefix stale-keyspace cleanup recognises.
func UniqueKeyspace(t testing.TB) string {
	t.Helper()
	name := strings.ReplaceAll(Name(t), "_", "")
	if len(name) > 20 {
		name = name[len(name)-20:]
	}
	return keyspaceName(name)
}

// AdminSession opens a session on the test hosts without keyspace, for
// tests that change the schema themselves (drop a table, alter a column).
// Its timeout is a minute: a schema change on the shared node, busy with
// several suites on two cores, can outlast the usual 15 s. It is closed
// when the test ends, after cleanups registered later (such as
// DropKeyspaceAtEnd) have run.
func AdminSession(t testing.TB) *gocql.Session {
	t.Helper()
	s, err := adminCluster().CreateSession()
	if err != nil {
		t.Fatalf("cqltest: admin session: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}
