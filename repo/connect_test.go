package repo_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/internal/devcluster"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/schema"
)

// hangBound is how long a failing Connect may take before the test calls it
// a hang. It is far above what Connect needs (about ConnectTimeout); it only
// catches the driver's minute-long waits.
const hangBound = 45 * time.Second

// roundTrip stores a job and reads it back: the store works.
func roundTrip(ctx context.Context, t *testing.T, store *repo.Store) {
	t.Helper()
	job, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: cqltest.Queue(t), Type: "connect.check", Args: []byte(`{}`)})
	if err != nil {
		t.Fatalf("Insert() error = %v", err)
	}
	got, err := store.Jobs.Get(ctx, job.ID)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if got.ID != job.ID || got.Type != "connect.check" {
		t.Fatalf("Get() = %+v, want the job just stored (%s)", got, job.ID)
	}
}

func quiet() *log.Logger { return log.New(&bytes.Buffer{}, "", 0) }

// freePort returns a port of 127.0.0.1 on which nothing listens.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestConnect(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		cfg repo.Config // the package keyspace on the test node
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{cfg: repo.Config{Hosts: cqltest.Hosts(), Keyspace: cqltest.Keyspace(t), DriverLogger: quiet()}}
	}

	t.Run("ContactPointsAndKeyspace", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		store, err := repo.Connect(ctx, repo.Config{Hosts: bundle.cfg.Hosts, Keyspace: bundle.cfg.Keyspace}) // nothing else: the defaults
		if err != nil {
			t.Fatalf("Connect() error = %v", err)
		}
		roundTrip(ctx, t, store)
		session := store.Session()
		store.Close()
		if !session.Closed() {
			t.Error("Close() left open the session Connect opened")
		}
	})

	t.Run("CustomPort", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		// A proxy on a random port stands for a node on a custom port.
		proxy := cqltest.NewProxy(t, cqltest.HostPort(cqltest.Hosts()[0], 9042))
		cfg := bundle.cfg
		cfg.Hosts, cfg.Port = []string{"127.0.0.1"}, proxy.Port()
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() error = %v", err)
		}
		defer store.Close()
		roundTrip(ctx, t, store)
		if proxy.Dials() == 0 {
			t.Errorf("no connection went to port %d", proxy.Port())
		}

		// host:port in Hosts works the same.
		cfg.Hosts, cfg.Port = []string{proxy.Addr()}, 0
		store2, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect(%s) error = %v", proxy.Addr(), err)
		}
		store2.Close()
	})

	t.Run("FullyConfigured", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		var logged bytes.Buffer
		cfg := bundle.cfg
		cfg.Consistency = gocql.One
		cfg.SerialConsistency = gocql.Serial
		cfg.Timeout = 20 * time.Second
		cfg.ConnectTimeout = 3 * time.Second
		cfg.NumConns = 3
		cfg.LocalDC = "datacenter1"
		cfg.RetryPolicy = &gocql.ExponentialBackoffRetryPolicy{NumRetries: 2, Min: 50 * time.Millisecond, Max: time.Second}
		cfg.ReconnectionPolicy = &gocql.ExponentialReconnectionPolicy{MaxRetries: 4, InitialInterval: 100 * time.Millisecond}
		cfg.DriverLogger = log.New(&logged, "", 0)
		cfg.Options = repo.Options{DueShards: 4, Logger: cqltest.Logger(t, slog.LevelDebug)}
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() error = %v", err)
		}
		defer store.Close()
		roundTrip(ctx, t, store)
		jobs, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: cqltest.Queue(t), Owner: "t", Limit: 5})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("Claim() = %d jobs, %v; want the one job, claimed by a SERIAL lightweight transaction", len(jobs), err)
		}
	})

	t.Run("WrongLocalDC", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		cfg := bundle.cfg
		cfg.LocalDC = "dc-nowhere"
		_, err := repo.Connect(ctx, cfg)
		if !errors.Is(err, repo.ErrInvalidConfig) || !strings.Contains(err.Error(), `LocalDC "dc-nowhere" is not a data center of the cluster (it has: datacenter1)`) {
			t.Fatalf("Connect() error = %v, want ErrInvalidConfig naming the data centers", err)
		}
	})

	t.Run("UserCluster", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		var mu sync.Mutex
		seen := map[string]bool{}
		cluster := cqltest.Cluster()
		cluster.Consistency = gocql.LocalOne
		cluster.SerialConsistency = gocql.Serial
		cluster.QueryObserver = observerFunc(func(q gocql.ObservedQuery) {
			if strings.Contains(q.Statement, "jobs") {
				mu.Lock()
				seen[q.Statement[:strings.IndexByte(q.Statement, ' ')]] = true
				mu.Unlock()
			}
		})
		store, err := repo.ConnectCluster(ctx, cluster, bundle.cfg.Keyspace, nil)
		if err != nil {
			t.Fatalf("ConnectCluster() error = %v", err)
		}
		roundTrip(ctx, t, store)
		store.Close()
		if cluster.Keyspace != "" {
			t.Errorf("ConnectCluster() changed the caller's cluster: Keyspace = %q", cluster.Keyspace)
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen["UPDATE"] || !seen["SELECT"] {
			t.Errorf("the caller's QueryObserver saw %v, want the store's UPDATE and SELECT on jobs", seen)
		}
	})

	t.Run("UserClusterReused", func(t *testing.T) {
		t.Parallel()

		// gocql binds a token-aware policy to one session and panics when a
		// second session gets it; the store reports that instead.
		bundle := setup(t)
		cluster := cqltest.Cluster()
		cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
		store, err := repo.ConnectCluster(ctx, cluster, bundle.cfg.Keyspace, nil)
		if err != nil {
			t.Fatalf("ConnectCluster() error = %v", err)
		}
		defer store.Close()
		_, err = repo.ConnectCluster(ctx, cluster, bundle.cfg.Keyspace, nil)
		if !errors.Is(err, repo.ErrInvalidConfig) || !strings.Contains(err.Error(), "give every session its own ClusterConfig and host selection policy") {
			t.Fatalf("second ConnectCluster() on the same policy: error = %v, want ErrInvalidConfig", err)
		}
	})

	t.Run("UserSession", func(t *testing.T) {
		t.Parallel()

		session := cqltest.NewSession(t)
		store, err := repo.New(session, nil)
		if err != nil {
			t.Fatalf("New() error = %v", err)
		}
		if err := store.Check(ctx); err != nil {
			t.Fatalf("Check() error = %v", err)
		}
		roundTrip(ctx, t, store)
		store.Close()
		if session.Closed() {
			t.Error("Close() closed a session the store did not open")
		}
	})

	t.Run("KeyspaceNotFound", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		cfg := bundle.cfg
		cfg.Keyspace = "no_such_keyspace_here"
		began := time.Now()
		_, err := repo.Connect(ctx, cfg)
		if !errors.Is(err, repo.ErrKeyspaceNotFound) {
			t.Fatalf("Connect() error = %v, want ErrKeyspaceNotFound", err)
		}
		want := fmt.Sprintf(`keyspace "no_such_keyspace_here" not found: create it and its tables with: jobsharp schema apply --hosts %s:9042 --keyspace no_such_keyspace_here --replication SimpleStrategy:1`, cqltest.Hosts()[0])
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
		if d := time.Since(began); d > hangBound {
			t.Errorf("Connect() took %s", d)
		}
	})

	t.Run("TableAndColumnMissing", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		s := cqltest.AdminSession(t)
		ks := cqltest.UniqueKeyspace(t)
		cqltest.DropKeyspaceAtEnd(t, s, ks)
		if _, err := schema.Apply(ctx, s, ks, &schema.Replication{Class: schema.SimpleStrategy, Factor: 1}); err != nil {
			t.Fatalf("Apply() error = %v", err)
		}
		cfg := bundle.cfg
		cfg.Keyspace = ks
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() on a fresh schema: %v", err)
		}
		defer store.Close()

		// A table dropped under a running store: its statements name it.
		if err := s.Query("DROP TABLE " + ks + ".queues").Exec(); err != nil {
			t.Fatal(err)
		}
		_, err = store.Jobs.Queues(ctx)
		var tnf *repo.TableNotFoundError
		if !errors.As(err, &tnf) || !errors.Is(err, repo.ErrTableNotFound) {
			t.Fatalf("Queues() error = %v, want a TableNotFoundError", err)
		}
		if diff := cmp.Diff([]string{"queues"}, tnf.Tables); diff != "" {
			t.Errorf("TableNotFoundError.Tables (-want +got):\n%s", diff)
		}
		if want := "list queues: jobsharp: table queues in keyspace " + ks + " not found: create the schema with: jobsharp schema apply --keyspace " + ks; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error = %q, want it to start with %q", err, want)
		}

		// Connect refuses the keyspace, naming the table.
		_, err = repo.Connect(ctx, cfg)
		if !errors.As(err, &tnf) || tnf.Keyspace != ks || !cmp.Equal(tnf.Tables, []string{"queues"}) {
			t.Fatalf("Connect() error = %v, want TableNotFoundError{%s, [queues]}", err, ks)
		}

		// Once the table is back, a missing column is named with its repair.
		if _, err := schema.Apply(ctx, s, ks, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Query("ALTER TABLE " + ks + ".jobs DROP lease_owner").Exec(); err != nil {
			t.Fatal(err)
		}
		_, err = repo.Connect(ctx, cfg)
		if !errors.Is(err, repo.ErrSchemaMismatch) || !strings.Contains(err.Error(), "missing column jobs.lease_owner (text): ALTER TABLE "+ks+".jobs ADD lease_owner text;") {
			t.Fatalf("Connect() error = %v, want ErrSchemaMismatch naming jobs.lease_owner and its repair", err)
		}
	})

	t.Run("TypeFieldMissing", func(t *testing.T) {
		t.Parallel()

		// A keyspace made by an older build: attempt_error lacks trace, and
		// apply leaves an existing type alone.
		bundle := setup(t)
		s := cqltest.AdminSession(t)
		ks := cqltest.UniqueKeyspace(t)
		cqltest.DropKeyspaceAtEnd(t, s, ks)
		simple := schema.Replication{Class: schema.SimpleStrategy, Factor: 1}
		for _, stmt := range []string{schema.CreateKeyspaceCQL(ks, simple), "CREATE TYPE " + ks + ".attempt_error (attempt int, failed_at timestamp, error text)"} {
			if err := s.Query(stmt).WithContext(ctx).Exec(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := schema.Apply(ctx, s, ks, &simple); err != nil {
			t.Fatalf("Apply() error = %v", err)
		}
		cfg := bundle.cfg
		cfg.Keyspace = ks
		_, err := repo.Connect(ctx, cfg)
		if !errors.Is(err, repo.ErrSchemaMismatch) || !strings.Contains(err.Error(), "missing field attempt_error.trace of type attempt_error (text): ALTER TYPE "+ks+".attempt_error ADD trace text;") {
			t.Fatalf("Connect() error = %v, want ErrSchemaMismatch naming attempt_error.trace and its repair", err)
		}
	})

	t.Run("NoHostsRefused", func(t *testing.T) {
		t.Parallel()

		port := freePort(t)
		began := time.Now()
		_, err := repo.Connect(ctx, repo.Config{Hosts: []string{"127.0.0.1", "127.0.0.1:" + fmt.Sprint(freePort(t))}, Port: port, Keyspace: "jobsharp", DriverLogger: quiet()})
		var nh *repo.NoHostsError
		if !errors.As(err, &nh) || !errors.Is(err, repo.ErrNoHosts) {
			t.Fatalf("Connect() error = %v, want a NoHostsError", err)
		}
		if want := fmt.Sprintf("127.0.0.1:%d", port); !strings.Contains(err.Error(), "no Cassandra host reachable at "+want) || nh.Hosts[0] != want {
			t.Errorf("error %q (hosts %v) does not name %s", err, nh.Hosts, want)
		}
		if !repo.IsRetryable(err) {
			t.Error("IsRetryable() = false for unreachable hosts")
		}
		if d := time.Since(began); d > hangBound {
			t.Errorf("Connect() took %s", d)
		}
	})

	t.Run("NoHostsSilent", func(t *testing.T) {
		t.Parallel()

		// A host that accepts connections and never answers: the case that
		// hangs clients without a connect timeout.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var held []net.Conn
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				held = append(held, c)
			}
		}()
		began := time.Now()
		_, err = repo.Connect(ctx, repo.Config{Hosts: []string{ln.Addr().String()}, Keyspace: "jobsharp", ConnectTimeout: time.Second, DriverLogger: quiet()})
		took := time.Since(began)
		if !errors.Is(err, repo.ErrNoHosts) || !strings.Contains(err.Error(), ln.Addr().String()) {
			t.Fatalf("Connect() error = %v, want ErrNoHosts naming %s", err, ln.Addr())
		}
		if took > hangBound {
			t.Errorf("Connect() took %s with ConnectTimeout 1s", took)
		}
		t.Logf("a silent host failed Connect after %s (ConnectTimeout 1s)", took.Round(time.Millisecond))

		// The caller's context bounds Connect too.
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err = repo.Connect(cctx, repo.Config{Hosts: []string{ln.Addr().String()}, Keyspace: "jobsharp", ConnectTimeout: time.Minute, DriverLogger: quiet()})
		if !errors.Is(err, repo.ErrNoHosts) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Connect() with an ending context: error = %v, want ErrNoHosts wrapping context.DeadlineExceeded", err)
		}
	})

	t.Run("CountsSettleAfterAFailedFold", func(t *testing.T) {
		t.Parallel()

		// An hour's counts are settled by its last fold, after its mark ran
		// out; when the network fails just then, the next fold must settle
		// them, not the sweeper minutes later.
		bundle := setup(t)
		proxy := cqltest.NewProxy(t, cqltest.HostPort(cqltest.Hosts()[0], 9042))
		cfg := bundle.cfg
		cfg.Hosts, cfg.AddressTranslator = []string{proxy.Addr()}, proxy.Translator()
		cfg.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 100, Interval: 100 * time.Millisecond}
		cfg.Options.FoldInterval, cfg.Options.SweepInterval = 100*time.Millisecond, time.Hour
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() error = %v", err)
		}
		defer store.Close()
		queue := cqltest.Queue(t)
		if _, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: queue, Type: "t"}); err != nil {
			t.Fatal(err)
		}
		// The mark runs out 1.2 s after the insert (two fold intervals and a
		// second): the network is cut before that and healed after.
		time.Sleep(300 * time.Millisecond)
		proxy.Sever()
		time.Sleep(2 * time.Second)
		proxy.Heal()
		deadline := time.Now().Add(20 * time.Second)
		for {
			stats, err := store.Jobs.Stats(ctx, queue)
			if err == nil && len(stats) == 1 && stats[0].Settled && stats[0].Counts[repo.StateScheduled] == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Stats() 20 s after the network came back = %+v, %v; want 1 Scheduled, settled without a sweep", stats, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("NoHostsAfterConnect", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		proxy := cqltest.NewProxy(t, cqltest.HostPort(cqltest.Hosts()[0], 9042))
		cfg := bundle.cfg
		cfg.Hosts, cfg.AddressTranslator = []string{proxy.Addr()}, proxy.Translator()
		cfg.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 1, Interval: 100 * time.Millisecond}
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() error = %v", err)
		}
		defer store.Close()
		roundTrip(ctx, t, store)
		id, err := store.Jobs.NewID(ctx, "default", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		proxy.Cut()
		// The first request after the cut may fail on its dying connection;
		// then the pool is empty.
		var lastErr error
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			_, lastErr = store.Jobs.Get(ctx, id)
			if errors.Is(lastErr, repo.ErrNoHosts) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		var nh *repo.NoHostsError
		if !errors.As(lastErr, &nh) {
			t.Fatalf("Get() after the network was cut: error = %v, want a NoHostsError", lastErr)
		}
		if !strings.Contains(lastErr.Error(), "no Cassandra host reachable at "+proxy.Addr()) {
			t.Errorf("error %q does not name %s", lastErr, proxy.Addr())
		}
	})

	t.Run("ConnectionLost", func(t *testing.T) {
		t.Parallel()

		// A connection severed while statements are in flight (a node killed,
		// a firewall that resets) fails them with the socket's error or
		// gocql's "connection closed waiting for response": ErrConnectionLost,
		// retryable, and a retry under the same id stores the job once.
		bundle := setup(t)
		queue := cqltest.Queue(t)
		direct, err := repo.Connect(ctx, bundle.cfg)
		if err != nil {
			t.Fatalf("Connect() error = %v", err)
		}
		defer direct.Close()
		first, err := direct.Jobs.Insert(ctx, &repo.NewJob{Queue: queue, Type: "t"})
		if err != nil {
			t.Fatal(err)
		}
		// sever runs call on a store of its own behind a proxy, and severs
		// the proxy while the call's statement is on the wire. (The driver
		// marks the node down when its pool empties; it would be tried again
		// only after ReconnectInterval.)
		sever := func(call func(store *repo.Store) error) error {
			t.Helper()
			proxy := cqltest.NewProxy(t, cqltest.HostPort(cqltest.Hosts()[0], 9042))
			cfg := bundle.cfg
			cfg.Hosts, cfg.AddressTranslator = []string{proxy.Addr()}, proxy.Translator()
			cfg.Timeout = 20 * time.Second // the sever comes first
			store, err := repo.Connect(ctx, cfg)
			if err != nil {
				t.Fatalf("Connect() error = %v", err)
			}
			defer store.Close()
			// Statements prepared; the queue, its home partition and count
			// hour known, so that the call's first statement is its own. A
			// job due now must share the warm-up's home bucket, whose
			// directory row the store then knows: under load the warm-up
			// can take seconds, so it is made again past a bucket boundary
			// that is near or passed (CI: "write home bucket" came first).
			width := int64(repo.DefaultHomeBucketWidth / time.Second)
			for {
				w, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: queue, Type: "warm-up"})
				if err != nil {
					t.Fatal(err)
				}
				if time.Now().Add(2*time.Second).Unix()/width == w.ScheduledAt.Unix()/width {
					break
				}
				time.Sleep(3 * time.Second)
			}
			proxy.Stall()
			errc := make(chan error, 1)
			go func() { errc <- call(store) }()
			time.Sleep(300 * time.Millisecond) // the statement is on the wire
			proxy.Sever()
			err = <-errc
			proxy.Cut()
			return err
		}

		// A read is idempotent: the driver tries it again at once, and may
		// find no connection left. Its statement is not prepared yet on this
		// session: gocql prepares it under the connection's own context and
		// reports the severed connection as that context's cancellation
		// half the time; the caller's context is live, so the store says
		// ErrConnectionLost, never context.Canceled.
		err = sever(func(store *repo.Store) error { _, err := store.Jobs.Get(ctx, first.ID); return err })
		if !(errors.Is(err, repo.ErrConnectionLost) || errors.Is(err, repo.ErrNoHosts)) || !repo.IsRetryable(err) || errors.Is(err, context.Canceled) {
			t.Fatalf("Get() on a severed connection: error = %v, want a retryable ErrConnectionLost or ErrNoHosts, not context.Canceled", err)
		}
		t.Logf("Get: %v", err)

		nj := &repo.NewJob{Queue: queue, Type: "t", Args: []byte(`{"n":1}`)}
		err = sever(func(store *repo.Store) error {
			// Due at its id's home time: found there, no due entry to write
			// first. NewID runs no statement: the queue is known.
			nj.ScheduledAt = time.Now()
			id, err := store.Jobs.NewID(ctx, queue, nj.ScheduledAt)
			if err != nil {
				return fmt.Errorf("NewID: %w", err)
			}
			nj.ID = id
			_, err = store.Jobs.Insert(ctx, nj)
			return err
		})
		id := nj.ID
		// A lightweight transaction is not retried by the driver: its
		// caller gets the broken connection.
		var ce *repo.ConnectionError
		if !errors.Is(err, repo.ErrConnectionLost) || !errors.As(err, &ce) || ce.Op != "JobsBatch" || !repo.IsRetryable(err) || errors.Is(err, context.Canceled) {
			t.Fatalf("Insert() on a severed connection: error = %v, want a retryable ConnectionError of JobsBatch", err)
		}
		t.Logf("Insert: %v", err)
		job, err := direct.Jobs.Insert(ctx, nj)
		if err != nil || job.ID != id || job.State != repo.StateScheduled {
			t.Fatalf("Insert() retried under the same id = %+v, %v; want the job stored", job, err)
		}

		// A claim meets the same broken connection (its reads or its
		// lightweight transaction): typed and retryable, never the driver's
		// bare error.
		err = sever(func(store *repo.Store) error {
			_, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: queue, Owner: "severed", Limit: 10})
			return err
		})
		if !(errors.Is(err, repo.ErrConnectionLost) || errors.Is(err, repo.ErrNoHosts)) || !repo.IsRetryable(err) || errors.Is(err, context.Canceled) {
			t.Fatalf("Claim() on a severed connection: error = %v, want a retryable ErrConnectionLost or ErrNoHosts, not context.Canceled", err)
		}
		t.Logf("Claim: %v", err)
	})

	t.Run("QueryTimeout", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		proxy := cqltest.NewProxy(t, cqltest.HostPort(cqltest.Hosts()[0], 9042))
		cfg := bundle.cfg
		cfg.Hosts, cfg.AddressTranslator = []string{proxy.Addr()}, proxy.Translator()
		cfg.Timeout = 1500 * time.Millisecond
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() error = %v", err)
		}
		defer store.Close()
		job, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: cqltest.Queue(t), Type: "t"})
		if err != nil {
			t.Fatal(err)
		}
		proxy.Stall()

		// The caller's deadline first, while the connection is still in use
		// (the ScyllaDB fork closes a connection after repeated timeouts).
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err = store.Jobs.Get(cctx, job.ID)
		var te *repo.TimeoutError
		if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || te.Timeout != 0 ||
			!strings.Contains(err.Error(), "JobsGet timed out: the caller's context deadline passed") {
			t.Fatalf("Get() with a 200ms context: error = %v, want a TimeoutError for the context", err)
		}

		_, err = store.Jobs.Get(ctx, job.ID)
		if !errors.As(err, &te) || !errors.Is(err, repo.ErrTimeout) {
			t.Fatalf("Get() on a stalled network: error = %v, want a TimeoutError", err)
		}
		if te.Op != "JobsGet" || te.Timeout != 1500*time.Millisecond {
			t.Errorf("TimeoutError{Op: %q, Timeout: %s}, want {JobsGet, 1.5s}", te.Op, te.Timeout)
		}
		want := fmt.Sprintf("get job %s: jobsharp: JobsGet timed out after 1.5s (the client timeout, Config.Timeout)", job.ID)
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error = %q, want it to start with %q", err, want)
		}
		if !repo.IsRetryable(err) {
			t.Error("IsRetryable() = false for a timeout")
		}
		// gocql's Close waits about 9 s on stalled connections; cut them first.
		proxy.Cut()
	})
}

type observerFunc func(gocql.ObservedQuery)

func (f observerFunc) ObserveQuery(_ context.Context, q gocql.ObservedQuery) { f(q) }

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	ok := repo.Config{Hosts: []string{"127.0.0.1"}, Keyspace: "jobsharp"}
	tests := []struct {
		name   string
		modify func(*repo.Config)
		want   string
	}{
		{"NoHosts", func(c *repo.Config) { c.Hosts = nil }, "Hosts is empty"},
		{"BadHost", func(c *repo.Config) { c.Hosts = []string{"a, b"} }, `Hosts[0] "a, b": want a host name or address`},
		{"BadHostPort", func(c *repo.Config) { c.Hosts = []string{"db:99999"} }, `Hosts[0] "db:99999": port "99999" is not between 1 and 65535`},
		{"BadPort", func(c *repo.Config) { c.Port = 70000 }, "Port must be between 1 and 65535, got 70000"},
		{"NoKeyspace", func(c *repo.Config) { c.Keyspace = "" }, "Keyspace is empty"},
		{"BadKeyspace", func(c *repo.Config) { c.Keyspace = "Jobs-1" }, `Keyspace: keyspace name "Jobs-1"`},
		{"PasswordOnly", func(c *repo.Config) { c.Password = "x" }, "Password is set but Username is empty"},
		{"Latin1Host", func(c *repo.Config) { c.Hosts = []string{"caf\xe9"} }, `Hosts[0] "caf\xe9": want a host name or address`},
		{"Latin1Username", func(c *repo.Config) { c.Username, c.Password = "caf\xe9", "x" }, `Username "caf\xe9" is not valid UTF-8`},
		{"Latin1LocalDC", func(c *repo.Config) { c.LocalDC = "caf\xe9" }, `LocalDC "caf\xe9" is not valid UTF-8`},
		{"UsernameOnly", func(c *repo.Config) { c.Username = "app" }, `Username "app" is set but Password is empty`},
		{"Any", func(c *repo.Config) { c.Consistency = gocql.Any }, ""}, // zero: the default
		{"Serial", func(c *repo.Config) { c.Consistency = gocql.Consistency(gocql.Serial) }, "Consistency must be one of"},
		{"SerialDisagrees", func(c *repo.Config) {
			c.SerialConsistency = gocql.Serial
			c.Options.SerialConsistency = gocql.LocalSerial
		}, "SerialConsistency SERIAL and Options.SerialConsistency LOCAL_SERIAL disagree"},
		{"TinyTimeout", func(c *repo.Config) { c.Timeout = time.Millisecond }, "Timeout must be between 100ms and 10m, got 1ms"},
		{"NoConns", func(c *repo.Config) { c.NumConns = -1 }, "NumConns must be between 1 and 64, got -1"},
		{"ReconnectZero", func(c *repo.Config) {
			c.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 0, Interval: time.Second}
		}, "ReconnectionPolicy: GetMaxRetries() must be at least 1 (gocql v1.7.0 panics with 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.modify(&cfg)
			_, err := cfg.NewCluster()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewCluster() error = %v", err)
				}
				return
			}
			if !errors.Is(err, repo.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewCluster() error = %v, want ErrInvalidConfig saying %q", err, tt.want)
			}
			// Connect rejects it before touching the network.
			if _, err := repo.Connect(context.Background(), cfg); !errors.Is(err, repo.ErrInvalidConfig) {
				t.Errorf("Connect() error = %v, want ErrInvalidConfig", err)
			}
		})
	}

	t.Run("EveryProblemAtOnce", func(t *testing.T) {
		t.Parallel()
		_, err := repo.Config{Port: -1}.NewCluster()
		for _, want := range []string{"Hosts is empty", "Port must be", "Keyspace is empty"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("NewCluster() error = %v, want it to mention %q", err, want)
			}
		}
	})

	t.Run("ConnectClusterRejects", func(t *testing.T) {
		t.Parallel()
		cl := gocql.NewCluster("127.0.0.1")
		cl.ReconnectionPolicy = &gocql.ExponentialReconnectionPolicy{MaxRetries: 0}
		_, err := repo.ConnectCluster(context.Background(), cl, "", nil)
		for _, want := range []string{"no keyspace", "GetMaxRetries() must be at least 1"} {
			if !errors.Is(err, repo.ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
				t.Errorf("ConnectCluster() error = %v, want ErrInvalidConfig saying %q", err, want)
			}
		}
		if _, err := repo.ConnectCluster(context.Background(), &gocql.ClusterConfig{Hosts: []string{"x"}}, "jobsharp", nil); !errors.Is(err, repo.ErrInvalidConfig) {
			t.Errorf("ConnectCluster() on a literal ClusterConfig without policies: error = %v, want ErrInvalidConfig", err)
		}
	})
}

func TestConfigNewCluster(t *testing.T) {
	t.Parallel()

	translator := gocql.AddressTranslatorFunc(func(ip net.IP, port int) (net.IP, int) { return ip, port })
	retry := &gocql.SimpleRetryPolicy{NumRetries: 2}
	pool := x509.NewCertPool()
	cl, err := repo.Config{
		Hosts: []string{"10.0.0.1", "10.0.0.2:9142"}, Port: 19042, Keyspace: "jobs",
		Username: "app", Password: "pw", TLS: &tls.Config{RootCAs: pool, ServerName: "db"},
		Consistency: gocql.Quorum, SerialConsistency: gocql.Serial,
		Timeout: 3 * time.Second, ConnectTimeout: 2 * time.Second, NumConns: 4,
		LocalDC: "dc1", RetryPolicy: retry, AddressTranslator: translator,
	}.NewCluster()
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Hosts                     []string
		Port                      int
		Keyspace                  string
		ProtoVersion              int
		Consistency               gocql.Consistency
		Serial                    gocql.SerialConsistency
		Timeout, ConnectTimeout   time.Duration
		NumConns                  int
		Auth                      gocql.Authenticator
		TLSServerName             string
		HostVerification, HasPool bool
		RetryIsOurs               bool
	}
	got := view{cl.Hosts, cl.Port, cl.Keyspace, cl.ProtoVersion, cl.Consistency, cl.SerialConsistency, cl.Timeout, cl.ConnectTimeout, cl.NumConns,
		cl.Authenticator, cl.SslOpts.Config.ServerName, cl.SslOpts.EnableHostVerification, cl.SslOpts.Config.RootCAs == pool, cl.RetryPolicy == retry}
	want := view{[]string{"10.0.0.1", "10.0.0.2:9142"}, 19042, "jobs", 4, gocql.Quorum, gocql.Serial, 3 * time.Second, 2 * time.Second, 4,
		gocql.PasswordAuthenticator{Username: "app", Password: "pw"}, "db", true, true, true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewCluster() (-want +got):\n%s", diff)
	}
	if cl.PoolConfig.HostSelectionPolicy == nil || cl.AddressTranslator == nil {
		t.Error("NewCluster() dropped the host selection policy or the address translator")
	}

	def, err := repo.Config{Hosts: []string{"h"}, Keyspace: "jobs"}.NewCluster()
	if err != nil {
		t.Fatal(err)
	}
	if def.Consistency != gocql.LocalQuorum || def.SerialConsistency != gocql.LocalSerial || def.Port != 9042 ||
		def.Timeout != repo.DefaultTimeout || def.ConnectTimeout != repo.DefaultConnectTimeout || def.Authenticator != nil || def.SslOpts != nil {
		t.Errorf("defaults: consistency %s/%s port %d timeouts %s/%s auth %v tls %v; want LOCAL_QUORUM/LOCAL_SERIAL 9042 12s/5s none none",
			def.Consistency, def.SerialConsistency, def.Port, def.Timeout, def.ConnectTimeout, def.Authenticator, def.SslOpts)
	}
}

func TestConfigHidesPassword(t *testing.T) {
	t.Parallel()

	cfg := repo.Config{Hosts: []string{"h"}, Keyspace: "k", Username: "app", Password: "hunter2-very-secret"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(format, cfg); strings.Contains(out, "hunter2") || !strings.Contains(out, "app") {
			t.Errorf("Sprintf(%q) = %s; want the username and no password", format, out)
		}
	}
	if out := fmt.Sprintf("%v", &cfg); strings.Contains(out, "hunter2") {
		t.Errorf("a *Config prints the password: %s", out)
	}
}

// TestConnectAuth runs against the authenticating node on 127.0.0.11
// (started here if it does not run).
func TestConnectAuth(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	cluster := cqltest.AuthCluster(t)
	admin := cqltest.SuperSession(t, cluster)
	ks := cqltest.UniqueKeyspace(t)
	cqltest.DropKeyspaceAtEnd(t, admin, ks)
	if _, err := schema.Apply(ctx, admin, ks, &schema.Replication{Class: schema.SimpleStrategy, Factor: 1}); err != nil {
		t.Fatalf("Apply() as superuser: %v", err)
	}
	// An application role that may read and write the keyspace, and one that
	// may only read it.
	app, reader := "app_"+ks[len(ks)-8:], "reader_"+ks[len(ks)-8:]
	const appPassword, readerPassword = "app-pw-7f3a1c", "reader-pw-92be"
	for _, stmt := range []string{
		fmt.Sprintf("CREATE ROLE %s WITH LOGIN = true AND PASSWORD = '%s'", app, appPassword),
		fmt.Sprintf("GRANT SELECT ON KEYSPACE %s TO %s", ks, app),
		fmt.Sprintf("GRANT MODIFY ON KEYSPACE %s TO %s", ks, app),
		fmt.Sprintf("CREATE ROLE %s WITH LOGIN = true AND PASSWORD = '%s'", reader, readerPassword),
		fmt.Sprintf("GRANT SELECT ON KEYSPACE %s TO %s", ks, reader),
	} {
		if err := admin.Query(stmt).Exec(); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		_ = admin.Query("DROP ROLE IF EXISTS " + app).Exec()
		_ = admin.Query("DROP ROLE IF EXISTS " + reader).Exec()
	})
	base := repo.Config{Hosts: cluster.Hosts(), Keyspace: ks}

	t.Run("Superuser", func(t *testing.T) {
		t.Parallel()
		cfg := base
		cfg.Username, cfg.Password, cfg.DriverLogger = devcluster.SuperUser, devcluster.SuperPassword, quiet()
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() as superuser: %v", err)
		}
		defer store.Close()
		roundTrip(ctx, t, store)
	})

	t.Run("ApplicationRole", func(t *testing.T) {
		t.Parallel()
		cfg := base
		cfg.Username, cfg.Password, cfg.DriverLogger = app, appPassword, quiet()
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() as %s: %v", app, err)
		}
		defer store.Close()
		roundTrip(ctx, t, store)
	})

	t.Run("ReadOnlyRole", func(t *testing.T) {
		t.Parallel()
		cfg := base
		cfg.Username, cfg.Password, cfg.DriverLogger = reader, readerPassword, quiet()
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() as %s: %v", reader, err)
		}
		defer store.Close()
		_, err = store.Jobs.Insert(ctx, &repo.NewJob{Queue: cqltest.Queue(t), Type: "t"})
		if !errors.Is(err, repo.ErrUnauthorized) || !strings.Contains(err.Error(), "has no MODIFY permission") {
			t.Fatalf("Insert() as a read-only role: error = %v, want ErrUnauthorized naming MODIFY", err)
		}
	})

	t.Run("WrongPassword", func(t *testing.T) {
		t.Parallel()
		var logged bytes.Buffer
		cfg := base
		cfg.Username, cfg.Password, cfg.DriverLogger = app, "not-the-password-5e1d", log.New(&logged, "", 0)
		began := time.Now()
		_, err := repo.Connect(ctx, cfg)
		var ae *repo.AuthError
		if !errors.As(err, &ae) || !errors.Is(err, repo.ErrAuth) || ae.Username != app {
			t.Fatalf("Connect() with a wrong password: error = %v, want an AuthError for %s", err, app)
		}
		if want := fmt.Sprintf("jobsharp: authentication failed at %s:9042 as %q: the node refused the username or password", cqltest.AuthAddr, app); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error = %q, want it to start with %q", err, want)
		}
		if errors.Is(err, repo.ErrNoHosts) || repo.IsRetryable(err) {
			t.Error("a refused password is reported as retryable or as unreachable hosts")
		}
		for what, text := range map[string]string{"error": err.Error(), "wrapped error": fmt.Sprintf("%+v", errors.Unwrap(err)), "driver log": logged.String()} {
			if strings.Contains(text, "not-the-password") {
				t.Errorf("the password appears in the %s: %s", what, text)
			}
		}
		if d := time.Since(began); d > hangBound {
			t.Errorf("Connect() took %s", d)
		}
	})

	t.Run("NoCredentials", func(t *testing.T) {
		t.Parallel()
		cfg := base
		cfg.DriverLogger = quiet()
		_, err := repo.Connect(ctx, cfg)
		if !errors.Is(err, repo.ErrAuth) || !strings.Contains(err.Error(), "the cluster requires credentials; set Config.Username and Config.Password") {
			t.Fatalf("Connect() without credentials: error = %v, want ErrAuth asking for credentials", err)
		}
	})
}

// TestConnectTLS runs against the TLS node on 127.0.0.12 (started here if it
// does not run).
func TestConnectTLS(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	cluster := cqltest.TLSCluster(t)
	admin := cqltest.SuperSession(t, cluster)
	ks := cqltest.UniqueKeyspace(t)
	cqltest.DropKeyspaceAtEnd(t, admin, ks)
	if _, err := schema.Apply(ctx, admin, ks, &schema.Replication{Class: schema.SimpleStrategy, Factor: 1}); err != nil {
		t.Fatalf("Apply() over TLS: %v", err)
	}
	trusted, err := devcluster.ClientTLS(cqltest.TLSCAFile(cluster))
	if err != nil {
		t.Fatal(err)
	}
	base := repo.Config{Hosts: cluster.Hosts(), Keyspace: ks, DriverLogger: quiet()}

	t.Run("TrustedCA", func(t *testing.T) {
		t.Parallel()
		cfg := base
		cfg.TLS = trusted
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() over TLS: %v", err)
		}
		defer store.Close()
		roundTrip(ctx, t, store)
	})

	t.Run("Plaintext", func(t *testing.T) {
		t.Parallel()
		_, err := repo.Connect(ctx, base)
		if !errors.Is(err, repo.ErrTLS) || !strings.Contains(err.Error(), "the node requires TLS (client_encryption_options): set Config.TLS") {
			t.Fatalf("Connect() in plaintext to a TLS-only node: error = %v, want ErrTLS saying TLS is required", err)
		}
	})

	t.Run("WrongCA", func(t *testing.T) {
		t.Parallel()
		other, err := devcluster.UntrustedCA()
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(other)
		cfg := base
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		_, err = repo.Connect(ctx, cfg)
		if !errors.Is(err, repo.ErrTLS) || !strings.Contains(err.Error(), "the node's certificate is not signed by a CA the client trusts") {
			t.Fatalf("Connect() trusting another CA: error = %v, want ErrTLS about the CA", err)
		}
	})

	t.Run("TLSToPlaintextNode", func(t *testing.T) {
		t.Parallel()
		cfg := base
		cfg.Hosts, cfg.Keyspace, cfg.TLS = cqltest.Hosts(), cqltest.Keyspace(t), trusted
		_, err := repo.Connect(ctx, cfg)
		if !errors.Is(err, repo.ErrTLS) || !strings.Contains(err.Error(), "the node does not speak TLS on this port") {
			t.Fatalf("Connect() with TLS to a plaintext node: error = %v, want ErrTLS", err)
		}
	})

	t.Run("SkipVerify", func(t *testing.T) {
		t.Parallel()
		cfg := base
		cfg.TLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // what the test checks
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			t.Fatalf("Connect() with InsecureSkipVerify: %v", err)
		}
		store.Close()
	})
}
