package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// pauseSlack is what a pause or resume may take beyond one poll interval:
// the registry read itself, on a shared two-core machine.
const pauseSlack = 500 * time.Millisecond

// TestPauseAndResume runs two processors on one queue and pauses it while a
// job runs: both see the pause within one poll interval, the running job
// goes on to succeed, jobs enqueued while paused stay Scheduled, and both
// see the resume within one poll interval, after which the jobs run.
func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	const poll = time.Second

	started := make(chan int, 100)
	release := make(chan struct{})
	var cut atomic.Bool
	var procs []*worker.Processor
	for i := range 2 {
		cfg := b.config(t, 4)
		cfg.PollInterval, cfg.Owner = poll, fmt.Sprintf("%s-p%d", b.queue, i)
		p := processor(t, newStore(t, nil), cfg)
		handle(t, p, func(ctx context.Context, job *worker.Job[countArgs]) error {
			started <- job.Args.N
			if job.Args.N == 0 {
				select {
				case <-release:
				case <-ctx.Done():
					cut.Store(true)
					return ctx.Err()
				}
			}
			return nil
		}, nil)
		start(t, p)
		procs = append(procs, p)
	}
	long := enqueue(ctx, t, b, countArgs{N: 0}, nil)
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the first job did not start within 30s")
	}

	// seen waits until every processor sees the queue paused (or not) and
	// returns the longest wait.
	seen := func(paused bool) time.Duration {
		t.Helper()
		from := time.Now()
		var longest time.Duration
		for _, p := range procs {
			eventually(t, 10*poll, fmt.Sprintf("%s to see paused=%v", p.Owner(), paused), func() bool {
				return slices.Contains(p.Paused(), b.queue) == paused
			})
			longest = max(longest, time.Since(from))
		}
		if longest > poll+pauseSlack {
			t.Errorf("the processors saw paused=%v after %s, want within the poll interval (%s, plus %s for the read)", paused, longest, poll, pauseSlack)
		}
		return longest
	}

	if err := b.store.Queues.Pause(ctx, b.queue); err != nil {
		t.Fatalf("Pause() error = %v", err)
	}
	pausedAfter := seen(true)

	var waiting []*worker.Job[countArgs]
	for n := 1; n <= 5; n++ {
		waiting = append(waiting, enqueue(ctx, t, b, countArgs{N: n}, nil))
	}
	time.Sleep(3 * poll)
	select {
	case n := <-started:
		t.Fatalf("job %d started while its queue was paused", n)
	default:
	}
	for _, j := range waiting {
		if got, err := b.store.Jobs.Get(ctx, j.ID); err != nil || got.State != repo.StateScheduled {
			t.Errorf("job %d while paused: %v, %v; want Scheduled", j.Args.N, got, err)
		}
	}
	// The job that was running when the queue was paused runs on to the end.
	close(release)
	if got := wait(t, b.store, long.ID, 30*time.Second); got.State != repo.StateSucceeded || cut.Load() {
		t.Errorf("the job running during the pause: %s (context cancelled: %v), want Succeeded, not cut short", got.State, cut.Load())
	}

	resumedAt := time.Now()
	if err := b.store.Queues.Resume(ctx, b.queue); err != nil {
		t.Fatalf("Resume() error = %v", err)
	}
	resumedAfter := seen(false)
	var firstRun time.Duration
	for range waiting {
		select {
		case <-started:
			if firstRun == 0 {
				firstRun = time.Since(resumedAt)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the jobs enqueued while paused did not all start within 30s of the resume")
		}
	}
	for _, j := range waiting {
		if got := wait(t, b.store, j.ID, 30*time.Second); got.State != repo.StateSucceeded {
			t.Errorf("job %d after the resume: %s, want Succeeded", j.Args.N, got.State)
		}
	}
	t.Logf("poll interval %s: both processors saw the pause after %s and the resume after %s; the first waiting job started %s after the resume",
		poll, pausedAfter.Round(time.Millisecond), resumedAfter.Round(time.Millisecond), firstRun.Round(time.Millisecond))
}

// TestProcessorReportsItself checks the processor's row in the registry:
// what it says while a job runs, that it is rewritten, and that it is
// deleted when the processor stops.
func TestProcessorReportsItself(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	cfg := b.config(t, 3)
	cfg.ReportInterval, cfg.ReportTTL, cfg.Version = 200*time.Millisecond, 2*time.Second, "v9.9.9-test"
	p := processor(t, b.store, cfg)
	release := make(chan struct{})
	handle(t, p, func(ctx context.Context, job *worker.Job[countArgs]) error {
		<-release
		return nil
	}, nil)
	before := time.Now().Truncate(time.Millisecond)
	stop := start(t, p)
	job := enqueue(ctx, t, b, countArgs{}, nil)

	var row *repo.ProcessorInfo
	eventually(t, 30*time.Second, "a row that shows the running job", func() bool {
		row = findProcessor(ctx, t, b.store, p.Owner())
		return row != nil && row.Running[b.queue] == 1
	})
	host, _ := os.Hostname()
	if row.Host != host || row.PID != os.Getpid() || row.Version != "v9.9.9-test" || len(row.Queues) != 1 || row.Queues[b.queue] != 3 {
		t.Errorf("row = %+v; want host %s, pid %d, version v9.9.9-test, queues {%s: 3}", row, host, os.Getpid(), b.queue)
	}
	if row.StartedAt.Before(before) || row.StartedAt.After(row.LastSeen) || !row.ExpiresAt.Equal(row.LastSeen.Add(2*time.Second)) {
		t.Errorf("row started %v, last seen %v, expires %v; want started after %v, expiry 2s after last seen", row.StartedAt, row.LastSeen, row.ExpiresAt, before)
	}
	first := row.LastSeen
	eventually(t, 10*time.Second, "the row to be rewritten", func() bool {
		row = findProcessor(ctx, t, b.store, p.Owner())
		return row != nil && row.LastSeen.After(first)
	})
	close(release)
	wait(t, b.store, job.ID, 30*time.Second)
	eventually(t, 10*time.Second, "the row to show no running job", func() bool {
		row = findProcessor(ctx, t, b.store, p.Owner())
		return row != nil && row.TotalRunning() == 0
	})
	stop()
	if row := findProcessor(ctx, t, b.store, p.Owner()); row != nil {
		t.Errorf("after Run returned the row is still there: %+v", row)
	}
}

func findProcessor(ctx context.Context, t *testing.T, store *repo.Store, owner string) *repo.ProcessorInfo {
	t.Helper()
	list, err := store.Processors.List(ctx)
	if err != nil {
		t.Fatalf("Processors.List() error = %v", err)
	}
	for _, p := range list {
		if p.Owner == owner {
			return &p
		}
	}
	return nil
}

// Environment of the child process of TestKilledProcessorDisappears: the
// test binary, started again, runs one processor instead of the tests.
const (
	childKeyspaceEnv = "JOBSHARP_TEST_CHILD_KEYSPACE"
	childOwnerEnv    = "JOBSHARP_TEST_CHILD_OWNER"
	childQueueEnv    = "JOBSHARP_TEST_CHILD_QUEUE"
	childReport      = 250 * time.Millisecond
	childTTL         = 2 * time.Second
)

// childProcessor runs a processor until the process is killed.
func childProcessor(keyspace string) int {
	cfg := cqltest.Cluster()
	cfg.Keyspace = keyspace
	session, err := gocqlx.WrapSession(cfg.CreateSession())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child processor:", err)
		return 1
	}
	store, err := repo.New(session, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child processor:", err)
		return 1
	}
	p, err := worker.New(store, &worker.Config{
		Owner: os.Getenv(childOwnerEnv), Queues: map[string]worker.QueueConfig{os.Getenv(childQueueEnv): {MaxWorkers: 2}},
		ReportInterval: childReport, ReportTTL: childTTL, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child processor:", err)
		return 1
	}
	if err := p.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "child processor:", err)
		return 1
	}
	return 0
}

// TestKilledProcessorDisappears starts a processor in its own OS process,
// kills it with SIGKILL (no cleanup runs) and checks that its row leaves the
// registry within its TTL.
func TestKilledProcessorDisappears(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	owner := b.queue + "-child"
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childKeyspaceEnv+"="+cqltest.Keyspace(t), childOwnerEnv+"="+owner, childQueueEnv+"="+b.queue)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the child processor: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	eventually(t, time.Minute, "the child processor's row", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("the child processor exited: %v", err)
		default:
		}
		return findProcessor(ctx, t, b.store, owner) != nil
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill the child processor: %v", err)
	}
	var exitErr *exec.ExitError
	if err := <-exited; !errors.As(err, &exitErr) {
		t.Fatalf("the child processor's exit: %v, want killed", err)
	}
	killedAt := time.Now()
	if findProcessor(ctx, t, b.store, owner) == nil {
		t.Fatalf("the row was gone at once; a killed process cannot delete it, so it should expire by its TTL")
	}
	eventually(t, childTTL+2*time.Second, "the killed processor's row to expire", func() bool {
		return findProcessor(ctx, t, b.store, owner) == nil
	})
	gone := time.Since(killedAt)
	// The last write came at most one report interval before the kill, so
	// the row expires at most a TTL after it; the slack is for the reads
	// that look for it on a shared machine.
	if gone > childTTL+time.Second {
		t.Errorf("the killed processor's row disappeared %s after the kill, want within its TTL (%s, plus 1s for the reads)", gone, childTTL)
	}
	t.Logf("report interval %s, TTL %s: the row of the killed processor disappeared %s after the kill", childReport, childTTL, gone.Round(time.Millisecond))
}

// TestRegistryStatements counts what the pause watcher and the reporter of
// one processor send while jobs run: one registry read per poll interval
// and one write per report interval, whatever the load, and one delete when
// it stops. The registry holds many other queues: the watcher's read
// returns its own queue's row alone, so its cost does not grow with them.
func TestRegistryStatements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	counts := map[string]int{}
	mostRows := 0
	obs := observeFunc(func(_ context.Context, q gocql.ObservedQuery) {
		mu.Lock()
		defer mu.Unlock()
		switch q.Statement {
		case queries.QueuesPausedCQL, queries.QueuesPausedAmongCQL:
			counts["pause reads"]++
			mostRows = max(mostRows, q.Rows)
		case queries.ProcessorReportCQL:
			counts["reports"]++
		case queries.ProcessorDeleteCQL:
			counts["deletes"]++
		}
	})
	b := setup(t)
	const others = 100
	for i := range others { // queues of other processors, registered by an id
		if _, err := b.store.Jobs.NewID(ctx, fmt.Sprintf("%s_other%d", b.queue, i), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	b.store = newObservedStore(t, obs)
	const (
		poll   = 500 * time.Millisecond
		report = time.Second
		window = 6 * time.Second
	)
	cfg := b.config(t, 8)
	cfg.PollInterval, cfg.ReportInterval = poll, report
	p := processor(t, b.store, cfg)
	var ran atomic.Int64
	handle(t, p, func(ctx context.Context, job *worker.Job[countArgs]) error {
		ran.Add(1)
		return nil
	}, nil)
	began := time.Now()
	stop := start(t, p)
	// Load while it runs: a job every 10ms.
	for time.Since(began) < window {
		enqueue(ctx, t, b, countArgs{}, nil)
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	elapsed := time.Since(began)

	mu.Lock()
	defer mu.Unlock()
	wantReads, wantReports := int(elapsed/poll)+1, int(elapsed/report)+1
	if n := counts["pause reads"]; n > wantReads || n < wantReads-2 {
		t.Errorf("%d pause reads in %s with poll interval %s, want %d (one per interval)", n, elapsed, poll, wantReads)
	}
	if n := counts["reports"]; n > wantReports+1 || n < wantReports-2 {
		t.Errorf("%d reports in %s with report interval %s, want about %d", n, elapsed, report, wantReports)
	}
	if mostRows > 1 {
		t.Errorf("a pause read returned %d rows of the registry (which holds %d other queues), want at most the processor's one queue", mostRows, others)
	}
	if counts["deletes"] != 1 {
		t.Errorf("%d deletes of the row, want 1 when Run returns", counts["deletes"])
	}
	if ran.Load() == 0 {
		t.Error("no job ran: the counts were not taken under load")
	}
	perMin := func(n int) float64 { return float64(n) / elapsed.Minutes() }
	t.Logf("in %s with %d jobs run: %d pause reads (%.0f/min at poll %s, at most %d row each beside %d other queues), %d reports (%.0f/min at report %s), %d delete; with the defaults (poll %s, report %s) that is %d reads and %d writes per processor per minute",
		elapsed.Round(time.Millisecond), ran.Load(), counts["pause reads"], perMin(counts["pause reads"]), poll, mostRows, others, counts["reports"], perMin(counts["reports"]), report, counts["deletes"],
		worker.DefaultPollInterval, worker.DefaultReportInterval, int(time.Minute/worker.DefaultPollInterval), int(time.Minute/worker.DefaultReportInterval))
}
