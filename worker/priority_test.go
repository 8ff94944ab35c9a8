package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/bench/cqlcount"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// prioArgs is a job that records the start of its handler.
type prioArgs struct{ N int }

func (prioArgs) Kind() string { return "prio" }

// starts records the queue of each handler start, in order, and the most
// handlers running at once.
type starts struct {
	mu        sync.Mutex
	order     []string
	running   int
	maxAtOnce int
}

func (s *starts) begin(queue string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order = append(s.order, queue)
	s.running++
	s.maxAtOnce = max(s.maxAtOnce, s.running)
}

func (s *starts) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
}

func (s *starts) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// fill enqueues n jobs into each queue before any processor runs.
func fill(ctx context.Context, t *testing.T, b *testBundle, n int, queues ...string) {
	t.Helper()
	args := make([]prioArgs, n)
	for i := range args {
		args[i] = prioArgs{N: i}
	}
	for _, q := range queues {
		if _, err := worker.EnqueueMany(ctx, b.store, args, &worker.EnqueueOpts{Queue: q}); err != nil {
			t.Fatalf("EnqueueMany(%s) error = %v", q, err)
		}
	}
}

// runPrio runs a processor whose queues share maxWorkers slots by
// priority, with a handler that records starts and sleeps d.
func runPrio(t *testing.T, b *testBundle, maxWorkers int, priority worker.Priority, queues map[string]worker.QueueConfig, d time.Duration) (*starts, func()) {
	t.Helper()
	cfg := b.config(t, 0)
	cfg.MaxWorkers, cfg.Priority, cfg.Queues = maxWorkers, priority, queues
	p := processor(t, b.store, cfg)
	rec := &starts{}
	handle(t, p, func(ctx context.Context, job *worker.Job[prioArgs]) error {
		rec.begin(job.Queue)
		defer rec.end()
		time.Sleep(d)
		return nil
	}, nil)
	return rec, start(t, p)
}

// Strict priority: with three queues full of jobs and two shared slots,
// every job of the highest queue starts before any of the middle one, and
// every job of the middle one before any of the lowest.
func TestStrictPriority(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	high, mid, low := b.queue+"_high", b.queue+"_mid", b.queue+"_low"
	const perQueue = 15
	fill(ctx, t, b, perQueue, low, mid, high)
	rec, stop := runPrio(t, b, 2, worker.PriorityStrict, map[string]worker.QueueConfig{high: {Weight: 3}, mid: {Weight: 2}, low: {Weight: 1}}, 20*time.Millisecond)
	eventually(t, time.Minute, "every job started", func() bool { return len(rec.snapshot()) == 3*perQueue })
	stop()

	order := rec.snapshot()
	var want []string
	for _, q := range []string{high, mid, low} {
		for range perQueue {
			want = append(want, q)
		}
	}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("start order (queue per start):\n got %s\nwant %s", short(order, b.queue), short(want, b.queue))
	}
	if rec.maxAtOnce > 2 {
		t.Errorf("%d handlers ran at once, want at most MaxWorkers = 2", rec.maxAtOnce)
	}
}

// Weighted priority: with two queues full of jobs, weights 3 and 1 and
// four shared slots, the first 240 starts are three of the first queue for
// one of the second. Fair shares (1:1) would put 120 ± 8 (one standard
// deviation) in each; the bound below is more than five deviations from
// that.
func TestWeightedPriority(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	heavy, light := b.queue+"_heavy", b.queue+"_light"
	const perQueue, counted = 300, 240
	fill(ctx, t, b, perQueue, light, heavy)
	rec, stop := runPrio(t, b, 4, worker.PriorityWeighted, map[string]worker.QueueConfig{heavy: {Weight: 3}, light: {Weight: 1}}, 2*time.Millisecond)
	eventually(t, 2*time.Minute, fmt.Sprintf("%d starts", counted), func() bool { return len(rec.snapshot()) >= counted })
	stop()

	n := 0
	for _, q := range rec.snapshot()[:counted] {
		if q == heavy {
			n++
		}
	}
	share := float64(n) / counted
	t.Logf("weights 3:1: %d of the first %d starts from the heavy queue (%.3f; want 0.75)", n, counted, share)
	if share < 0.68 || share > 0.82 {
		t.Errorf("heavy queue's share of the first %d starts = %.3f (%d), want 0.75 ± 0.07", counted, share, n)
	}
	if rec.maxAtOnce > 4 {
		t.Errorf("%d handlers ran at once, want at most MaxWorkers = 4", rec.maxAtOnce)
	}
}

// A queue with nothing due leaves its share to the others: the light queue
// alone gets every shared slot. Its own MaxWorkers still caps a queue.
func TestWeightedLeavesIdleShares(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	heavy, light, capped := b.queue+"_heavy", b.queue+"_light", b.queue+"_capped"
	fill(ctx, t, b, 12, light, capped)
	cfg := b.config(t, 0)
	cfg.MaxWorkers = 4
	cfg.Queues = map[string]worker.QueueConfig{heavy: {Weight: 10}, light: {Weight: 1}, capped: {Weight: 1, MaxWorkers: 1}}
	p := processor(t, b.store, cfg)
	var mu sync.Mutex
	running, most := map[string]int{}, map[string]int{}
	handle(t, p, func(ctx context.Context, job *worker.Job[prioArgs]) error {
		mu.Lock()
		running[job.Queue]++
		most[job.Queue] = max(most[job.Queue], running[job.Queue])
		mu.Unlock()
		time.Sleep(150 * time.Millisecond)
		mu.Lock()
		running[job.Queue]--
		mu.Unlock()
		return nil
	}, nil)
	stop := start(t, p)
	done := func() bool {
		n, err := b.store.Jobs.Count(ctx, light, repo.StateSucceeded)
		m, err2 := b.store.Jobs.Count(ctx, capped, repo.StateSucceeded)
		return err == nil && err2 == nil && n == 12 && m == 12
	}
	eventually(t, time.Minute, "every job succeeded", func() bool { _ = b.store.SweepCounts(ctx, light); _ = b.store.SweepCounts(ctx, capped); return done() })
	stop()
	mu.Lock()
	defer mu.Unlock()
	// With the heavy queue's share kept for it, light would run at most one
	// handler (weights 10:1:1 of four slots).
	if most[light] < 3 || most[capped] != 1 {
		t.Errorf("most handlers at once: light %d, capped %d; want at least 3 (the idle heavy queue's share) and 1 (its own MaxWorkers)", most[light], most[capped])
	}
}

// short drops the common prefix of queue names, for messages.
func short(queues []string, prefix string) string {
	out := make([]string, len(queues))
	for i, q := range queues {
		out[i] = strings.TrimPrefix(q, prefix+"_")
	}
	return strings.Join(out, " ")
}

// BenchmarkPriorityStatements counts the statements and lightweight
// transactions per job that processing costs (claims, heartbeats, outcomes;
// the inserts are not counted), with two queues of b.N jobs each and four
// handler slots in all: two per queue, against four shared under weighted
// (3:1) and strict priority. The claims are the store's Claim in every
// mode: what may differ is how many jobs each claim takes.
//
//	go test ./worker -run '^$' -bench PriorityStatements -benchtime 400x
func BenchmarkPriorityStatements(b *testing.B) {
	for _, mode := range []string{"per-queue", "weighted", "strict"} {
		b.Run(mode, func(b *testing.B) {
			run := benchRun.Add(1)
			qa, qb := fmt.Sprintf("bench_prio_a_%d", run), fmt.Sprintf("bench_prio_b_%d", run)
			counter := cqlcount.New()
			store := newObservedStore(b, counter)
			b.Cleanup(store.Close)
			ctx := context.Background()
			for _, q := range []string{qa, qb} {
				if _, err := worker.EnqueueMany(ctx, store, make([]noop, b.N), &worker.EnqueueOpts{Queue: q}); err != nil {
					b.Fatal(err)
				}
			}
			wc := &worker.Config{Queues: map[string]worker.QueueConfig{qa: {MaxWorkers: 2}, qb: {MaxWorkers: 2}}, Logger: slog.New(slog.DiscardHandler)}
			switch mode {
			case "weighted":
				wc.MaxWorkers, wc.Queues = 4, map[string]worker.QueueConfig{qa: {Weight: 3}, qb: {Weight: 1}}
			case "strict":
				wc.MaxWorkers, wc.Priority, wc.Queues = 4, worker.PriorityStrict, map[string]worker.QueueConfig{qa: {Weight: 2}, qb: {Weight: 1}}
			}
			rec := newRecorder()
			wc.Metrics = rec
			p, err := worker.New(store, wc)
			if err != nil {
				b.Fatal(err)
			}
			if err := worker.Handle(p, func(context.Context, *worker.Job[noop]) error { return nil }, nil); err != nil {
				b.Fatal(err)
			}
			before := counter.Snapshot()
			b.ResetTimer()
			start := time.Now()
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- p.Run(runCtx) }()
			for rec.outcome(worker.OutcomeSucceeded) < 2*b.N {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			after := counter.Snapshot()
			jobs := float64(2 * b.N)
			b.ReportMetric(float64(after.Queries+after.Batches-before.Queries-before.Batches)/jobs, "statements/job")
			b.ReportMetric(float64(after.LWTs-before.LWTs)/jobs, "LWTs/job")
			b.ReportMetric(jobs/elapsed.Seconds(), "jobs/s")
		})
	}
}

// A heavy queue fed one job at a time (weights 3:1) does not starve a
// light queue with a backlog, although it keeps claiming fewer jobs than
// its share and so stays ahead by virtual time: each time it finds nothing
// due its share goes to the light queue, and its lead is dropped. Under
// full contention the light queue would get a quarter of the starts; with
// the heavy queue short of jobs, more.
func TestWeightedTrickleDoesNotStarve(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	heavy, light := b.queue+"_heavy", b.queue+"_light"
	fill(ctx, t, b, 400, light)
	rec, stop := runPrio(t, b, 4, worker.PriorityWeighted, map[string]worker.QueueConfig{heavy: {Weight: 3}, light: {Weight: 1}}, 40*time.Millisecond)
	for i := range 60 {
		if _, err := worker.Enqueue(ctx, b.store, prioArgs{N: i}, &worker.EnqueueOpts{Queue: heavy}); err != nil {
			t.Fatalf("Enqueue() error = %v", err)
		}
		time.Sleep(40 * time.Millisecond)
	}
	stop()
	n := map[string]int{}
	for _, q := range rec.snapshot() {
		n[q]++
	}
	share := float64(n[light]) / float64(n[light]+n[heavy])
	t.Logf("starts while the heavy queue trickled: heavy %d, light %d (light's share %.2f)", n[heavy], n[light], share)
	if n[heavy] == 0 || share < 0.15 {
		t.Errorf("starts: heavy %d, light %d; want both, light at least 0.15 of them", n[heavy], n[light])
	}
}

// A paused queue under shared slots: none of its jobs start, and the queue
// below it gets the slots (strict: it claims as if the paused one had
// nothing due; weighted: the paused one's share goes to it); after the
// resume its jobs run.
func TestPauseWithSharedSlots(t *testing.T) {
	t.Parallel()
	for _, priority := range []worker.Priority{worker.PriorityStrict, worker.PriorityWeighted} {
		t.Run(priority.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			high, low := b.queue+"_high", b.queue+"_low"
			const perQueue = 10
			fill(ctx, t, b, perQueue, low, high)
			if err := b.store.Queues.Pause(ctx, high); err != nil {
				t.Fatalf("Pause() error = %v", err)
			}
			rec, stop := runPrio(t, b, 2, priority, map[string]worker.QueueConfig{high: {Weight: 3}, low: {Weight: 1}}, 10*time.Millisecond)
			started := func(queue string) int {
				n := 0
				for _, q := range rec.snapshot() {
					if q == queue {
						n++
					}
				}
				return n
			}
			eventually(t, time.Minute, "every job of the queue not paused to start", func() bool { return started(low) == perQueue })
			time.Sleep(500 * time.Millisecond) // ten poll intervals
			if n := started(high); n != 0 {
				t.Fatalf("%d jobs of the paused queue started", n)
			}
			if err := b.store.Queues.Resume(ctx, high); err != nil {
				t.Fatalf("Resume() error = %v", err)
			}
			eventually(t, time.Minute, "every job of the resumed queue to start", func() bool { return started(high) == perQueue })
			stop()
			if rec.maxAtOnce > 2 {
				t.Errorf("%d handlers ran at once, want at most MaxWorkers = 2", rec.maxAtOnce)
			}
		})
	}
}
