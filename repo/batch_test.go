package repo_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
)

// runAll claims and completes (or, with fail, abandons) every due job of the
// bundle's queue.
func (b *testBundle) runAll(ctx context.Context, t *testing.T, fail func(*repo.Job) bool) []*repo.Job {
	t.Helper()
	var done []*repo.Job
	for {
		got := b.claim(ctx, t, 100)
		if len(got) == 0 {
			return done
		}
		for _, j := range got {
			var err error
			var out *repo.Job
			if fail != nil && fail(j) {
				out, err = b.store.Jobs.Fail(ctx, j, &repo.FailParams{Error: "no", Abandon: true})
			} else {
				out, err = b.store.Jobs.Complete(ctx, j, nil)
			}
			if err != nil {
				t.Fatalf("finish job %s: %v", j.ID, err)
			}
			done = append(done, out)
		}
	}
}

func TestBatches(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("JobsAndStatus", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		batch := gocql.MustRandomUUID()
		var njs []*repo.NewJob
		for i := 0; i < 20; i++ {
			njs = append(njs, &repo.NewJob{Queue: b.queue, Type: "part"})
		}
		stored, err := b.store.Batches.Insert(ctx, batch, njs)
		if err != nil || len(stored) != 20 {
			t.Fatalf("Batches.Insert() = %d jobs, %v", len(stored), err)
		}
		got, err := b.store.Batches.Jobs(ctx, batch)
		if err != nil || len(got) != 20 {
			t.Fatalf("Batches.Jobs() = %d jobs, %v; want 20", len(got), err)
		}
		for _, j := range got {
			if j.BatchID != batch {
				t.Errorf("job %s has batch %s, want %s", j.ID, j.BatchID, batch)
			}
		}
		st, err := b.store.Batches.Status(ctx, batch)
		if err != nil || st.Finished || st.Size != 20 || st.States[repo.StateScheduled] != 20 {
			t.Fatalf("Status() before running = %+v, %v", st, err)
		}
		if p, err := b.store.Batches.Progress(ctx, batch); err != nil || p.Size != 20 || p.Finished != 0 || p.CreatedAt.IsZero() {
			t.Fatalf("Progress() before running = %+v, %v; want 0 of 20 finished", p, err)
		}
		n := 0
		b.runAll(ctx, t, func(*repo.Job) bool { n++; return n == 1 })
		st, err = b.store.Batches.Status(ctx, batch)
		if err != nil || !st.Finished || st.Succeeded || st.States[repo.StateSucceeded] != 19 || st.States[repo.StateAbandoned] != 1 {
			t.Errorf("Status() after running = %+v, %v; want finished, 19 succeeded, 1 abandoned", st, err)
		}
		if p, err := b.store.Batches.Progress(ctx, batch); err != nil || p.Size != 20 || p.Finished != 20 || p.Succeeded != 19 {
			t.Errorf("Progress() after running = %+v, %v; want 20 of 20 finished, 19 succeeded", p, err)
		}
		if _, err := b.store.Batches.Progress(ctx, gocql.MustRandomUUID()); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("Progress() of an unknown batch: error = %v, want ErrNotFound", err)
		}
		if _, err := b.store.Batches.Jobs(ctx, gocql.MustRandomUUID()); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("Jobs() of an unknown batch: error = %v, want ErrNotFound", err)
		}
	})

	t.Run("ContinuationRunsAfterTheWholeBatch", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		stored, err := b.store.Batches.Insert(ctx, gocql.UUID{}, []*repo.NewJob{{Queue: b.queue, Type: "a"}, {Queue: b.queue, Type: "b"}})
		if err != nil {
			t.Fatalf("Batches.Insert() error = %v", err)
		}
		batch := stored[0].BatchID
		after, err := b.store.Batches.InsertContinuation(ctx, batch, &repo.NewJob{Queue: b.queue, Type: "after"})
		if err != nil || after.State != repo.StateAwaitingBatch {
			t.Fatalf("InsertContinuation() = %v, %v; want AwaitingBatch", after, err)
		}
		got := b.claim(ctx, t, 10)
		if len(got) != 2 {
			t.Fatalf("claimed %d jobs, want the batch's 2 (not its continuation)", len(got))
		}
		if _, err := b.store.Jobs.Complete(ctx, got[0], nil); err != nil {
			t.Fatal(err)
		}
		if c, _ := b.store.Jobs.Get(ctx, after.ID); c.State != repo.StateAwaitingBatch {
			t.Fatalf("continuation is %s with one batch job left, want AwaitingBatch", c.State)
		}
		if _, err := b.store.Jobs.Fail(ctx, got[1], &repo.FailParams{Error: "x", Abandon: true}); err != nil {
			t.Fatal(err)
		}
		c, _ := b.store.Jobs.Get(ctx, after.ID)
		if c.State != repo.StateScheduled {
			t.Fatalf("continuation is %s after the batch finished, want Scheduled", c.State)
		}
		if next := b.claim(ctx, t, 10); len(next) != 1 || next[0].ID != after.ID {
			t.Errorf("Claim() = %v, want the continuation", ids(next))
		}
	})

	t.Run("TooLargeOrEmptyBatchWritesNothing", func(t *testing.T) {
		t.Parallel()

		b := setup(t, &repo.Options{MaxBatchSize: 2})
		for _, njs := range [][]*repo.NewJob{nil, {{Type: "a"}, {Type: "b"}, {Type: "c"}}, {{Type: "a"}, {}}} {
			if _, err := b.store.Batches.Insert(ctx, gocql.UUID{}, njs); !errors.Is(err, repo.ErrInvalid) {
				t.Errorf("Batches.Insert(%d jobs) error = %v, want ErrInvalid", len(njs), err)
			}
		}
		if n, _ := b.store.Jobs.Count(ctx, repo.DefaultQueue, repo.StateScheduled); n != 0 {
			t.Logf("default queue holds %d jobs from elsewhere", n)
		}
	})

	t.Run("StatusDuringInsertKeepsTheBatchWhole", func(t *testing.T) {
		t.Parallel()

		// Another process asks how a batch stands while it is being stored,
		// between its lookup rows and its jobs: the rows must survive, or
		// the batch would never count as finished.
		b := setup(t, nil)
		inserting := b.sameStore(t, nil)
		hinted, proceed := make(chan struct{}), make(chan struct{})
		var once sync.Once
		repo.SetAfterHints(inserting, func(op string) error {
			if op == "insert" {
				once.Do(func() { close(hinted) }) // the jobs may go to two partitions
				<-proceed
			}
			return nil
		})
		batchID := gocql.MustRandomUUID()
		inserted := make(chan error, 1)
		go func() {
			_, err := inserting.Batches.Insert(ctx, batchID, []*repo.NewJob{{Queue: b.queue, Type: "a"}, {Queue: b.queue, Type: "b"}})
			inserted <- err
		}()
		<-hinted
		if st, err := b.store.Batches.Status(ctx, batchID); err != nil || st.Finished {
			t.Fatalf("Status() during the insert = %+v, %v; want an unfinished batch", st, err)
		}
		close(proceed)
		if err := <-inserted; err != nil {
			t.Fatalf("Batches.Insert() error = %v", err)
		}
		for _, j := range b.claim(ctx, t, 10) {
			if _, err := b.store.Jobs.Complete(ctx, j, nil); err != nil {
				t.Fatalf("Complete() error = %v", err)
			}
		}
		st, err := b.store.Batches.Status(ctx, batchID)
		if err != nil || st.Size != 2 || st.States[repo.StateSucceeded] != 2 || !st.Finished || !st.Succeeded {
			t.Errorf("Status() after both jobs succeeded = %+v, %v; want the whole batch finished", st, err)
		}
	})
}

func TestContinuations(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("RunsOnlyAfterParentSucceeds", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		parent := b.insert(ctx, t, &repo.NewJob{Type: "parent"})
		child, err := b.store.Jobs.InsertContinuation(ctx, parent.ID, &repo.NewJob{Queue: b.queue, Type: "child"})
		if err != nil || child.State != repo.StateAwaitingContinuation || child.ParentID != parent.ID {
			t.Fatalf("InsertContinuation() = %+v, %v", child, err)
		}
		got := b.claim(ctx, t, 10)
		if len(got) != 1 || got[0].ID != parent.ID {
			t.Fatalf("Claim() = %v, want only the parent", ids(got))
		}
		if _, err := b.store.Jobs.Complete(ctx, got[0], nil); err != nil {
			t.Fatal(err)
		}
		got = b.claim(ctx, t, 10)
		if len(got) != 1 || got[0].ID != child.ID {
			t.Fatalf("Claim() after the parent = %v, want the child", ids(got))
		}
		conts, err := b.store.Jobs.Continuations(ctx, parent.ID)
		if err != nil || len(conts) != 1 || conts[0].ID != child.ID {
			t.Errorf("Continuations() = %v, %v", ids(conts), err)
		}
	})

	t.Run("CancelledWhenParentIsAbandoned", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		parent := b.insert(ctx, t, &repo.NewJob{})
		child, _ := b.store.Jobs.InsertContinuation(ctx, parent.ID, &repo.NewJob{Queue: b.queue, Type: "child"})
		b.runAll(ctx, t, func(j *repo.Job) bool { return j.ID == parent.ID })
		got, _ := b.store.Jobs.Get(ctx, child.ID)
		if got.State != repo.StateCancelled || got.LastError == "" {
			t.Errorf("child is %s (%q), want Cancelled with the reason", got.State, got.LastError)
		}
	})

	t.Run("AddedAfterParentFinishedIsReleasedAtOnce", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		parent := b.insert(ctx, t, &repo.NewJob{})
		b.runAll(ctx, t, nil)
		child, err := b.store.Jobs.InsertContinuation(ctx, parent.ID, &repo.NewJob{Queue: b.queue, Type: "late"})
		if err != nil || child.State != repo.StateScheduled {
			t.Fatalf("InsertContinuation() after the parent = %v, %v; want Scheduled", child, err)
		}
	})

	t.Run("CrashAfterParentCompletesIsRepairedByAScanner", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		parent := b.insert(ctx, t, &repo.NewJob{})
		child, _ := b.store.Jobs.InsertContinuation(ctx, parent.ID, &repo.NewJob{Queue: b.queue, Type: "child"})
		got := b.claim(ctx, t, 1)
		// Crash right after the parent's LWT: the child is never released by
		// the worker; the parent's settle entry remains.
		crashing := b.sameStore(t, nil)
		repo.SetAfterHints(crashing, func(op string) error {
			if op == "release" {
				return errCrash
			}
			return nil
		})
		if _, err := crashing.Jobs.Complete(ctx, got[0], nil); err != nil {
			t.Fatalf("Complete() error = %v", err)
		}
		if c, _ := b.store.Jobs.Get(ctx, child.ID); c.State != repo.StateAwaitingContinuation {
			t.Fatalf("child is %s, want still waiting after the crash", c.State)
		}
		var again []*repo.Job
		for i := 0; i < 3 && len(again) == 0; i++ {
			again = b.claim(ctx, t, 10)
		}
		if len(again) != 1 || again[0].ID != child.ID {
			t.Errorf("Claim() after the crash = %v, want the child released by the scan", ids(again))
		}
	})

	t.Run("AddedWhileParentRunsIsReleasedByItsHolder", func(t *testing.T) {
		t.Parallel()

		// A continuation marks its parent, which moves the parent's
		// version under the worker that holds it: the holder's heartbeat
		// and outcome, read before the mark, still apply, and settling the
		// parent releases the child.
		b := setup(t, nil)
		parent := b.insert(ctx, t, &repo.NewJob{})
		held := b.claim(ctx, t, 1)[0]
		if held.HasContinuations {
			t.Fatal("a job without continuations is marked")
		}
		child, err := b.sameStore(t, nil).Jobs.InsertContinuation(ctx, parent.ID, &repo.NewJob{Queue: b.queue, Type: "child"})
		if err != nil || child.State != repo.StateAwaitingContinuation {
			t.Fatalf("InsertContinuation() = %v, %v", child, err)
		}
		if got, _ := b.store.Jobs.Get(ctx, parent.ID); !got.HasContinuations || got.Version != held.Version+1 {
			t.Fatalf("parent after the insert: marked %v, version %d; want marked, version %d", got.HasContinuations, got.Version, held.Version+1)
		}
		beat, err := b.store.Jobs.Heartbeat(ctx, held, time.Minute)
		if err != nil || !beat.HasContinuations || beat.Version != held.Version+2 {
			t.Fatalf("Heartbeat() with the copy read before the mark = %+v, %v; want the marked job at version %d", beat, err, held.Version+2)
		}
		// Complete with a copy older still: its lease is the heartbeat's
		// predecessor, so it is not the mark alone that moved the version.
		if _, err := b.store.Jobs.Complete(ctx, held, nil); !errors.Is(err, repo.ErrConflict) && !errors.Is(err, repo.ErrLeaseLost) {
			t.Fatalf("Complete() with a copy from before the heartbeat error = %v, want a conflict", err)
		}
		if _, err := b.store.Jobs.Complete(ctx, beat, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.store.Jobs.Get(ctx, child.ID); got.State != repo.StateScheduled {
			t.Errorf("child is %s after its parent succeeded, want Scheduled", got.State)
		}
	})

	t.Run("OutcomeReadBeforeTheMarkApplies", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		parent := b.insert(ctx, t, &repo.NewJob{})
		held := b.claim(ctx, t, 1)[0]
		child, err := b.store.Jobs.InsertContinuation(ctx, parent.ID, &repo.NewJob{Queue: b.queue, Type: "child"})
		if err != nil {
			t.Fatal(err)
		}
		done, err := b.store.Jobs.Complete(ctx, held, []byte("ok"))
		if err != nil || done.State != repo.StateSucceeded || !done.HasContinuations {
			t.Fatalf("Complete() with the copy read before the mark = %+v, %v; want Succeeded and marked", done, err)
		}
		if got, _ := b.store.Jobs.Get(ctx, child.ID); got.State != repo.StateScheduled {
			t.Errorf("child is %s after its parent succeeded, want Scheduled", got.State)
		}
		// The mark stays whatever a caller sends.
		got, _ := b.store.Jobs.Get(ctx, parent.ID)
		got.HasContinuations = false
		if after, err := b.store.Jobs.Update(ctx, got); err != nil || !after.HasContinuations {
			t.Errorf("Update() clearing the mark = %+v, %v; want it kept", after, err)
		}
	})

	// An insert that dies after storing the child and before marking the
	// parent leaves the child's due entry: the scanner that meets it marks
	// the parent (or, when the parent has finished, releases the child).
	crashBeforeMark := func(t *testing.T, b *testBundle, parent *repo.Job) {
		t.Helper()
		crashing := b.sameStore(t, nil)
		repo.SetAfterBatch(crashing, func(op string) error {
			if op == "insert" {
				return errCrash
			}
			return nil
		})
		if _, err := crashing.Jobs.InsertContinuation(ctx, parent.ID, &repo.NewJob{Queue: b.queue, Type: "child"}); !errors.Is(err, errCrash) {
			t.Fatalf("InsertContinuation() error = %v, want the crash", err)
		}
		if got, _ := b.store.Jobs.Get(ctx, parent.ID); got.HasContinuations {
			t.Fatal("the parent is marked although the insert died before the mark")
		}
	}
	claimChild := func(t *testing.T, b *testBundle) {
		t.Helper()
		var got []*repo.Job
		for i := 0; i < 5 && len(got) == 0; i++ {
			b.clock.Advance(repo.DefaultGrace)
			got = b.claim(ctx, t, 10)
		}
		if len(got) != 1 || got[0].Type != "child" {
			t.Fatalf("Claim() = %v, want the child released", ids(got))
		}
	}

	t.Run("CrashBeforeTheMarkThenParentRuns", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		parent := b.insert(ctx, t, &repo.NewJob{})
		crashBeforeMark(t, b, parent)
		// The parent is claimed first (its home time is before the
		// child's); the scan that claims it meets the child's entry only
		// once the entry is older than Grace.
		held := b.claim(ctx, t, 1)
		if len(held) != 1 || held[0].ID != parent.ID {
			t.Fatalf("Claim() = %v, want the parent", ids(held))
		}
		b.clock.Advance(repo.DefaultGrace + time.Second)
		if got := b.claim(ctx, t, 10); len(got) != 0 {
			t.Fatalf("Claim() while the parent runs = %v, want nothing", ids(got))
		}
		if got, _ := b.store.Jobs.Get(ctx, parent.ID); !got.HasContinuations {
			t.Fatal("the scanner that met the child's entry did not mark the parent")
		}
		beat, err := b.store.Jobs.Heartbeat(ctx, held[0], time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Jobs.Complete(ctx, beat, nil); err != nil {
			t.Fatal(err)
		}
		got := b.claim(ctx, t, 10)
		if len(got) != 1 || got[0].Type != "child" {
			t.Fatalf("Claim() after the parent = %v, want the child", ids(got))
		}
	})

	t.Run("CrashBeforeTheMarkAfterParentFinished", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		parent := b.insert(ctx, t, &repo.NewJob{})
		held := b.claim(ctx, t, 1)
		crashBeforeMark(t, b, parent)
		if _, err := b.store.Jobs.Complete(ctx, held[0], nil); err != nil {
			t.Fatal(err)
		}
		claimChild(t, b)
	})

	t.Run("UnknownParent", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		if _, err := b.store.Jobs.InsertContinuation(ctx, gocql.MustRandomUUID(), &repo.NewJob{Queue: b.queue, Type: "x"}); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("InsertContinuation() error = %v, want ErrNotFound", err)
		}
	})
}

func TestRecurring(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("RacingSchedulersCreateOneJobPerOccurrence", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		id := "every-minute-" + b.queue
		if _, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: id, Cron: "* * * * *", Queue: b.queue, Type: "tick"}); err != nil {
			t.Fatalf("Upsert() error = %v", err)
		}
		schedulers := []*repo.Store{b.store, b.sameStore(t, nil), b.sameStore(t, nil)}
		created := map[gocql.UUID]int{}
		var mu sync.Mutex
		for minute := 0; minute < 5; minute++ {
			b.clock.Advance(time.Minute)
			var wg sync.WaitGroup
			for _, s := range schedulers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					jobs, err := s.Recurring.Fire(ctx, &repo.FireParams{Queues: []string{b.queue}})
					if err != nil {
						t.Errorf("Fire() error = %v", err)
					}
					mu.Lock()
					for _, j := range jobs {
						created[j.ID]++
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
		}
		scheduled := b.count(ctx, t, repo.StateScheduled)
		if len(created) != 5 || scheduled != 5 {
			t.Errorf("created %d distinct jobs (%v), %d scheduled; want 5 occurrences, one job each", len(created), created, scheduled)
		}
		for jobID, n := range created {
			if n != 1 {
				t.Errorf("job %s reported created %d times", jobID, n)
			}
		}
		rj, err := b.store.Recurring.Get(ctx, id)
		if err != nil || rj.LastRunAt.IsZero() || !rj.NextRunAt.After(rj.LastRunAt) {
			t.Errorf("Get() = %+v, %v; want last and next run set", rj, err)
		}
	})

	t.Run("MissedOccurrencesPolicy", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		for _, tt := range []struct {
			policy repo.MissedPolicy
			want   int
		}{{repo.FireLatest, 1}, {repo.FireAll, 10}, {repo.SkipMissed, 0}} {
			id := "missed-" + b.queue + "-" + time.Duration(tt.policy).String()
			if _, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: id, Cron: "* * * * *", Queue: b.queue, Type: "tick"}); err != nil {
				t.Fatalf("Upsert() error = %v", err)
			}
			// Ten minute boundaries pass, the last of them 30s ago (more than
			// Grace, so SkipMissed skips it).
			c := cqltest.NewClock(b.clock.Now().Truncate(time.Minute).Add(10*time.Minute + 30*time.Second))
			s, _ := repo.New(b.store.Session(), &repo.Options{Now: c.Now})
			jobs, err := s.Recurring.Fire(ctx, &repo.FireParams{Queues: []string{b.queue}, Missed: tt.policy})
			if err != nil {
				t.Fatalf("Fire() error = %v", err)
			}
			n := 0
			for _, j := range jobs {
				if j.RecurringID == id {
					n++
				}
			}
			if n != tt.want {
				t.Errorf("policy %d after 10 missed minutes fired %d jobs, want %d", tt.policy, n, tt.want)
			}
			if err := b.store.Recurring.Remove(ctx, id); err != nil {
				t.Errorf("Remove() error = %v", err)
			}
		}
	})

	t.Run("BadScheduleIsRejected", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		for _, rj := range []*repo.RecurringJob{
			{ID: "x", Cron: "every tuesday", Type: "t"},
			{ID: "x", Cron: "* * * * *", Timezone: "Mars/Olympus", Type: "t"},
			{ID: "", Cron: "* * * * *", Type: "t"},
			{ID: "x", Cron: "* * * * *"},
		} {
			if _, err := b.store.Recurring.Upsert(ctx, rj); !errors.Is(err, repo.ErrInvalid) {
				t.Errorf("Upsert(%+v) error = %v, want ErrInvalid", rj, err)
			}
		}
	})
}

func TestContinuationsDuringInsert(t *testing.T) {
	t.Parallel()

	// Continuations runs while another process is between a continuation's
	// lookup row and its job: the row must survive, or the parent's
	// success never releases the child.
	ctx := context.Background()
	b := setup(t, nil)
	parent := b.insert(ctx, t, &repo.NewJob{})
	inserting := b.sameStore(t, nil)
	hinted, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	repo.SetAfterHints(inserting, func(string) error {
		once.Do(func() { close(hinted); <-proceed })
		return nil
	})
	done := make(chan error, 1)
	var child *repo.Job
	go func() {
		var err error
		child, err = inserting.Jobs.InsertContinuation(ctx, parent.ID, &repo.NewJob{Queue: b.queue, Type: "child"})
		done <- err
	}()
	<-hinted
	if got, err := b.store.Jobs.Continuations(ctx, parent.ID); err != nil || len(got) != 0 {
		t.Fatalf("Continuations() during the insert = %v, %v; want none yet", ids(got), err)
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatalf("InsertContinuation() error = %v", err)
	}
	held := b.claim(ctx, t, 1)
	if _, err := b.store.Jobs.Complete(ctx, held[0], nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.store.Jobs.Get(ctx, child.ID); got.State != repo.StateScheduled {
		t.Errorf("child is %s after its parent succeeded, want Scheduled", got.State)
	}
}

// TestSettlingReadsContinuationsOfMarkedJobsOnly counts, with the driver's
// observers, the continuation lookups that settling finished jobs sends:
// none for jobs without continuations, one for a marked parent.
func TestSettlingReadsContinuationsOfMarkedJobsOnly(t *testing.T) {
	ctx := context.Background()
	store, counter := countingStore(t)
	queue := cqltest.Queue(t)
	const lookup = "SELECT job_continuations"
	run := func(want int) []*repo.Job {
		t.Helper()
		var done []*repo.Job
		for len(done) < want {
			held, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: queue, Owner: "test", Limit: want, Lease: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range held {
				d, err := store.Jobs.Complete(ctx, j, nil)
				if err != nil {
					t.Fatal(err)
				}
				done = append(done, d)
			}
		}
		return done
	}
	var nj []*repo.NewJob
	for range 20 {
		nj = append(nj, &repo.NewJob{Queue: queue, Type: "plain"})
	}
	if _, err := store.Jobs.InsertMany(ctx, nj); err != nil {
		t.Fatal(err)
	}
	before := counter.Snapshot()
	run(20)
	if got := counter.Snapshot().Sub(before).ByKind[lookup]; got != 0 {
		t.Errorf("settling 20 jobs without continuations sent %d continuation lookups, want none", got)
	}

	parent, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: queue, Type: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	child, err := store.Jobs.InsertContinuation(ctx, parent.ID, &repo.NewJob{Queue: queue, Type: "child"})
	if err != nil {
		t.Fatal(err)
	}
	before = counter.Snapshot()
	if got := run(1); got[0].ID != parent.ID || !got[0].HasContinuations {
		t.Fatalf("ran %s (marked %v), want the marked parent", got[0].ID, got[0].HasContinuations)
	}
	if got := counter.Snapshot().Sub(before).ByKind[lookup]; got != 1 {
		t.Errorf("settling a parent sent %d continuation lookups, want 1", got)
	}
	if got, _ := store.Jobs.Get(ctx, child.ID); got.State != repo.StateScheduled {
		t.Errorf("child is %s, want Scheduled", got.State)
	}
}
