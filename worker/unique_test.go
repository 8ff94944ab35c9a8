package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

func TestEnqueueUnique(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	opts := &worker.EnqueueOpts{Queue: b.queue, Unique: &repo.UniqueOpts{ByQueue: true, ByPeriod: time.Hour}}
	first, err := worker.EnqueueOne(ctx, b.store, tickArgs{Label: "first"}, opts)
	if err != nil || first.Existed {
		t.Fatalf("EnqueueOne() = %+v, %v; want a new job", first, err)
	}
	// The key leaves the arguments out: the second enqueue gets the first
	// job, with its own arguments.
	second, err := worker.EnqueueOne(ctx, b.store, tickArgs{Label: "second"}, opts)
	if err != nil || !second.Existed || second.Job.ID != first.Job.ID || second.Job.Args.Label != "first" {
		t.Fatalf("second EnqueueOne() = %+v, %v; want the first job, arguments and all", second, err)
	}
	job, err := worker.Enqueue(ctx, b.store, tickArgs{Label: "third"}, opts)
	if err != nil || job.ID != first.Job.ID || job.Args.Label != "first" {
		t.Errorf("Enqueue() = %+v, %v; want the first job", job, err)
	}
	// Next hour's bucket is another key.
	later := *opts
	later.ScheduledAt = time.Now().Add(time.Hour)
	if r, err := worker.EnqueueOne(ctx, b.store, tickArgs{Label: "later"}, &later); err != nil || r.Existed {
		t.Errorf("EnqueueOne() an hour later = %+v, %v; want a new job", r, err)
	}
	if _, err := worker.EnqueueMany(ctx, b.store, []tickArgs{{}, {}}, opts); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("EnqueueMany() with Unique error = %v, want ErrInvalid", err)
	}
}
