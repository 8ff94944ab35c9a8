// Package cqltest connects tests to a real Cassandra node and gives each test
// package a keyspace of its own.
//
// A package whose tests touch Cassandra declares
//
//	func TestMain(m *testing.M) { cqltest.Main(m) }
//
// Main connects once per test binary to JOBSHARP_TEST_HOSTS (comma
// separated, default 127.0.0.1), creates a fresh keyspace with a unique name
// (SimpleStrategy, replication factor 1), runs the tests and drops the
// keyspace. Tests then call [Session] for a session bound to that keyspace.
// When no Cassandra answers, Main fails with the command that starts one; it
// never skips.
//
// Cassandra has no transactions to roll back, so parallel tests isolate
// themselves by the partition keys they write (ids, queue names and buckets
// derived from the test name), not by keyspace.
package cqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"
)

// StartCommand is what a developer runs when no Cassandra answers.
const StartCommand = "scripts/cassandra start"

// keyspacePrefix marks keyspaces this package creates, so that leftovers of
// crashed runs can be recognised and dropped.
const keyspacePrefix = "t_"

var (
	mu       sync.Mutex
	keyspace string
	session  gocqlx.Session
	ready    bool
)

// Hosts are the contact points tests use: JOBSHARP_TEST_HOSTS, comma
// separated, default 127.0.0.1.
func Hosts() []string {
	v := os.Getenv("JOBSHARP_TEST_HOSTS")
	if v == "" {
		return []string{"127.0.0.1"}
	}
	var hosts []string
	for h := range strings.SplitSeq(v, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// Cluster returns a cluster configuration for the test hosts with settings
// that suit tests: short connect timeout, generous query timeout (the node
// shares two cores with the tests), no keyspace.
func Cluster() *gocql.ClusterConfig { return clusterOf(Hosts()...) }

// clusterOf is the tests' cluster configuration for hosts.
func clusterOf(hosts ...string) *gocql.ClusterConfig {
	c := gocql.NewCluster(hosts...)
	c.ConnectTimeout = 5 * time.Second
	c.Timeout = 15 * time.Second
	c.Consistency = gocql.LocalQuorum
	c.SerialConsistency = gocql.LocalSerial
	c.Logger = log.New(io.Discard, "", 0)
	c.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 2, Interval: time.Second}
	return c
}

// Main is the TestMain of a package whose tests use Cassandra: it creates the
// package keyspace, runs schema (DDL statements, such as
// queries.CreateStatements()) in it, runs the tests, drops the keyspace and
// exits.
func Main(m *testing.M, schema ...string) {
	code, err := run(m, schema)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cqltest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(m *testing.M, schema []string) (int, error) {
	base, err := adminCluster().CreateSession()
	if err != nil {
		return 1, fmt.Errorf("cannot reach Cassandra at %s (set JOBSHARP_TEST_HOSTS to change): %w\nstart a local node with: %s   (or: make cassandra)",
			strings.Join(Hosts(), ","), err, StartCommand)
	}
	defer base.Close()
	dropStale(base)

	ks := keyspaceName(packageTag())
	if err := execDDL(base, fmt.Sprintf(`CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, ks)); err != nil {
		return 1, fmt.Errorf("create keyspace %s: %w", ks, err)
	}
	setupCfg := adminCluster()
	setupCfg.Keyspace = ks
	setup, err := setupCfg.CreateSession()
	if err != nil {
		_ = dropKeyspace(base, ks)
		return 1, fmt.Errorf("connect to keyspace %s: %w", ks, err)
	}
	for _, stmt := range schema {
		if err := execDDL(setup, stmt); err != nil {
			setup.Close()
			_ = dropKeyspace(base, ks)
			return 1, fmt.Errorf("apply schema in %s: %w\n%s", ks, err, stmt)
		}
	}
	setup.Close()
	cfg := Cluster()
	cfg.Keyspace = ks
	s, err := gocqlx.WrapSession(cfg.CreateSession())
	if err != nil {
		_ = dropKeyspace(base, ks)
		return 1, fmt.Errorf("connect to keyspace %s: %w", ks, err)
	}
	mu.Lock()
	keyspace, session, ready = ks, s, true
	mu.Unlock()

	code := m.Run()

	s.Close()
	if err := dropKeyspace(base, ks); err != nil {
		return code, fmt.Errorf("drop keyspace %s: %w", ks, err)
	}
	return code, nil
}

// adminCluster is Cluster with a one-minute timeout, for sessions that change
// the schema: on the shared node (two cores, several suites at once) a schema
// change can outlast the tests' 15 s timeout.
func adminCluster() *gocql.ClusterConfig {
	c := Cluster()
	c.Timeout = time.Minute
	return c
}

// keyspaceName is t_<tag>_<unix seconds>_<random>, the form dropStale
// recognises. tag is at most 20 characters of [a-z0-9], which keeps the name
// within the 48 characters Cassandra allows.
func keyspaceName(tag string) string {
	return fmt.Sprintf("%s%s_%d_%s", keyspacePrefix, tag, time.Now().Unix(), randomHex(4))
}

// packageTag is the test binary's package name for keyspaceName: lowercase
// letters and digits, its first 20 characters.
func packageTag() string {
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	pkg = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(pkg), "")
	if len(pkg) > 20 {
		pkg = pkg[:20]
	}
	return pkg
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var staleName = regexp.MustCompile(`^` + keyspacePrefix + `[a-z0-9]*_([0-9]+)_[0-9a-f]{8}$`)

// dropStale drops test keyspaces more than six hours old: leftovers of runs
// that were killed before they could clean up.
func dropStale(s *gocql.Session) {
	iter := s.Query("SELECT keyspace_name FROM system_schema.keyspaces").Iter()
	var name string
	var stale []string
	for iter.Scan(&name) {
		if m := staleName.FindStringSubmatch(name); m != nil {
			if created, err := strconv.ParseInt(m[1], 10, 64); err == nil && time.Since(time.Unix(created, 0)) > 6*time.Hour {
				stale = append(stale, name)
			}
		}
	}
	if iter.Close() != nil {
		return
	}
	for _, ks := range stale {
		_ = dropKeyspace(s, ks)
	}
}

// Session returns the package's session, bound to its keyspace.
func Session(t testing.TB) gocqlx.Session {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !ready {
		t.Fatal("cqltest: no session; declare func TestMain(m *testing.M) { cqltest.Main(m) } in this package")
	}
	return session
}

// NewSession opens another session on the package keyspace, for tests that
// need separate connections (several workers, say). It is closed when the
// test ends.
func NewSession(t testing.TB) gocqlx.Session {
	t.Helper()
	cfg := Cluster()
	cfg.Keyspace = Keyspace(t)
	s, err := gocqlx.WrapSession(cfg.CreateSession())
	if err != nil {
		t.Fatalf("cqltest: new session: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// ObservedSession is NewSession with obs as the cluster's query observer,
// and as its batch observer too when it is one (a cqlcount.Counter, say).
func ObservedSession(t testing.TB, obs gocql.QueryObserver) gocqlx.Session {
	t.Helper()
	cfg := Cluster()
	cfg.Keyspace = Keyspace(t)
	cfg.QueryObserver = obs
	if b, ok := obs.(gocql.BatchObserver); ok {
		cfg.BatchObserver = b
	}
	s, err := gocqlx.WrapSession(cfg.CreateSession())
	if err != nil {
		t.Fatalf("cqltest: new session: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// PackageKeyspace returns the name of the package's keyspace, for Example
// functions (which have no *testing.T); it is empty outside cqltest.Main.
func PackageKeyspace() string {
	mu.Lock()
	defer mu.Unlock()
	return keyspace
}

// Keyspace returns the name of the package's keyspace.
func Keyspace(t testing.TB) string {
	t.Helper()
	Session(t)
	return keyspace
}

// Exec runs CQL statements in the package keyspace and fails the test on the
// first error.
func Exec(ctx context.Context, t testing.TB, stmts ...string) {
	t.Helper()
	s := Session(t)
	for _, stmt := range stmts {
		if err := s.ContextQuery(ctx, stmt, nil).ExecRelease(); err != nil {
			t.Fatalf("cqltest: %s: %v", stmt, err)
		}
	}
}

// Name turns the test's name into a string usable as a CQL identifier or
// partition key, unique among the package's tests.
func Name(t testing.TB) string {
	return strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_"))
}

// Queue is a queue name for the test: Name, cut to the last 64 characters
// (the store's limit), unique among the package's tests.
func Queue(t testing.TB) string {
	q := Name(t)
	if len(q) > 64 {
		q = q[len(q)-64:]
	}
	return q
}

// Logger sends a log to the test's log, from level on. Lines logged after
// the test ended (by goroutines it left behind) are dropped.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// ExampleSession is the session of a package's Example functions, which
// have no *testing.T: one per test binary, opened the way an application
// opens one (a gocql cluster on the package keyspace, LOCAL_QUORUM), and
// never closed. It exits the binary when no session can be opened.
var ExampleSession = sync.OnceValue(func() gocqlx.Session {
	cluster := gocql.NewCluster(Hosts()...)
	cluster.Keyspace = PackageKeyspace()
	cluster.Consistency = gocql.LocalQuorum
	cluster.Timeout = 15 * time.Second
	session, err := gocqlx.WrapSession(cluster.CreateSession())
	if err != nil {
		log.Fatal(err)
	}
	return session
})

// dropKeyspace drops ks; see execDDL.
func dropKeyspace(s *gocql.Session, ks string) error {
	return execDDL(s, "DROP KEYSPACE IF EXISTS "+ks)
}

// execDDL runs a schema statement, trying again (up to three times) when
// the client times out: a busy node can take longer than the timeout for a
// schema change. The statements here are idempotent (IF [NOT] EXISTS).
func execDDL(s *gocql.Session, stmt string) error {
	var err error
	for range 3 {
		if err = s.Query(stmt).Exec(); !errors.Is(err, gocql.ErrTimeoutNoResponse) {
			return err
		}
	}
	return err
}
