package worker_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

type tickArgs struct {
	Label string `json:"label"`
}

func (tickArgs) Kind() string { return "tick" }

func TestRecurring(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("ThreeProcessorsFireEachOccurrenceOnce", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		runs := newCounter[string]() // handler runs per occurrence
		for range 3 {
			cfg := b.config(t, 2)
			cfg.ScheduleInterval = 50 * time.Millisecond
			cfg.MissedOccurrences = repo.FireAll // so no occurrence may be skipped
			p := processor(t, newStore(t, nil), cfg)
			handle(t, p, func(ctx context.Context, job *worker.Job[tickArgs]) error {
				if job.Args.Label != "every second" || job.RecurringID != b.queue {
					t.Errorf("recurring job with args %+v, schedule %q", job.Args, job.RecurringID)
				}
				runs.add(job.Metadata["recurring_occurrence"])
				return nil
			}, nil)
			start(t, p)
		}
		if _, err := worker.Schedule(ctx, b.store, b.queue, "@every 1s", tickArgs{Label: "every second"}, &worker.ScheduleOpts{Queue: b.queue}); err != nil {
			t.Fatalf("Schedule() error = %v", err)
		}
		eventually(t, time.Minute, "five occurrences", func() bool { return len(runs.snapshot()) >= 5 })
		if err := b.store.Recurring.Remove(ctx, b.queue); err != nil {
			t.Fatalf("Remove() error = %v", err)
		}
		// Let schedulers that read the schedule before its removal finish,
		// then every job fired so far run: claims take due jobs in no
		// particular order, so an occurrence may run after a later one.
		time.Sleep(500 * time.Millisecond)
		eventually(t, time.Minute, "every fired job to run", func() bool {
			for _, st := range []repo.State{repo.StateScheduled, repo.StateFailed, repo.StateProcessing} {
				jobs, err := b.store.Jobs.ListByState(ctx, &repo.ListParams{Queue: b.queue, State: st, Limit: 1})
				if err != nil || len(jobs) > 0 {
					return false
				}
			}
			return true
		})

		got := runs.snapshot()
		var occurrences []time.Time
		for occ, n := range got {
			if n != 1 {
				t.Errorf("occurrence %s ran %d times, want once", occ, n)
			}
			at, err := time.Parse(time.RFC3339, occ)
			if err != nil {
				t.Fatalf("occurrence %q: %v", occ, err)
			}
			occurrences = append(occurrences, at)
		}
		slices.SortFunc(occurrences, func(a, b time.Time) int { return a.Compare(b) })
		for i := 1; i < len(occurrences); i++ {
			if d := occurrences[i].Sub(occurrences[i-1]); d != time.Second {
				t.Errorf("occurrences %s and %s are %s apart: one was missed or doubled", occurrences[i-1], occurrences[i], d)
			}
		}
	})

	// Two processors run a schedule every second; it is paused (no run for
	// three seconds), triggered while paused (exactly one run), and
	// resumed (it runs again, without catching up).
	t.Run("PauseTriggerResumeUnderProcessors", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		occurrences, triggered := newCounter[string](), newCounter[string]()
		for range 2 {
			cfg := b.config(t, 2)
			cfg.ScheduleInterval = 50 * time.Millisecond
			cfg.MissedOccurrences = repo.FireAll // a catch-up would show
			p := processor(t, newStore(t, nil), cfg)
			handle(t, p, func(ctx context.Context, job *worker.Job[tickArgs]) error {
				if at := job.Metadata["recurring_trigger"]; at != "" {
					triggered.add(at)
				} else {
					occurrences.add(job.Metadata["recurring_occurrence"])
				}
				return nil
			}, nil)
			start(t, p)
		}
		if _, err := worker.Schedule(ctx, b.store, b.queue, "@every 1s", tickArgs{}, &worker.ScheduleOpts{Queue: b.queue}); err != nil {
			t.Fatalf("Schedule() error = %v", err)
		}
		eventually(t, time.Minute, "two occurrences", func() bool { return occurrences.total() >= 2 })
		if _, err := b.store.Recurring.Pause(ctx, b.queue); err != nil {
			t.Fatalf("Pause() error = %v", err)
		}
		time.Sleep(500 * time.Millisecond) // schedulers' passes begun before the pause, and their jobs' runs
		before := occurrences.total()
		time.Sleep(3 * time.Second)
		if n := occurrences.total(); n != before {
			t.Errorf("%d occurrences ran while paused, want none", n-before)
		}
		job, err := b.store.Recurring.Trigger(ctx, b.queue)
		if err != nil {
			t.Fatalf("Trigger() error = %v", err)
		}
		eventually(t, time.Minute, "the triggered job", func() bool { return triggered.total() >= 1 })
		if _, err := worker.Wait(ctx, b.store, job.ID, nil); err != nil {
			t.Fatal(err)
		}
		resumed := time.Now()
		if _, err := b.store.Recurring.Resume(ctx, b.queue, nil); err != nil {
			t.Fatalf("Resume() error = %v", err)
		}
		eventually(t, time.Minute, "runs after resume", func() bool { return occurrences.total() >= before+2 })
		for occ := range occurrences.snapshot() {
			at, err := time.Parse(time.RFC3339, occ)
			if err != nil {
				t.Fatal(err)
			}
			if at.After(resumed.Add(-3*time.Second)) && at.Before(resumed.Add(-time.Second)) {
				t.Errorf("occurrence %s, passed while paused, ran after the resume at %s", occ, resumed)
			}
		}
		time.Sleep(500 * time.Millisecond)
		if n := triggered.total(); n != 1 {
			t.Errorf("the trigger ran %d jobs, want 1", n)
		}
	})

	// After downtime, missed occurrences follow the configured policy. The
	// store's clock jumps 10.5 minutes past the schedule's creation, as if
	// no processor ran meanwhile.
	for _, tc := range []struct {
		name   string
		policy repo.MissedPolicy
		want   int
	}{
		{name: "FireLatest", policy: repo.FireLatest, want: 1},
		{name: "FireAll", policy: repo.FireAll, want: 10},
		{name: "SkipMissed", policy: repo.SkipMissed, want: 0},
	} {
		t.Run("Missed"+tc.name, func(t *testing.T) {
			t.Parallel()

			b := setup(t)
			var mu sync.Mutex
			offset := time.Duration(0)
			clock := func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				return time.Now().Add(offset)
			}
			store := newStore(t, &repo.Options{Now: clock})
			if _, err := worker.Schedule(ctx, store, b.queue, "@every 1m", tickArgs{}, &worker.ScheduleOpts{Queue: b.queue}); err != nil {
				t.Fatalf("Schedule() error = %v", err)
			}
			mu.Lock()
			offset = 10*time.Minute + 30*time.Second
			mu.Unlock()

			cfg := b.config(t, 4)
			cfg.MissedOccurrences = tc.policy
			p := processor(t, store, cfg)
			runs := newCounter[string]()
			handle(t, p, func(ctx context.Context, job *worker.Job[tickArgs]) error {
				runs.add(job.Metadata["recurring_occurrence"])
				return nil
			}, nil)
			start(t, p)
			if tc.want > 0 {
				eventually(t, time.Minute, fmt.Sprintf("%d runs", tc.want), func() bool { return runs.total() >= tc.want })
			}
			time.Sleep(time.Second) // time for any extra run to show
			if n := runs.total(); n != tc.want {
				t.Errorf("%d runs of missed occurrences, want %d", n, tc.want)
			}
		})
	}
}
