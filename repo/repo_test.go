package repo_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gocql/gocql"

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
	t.Cleanup(store.Close)
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
	t.Cleanup(store.Close)
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

// newID returns a job id for the bundle's queue, due now.
func (b *testBundle) newID(ctx context.Context, t *testing.T) gocql.UUID {
	t.Helper()
	id, err := b.store.Jobs.NewID(ctx, b.queue, time.Time{})
	if err != nil {
		t.Fatalf("NewID() error = %v", err)
	}
	return id
}

func (b *testBundle) claim(ctx context.Context, t *testing.T, limit int) []*repo.Job {
	t.Helper()
	jobs, err := b.store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "test", Limit: limit, Lease: 30 * time.Second})
	if err != nil {
		t.Fatalf("Claim() error = %v", err)
	}
	return jobs
}

// settle makes the bundle queue's counts exact: a sweep folds every
// partition's count log.
func (b *testBundle) settle(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := b.store.SweepCounts(ctx, b.queue); err != nil {
		t.Fatalf("SweepCounts() error = %v", err)
	}
}

func (b *testBundle) queueShard(ctx context.Context, t *testing.T) int32 {
	t.Helper()
	sh, err := repo.QueueShard(ctx, b.store, b.queue)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// count returns the settled count of jobs of the bundle's queue in a state.
func (b *testBundle) count(ctx context.Context, t *testing.T, state repo.State) int64 {
	t.Helper()
	b.settle(ctx, t)
	n, err := b.store.Jobs.Count(ctx, b.queue, state)
	if err != nil {
		t.Fatalf("Count(%s) error = %v", state, err)
	}
	return n
}
