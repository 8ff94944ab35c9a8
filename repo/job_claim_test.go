package repo_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
)

func TestJobsClaim(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("PastScheduledJobIsFoundFutureIsNot", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		past := b.insert(ctx, t, &repo.NewJob{ScheduledAt: b.clock.Now().Add(-24 * time.Hour)})
		future := b.insert(ctx, t, &repo.NewJob{ScheduledAt: b.clock.Now().Add(10 * time.Minute)})

		due, err := b.store.Jobs.ListDue(ctx, b.queue, 10)
		if err != nil {
			t.Fatalf("ListDue() error = %v", err)
		}
		if len(due) != 1 || due[0].ID != past.ID {
			t.Fatalf("ListDue() = %v, want only the job scheduled in the past", ids(due))
		}
		claimed := b.claim(ctx, t, 10)
		if len(claimed) != 1 || claimed[0].ID != past.ID {
			t.Fatalf("Claim() = %v, want only the past job", ids(claimed))
		}
		got := claimed[0]
		if got.State != repo.StateProcessing || got.Version != 2 || got.Lease.Owner != "test" || got.Lease.Token == (gocql.UUID{}) {
			t.Errorf("claimed job: state %s version %d lease %+v", got.State, got.Version, got.Lease)
		}

		if _, err := b.store.Jobs.Complete(ctx, got, nil); err != nil {
			t.Fatalf("Complete() error = %v", err)
		}
		b.clock.Advance(11 * time.Minute)
		claimed = b.claim(ctx, t, 10)
		if len(claimed) != 1 || claimed[0].ID != future.ID {
			t.Fatalf("Claim() after 11 minutes = %v, want the future job", ids(claimed))
		}
		if n := b.count(ctx, t, repo.StateProcessing); n != 1 {
			t.Errorf("Count(Processing) = %d, want 1", n)
		}
		if n := b.count(ctx, t, repo.StateSucceeded); n != 1 {
			t.Errorf("Count(Succeeded) = %d, want 1", n)
		}
		if n := b.count(ctx, t, repo.StateScheduled); n != 0 {
			t.Errorf("Count(Scheduled) = %d, want 0", n)
		}
	})

	t.Run("SecondClaimLoses", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		b.insert(ctx, t, &repo.NewJob{})
		other := b.sameStore(t, nil)
		first := b.claim(ctx, t, 5)
		second, err := other.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "other", Limit: 5})
		if err != nil {
			t.Fatalf("Claim() error = %v", err)
		}
		if len(first) != 1 || len(second) != 0 {
			t.Errorf("claims took %d and %d jobs, want 1 and 0", len(first), len(second))
		}
	})

	t.Run("EightWorkersClaimEachJobOnce", func(t *testing.T) {
		t.Parallel()

		const jobs, workers = 5000, 8
		b := setup(t, nil)
		var njs []*repo.NewJob
		for i := 0; i < jobs; i++ {
			njs = append(njs, &repo.NewJob{Queue: b.queue, Type: "race"})
		}
		if _, err := b.store.Jobs.InsertMany(ctx, njs); err != nil {
			t.Fatalf("InsertMany() error = %v", err)
		}
		var (
			mu     sync.Mutex
			owners = map[gocql.UUID]int{}
			wg     sync.WaitGroup
		)
		for w := 0; w < workers; w++ {
			store := b.sameStore(t, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				empty := 0
				for empty < 3 {
					got, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "w", Limit: 50})
					if err != nil {
						t.Errorf("worker %d: Claim() error = %v", w, err)
						return
					}
					if len(got) == 0 {
						empty++
						continue
					}
					empty = 0
					mu.Lock()
					for _, j := range got {
						owners[j.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		twice := 0
		for _, n := range owners {
			if n > 1 {
				twice++
			}
		}
		if len(owners) != jobs || twice != 0 {
			t.Errorf("claimed %d distinct jobs, %d of them more than once; want %d once each", len(owners), twice, jobs)
		}
		if n := b.count(ctx, t, repo.StateProcessing); n != jobs {
			t.Errorf("Count(Processing) = %d, want %d", n, jobs)
		}
	})

	t.Run("ExpiredLeaseIsRescuedAndRunsAgain", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		job := b.insert(ctx, t, &repo.NewJob{MaxRetries: 2})
		first, err := b.store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "slow", Limit: 1, Lease: 5 * time.Second})
		if err != nil || len(first) != 1 {
			t.Fatalf("Claim() = %d, %v", len(first), err)
		}
		b.clock.Advance(6 * time.Second)

		// The first scan rescues the job: Failed, retried after the backoff of
		// a first retry (at most 1.25s).
		other := b.sameStore(t, nil)
		if got, err := other.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "fast", Limit: 1}); err != nil || len(got) != 0 {
			t.Fatalf("Claim() during the backoff = %v, %v; want nothing", ids(got), err)
		}
		if rescued, err := other.Jobs.Get(ctx, job.ID); err != nil || rescued.State != repo.StateFailed {
			t.Fatalf("after the lease expired the job is %v (%v), want Failed", rescued.State, err)
		}
		b.clock.Advance(2 * time.Second)
		again, err := other.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "fast", Limit: 1})
		if err != nil {
			t.Fatalf("Claim() error = %v", err)
		}
		if len(again) != 1 || again[0].ID != job.ID || again[0].RetryCount != 1 || again[0].Lease.Owner != "fast" {
			t.Fatalf("second worker claimed %+v, want the rescued job with one failed attempt", again)
		}
		if len(again[0].Errors) != 1 {
			t.Errorf("Errors = %+v, want the expired lease recorded", again[0].Errors)
		}

		_, err = b.store.Jobs.Complete(ctx, first[0], []byte("late"))
		if !errors.Is(err, repo.ErrLeaseLost) {
			t.Fatalf("Complete() by the worker that lost its lease: error = %v, want ErrLeaseLost", err)
		}
		var lost *repo.LeaseLostError
		if !errors.As(err, &lost) || lost.Owner != "fast" || lost.State != repo.StateProcessing {
			t.Errorf("LeaseLostError = %+v, want the job held by fast", lost)
		}
		done, err := other.Jobs.Complete(ctx, again[0], []byte("ok"))
		if err != nil || done.State != repo.StateSucceeded {
			t.Fatalf("Complete() by the new holder = %v, %v", done, err)
		}
		if _, err := b.store.Jobs.Heartbeat(ctx, first[0], time.Minute); !errors.Is(err, repo.ErrLeaseLost) {
			t.Errorf("Heartbeat() after losing the lease: error = %v, want ErrLeaseLost", err)
		}
	})

	t.Run("HeartbeatKeepsTheLease", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		b.insert(ctx, t, &repo.NewJob{})
		got, err := b.store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "w", Limit: 1, Lease: 10 * time.Second})
		if err != nil || len(got) != 1 {
			t.Fatalf("Claim() = %d, %v", len(got), err)
		}
		job := got[0]
		for i := 0; i < 3; i++ {
			b.clock.Advance(8 * time.Second)
			if job, err = b.store.Jobs.Heartbeat(ctx, job, 10*time.Second); err != nil {
				t.Fatalf("Heartbeat() error = %v", err)
			}
			if stolen := b.claim(ctx, t, 1); len(stolen) != 0 {
				t.Fatalf("a job with a live lease was claimed again: %v", ids(stolen))
			}
		}
		if _, err := b.store.Jobs.Complete(ctx, job, nil); err != nil {
			t.Errorf("Complete() error = %v", err)
		}
	})

	t.Run("FailRetriesWithBackoffThenAbandons", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		b.insert(ctx, t, &repo.NewJob{MaxRetries: 2})
		for attempt := 1; attempt <= 3; attempt++ {
			var got []*repo.Job
			for i := 0; i < 2 && len(got) == 0; i++ {
				got = b.claim(ctx, t, 1)
			}
			if len(got) != 1 {
				t.Fatalf("attempt %d: nothing to claim", attempt)
			}
			failed, err := b.store.Jobs.Fail(ctx, got[0], &repo.FailParams{Error: "boom", Trace: "stack"})
			if err != nil {
				t.Fatalf("Fail() error = %v", err)
			}
			if attempt <= 2 {
				delay := failed.ScheduledAt.Sub(b.clock.Now())
				want := repo.Backoff(attempt) // jitter: within ±25%
				if failed.State != repo.StateFailed || delay < want*3/5 || delay > want*5/3 {
					t.Errorf("attempt %d: state %s, retry in %s; want Failed, about %s", attempt, failed.State, delay, want)
				}
				if again := b.claim(ctx, t, 1); len(again) != 0 {
					t.Errorf("attempt %d: claimed before its backoff passed", attempt)
				}
				b.clock.Advance(time.Minute)
				continue
			}
			if failed.State != repo.StateAbandoned || failed.RetryCount != 3 || len(failed.Errors) != 3 || failed.FinishedAt.IsZero() {
				t.Errorf("after the last retry: state %s, retries %d, %d errors", failed.State, failed.RetryCount, len(failed.Errors))
			}
		}
		if n := b.count(ctx, t, repo.StateAbandoned); n != 1 {
			t.Errorf("Count(Abandoned) = %d, want 1", n)
		}
		if n := b.count(ctx, t, repo.StateFailed) + b.count(ctx, t, repo.StateProcessing); n != 0 {
			t.Errorf("Count(Failed)+Count(Processing) = %d, want 0", n)
		}
	})

	t.Run("SnoozeAndCancelHeld", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		b.insert(ctx, t, &repo.NewJob{})
		held := b.claim(ctx, t, 1)
		snoozed, err := b.store.Jobs.Snooze(ctx, held[0], time.Minute)
		if err != nil {
			t.Fatalf("Snooze() error = %v", err)
		}
		if snoozed.State != repo.StateScheduled || snoozed.RetryCount != 0 || !snoozed.ScheduledAt.Equal(b.clock.Now().Truncate(time.Millisecond).Add(time.Minute)) || snoozed.Lease != (repo.Lease{}) {
			t.Errorf("after Snooze(1m): %s, %d retries, due %s (now %s), lease %+v; want Scheduled a minute on, no attempt, no lease",
				snoozed.State, snoozed.RetryCount, snoozed.ScheduledAt, b.clock.Now(), snoozed.Lease)
		}
		if _, err := b.store.Jobs.Snooze(ctx, held[0], time.Minute); !errors.Is(err, repo.ErrLeaseLost) {
			t.Errorf("second Snooze() with the old lease: error = %v, want ErrLeaseLost", err)
		}
		if again := b.claim(ctx, t, 1); len(again) != 0 {
			t.Fatalf("a snoozed job was claimed before its time")
		}
		b.clock.Advance(2 * time.Minute)
		held = b.claim(ctx, t, 1)
		if len(held) != 1 {
			cur, _ := b.store.Jobs.Get(ctx, snoozed.ID)
			due, _ := b.store.Jobs.ListDue(ctx, b.queue, 10)
			t.Fatalf("the snoozed job is not claimable after its delay: now %s, job %s due %s, ListDue %d", b.clock.Now(), cur.State, cur.ScheduledAt, len(due))
		}
		cancelled, err := b.store.Jobs.CancelHeld(ctx, held[0], "not wanted")
		if err != nil {
			t.Fatalf("CancelHeld() error = %v", err)
		}
		if cancelled.State != repo.StateCancelled || cancelled.LastError != "not wanted" || cancelled.FinishedAt.IsZero() {
			t.Errorf("after CancelHeld: %s, last error %q, finished %s", cancelled.State, cancelled.LastError, cancelled.FinishedAt)
		}
		if _, err := b.store.Jobs.CancelHeld(ctx, held[0], "again"); !errors.Is(err, repo.ErrLeaseLost) {
			t.Errorf("second CancelHeld() with the old lease: error = %v, want ErrLeaseLost", err)
		}
		if n := b.count(ctx, t, repo.StateCancelled); n != 1 {
			t.Errorf("Count(Cancelled) = %d, want 1", n)
		}
	})

	t.Run("CancelledJobLosesItsWorker", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		b.insert(ctx, t, &repo.NewJob{})
		held := b.claim(ctx, t, 1)
		if _, err := b.store.Jobs.Cancel(ctx, held[0].ID); err != nil {
			t.Fatalf("Cancel() error = %v", err)
		}
		_, err := b.store.Jobs.Heartbeat(ctx, held[0], time.Minute)
		var lost *repo.LeaseLostError
		if !errors.As(err, &lost) || lost.State != repo.StateCancelled {
			t.Errorf("Heartbeat() after Cancel: error = %v, want LeaseLostError in state Cancelled", err)
		}
		if _, err := b.store.Jobs.Cancel(ctx, held[0].ID); !errors.Is(err, repo.ErrWrongState) {
			t.Errorf("second Cancel() error = %v, want ErrWrongState", err)
		}
	})
}

func ids(jobs []*repo.Job) []gocql.UUID {
	out := make([]gocql.UUID, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}
