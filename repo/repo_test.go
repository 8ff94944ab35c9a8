package repo_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
)

func TestMain(m *testing.M) { cqltest.Main(m, queries.CreateStatements()...) }

// clock is a store clock that tests move by hand.
type clock = cqltest.Clock

func newClock() *clock { return cqltest.NewClock(time.Now().UTC()) }

// testBundle is what most tests need: a store on the package keyspace with
// its own clock, and a queue no other test uses.
type testBundle struct {
	store *repo.Store
	clock *clock
	queue string
}

func setup(t *testing.T, opts *repo.Options) *testBundle {
	t.Helper()
	c := newClock()
	var o repo.Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = c.Now
	}
	if o.Logger == nil {
		o.Logger = cqltest.Logger(t, slog.LevelDebug)
	}
	store, err := repo.New(cqltest.Session(t), &o)
	if err != nil {
		t.Fatalf("repo.New() error = %v", err)
	}
	return &testBundle{store: store, clock: c, queue: cqltest.Queue(t)}
}

// sameStore opens another store on the bundle's keyspace and clock, as a
// second worker process would, with its own session.
func (b *testBundle) sameStore(t *testing.T, opts *repo.Options) *repo.Store {
	t.Helper()
	var o repo.Options
	if opts != nil {
		o = *opts
	}
	o.Now = b.clock.Now
	if o.Logger == nil {
		o.Logger = cqltest.Logger(t, slog.LevelDebug)
	}
	store, err := repo.New(cqltest.NewSession(t), &o)
	if err != nil {
		t.Fatalf("repo.New() error = %v", err)
	}
	return store
}

func (b *testBundle) insert(ctx context.Context, t *testing.T, nj *repo.NewJob) *repo.Job {
	t.Helper()
	if nj.Queue == "" {
		nj.Queue = b.queue
	}
	if nj.Type == "" {
		nj.Type = "test.job"
	}
	job, err := b.store.Jobs.Insert(ctx, nj)
	if err != nil {
		t.Fatalf("Insert() error = %v", err)
	}
	return job
}

func (b *testBundle) claim(ctx context.Context, t *testing.T, limit int) []*repo.Job {
	t.Helper()
	jobs, err := b.store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "test", Limit: limit, Lease: 30 * time.Second})
	if err != nil {
		t.Fatalf("Claim() error = %v", err)
	}
	return jobs
}

func (b *testBundle) count(ctx context.Context, t *testing.T, state repo.State) int64 {
	t.Helper()
	n, err := b.store.Jobs.Count(ctx, b.queue, state)
	if err != nil {
		t.Fatalf("Count(%s) error = %v", state, err)
	}
	return n
}
