package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
)

// TestSweepEntersProcessingJobsWithNoLeaseEntry: a claim whose lease entry
// is gone (a scanner removed it as stale before the late claim applied, and
// the worker's confirming heartbeat never came) leaves a Processing job that
// no scan finds. The counts' sweeper finds it once its lease ended long
// enough ago, and the next scan rescues it; the lost holder stays fenced.
func TestSweepEntersProcessingJobsWithNoLeaseEntry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	b := setup(t, nil)
	job := b.insert(ctx, t, &repo.NewJob{MaxRetries: 2})
	held, err := b.store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "lost", Limit: 1, Lease: 5 * time.Second})
	if err != nil || len(held) != 1 {
		t.Fatalf("Claim() = %d, %v", len(held), err)
	}
	if n := cqltest.DeleteLeaseEntries(t, b.queue, job.ID); n == 0 {
		t.Fatal("the claim wrote no lease entry")
	}
	b.clock.Advance(6 * time.Second)

	other := b.sameStore(t, nil)
	stillProcessing := func(when string) {
		t.Helper()
		if n, err := other.Jobs.Rescue(ctx, b.queue); err != nil || n != 0 {
			t.Fatalf("%s: Rescue() = %d, %v; want nothing to rescue", when, n, err)
		}
		if j, err := other.Jobs.Get(ctx, job.ID); err != nil || j.State != repo.StateProcessing {
			t.Fatalf("%s: the job is %v (%v), want Processing", when, j.State, err)
		}
	}
	stillProcessing("with no lease entry")

	// A sweep soon after the lease's end leaves the job to the normal path.
	if err := other.SweepCounts(ctx, b.queue); err != nil {
		t.Fatalf("SweepCounts() error = %v", err)
	}
	stillProcessing("after a sweep 1s past the lease")

	// Long after it, the sweep enters the job, and the next scan rescues it.
	b.clock.Advance(2*repo.DefaultGrace + time.Minute)
	if err := other.SweepCounts(ctx, b.queue); err != nil {
		t.Fatalf("SweepCounts() error = %v", err)
	}
	if n, err := other.Jobs.Rescue(ctx, b.queue); err != nil || n != 1 {
		t.Fatalf("Rescue() after the sweep = %d, %v; want the job", n, err)
	}
	rescued, err := other.Jobs.Get(ctx, job.ID)
	if err != nil || rescued.State != repo.StateFailed || len(rescued.Errors) != 1 || !strings.Contains(rescued.Errors[0].Error, `lease of "lost" expired`) {
		t.Fatalf("after the sweep and a scan the job is %+v (%v); want Failed with the expired lease recorded", rescued, err)
	}
	if _, err := b.store.Jobs.Complete(ctx, held[0], nil); !errors.Is(err, repo.ErrLeaseLost) {
		t.Errorf("Complete() by the lost holder: error = %v, want ErrLeaseLost", err)
	}
	// Another sweep finds nothing more to enter: the job is no longer
	// Processing.
	if err := other.SweepCounts(ctx, b.queue); err != nil {
		t.Fatalf("SweepCounts() error = %v", err)
	}
	if n, err := other.Jobs.Rescue(ctx, b.queue); err != nil || n != 0 {
		t.Errorf("Rescue() after a second sweep = %d, %v; want nothing", n, err)
	}
}
