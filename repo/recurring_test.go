package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/repo"
)

// fire runs one scheduler pass over the bundle's queue and returns the
// occurrence times of the jobs it created.
func (b *testBundle) fire(ctx context.Context, t *testing.T, missed repo.MissedPolicy) []time.Time {
	t.Helper()
	jobs, err := b.store.Recurring.Fire(ctx, &repo.FireParams{Queues: []string{b.queue}, Missed: missed})
	if err != nil {
		t.Fatalf("Fire() error = %v", err)
	}
	var out []time.Time
	for _, j := range jobs {
		out = append(out, j.ScheduledAt)
	}
	return out
}

func (b *testBundle) schedule(ctx context.Context, t *testing.T, id, cron string) *repo.RecurringJob {
	t.Helper()
	rj, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: id, Cron: cron, Queue: b.queue, Type: "tick"})
	if err != nil {
		t.Fatalf("Upsert() error = %v", err)
	}
	return rj
}

// listed returns schedule id as List shows it.
func (b *testBundle) listed(ctx context.Context, t *testing.T, id string) *repo.RecurringJob {
	t.Helper()
	all, err := b.store.Recurring.List(ctx)
	if err != nil {
		t.Fatalf("List() error = %v", err)
	}
	for _, rj := range all {
		if rj.ID == id {
			return rj
		}
	}
	t.Fatalf("List() lacks schedule %s", id)
	return nil
}

func TestRecurringControls(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("PausedScheduleSkipsItsOccurrencesAndFiresAfterResume", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		id := "pause-" + b.queue
		b.schedule(ctx, t, id, "* * * * *")
		b.clock.Advance(time.Minute)
		first := b.fire(ctx, t, repo.FireAll)
		if len(first) != 1 {
			t.Fatalf("first minute fired %v, want one occurrence", first)
		}
		rj := b.listed(ctx, t, id)
		if !rj.LastRunAt.Equal(first[0]) || !rj.NextRunAt.Equal(first[0].Add(time.Minute)) || rj.Paused {
			t.Errorf("List() after a fire: last %s, next %s, paused %v; want last %s, next a minute later, not paused", rj.LastRunAt, rj.NextRunAt, rj.Paused, first[0])
		}

		if rj, err := b.store.Recurring.Pause(ctx, id); err != nil || !rj.Paused {
			t.Fatalf("Pause() = %+v, %v", rj, err)
		}
		rj = b.listed(ctx, t, id)
		if !rj.Paused || rj.PausedAt.IsZero() || !rj.NextRunAt.IsZero() {
			t.Errorf("List() of a paused schedule: paused %v at %s, next %s; want paused with no next fire", rj.Paused, rj.PausedAt, rj.NextRunAt)
		}
		// Replacing a paused schedule keeps it paused.
		if rj := b.schedule(ctx, t, id, "* * * * *"); !rj.Paused || !rj.NextRunAt.IsZero() {
			t.Errorf("Upsert() of a paused schedule = paused %v, next %s; want still paused", rj.Paused, rj.NextRunAt)
		}
		// Three occurrences pass while paused: even FireAll creates nothing.
		for range 3 {
			b.clock.Advance(time.Minute)
			if got := b.fire(ctx, t, repo.FireAll); len(got) != 0 {
				t.Errorf("paused schedule fired %v", got)
			}
		}

		resumedAt := b.clock.Now()
		rj, err := b.store.Recurring.Resume(ctx, id, nil)
		if err != nil || rj.Paused {
			t.Fatalf("Resume() = %+v, %v", rj, err)
		}
		// The three passed occurrences are skipped, not caught up.
		if got := b.fire(ctx, t, repo.FireAll); len(got) != 0 {
			t.Errorf("resumed schedule caught up %v; want them skipped", got)
		}
		want := resumedAt.Truncate(time.Minute).Add(time.Minute)
		if rj := b.listed(ctx, t, id); rj.Paused || !rj.NextRunAt.Equal(want) || !rj.LastRunAt.Equal(first[0]) {
			t.Errorf("List() after resume: paused %v, last %s, next %s; want last %s, next %s", rj.Paused, rj.LastRunAt, rj.NextRunAt, first[0], want)
		}
		b.clock.Advance(time.Minute)
		if got := b.fire(ctx, t, repo.FireAll); len(got) != 1 || !got[0].Equal(want) {
			t.Errorf("after resume the schedule fired %v, want [%s]", got, want)
		}
		if rj := b.listed(ctx, t, id); !rj.LastRunAt.Equal(want) || !rj.NextRunAt.Equal(want.Add(time.Minute)) {
			t.Errorf("List(): last %s, next %s; want %s and a minute later", rj.LastRunAt, rj.NextRunAt, want)
		}
		if n := b.count(ctx, t, repo.StateScheduled); n != 2 {
			t.Errorf("%d jobs scheduled, want 2 (before the pause, after the resume)", n)
		}
	})

	t.Run("ResumeWithCatchUpLeavesMissedOccurrencesToThePolicy", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		id := "catchup-" + b.queue
		b.schedule(ctx, t, id, "* * * * *")
		if _, err := b.store.Recurring.Pause(ctx, id); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(3*time.Minute + 30*time.Second)
		if _, err := b.store.Recurring.Resume(ctx, id, &repo.ResumeOpts{CatchUp: true}); err != nil {
			t.Fatal(err)
		}
		// FireLatest: one job, for the latest occurrence missed.
		got := b.fire(ctx, t, repo.FireLatest)
		if want := b.clock.Now().Truncate(time.Minute); len(got) != 1 || !got[0].Equal(want) {
			t.Errorf("catch-up under FireLatest fired %v, want [%s]", got, want)
		}
	})

	t.Run("TriggerCreatesOneJobAtOnce", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		id := "trigger-" + b.queue
		b.schedule(ctx, t, id, "0 3 * * *")
		if _, err := b.store.Recurring.Pause(ctx, id); err != nil {
			t.Fatal(err)
		}
		b.clock.Set(b.clock.Now().Truncate(time.Second)) // a whole second, as occurrences are
		now := b.clock.Now()
		job, err := b.store.Recurring.Trigger(ctx, id)
		if err != nil {
			t.Fatalf("Trigger() error = %v", err)
		}
		if job.RecurringID != id || job.State != repo.StateScheduled || job.Type != "tick" || job.Metadata["recurring_trigger"] == "" {
			t.Errorf("Trigger() = %+v; want a scheduled tick job of schedule %s", job, id)
		}
		if d := job.ScheduledAt.Sub(now); d < 0 || d > time.Second || job.ScheduledAt.Equal(job.ScheduledAt.Truncate(time.Second)) {
			t.Errorf("triggered job due at %s (now %s); want at once, off the whole second occurrences use", job.ScheduledAt, now)
		}
		if n := b.count(ctx, t, repo.StateScheduled); n != 1 {
			t.Errorf("%d jobs scheduled after one trigger, want 1", n)
		}
		b.clock.Advance(time.Millisecond) // it is due a millisecond on, off the whole second
		claimed := b.claim(ctx, t, 10)
		if len(claimed) != 1 || claimed[0].ID != job.ID {
			t.Errorf("Claim() right after Trigger() = %v, want the triggered job", claimed)
		}
		rj := b.listed(ctx, t, id)
		if rj.TriggeredJobID != job.ID || !rj.TriggeredAt.Equal(now) || !rj.Paused || !rj.LastRunAt.IsZero() {
			t.Errorf("List() after Trigger(): triggered %s at %s, paused %v, last %s; want %s at %s, still paused, no occurrence", rj.TriggeredJobID, rj.TriggeredAt, rj.Paused, rj.LastRunAt, job.ID, now)
		}
		again, err := b.store.Recurring.Trigger(ctx, id)
		if err != nil || again.ID == job.ID {
			t.Errorf("second Trigger() = %v, %v; want a new job", again, err)
		}
	})

	t.Run("UnknownScheduleIsATypedError", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		id := "missing-" + b.queue
		check := func(op string, err error) {
			t.Helper()
			var nf *repo.ScheduleNotFoundError
			if !errors.Is(err, repo.ErrScheduleNotFound) || !errors.Is(err, repo.ErrNotFound) || !errors.As(err, &nf) || nf.ID != id {
				t.Errorf("%s(%q) error = %v; want a ScheduleNotFoundError naming it", op, id, err)
			}
		}
		_, err := b.store.Recurring.Get(ctx, id)
		check("Get", err)
		_, err = b.store.Recurring.Pause(ctx, id)
		check("Pause", err)
		_, err = b.store.Recurring.Resume(ctx, id, nil)
		check("Resume", err)
		_, err = b.store.Recurring.Trigger(ctx, id)
		check("Trigger", err)
		check("Remove", b.store.Recurring.Remove(ctx, id))

		b.schedule(ctx, t, id, "@hourly")
		if err := b.store.Recurring.Remove(ctx, id); err != nil {
			t.Fatalf("Remove() error = %v", err)
		}
		_, err = b.store.Recurring.Pause(ctx, id)
		check("Pause after Remove", err)
	})

	t.Run("SpecsThatCannotBeMeantAreRefused", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		for _, spec := range []string{"0 0 30 2 *", "0 0 31 4 *", "@every 0s", "@every -1s", "@every 500ms"} {
			_, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: "bad-" + b.queue, Cron: spec, Queue: b.queue, Type: "tick"})
			var ve *repo.ValidationError
			if !errors.Is(err, repo.ErrInvalid) || !errors.As(err, &ve) || ve.Field != "cron" || !strings.Contains(err.Error(), spec) {
				t.Errorf("Upsert(%q) error = %v; want an invalid cron error naming the spec", spec, err)
			}
		}
		if _, err := b.store.Recurring.Get(ctx, "bad-"+b.queue); !errors.Is(err, repo.ErrScheduleNotFound) {
			t.Errorf("a refused schedule was stored: Get() error = %v", err)
		}
		for _, spec := range []string{"@every 1s", "0 0 29 2 *"} {
			if _, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: "ok-" + b.queue, Cron: spec, Queue: b.queue, Type: "tick"}); err != nil {
				t.Errorf("Upsert(%q) error = %v", spec, err)
			}
		}
	})
}
