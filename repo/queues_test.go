package repo_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/repo"
)

// TestQueuesPauseAndResume pauses and resumes a queue: the flag shows in
// List and Paused, jobs are still accepted while it is paused, and bad
// names get typed errors.
func TestQueuesPauseAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)

	var notFound *repo.QueueNotFoundError
	if err := b.store.Queues.Pause(ctx, b.queue); !errors.As(err, &notFound) || !errors.Is(err, repo.ErrQueueNotFound) || notFound.Queue != b.queue {
		t.Fatalf("Pause(a queue without jobs) error = %v, want a *QueueNotFoundError naming it", err)
	}
	if err := b.store.Queues.Resume(ctx, "no such queue!"); !errors.Is(err, repo.ErrInvalid) {
		t.Fatalf("Resume(an invalid name) error = %v, want ErrInvalid", err)
	}

	b.insert(ctx, t, &repo.NewJob{})
	info := queueInfo(ctx, t, b.store, b.queue)
	if info.Paused || !info.PausedAt.IsZero() {
		t.Fatalf("a new queue: %+v, want not paused, PausedAt zero", info)
	}

	at := b.clock.Now()
	if err := b.store.Queues.Pause(ctx, b.queue); err != nil {
		t.Fatalf("Pause() error = %v", err)
	}
	b.insert(ctx, t, &repo.NewJob{}) // a paused queue accepts jobs
	if err := b.store.SweepCounts(ctx, b.queue); err != nil {
		t.Fatalf("SweepCounts() error = %v", err)
	}
	info = queueInfo(ctx, t, b.store, b.queue)
	if !info.Paused || !info.PausedAt.Equal(at.Truncate(time.Millisecond)) {
		t.Errorf("after Pause: paused %v at %v, want paused at %v", info.Paused, info.PausedAt, at)
	}
	if info.Counts[repo.StateScheduled] != 2 {
		t.Errorf("after Pause: counts %v, want 2 Scheduled", info.Counts)
	}
	paused, err := b.store.Queues.Paused(ctx)
	if err != nil || !slices.Contains(paused, b.queue) {
		t.Errorf("Paused() = %v, %v; want it to hold %s", paused, err, b.queue)
	}
	// Named queues: their rows alone; a queue never used is not paused.
	other := b.queue + "_other"
	b.insert(ctx, t, &repo.NewJob{Queue: other})
	for _, names := range [][]string{{b.queue}, {other, b.queue, "never_used", b.queue}} {
		if paused, err := b.store.Queues.Paused(ctx, names...); err != nil || !slices.Equal(paused, []string{b.queue}) {
			t.Errorf("Paused(%q) = %v, %v; want [%s]", names, paused, err, b.queue)
		}
	}
	if paused, err := b.store.Queues.Paused(ctx, other, "never_used"); err != nil || len(paused) != 0 {
		t.Errorf("Paused(%s, never_used) = %v, %v; want none", other, paused, err)
	}

	b.clock.Advance(time.Second)
	if err := b.store.Queues.Resume(ctx, b.queue); err != nil {
		t.Fatalf("Resume() error = %v", err)
	}
	info = queueInfo(ctx, t, b.store, b.queue)
	if info.Paused || !info.PausedAt.Equal(at.Add(time.Second).Truncate(time.Millisecond)) {
		t.Errorf("after Resume: paused %v at %v, want not paused, changed at %v", info.Paused, info.PausedAt, at.Add(time.Second))
	}
	paused, err = b.store.Queues.Paused(ctx)
	if err != nil || slices.Contains(paused, b.queue) {
		t.Errorf("Paused() after Resume = %v, %v; want it without %s", paused, err, b.queue)
	}
	if paused, err := b.store.Queues.Paused(ctx, b.queue); err != nil || len(paused) != 0 {
		t.Errorf("Paused(%s) after Resume = %v, %v; want none", b.queue, paused, err)
	}
}

func queueInfo(ctx context.Context, t *testing.T, store *repo.Store, queue string) repo.QueueInfo {
	t.Helper()
	queues, err := store.Queues.List(ctx)
	if err != nil {
		t.Fatalf("Queues.List() error = %v", err)
	}
	if !slices.IsSortedFunc(queues, func(a, b repo.QueueInfo) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("Queues.List() not in name order")
	}
	for _, q := range queues {
		if q.Name == queue {
			return q
		}
	}
	t.Fatalf("Queues.List() has no queue %s", queue)
	return repo.QueueInfo{}
}

// TestProcessorsRegistry writes, lists and removes processor rows, and
// checks that a row expires by its TTL.
func TestProcessorsRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &repo.Options{Now: time.Now})

	owner := b.queue + ":p1"
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	in := &repo.ProcessorInfo{Owner: owner, Host: "h1", PID: 42, Version: "v1.2.3", Queues: map[string]int{"a": 10, "b": 2}, Running: map[string]int{"a": 3, "b": 0}, StartedAt: started}
	before := time.Now().Truncate(time.Millisecond)
	if err := b.store.Processors.Report(ctx, in, 2*time.Second); err != nil {
		t.Fatalf("Report() error = %v", err)
	}
	got := findProcessor(ctx, t, b.store, owner)
	if got == nil {
		t.Fatalf("List() has no row for %s", owner)
	}
	if got.LastSeen.Before(before) || got.LastSeen.After(time.Now()) || !got.ExpiresAt.Equal(got.LastSeen.Add(2*time.Second)) {
		t.Errorf("LastSeen %v, ExpiresAt %v; want now and 2s later", got.LastSeen, got.ExpiresAt)
	}
	want := *in
	want.LastSeen, want.ExpiresAt = got.LastSeen, got.ExpiresAt
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("List() row mismatch (-want +got):\n%s", diff)
	}
	if got.TotalRunning() != 3 {
		t.Errorf("TotalRunning() = %d, want 3", got.TotalRunning())
	}

	if err := b.store.Processors.Remove(ctx, owner); err != nil {
		t.Fatalf("Remove() error = %v", err)
	}
	if p := findProcessor(ctx, t, b.store, owner); p != nil {
		t.Errorf("after Remove: %+v, want no row", p)
	}

	// Not rewritten, a row disappears within its TTL.
	if err := b.store.Processors.Report(ctx, in, time.Second); err != nil {
		t.Fatalf("Report() error = %v", err)
	}
	wrote := time.Now()
	for findProcessor(ctx, t, b.store, owner) != nil {
		if time.Since(wrote) > 3*time.Second {
			t.Fatalf("a row written with TTL 1s is still listed %s later", time.Since(wrote))
		}
		time.Sleep(50 * time.Millisecond)
	}

	for _, c := range []struct {
		info *repo.ProcessorInfo
		ttl  time.Duration
	}{
		{nil, time.Second},
		{&repo.ProcessorInfo{}, time.Second},
		{&repo.ProcessorInfo{Owner: "x"}, 500 * time.Millisecond},
		{&repo.ProcessorInfo{Owner: "x"}, 2 * time.Hour},
	} {
		if err := b.store.Processors.Report(ctx, c.info, c.ttl); !errors.Is(err, repo.ErrInvalid) {
			t.Errorf("Report(%+v, %s) error = %v, want ErrInvalid", c.info, c.ttl, err)
		}
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
