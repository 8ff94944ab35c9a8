package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"
	"github.com/scylladb/gocqlx/v2"

	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
)

// simClock is real time plus an offset that the history builder moves
// forward, so that history spans hours of simulated time in minutes. It
// keeps the nanoseconds of real time, as .NET's DateTimeOffset.UtcNow keeps
// 100 ns ticks. Every contender uses the same clock.
type simClock struct{ offset atomic.Int64 }

func (c *simClock) Now() time.Time { return time.Now().UTC().Add(time.Duration(c.offset.Load())) }

func (c *simClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// env is one run's connections and keyspaces.
type env struct {
	cfg    Config
	logger *log.Logger
	clock  *simClock
	tag    string // unique per run, for queue names

	admin                   *gocql.Session
	oursKS, origKS, emptyKS string
	// Each contender has its own session and statement counter.
	ours               gocqlx.Session
	raw, orig          *gocql.Session
	oursN, rawN, origN *counter
	// emptyOrig is a second keyspace with the original's schema, kept
	// empty: the due scan's control for the original.
	emptyOrig *gocql.Session
}

func (e *env) cluster(keyspace string, obs *counter) *gocql.ClusterConfig {
	c := gocql.NewCluster(e.cfg.Hosts...)
	c.Port = e.cfg.Port
	c.Keyspace = keyspace
	c.ConnectTimeout = 10 * time.Second
	c.Timeout = 30 * time.Second
	c.Consistency = gocql.LocalQuorum
	c.SerialConsistency = gocql.LocalSerial
	c.Logger = log.New(io.Discard, "", 0)
	if obs != nil {
		c.QueryObserver = obs
		c.BatchObserver = obs
	}
	return c
}

// setup connects and creates a fresh keyspace for our schema (shared by ours
// and raw gocql, in separate queues) and one for the original's schema.
func setup(ctx context.Context, cfg Config, logger *log.Logger) (*env, error) {
	e := &env{cfg: cfg, logger: logger, clock: &simClock{}, tag: randomHex(3)}
	var err error
	e.admin, err = e.cluster("", nil).CreateSession()
	if err != nil {
		return nil, fmt.Errorf("connect to Cassandra at %v:%d (start one with scripts/cassandra start): %w", cfg.Hosts, cfg.Port, err)
	}
	e.oursKS, e.origKS, e.emptyKS = "bench_ours_"+e.tag, "bench_orig_"+e.tag, "bench_empty_"+e.tag
	for _, ks := range []string{e.oursKS, e.origKS, e.emptyKS} {
		stmt := fmt.Sprintf(`CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, ks)
		if err := e.admin.Query(stmt).WithContext(ctx).Exec(); err != nil {
			e.close(ctx)
			return nil, fmt.Errorf("create keyspace %s: %w", ks, err)
		}
	}
	e.oursN, e.rawN, e.origN = newCounter(), newCounter(), newCounter()
	if e.ours, err = gocqlx.WrapSession(e.cluster(e.oursKS, e.oursN).CreateSession()); err != nil {
		e.close(ctx)
		return nil, fmt.Errorf("connect to %s: %w", e.oursKS, err)
	}
	if e.raw, err = e.cluster(e.oursKS, e.rawN).CreateSession(); err != nil {
		e.close(ctx)
		return nil, fmt.Errorf("connect to %s: %w", e.oursKS, err)
	}
	if e.orig, err = e.cluster(e.origKS, e.origN).CreateSession(); err != nil {
		e.close(ctx)
		return nil, fmt.Errorf("connect to %s: %w", e.origKS, err)
	}
	if e.emptyOrig, err = e.cluster(e.emptyKS, newCounter()).CreateSession(); err != nil {
		e.close(ctx)
		return nil, fmt.Errorf("connect to %s: %w", e.emptyKS, err)
	}
	for _, stmt := range queries.CreateStatements() {
		if err := e.ours.ContextQuery(ctx, stmt, nil).ExecRelease(); err != nil {
			e.close(ctx)
			return nil, fmt.Errorf("apply our schema: %w", err)
		}
	}
	for _, s := range []*gocql.Session{e.orig, e.emptyOrig} {
		for _, stmt := range OriginalSchema {
			if err := s.Query(stmt).WithContext(ctx).Exec(); err != nil {
				e.close(ctx)
				return nil, fmt.Errorf("apply the original's schema: %w", err)
			}
		}
	}
	return e, nil
}

// close drops the keyspaces (unless Keep) and closes the sessions.
func (e *env) close(ctx context.Context) {
	for _, s := range []*gocql.Session{e.ours.Session, e.raw, e.orig, e.emptyOrig} {
		if s != nil {
			s.Close()
		}
	}
	if e.admin == nil {
		return
	}
	if !e.cfg.Keep {
		for _, ks := range []string{e.oursKS, e.origKS, e.emptyKS} {
			if ks != "" {
				_ = e.admin.Query("DROP KEYSPACE IF EXISTS " + ks).WithContext(context.WithoutCancel(ctx)).Exec()
			}
		}
	}
	e.admin.Close()
}

// store returns a new store on our keyspace with the simulated clock. Each
// store has its own scan cursors, as a separate process would.
func (e *env) store() *repo.Store {
	s, err := repo.New(e.ours, &repo.Options{Now: e.clock.Now, Logger: discardLogger})
	if err != nil {
		panic(err) // the options are constant
	}
	return s
}

// original returns the original strategy on its keyspace.
func (e *env) original() *Original { return NewOriginal(e.orig, e.clock.Now) }

// queue returns a queue name unique to this run.
func (e *env) queue(name string) string { return fmt.Sprintf("%s.%s", name, randomHex(4)) }

// truncateOriginal empties the original's tables, so that a scenario starts
// without the stale entries of earlier ones.
func (e *env) truncateOriginal(ctx context.Context) error {
	return truncate(ctx, e.orig)
}

func truncate(ctx context.Context, s *gocql.Session) error {
	for _, t := range []string{"jobs", "jobs_by_state", "scheduled_jobs"} {
		if err := s.Query("TRUNCATE " + t).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("truncate the original's %s: %w", t, err)
		}
	}
	return nil
}

func (e *env) logf(format string, args ...any) {
	if e.logger != nil {
		e.logger.Printf(format, args...)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mustV7() uuid.UUID {
	u, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return u
}
