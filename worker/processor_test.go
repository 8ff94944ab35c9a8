package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// countArgs are the arguments of the jobs of the processor tests: the job
// fails its first FailTimes attempts.
type countArgs struct {
	N         int `json:"n"`
	FailTimes int `json:"fail_times"`
}

func (countArgs) Kind() string { return "count" }

// TestProcessorsShareTheWork runs two processors, each on its own session,
// through 2,000 jobs enqueued while they run: every job runs to its
// configured end, and no job whose lease stayed live runs twice.
func TestProcessorsShareTheWork(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	const jobs = 2000
	// Job n: n%10 == 0 fails twice and may retry 3 times (succeeds on the
	// third attempt); n%10 == 1 fails 3 times but may retry once (Abandoned
	// after 2 attempts); the rest succeed at once.
	plan := func(n int) (failTimes, maxRetries int) {
		switch n % 10 {
		case 0:
			return 2, 3
		case 1:
			return 3, 1
		}
		return 0, 5
	}

	attempts := newCounter[gocql.UUID]()  // handler calls per job
	successes := newCounter[gocql.UUID]() // handler successes per job
	byProcessor := newCounter[string]()   // handler calls per processor
	var procs []*worker.Processor
	var stops []func()
	for i := range 2 {
		store := newStore(t, nil)
		cfg := b.config(t, 20)
		cfg.Logger = cqltest.Logger(t, slog.LevelError) // failures are planned
		cfg.Owner = fmt.Sprintf("processor-%d", i)
		p := processor(t, store, cfg)
		handle(t, p, func(ctx context.Context, job *worker.Job[countArgs]) error {
			byProcessor.add(p.Owner())
			n := attempts.add(job.ID)
			if n != job.Attempt() {
				t.Errorf("job %d: call %d sees Attempt() = %d", job.Args.N, n, job.Attempt())
			}
			if n <= job.Args.FailTimes {
				return fmt.Errorf("planned failure %d of %d", n, job.Args.FailTimes)
			}
			successes.add(job.ID)
			return nil
		}, nil)
		procs = append(procs, p)
		stops = append(stops, start(t, p))
	}

	ids := make([]gocql.UUID, 0, jobs)
	for from := 0; from < jobs; from += 250 {
		var njs []*repo.NewJob
		for n := from; n < from+250; n++ {
			failTimes, maxRetries := plan(n)
			nj, err := worker.NewJobFor(countArgs{N: n, FailTimes: failTimes}, &worker.EnqueueOpts{Queue: b.queue, MaxRetries: maxRetries})
			if err != nil {
				t.Fatalf("NewJobFor() error = %v", err)
			}
			njs = append(njs, nj)
		}
		stored, err := b.store.Jobs.InsertMany(ctx, njs)
		if err != nil {
			t.Fatalf("InsertMany() error = %v", err)
		}
		for _, j := range stored {
			ids = append(ids, j.ID)
		}
	}

	const wantSucceeded, wantAbandoned = jobs - jobs/10, jobs / 10
	eventually(t, 3*time.Minute, fmt.Sprintf("%d successes and %d abandoned jobs", wantSucceeded, wantAbandoned), func() bool {
		return successes.total() == wantSucceeded && b.metrics.outcome(worker.OutcomeAbandoned) == wantAbandoned
	})
	for _, stop := range stops {
		stop()
	}

	stored := make([]*repo.Job, len(ids))
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			j, err := b.store.Jobs.Get(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			stored[i], errs = j, append(errs, err)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	for _, j := range stored {
		var args countArgs
		if _, err := fmt.Sscanf(string(j.Args), `{"n":%d,"fail_times":%d}`, &args.N, &args.FailTimes); err != nil {
			t.Fatalf("job %s args %s: %v", j.ID, j.Args, err)
		}
		failTimes, maxRetries := plan(args.N)
		wantState, wantCalls, wantSuccess := repo.StateSucceeded, failTimes+1, 1
		if failTimes > maxRetries {
			wantState, wantCalls, wantSuccess = repo.StateAbandoned, maxRetries+1, 0
		}
		if j.State != wantState || attempts.get(j.ID) != wantCalls || successes.get(j.ID) != wantSuccess || j.RetryCount != min(failTimes, maxRetries+1) {
			t.Errorf("job %d: %s after %d calls, %d successes, %d failures; want %s after %d calls, %d successes",
				args.N, j.State, attempts.get(j.ID), successes.get(j.ID), j.RetryCount, wantState, wantCalls, wantSuccess)
		}
	}
	for _, p := range procs {
		if byProcessor.get(p.Owner()) == 0 {
			t.Errorf("processor %s ran no job; both should share the work", p.Owner())
		}
	}
	if n := b.metrics.outcome(worker.OutcomeLeaseLost) + b.metrics.outcome(worker.OutcomeUnrecorded); n != 0 {
		t.Errorf("metrics: %d lost or unrecorded outcomes, want none", n)
	}
	t.Logf("calls per processor: %d and %d", byProcessor.get(procs[0].Owner()), byProcessor.get(procs[1].Owner()))
}

// TestProcessorDies cuts one processor off from Cassandra while its handlers
// run, as a crash or a partition would: the other processor rescues its jobs
// once their leases expire and finishes them; nothing is lost or stuck.
func TestProcessorDies(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	doomedSession := cqltest.NewSession(t)
	doomedStore, err := repo.New(doomedSession, &repo.Options{Logger: cqltest.Logger(t, slog.LevelError)})
	if err != nil {
		t.Fatalf("repo.New() error = %v", err)
	}
	cfg := b.config(t, 5)
	cfg.Owner = "doomed"
	cfg.Logger = cqltest.Logger(t, slog.LevelError)
	cfg.Metrics = newRecorder()
	doomed := processor(t, doomedStore, cfg)
	var inFlight sync.WaitGroup
	inFlight.Add(5)
	causes := make(chan error, 5)
	handle(t, doomed, func(ctx context.Context, job *worker.Job[countArgs]) error {
		inFlight.Done()
		<-ctx.Done() // a handler that runs until told to stop
		causes <- context.Cause(ctx)
		return ctx.Err()
	}, nil)
	stopDoomed := start(t, doomed)

	jobs := make([]*worker.Job[countArgs], 0, 20)
	for n := range 20 {
		jobs = append(jobs, enqueue(ctx, t, b, countArgs{N: n}, nil))
	}
	inFlight.Wait() // the doomed processor holds 5 jobs

	survivor := processor(t, newStore(t, nil), b.config(t, 5))
	successes := newCounter[gocql.UUID]()
	handle(t, survivor, func(ctx context.Context, job *worker.Job[countArgs]) error {
		successes.add(job.ID)
		return nil
	}, nil)
	start(t, survivor)
	doomedSession.Close() // the crash: no heartbeat, release or outcome gets through

	for _, j := range jobs {
		done := wait(t, b.store, j.ID, 2*time.Minute)
		if done.State != repo.StateSucceeded || successes.get(j.ID) != 1 {
			t.Errorf("job %d: %s after %d successes, want Succeeded once", j.Args.N, done.State, successes.get(j.ID))
		}
		if done.RetryCount == 1 && (len(done.Errors) != 1 || !strings.HasPrefix(done.Errors[0].Error, `lease of "doomed" expired at `)) {
			t.Errorf("job %d: errors %+v, want the doomed lease's expiry", j.Args.N, done.Errors)
		}
	}
	rescued := 0
	for _, j := range jobs {
		if got, _ := b.store.Jobs.Get(ctx, j.ID); got != nil && got.RetryCount == 1 {
			rescued++
		}
	}
	if rescued != 5 {
		t.Errorf("%d jobs were rescued (one failed attempt), want the 5 the doomed processor held", rescued)
	}
	// The cut-off processor saw its leases run out and stopped its handlers.
	for range 5 {
		select {
		case err := <-causes:
			if !errors.Is(err, worker.ErrLeaseExpired) {
				t.Errorf("doomed handler's context.Cause = %v, want ErrLeaseExpired", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a doomed handler was never cancelled")
		}
	}
	stopDoomed()
}

// TestShutdown checks a graceful stop: running handlers get to finish within
// ShutdownTimeout, the rest are released, jobs claimed but not started are
// released unrun, and no job is left in Processing under the stopped
// processor's name.
func TestShutdown(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("HandlersFinishingInTimeSucceed", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 4))
		var started sync.WaitGroup
		started.Add(4)
		handle(t, p, func(ctx context.Context, job *worker.Job[countArgs]) error {
			started.Done()
			time.Sleep(500 * time.Millisecond) // not watching ctx: shutdown must wait
			return nil
		}, nil)
		stop := start(t, p)
		var jobs []*worker.Job[countArgs]
		for n := range 4 {
			jobs = append(jobs, enqueue(ctx, t, b, countArgs{N: n}, nil))
		}
		started.Wait()
		stop()
		for _, j := range jobs {
			got, err := b.store.Jobs.Get(ctx, j.ID)
			if err != nil || got.State != repo.StateSucceeded {
				t.Errorf("job %d after shutdown = %v, %v; want Succeeded", j.Args.N, got, err)
			}
		}
	})

	t.Run("SlowHandlersAreReleasedAndAnotherProcessorFinishes", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		cfg := b.config(t, 5)
		cfg.Owner, cfg.ShutdownTimeout = "stopping", 300*time.Millisecond
		stopping := processor(t, newStore(t, nil), cfg)
		var inFlight sync.WaitGroup
		inFlight.Add(5)
		causes := make(chan error, 5)
		handle(t, stopping, func(ctx context.Context, job *worker.Job[countArgs]) error {
			inFlight.Done()
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return ctx.Err()
		}, nil)
		stop := start(t, stopping)
		var jobs []*worker.Job[countArgs]
		for n := range 15 {
			jobs = append(jobs, enqueue(ctx, t, b, countArgs{N: n}, nil))
		}
		inFlight.Wait()

		stop() // mid-run: 5 handlers running, 10 jobs waiting
		for range 5 {
			if err := <-causes; !errors.Is(err, worker.ErrShutdown) {
				t.Errorf("context.Cause = %v, want ErrShutdown", err)
			}
		}
		held, err := b.store.Jobs.ListByState(ctx, &repo.ListParams{Queue: b.queue, State: repo.StateProcessing, Limit: 100})
		if err != nil {
			t.Fatalf("ListByState() error = %v", err)
		}
		if len(held) != 0 {
			t.Fatalf("after a graceful stop %d jobs are Processing (owner %q), want none", len(held), held[0].Lease.Owner)
		}
		if n := b.metrics.outcome(worker.OutcomeReleased); n != 5 {
			t.Errorf("metrics: %d released, want the 5 interrupted jobs", n)
		}

		other := processor(t, newStore(t, nil), b.config(t, 5))
		successes := newCounter[gocql.UUID]()
		handle(t, other, func(ctx context.Context, job *worker.Job[countArgs]) error {
			successes.add(job.ID)
			return nil
		}, nil)
		start(t, other)
		for _, j := range jobs {
			done := wait(t, b.store, j.ID, time.Minute)
			if done.State != repo.StateSucceeded || done.RetryCount != 0 || successes.get(j.ID) != 1 {
				t.Errorf("job %d: %s with %d failed attempts, %d successes; want Succeeded once, no attempt counted for the release", j.Args.N, done.State, done.RetryCount, successes.get(j.ID))
			}
		}
	})

	t.Run("ClaimedJobsNotStartedAreReleasedUnrun", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		const jobCount = 5
		var jobs []*worker.Job[countArgs]
		for n := range jobCount {
			jobs = append(jobs, enqueue(ctx, t, b, countArgs{N: n}, nil))
		}

		// Run's context ends while the stopping processor's first claim is
		// under way: its session's observer cancels it as soon as a claim LWT
		// comes back without error (the processor is the only claimer of the
		// queue, so the LWT applied). Claim runs on a context that ignores
		// Run's end and returns every job it took; the poll loop then finds
		// Run's context ended before it starts any of them.
		runCtx, stopRun := context.WithCancel(ctx)
		defer stopRun()
		var claimLWTs atomic.Int32
		store := newObservedStore(t, observeFunc(func(_ context.Context, q gocql.ObservedQuery) {
			if q.Statement == queries.JobsClaimCQL && q.Err == nil {
				claimLWTs.Add(1)
				stopRun()
			}
		}))
		stoppingMetrics := newRecorder()
		cfg := b.config(t, jobCount) // one claim can take every job
		cfg.Owner, cfg.Metrics = "stopping", stoppingMetrics
		stopping := processor(t, store, cfg)
		calls := newCounter[gocql.UUID]()
		handle(t, stopping, func(ctx context.Context, job *worker.Job[countArgs]) error {
			calls.add(job.ID)
			return nil
		}, nil)
		done := make(chan error, 1)
		go func() { done <- stopping.Run(runCtx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("Run() did not return within a minute of its context's end")
		}

		if n := claimLWTs.Load(); n != jobCount || stoppingMetrics.claims() != jobCount {
			t.Errorf("the stopping processor claimed %d jobs (%d claim LWTs), want all %d, once each", stoppingMetrics.claims(), n, jobCount)
		}
		if diff := cmp.Diff(map[worker.Outcome]int{worker.OutcomeReleased: jobCount}, stoppingMetrics.finished()); diff != "" {
			t.Errorf("metrics: outcomes mismatch (-want +got):\n%s", diff)
		}
		if n := calls.total(); n != 0 {
			t.Errorf("the stopping processor ran %d handlers, want none", n)
		}
		for _, j := range jobs {
			got, err := b.store.Jobs.Get(ctx, j.ID)
			if err != nil {
				t.Fatalf("Get() error = %v", err)
			}
			if got.State != repo.StateScheduled || got.RetryCount != 0 || got.Lease != (repo.Lease{}) || got.ScheduledAt.After(time.Now()) {
				t.Errorf("job %d after shutdown: %s, due %s, %d failed attempts, lease %+v; want Scheduled, due now, no attempt counted, no lease",
					j.Args.N, got.State, got.ScheduledAt, got.RetryCount, got.Lease)
			}
		}
		due, err := b.store.Jobs.ListDue(ctx, b.queue, 100)
		if err != nil {
			t.Fatalf("ListDue() error = %v", err)
		}
		dueIDs := map[gocql.UUID]bool{}
		for _, j := range due {
			dueIDs[j.ID] = true
		}
		for _, j := range jobs {
			if !dueIDs[j.ID] {
				t.Errorf("job %d is not due after its release; ListDue() found %d jobs", j.Args.N, len(due))
			}
		}
		stats, err := b.store.Jobs.Stats(ctx, b.queue)
		if err != nil {
			t.Fatalf("Stats() error = %v", err)
		}
		if c := stats[0].Counts; c[repo.StateScheduled] != jobCount || c[repo.StateProcessing] != 0 {
			t.Errorf("counts: %d Scheduled, %d Processing; want %d and 0", c[repo.StateScheduled], c[repo.StateProcessing], jobCount)
		}

		other := processor(t, newStore(t, nil), b.config(t, jobCount))
		handle(t, other, func(ctx context.Context, job *worker.Job[countArgs]) error {
			calls.add(job.ID)
			return nil
		}, nil)
		stopOther := start(t, other)
		for _, j := range jobs {
			got := wait(t, b.store, j.ID, time.Minute)
			if got.State != repo.StateSucceeded || got.RetryCount != 0 || calls.get(j.ID) != 1 {
				t.Errorf("job %d: %s with %d failed attempts after %d handler calls; want Succeeded on the first call", j.Args.N, got.State, got.RetryCount, calls.get(j.ID))
			}
		}
		stopOther() // metrics are recorded after the outcome is written
		if n := b.metrics.outcome(worker.OutcomeSucceeded); n != jobCount {
			t.Errorf("metrics of the other processor: %d succeeded, want %d", n, jobCount)
		}
	})
}
