package repo_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/repo"
)

// TestPartitionsStayBounded stores 50,000 jobs over 50 simulated minutes
// (Scheduled ones due over that time, held ones created over it, some run
// to completion) and checks that no partition of the due or state index
// holds more than its bound: the jobs of one bucket divided among its
// shards, with room for the hash's spread. History adds buckets, never rows
// to a partition.
func TestPartitionsStayBounded(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	const (
		minutes   = 50
		perMinute = 1000 // 800 scheduled to run in that minute, 200 held
		finished  = 20   // per minute, run to completion
		dueShards = 8
	)
	b := setup(t, &repo.Options{DueBucketWidth: time.Minute, DueShards: dueShards, StateBucketWidth: 10 * time.Minute, StateShards: dueShards, WriteConcurrency: 64})
	start := b.clock.Now()
	for m := 0; m < minutes; m++ {
		var njs []*repo.NewJob
		for i := 0; i < perMinute; i++ {
			nj := &repo.NewJob{Queue: b.queue, Type: "spread", ScheduledAt: b.clock.Now().Add(time.Duration(i%60) * time.Second)}
			if i%5 == 0 {
				nj.Hold, nj.ScheduledAt = true, time.Time{}
			}
			njs = append(njs, nj)
		}
		if _, err := b.store.Jobs.InsertMany(ctx, njs); err != nil {
			t.Fatalf("InsertMany() error = %v", err)
		}
		held, err := b.store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Limit: finished})
		if err != nil {
			t.Fatalf("Claim() error = %v", err)
		}
		for _, j := range held {
			if _, err := b.store.Jobs.Complete(ctx, j, nil); err != nil {
				t.Fatalf("Complete() error = %v", err)
			}
		}
		b.clock.Advance(time.Minute)
	}

	// Due index: the bound is one minute of jobs over the shards, times 1.5
	// for the spread of the hash (6 standard deviations here).
	dueBound := perMinute * 4 / 5 / dueShards * 3 / 2
	largest := largestPartition(ctx, t, "scheduled_jobs", func(yield func(bucket time.Time, shards int) bool) {
		var dirs []models.ScheduledBucketsRow
		err := cqltest.Session(t).ContextQuery(ctx, "SELECT bucket, width_ms, shards FROM scheduled_buckets WHERE queue = ?", nil).Bind(b.queue).SelectRelease(&dirs)
		if err != nil {
			t.Fatalf("read due directory: %v", err)
		}
		for _, d := range dirs {
			if !yield(d.Bucket, int(d.Shards)) {
				return
			}
		}
	}, func(bucket time.Time, shard int) string {
		return "SELECT COUNT(*) FROM scheduled_jobs WHERE queue = ? AND bucket = ? AND shard = ?"
	}, b.queue)
	if largest == 0 || largest > dueBound {
		t.Errorf("largest due-index partition holds %d rows, want 1 to %d", largest, dueBound)
	}

	// State index (Created and Succeeded): ten minutes of held jobs per bucket.
	stateBound := perMinute / 5 * 10 / dueShards * 3 / 2
	for _, st := range []repo.State{repo.StateCreated, repo.StateSucceeded} {
		largest := largestPartition(ctx, t, "jobs_by_state", func(yield func(bucket time.Time, shards int) bool) {
			var dirs []models.StateBucketsRow
			err := cqltest.Session(t).ContextQuery(ctx, "SELECT bucket, width_ms, shards FROM state_buckets WHERE queue = ? AND state = ?", nil).Bind(b.queue, int(st)).SelectRelease(&dirs)
			if err != nil {
				t.Fatalf("read state directory: %v", err)
			}
			for _, d := range dirs {
				if !yield(d.Bucket, int(d.Shards)) {
					return
				}
			}
		}, func(time.Time, int) string {
			return "SELECT COUNT(*) FROM jobs_by_state WHERE queue = ? AND bucket = ? AND shard = ? AND state = " + st.Number()
		}, b.queue)
		if largest == 0 || largest > stateBound {
			t.Errorf("largest %s partition holds %d rows, want 1 to %d", st, largest, stateBound)
		}
	}

	var counts int
	iter := cqltest.Session(t).Query("SELECT COUNT(*) FROM job_counts WHERE queue = ? AND state = ?", nil).Bind(b.queue, int(repo.StateSucceeded)).Iter()
	iter.Scan(&counts)
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if max := 6 * repo.DefaultCountShards; counts > max {
		t.Errorf("count partition of Succeeded holds %d rows after %s, want at most %d (one per shard and state bucket)", counts, b.clock.Now().Sub(start), max)
	}
	if n := b.count(ctx, t, repo.StateCreated); n != minutes*perMinute/5 {
		t.Errorf("Count(Created) = %d, want %d", n, minutes*perMinute/5)
	}
}

// largestPartition counts the rows of every partition the directory lists
// and returns the largest count.
func largestPartition(ctx context.Context, t *testing.T, table string, dirs func(func(time.Time, int) bool), stmt func(time.Time, int) string, queue string) int {
	t.Helper()
	largest, partitions := 0, 0
	for bucket, shards := range dirs {
		for sh := 0; sh < shards; sh++ {
			var n int
			if err := cqltest.Session(t).ContextQuery(ctx, stmt(bucket, sh), nil).Bind(queue, bucket, sh).GetRelease(&n); err != nil {
				t.Fatalf("count %s partition: %v", table, err)
			}
			partitions++
			largest = max(largest, n)
		}
	}
	t.Logf("%s: %d partitions, the largest holds %d rows", table, partitions, largest)
	return largest
}
