package worker_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

func TestMain(m *testing.M) {
	if ks := os.Getenv(childKeyspaceEnv); ks != "" {
		os.Exit(childProcessor(ks)) // TestKilledProcessorDisappears's child
	}
	cqltest.Main(m, queries.CreateStatements()...)
}

// testBundle is what most tests need: a store on the package keyspace and a
// queue no other test uses.
type testBundle struct {
	store   *repo.Store
	queue   string
	metrics *recorder
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{store: newStore(t, nil), queue: cqltest.Queue(t), metrics: newRecorder()}
}

// newStore opens a store with a session of its own, as another process
// would.
func newStore(t *testing.T, opts *repo.Options) *repo.Store {
	t.Helper()
	var o repo.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = cqltest.Logger(t, slog.LevelWarn)
	}
	store, err := repo.New(cqltest.NewSession(t), &o)
	if err != nil {
		t.Fatalf("repo.New() error = %v", err)
	}
	return store
}

// newObservedStore is newStore on a session whose queries obs sees as they
// return, for tests that act at a precise point of a store call.
func newObservedStore(t testing.TB, obs gocql.QueryObserver) *repo.Store {
	t.Helper()
	store, err := repo.New(cqltest.ObservedSession(t, obs), &repo.Options{Logger: cqltest.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatalf("repo.New() error = %v", err)
	}
	return store
}

// observeFunc is a gocql.QueryObserver made of a function.
type observeFunc func(context.Context, gocql.ObservedQuery)

func (f observeFunc) ObserveQuery(ctx context.Context, q gocql.ObservedQuery) { f(ctx, q) }

// observeBatchFunc observes batches only (the store sends the lightweight
// transactions on jobs as conditional batches per partition).
type observeBatchFunc func(context.Context, gocql.ObservedBatch)

func (f observeBatchFunc) ObserveQuery(context.Context, gocql.ObservedQuery)       {}
func (f observeBatchFunc) ObserveBatch(ctx context.Context, b gocql.ObservedBatch) { f(ctx, b) }

// config is a processor configuration for tests: the bundle's queue, short
// leases, polls and retries, and the bundle's metrics.
func (b *testBundle) config(t *testing.T, maxWorkers int) *worker.Config {
	t.Helper()
	return &worker.Config{
		Queues:           map[string]worker.QueueConfig{b.queue: {MaxWorkers: maxWorkers}},
		Lease:            3 * time.Second,
		PollInterval:     50 * time.Millisecond,
		ClaimCooldown:    10 * time.Millisecond,
		ShutdownTimeout:  10 * time.Second,
		RescueInterval:   500 * time.Millisecond,
		ScheduleInterval: 100 * time.Millisecond,
		Backoff:          func(int) time.Duration { return 20 * time.Millisecond },
		Logger:           cqltest.Logger(t, slog.LevelInfo),
		Metrics:          b.metrics,
	}
}

// processor makes a processor on store with cfg.
func processor(t *testing.T, store *repo.Store, cfg *worker.Config) *worker.Processor {
	t.Helper()
	p, err := worker.New(store, cfg)
	if err != nil {
		t.Fatalf("worker.New() error = %v", err)
	}
	return p
}

// start runs p until the returned stop is called (or the test ends); stop
// waits for Run to return and fails the test if it takes longer than a
// minute or returns an error.
func start(t *testing.T, p *worker.Processor) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run() error = %v", err)
				}
			case <-time.After(time.Minute):
				t.Errorf("Run() did not return within a minute of its context's end")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// handle registers a handler and fails the test on error.
func handle[T worker.JobArgs](t *testing.T, p *worker.Processor, fn func(context.Context, *worker.Job[T]) error, opts *worker.HandleOpts) {
	t.Helper()
	if err := worker.Handle(p, fn, opts); err != nil {
		t.Fatalf("Handle[%T] error = %v", *new(T), err)
	}
}

func enqueue[T worker.JobArgs](ctx context.Context, t *testing.T, b *testBundle, args T, opts *worker.EnqueueOpts) *worker.Job[T] {
	t.Helper()
	if opts == nil {
		opts = &worker.EnqueueOpts{}
	}
	if opts.Queue == "" {
		opts.Queue = b.queue
	}
	job, err := worker.Enqueue(ctx, b.store, args, opts)
	if err != nil {
		t.Fatalf("Enqueue(%T) error = %v", args, err)
	}
	return job
}

// wait returns the job once it is finished, failing the test after timeout.
func wait(t *testing.T, store *repo.Store, id gocql.UUID, timeout time.Duration) *repo.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	job, err := worker.Wait(ctx, store, id, &worker.WaitOpts{PollInterval: 50 * time.Millisecond})
	if err != nil {
		state := "unknown"
		if job != nil {
			state = job.State.String()
		}
		t.Fatalf("Wait(%s) error = %v (job is %s)", id, err, state)
	}
	return job
}

// eventually polls cond every 20ms until it holds, failing the test with
// what after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorder is a worker.Metrics that counts what it is told.
type recorder struct {
	mu       sync.Mutex
	claimed  int
	outcomes map[worker.Outcome]int
	rescued  int
	fired    int
}

func newRecorder() *recorder { return &recorder{outcomes: map[worker.Outcome]int{}} }

func (r *recorder) JobClaimed(string, string, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.claimed++
}

func (r *recorder) JobFinished(_, _ string, o worker.Outcome, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes[o]++
}

func (r *recorder) JobsRescued(_ string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rescued += n
}

func (r *recorder) RecurringFired(string, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fired++
}

func (r *recorder) claims() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.claimed
}

// finished returns the count of each outcome recorded.
func (r *recorder) finished() map[worker.Outcome]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[worker.Outcome]int, len(r.outcomes))
	for o, n := range r.outcomes {
		out[o] = n
	}
	return out
}

func (r *recorder) outcome(o worker.Outcome) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outcomes[o]
}

// counter counts per key, safely.
type counter[K comparable] struct {
	mu sync.Mutex
	m  map[K]int
}

func newCounter[K comparable]() *counter[K] { return &counter[K]{m: map[K]int{}} }

func (c *counter[K]) add(k K) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k]++
	return c.m[k]
}

func (c *counter[K]) get(k K) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *counter[K]) snapshot() map[K]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[K]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

func (c *counter[K]) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.m {
		n += v
	}
	return n
}
