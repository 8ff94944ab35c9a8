package worker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// step is a job of a chain: the handler records when it ran and in what
// state it found its parent.
type step struct {
	Name      string `json:"name"`
	FailTimes int    `json:"fail_times"`
}

func (step) Kind() string { return "step" }

// part and report are steps under other kinds: the jobs of a batch and the
// job that waits for it.
type (
	part   step
	report step
)

func (part) Kind() string   { return "part" }
func (report) Kind() string { return "report" }

// row is an int argument of kind "row".
type row int

func (row) Kind() string { return "row" }

func TestContinuations(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("RunOnlyAfterTheParentSucceedsExactlyOnce", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		var mu sync.Mutex
		var order []string
		parentStates := map[string]repo.State{}
		calls := newCounter[string]()
		// Two processors race for every job of the chain.
		for range 2 {
			p := processor(t, newStore(t, nil), b.config(t, 4))
			handle(t, p, func(ctx context.Context, job *worker.Job[step]) error {
				if calls.add(job.Args.Name) <= job.Args.FailTimes {
					return errors.New("not yet")
				}
				var parentState repo.State = -1
				if job.ParentID != ([16]byte{}) {
					parent, err := b.store.Jobs.Get(ctx, job.ParentID)
					if err != nil {
						return err
					}
					parentState = parent.State
				}
				mu.Lock()
				defer mu.Unlock()
				order = append(order, job.Args.Name)
				parentStates[job.Args.Name] = parentState
				return nil
			}, nil)
			start(t, p)
		}

		// The chain is stored before the parent can run: hold the parent.
		parent := enqueue(ctx, t, b, step{Name: "parent", FailTimes: 2}, &worker.EnqueueOpts{Hold: true, MaxRetries: 5})
		child, err := worker.EnqueueAfter(ctx, b.store, parent.ID, step{Name: "child", FailTimes: 1}, &worker.EnqueueOpts{Queue: b.queue, MaxRetries: 5})
		if err != nil {
			t.Fatalf("EnqueueAfter(parent) error = %v", err)
		}
		grandchild, err := worker.EnqueueAfter(ctx, b.store, child.ID, step{Name: "grandchild"}, &worker.EnqueueOpts{Queue: b.queue})
		if err != nil {
			t.Fatalf("EnqueueAfter(child) error = %v", err)
		}
		if child.State != repo.StateAwaitingContinuation || grandchild.State != repo.StateAwaitingContinuation {
			t.Fatalf("continuations are %s and %s, want AwaitingContinuation", child.State, grandchild.State)
		}
		held, err := b.store.Jobs.Get(ctx, parent.ID)
		if err != nil {
			t.Fatalf("Get() error = %v", err)
		}
		held.State = repo.StateScheduled
		if _, err := b.store.Jobs.Update(ctx, held); err != nil {
			t.Fatalf("Update(Scheduled) error = %v", err)
		}

		for _, j := range []*worker.Job[step]{parent, child, grandchild} {
			if done := wait(t, b.store, j.ID, time.Minute); done.State != repo.StateSucceeded {
				t.Errorf("%s = %s, want Succeeded", j.Args.Name, done.State)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff([]string{"parent", "child", "grandchild"}, order); diff != "" {
			t.Errorf("successful runs (-want +got):\n%s", diff)
		}
		want := map[string]repo.State{"parent": -1, "child": repo.StateSucceeded, "grandchild": repo.StateSucceeded}
		if diff := cmp.Diff(want, parentStates); diff != "" {
			t.Errorf("parent's state when each ran (-want +got):\n%s", diff)
		}
		if n := calls.get("child"); n != 2 {
			t.Errorf("child ran %d times, want 2 (one planned failure)", n)
		}
	})

	t.Run("ParentAbandonedCancelsThem", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 2))
		handle(t, p, func(ctx context.Context, job *worker.Job[step]) error {
			if job.Args.Name != "parent" {
				t.Errorf("%s ran, but its parent was abandoned", job.Args.Name)
			}
			return errors.New("broken")
		}, nil)
		parent := enqueue(ctx, t, b, step{Name: "parent"}, &worker.EnqueueOpts{MaxRetries: 1, Hold: true})
		child, err := worker.EnqueueAfter(ctx, b.store, parent.ID, step{Name: "child"}, &worker.EnqueueOpts{Queue: b.queue})
		if err != nil {
			t.Fatalf("EnqueueAfter() error = %v", err)
		}
		held, _ := b.store.Jobs.Get(ctx, parent.ID)
		held.State = repo.StateScheduled
		if _, err := b.store.Jobs.Update(ctx, held); err != nil {
			t.Fatalf("Update(Scheduled) error = %v", err)
		}
		start(t, p)

		if done := wait(t, b.store, parent.ID, time.Minute); done.State != repo.StateAbandoned {
			t.Errorf("parent = %s, want Abandoned", done.State)
		}
		if done := wait(t, b.store, child.ID, time.Minute); done.State != repo.StateCancelled {
			t.Errorf("child = %s, want Cancelled", done.State)
		}
	})
}

func TestBatches(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("ContinuationRunsOnceAfterEveryJobFinished", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		seen := make(chan *repo.BatchStatus, 2)
		for range 2 {
			p := processor(t, newStore(t, nil), b.config(t, 4))
			handle(t, p, func(ctx context.Context, job *worker.Job[part]) error {
				if job.Args.Name == "bad" {
					return errors.New("bad part")
				}
				return nil
			}, nil)
			handle(t, p, func(ctx context.Context, job *worker.Job[report]) error {
				st, err := b.store.Batches.Status(ctx, job.ParentID)
				if err != nil {
					return err
				}
				seen <- st
				return nil
			}, nil)
			start(t, p)
		}

		parts := []part{{Name: "good"}, {Name: "bad"}, {Name: "good"}, {Name: "good"}, {Name: "bad"}, {Name: "good"}}
		jobs, err := worker.EnqueueBatch(ctx, b.store, [16]byte{}, parts, &worker.EnqueueOpts{Queue: b.queue, MaxRetries: 1})
		if err != nil {
			t.Fatalf("EnqueueBatch() error = %v", err)
		}
		batchID := jobs[0].BatchID
		report, err := worker.EnqueueAfterBatch(ctx, b.store, batchID, report{Name: "report"}, &worker.EnqueueOpts{Queue: b.queue})
		if err != nil {
			t.Fatalf("EnqueueAfterBatch() error = %v", err)
		}

		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		st, err := worker.WaitBatch(wctx, b.store, batchID, &worker.WaitOpts{PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatalf("WaitBatch() error = %v", err)
		}
		want := &repo.BatchStatus{BatchID: batchID, Size: 6, States: map[repo.State]int{repo.StateSucceeded: 4, repo.StateAbandoned: 2}, Finished: true, Succeeded: false}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Errorf("WaitBatch() (-want +got):\n%s", diff)
		}
		if done := wait(t, b.store, report.ID, time.Minute); done.State != repo.StateSucceeded {
			t.Fatalf("batch continuation = %s, want Succeeded", done.State)
		}
		if got := <-seen; !got.Finished || got.States[repo.StateSucceeded] != 4 || got.States[repo.StateAbandoned] != 2 {
			t.Errorf("the continuation saw %+v, want the finished batch", got)
		}
		select {
		case again := <-seen:
			t.Errorf("the batch continuation ran twice (second saw %+v)", again)
		case <-time.After(500 * time.Millisecond):
		}
	})

	t.Run("AllSucceeded", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 4))
		handle(t, p, func(ctx context.Context, job *worker.Job[row]) error { return nil }, nil)
		start(t, p)
		jobs, err := worker.EnqueueBatch(ctx, b.store, [16]byte{}, []row{1, 2, 3}, &worker.EnqueueOpts{Queue: b.queue})
		if err != nil {
			t.Fatalf("EnqueueBatch() error = %v", err)
		}
		if got := []row{jobs[0].Args, jobs[1].Args, jobs[2].Args}; !cmp.Equal(got, []row{1, 2, 3}) {
			t.Errorf("EnqueueBatch() args = %v, want them in order", got)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		st, err := worker.WaitBatch(wctx, b.store, jobs[0].BatchID, nil)
		if err != nil || !st.Finished || !st.Succeeded || st.States[repo.StateSucceeded] != 3 {
			t.Errorf("WaitBatch() = %+v, %v; want finished, succeeded, 3 Succeeded", st, err)
		}
	})
}
