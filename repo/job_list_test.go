package repo_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
)

func TestJobsListAndCount(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("EveryState", func(t *testing.T) {
		t.Parallel()

		b := setup(t, &repo.Options{StateBucketWidth: time.Minute})
		for i := 0; i < 3; i++ {
			b.insert(ctx, t, &repo.NewJob{Hold: true})
		}
		for i := 0; i < 6; i++ {
			b.insert(ctx, t, &repo.NewJob{})
		}
		later := b.insert(ctx, t, &repo.NewJob{ScheduledAt: b.clock.Now().Add(48 * time.Hour)})
		held := b.claim(ctx, t, 4)
		// Spread the finishes over several state buckets.
		for i, j := range held[:3] {
			b.clock.Advance(time.Duration(i+1) * 90 * time.Second)
			if _, err := b.store.Jobs.Complete(ctx, j, nil); err != nil {
				t.Fatal(err)
			}
		}
		want := map[repo.State]int{
			repo.StateCreated: 3, repo.StateScheduled: 3, repo.StateProcessing: 1, repo.StateSucceeded: 3,
		}
		b.settle(ctx, t)
		for _, st := range repo.States() {
			got, err := b.store.Jobs.ListByState(ctx, &repo.ListParams{Queue: b.queue, State: st, Limit: 100})
			if err != nil {
				t.Fatalf("ListByState(%s) error = %v", st, err)
			}
			n, err := b.store.Jobs.Count(ctx, b.queue, st) // settled above
			if err != nil {
				t.Fatalf("Count(%s) error = %v", st, err)
			}
			if len(got) != want[st] || n != int64(want[st]) {
				t.Errorf("%s: listed %d, counted %d; want %d", st, len(got), n, want[st])
			}
			for _, j := range got {
				if j.State != st {
					t.Errorf("ListByState(%s) returned a %s job", st, j.State)
				}
			}
		}
		// The job due in two days is listed with the Scheduled ones.
		sched, _ := b.store.Jobs.ListByState(ctx, &repo.ListParams{Queue: b.queue, State: repo.StateScheduled, Limit: 100})
		found := false
		for _, j := range sched {
			found = found || j.ID == later.ID
		}
		if !found {
			t.Errorf("ListByState(Scheduled) misses the job due in two days")
		}
		// Newest first in the state index.
		done, _ := b.store.Jobs.ListByState(ctx, &repo.ListParams{Queue: b.queue, State: repo.StateSucceeded, Limit: 100})
		for i := 1; i < len(done); i++ {
			if done[i].StateChangedAt.After(done[i-1].StateChangedAt) {
				t.Errorf("ListByState(Succeeded) is not newest first")
			}
		}
		if all, err := b.store.Jobs.Count(ctx, "", repo.StateCreated); err != nil || all < 3 {
			t.Errorf("Count over all queues = %d, %v; want at least this queue's 3", all, err)
		}
	})

	t.Run("Purge", func(t *testing.T) {
		t.Parallel()

		b := setup(t, &repo.Options{StateBucketWidth: time.Minute})
		for i := 0; i < 10; i++ {
			b.insert(ctx, t, &repo.NewJob{})
		}
		held := b.claim(ctx, t, 10)
		for i, j := range held {
			if i == 5 {
				b.clock.Advance(2 * time.Hour)
			}
			if _, err := b.store.Jobs.Complete(ctx, j, nil); err != nil {
				t.Fatal(err)
			}
		}
		dry, err := b.store.Jobs.Purge(ctx, &repo.PurgeParams{Queue: b.queue, State: repo.StateSucceeded, OlderThan: time.Hour, DryRun: true})
		if err != nil || dry != 5 {
			t.Fatalf("dry Purge() = %d, %v; want 5", dry, err)
		}
		var progress []int
		n, err := b.store.Jobs.Purge(ctx, &repo.PurgeParams{Queue: b.queue, State: repo.StateSucceeded, OlderThan: time.Hour, Progress: func(p int) { progress = append(progress, p) }})
		if err != nil || n != 5 || len(progress) == 0 || progress[len(progress)-1] != 5 {
			t.Fatalf("Purge() = %d, %v (progress %v); want 5", n, err, progress)
		}
		for i, j := range held {
			_, err := b.store.Jobs.Get(ctx, j.ID)
			if gone := errors.Is(err, repo.ErrNotFound); gone != (i < 5) {
				t.Errorf("job %d: Get() error = %v, want purged=%v", i, err, i < 5)
			}
		}
		if c := b.count(ctx, t, repo.StateSucceeded); c != 5 {
			t.Errorf("Count(Succeeded) after purge = %d, want 5", c)
		}
		if _, err := b.store.Jobs.Purge(ctx, &repo.PurgeParams{State: repo.StateScheduled}); !errors.Is(err, repo.ErrInvalid) {
			t.Errorf("Purge(Scheduled) error = %v, want ErrInvalid", err)
		}
	})
}

func TestJobsStats(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t, nil)
	first := b.insert(ctx, t, &repo.NewJob{ScheduledAt: b.clock.Now().Add(-time.Hour)})
	b.insert(ctx, t, &repo.NewJob{})
	b.insert(ctx, t, &repo.NewJob{ScheduledAt: b.clock.Now().Add(time.Hour)})
	b.insert(ctx, t, &repo.NewJob{Hold: true})

	b.settle(ctx, t)
	stats, err := b.store.Jobs.Stats(ctx, b.queue)
	if err != nil || len(stats) != 1 {
		t.Fatalf("Stats() = %+v, %v", stats, err)
	}
	st := stats[0]
	if st.Counts[repo.StateScheduled] != 3 || st.Counts[repo.StateCreated] != 1 {
		t.Errorf("Counts = %v, want 3 Scheduled and 1 Created", st.Counts)
	}
	// Just changed: a store may still be changing the hour's jobs, so the
	// counts are not settled until a fold after its mark runs out.
	if st.Settled {
		t.Errorf("Settled = true right after the inserts, want false")
	}
	b.clock.Advance(10 * time.Second)
	b.settle(ctx, t)
	if stats, err = b.store.Jobs.Stats(ctx, b.queue); err != nil || !stats[0].Settled {
		t.Errorf("Stats() after the mark ran out and a sweep = %+v, %v; want settled", stats, err)
	}
	if st.Due != 2 || st.DueCapped {
		t.Errorf("Due = %d (capped %v), want the 2 due jobs", st.Due, st.DueCapped)
	}
	if !st.OldestDue.Equal(first.ScheduledAt) {
		t.Errorf("OldestDue = %v, want %v", st.OldestDue, first.ScheduledAt)
	}
}

// TestCountNeverNegative loses the count log entry that counted a job in
// (written straight into the job's partition with the generated statement
// a change's batch uses): its state sums below zero. Count, Counts and
// Stats show 0 for it, never a negative number, leave the other states as
// they are, log the fault, and say the counts are not settled; once the
// entry is back, they are exact and settled again.
func TestCountNeverNegative(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	logs := cqltest.NewLogCapture(t)
	b := setup(t, &repo.Options{Logger: slog.New(logs)})
	job := b.insert(ctx, t, &repo.NewJob{})
	b.insert(ctx, t, &repo.NewJob{Hold: true})
	// Past the inserts' marks, so that only the log decides Settled.
	b.clock.Advance(10 * time.Second)
	if n := b.count(ctx, t, repo.StateScheduled); n != 1 {
		t.Fatalf("Count(Scheduled) = %d before the fault, want 1", n)
	}

	// The job's +1 Scheduled is lost, and a -1 of a later change of it
	// remains: the partition's log sums to -1 Scheduled.
	if err := repo.AddCountLogEntry(ctx, b.store, job.ID, repo.StateScheduled, -2); err != nil {
		t.Fatal(err)
	}
	b.settle(ctx, t)
	if n := b.count(ctx, t, repo.StateScheduled); n != 0 {
		t.Errorf("Count(Scheduled) = %d with a log summing to -1, want 0", n)
	}
	all, err := b.store.Jobs.Count(ctx, "", repo.StateScheduled)
	if err != nil || all < 0 {
		t.Errorf("Count(every queue, Scheduled) = %d, %v; want no negative count", all, err)
	}
	c, err := b.store.Jobs.Counts(ctx, b.queue)
	if err != nil {
		t.Fatal(err)
	}
	if c.Jobs[repo.StateScheduled] != 0 || c.Jobs[repo.StateCreated] != 1 {
		t.Errorf("Counts() = %v, want 0 Scheduled (not -1) and 1 Created", c.Jobs)
	}
	if c.Settled {
		t.Errorf("Counts().Settled = true with a state summed below zero, want false")
	}
	stats, err := b.store.Jobs.Stats(ctx, b.queue)
	if err != nil || len(stats) != 1 {
		t.Fatalf("Stats() = %v, %v", stats, err)
	}
	for st, n := range stats[0].Counts {
		if n < 0 {
			t.Errorf("Stats() counts %d %s jobs", n, st)
		}
	}
	if stats[0].Counts[repo.StateScheduled] != 0 || stats[0].Settled {
		t.Errorf("Stats() = %d Scheduled, settled %v; want 0, not settled", stats[0].Counts[repo.StateScheduled], stats[0].Settled)
	}
	if !logs.Logged(slog.LevelWarn, "a job count summed below zero") {
		t.Errorf("no warning logged for a count below zero; logged: %v", logs.Messages())
	}

	// The entry is found again (as a repair would write it): exact and
	// settled.
	if err := repo.AddCountLogEntry(ctx, b.store, job.ID, repo.StateScheduled, 2); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(10 * time.Second)
	b.settle(ctx, t)
	if c, err = b.store.Jobs.Counts(ctx, b.queue); err != nil || c.Jobs[repo.StateScheduled] != 1 || !c.Settled {
		t.Errorf("Counts() after the repair = %+v, %v; want 1 Scheduled, settled", c, err)
	}
}
