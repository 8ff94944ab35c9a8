package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// benchRun counts runs so that each benchmark run has its own queue.
var benchRun atomic.Int64

// latencies collects due → start delays.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.d = append(l.d, d)
}

// report adds the p50 and p99 delays, in milliseconds, to the benchmark.
func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	at := func(q float64) float64 { return float64(l.d[int(q*float64(len(l.d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "p50-due-to-start-ms")
	b.ReportMetric(at(0.99), "p99-due-to-start-ms")
}

// benchProcessors starts n processors, each on its own session, with a
// no-op handler that records its due → start delay. rec counts outcomes once
// they are written.
func benchProcessors(b *testing.B, n int, queue string, lat *latencies, rec *recorder) {
	b.Helper()
	for i := range n {
		store, err := repo.New(cqltest.NewSession(b), &repo.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		p, err := worker.New(store, &worker.Config{
			Queues:  map[string]worker.QueueConfig{queue: {MaxWorkers: 50}},
			Owner:   fmt.Sprintf("bench-%d", i),
			Logger:  slog.New(slog.DiscardHandler),
			Metrics: rec,
		})
		if err != nil {
			b.Fatal(err)
		}
		err = worker.Handle(p, func(ctx context.Context, job *worker.Job[noop]) error {
			lat.add(time.Since(job.ScheduledAt))
			return nil
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { _ = p.Run(ctx); close(stopped) }()
		b.Cleanup(func() { cancel(); <-stopped })
	}
}

// BenchmarkThroughput measures end to end: b.N jobs enqueued (in chunks of
// 500, while the processors run) → no-op handler → Succeeded written, with
// one and with two processors of 50 handler slots each on separate
// sessions. It reports jobs/s and the delay from each job's due time (its
// enqueue) to its handler's start, which under this burst is mostly time
// spent waiting in the queue.
//
//	go test ./worker -run '^$' -bench Throughput -benchtime 4000x
func BenchmarkThroughput(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("processors=%d", n), func(b *testing.B) {
			queue := fmt.Sprintf("bench_throughput_%d_%d", n, benchRun.Add(1))
			var lat latencies
			rec := newRecorder()
			benchProcessors(b, n, queue, &lat, rec)
			store, err := repo.New(cqltest.Session(b), &repo.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()

			b.ResetTimer()
			start := time.Now()
			for from := 0; from < b.N; from += 500 {
				args := make([]noop, min(500, b.N-from))
				if _, err := worker.EnqueueMany(ctx, store, args, &worker.EnqueueOpts{Queue: queue}); err != nil {
					b.Fatal(err)
				}
			}
			for rec.outcome(worker.OutcomeSucceeded) < b.N {
				time.Sleep(5 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
			lat.report(b)
		})
	}
}

// BenchmarkLatency measures the delay from due time to start when jobs
// arrive at a steady 50 per second, below capacity, with the default poll
// interval (1s) and claim cooldown (50ms): what a single job waits for an
// idle or lightly loaded processor.
//
//	go test ./worker -run '^$' -bench Latency -benchtime 500x
func BenchmarkLatency(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("processors=%d", n), func(b *testing.B) {
			queue := fmt.Sprintf("bench_latency_%d_%d", n, benchRun.Add(1))
			var lat latencies
			rec := newRecorder()
			benchProcessors(b, n, queue, &lat, rec)
			store, err := repo.New(cqltest.Session(b), &repo.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()

			b.ResetTimer()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for range b.N {
				<-tick.C
				if _, err := worker.Enqueue(ctx, store, noop{}, &worker.EnqueueOpts{Queue: queue}); err != nil {
					b.Fatal(err)
				}
			}
			for rec.outcome(worker.OutcomeSucceeded) < b.N {
				time.Sleep(5 * time.Millisecond)
			}
			b.StopTimer()
			lat.report(b)
		})
	}
}

// noop is the argument of the benchmarks' jobs, which do nothing.
type noop struct{}

func (noop) Kind() string { return "noop" }
