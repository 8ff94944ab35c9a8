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
// to completion) and checks that no partition of the jobs table, the due
// index or the state index holds more than its bound: the jobs of one
// bucket divided among its shards, with room for the spread. History adds
// buckets, never rows to a partition; the counts Count reads take one row
// per hour.
func TestPartitionsStayBounded(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	const (
		minutes    = 50
		perMinute  = 1000 // 800 scheduled to run in that minute, 200 held
		finished   = 20   // per minute, run to completion
		shards     = 8
		homeWidth  = 64 * time.Second
		stateWidth = 10 * time.Minute
	)
	b := setup(t, &repo.Options{DueBucketWidth: time.Minute, DueShards: shards, StateBucketWidth: stateWidth, StateShards: shards,
		HomeBucketWidth: homeWidth, HomeShards: shards, WriteConcurrency: 64})
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

	// Home partitions: one bucket's jobs (at most 64 s of inserts and runs)
	// over the sub-shards, times 2 for the runs InsertMany fills shards in.
	homeBound := perMinute * int(homeWidth/time.Second) / 60 * 2 / shards
	largest := largestPartition(ctx, t, "jobs", func(yield func(bucket time.Time, shards int) bool) {
		var dirs []models.HomeBucketsRow
		err := cqltest.Session(t).ContextQuery(ctx, "SELECT bucket, width_ms, shards FROM home_buckets WHERE queue = ?", nil).Bind(b.queue).SelectRelease(&dirs)
		if err != nil {
			t.Fatalf("read home directory: %v", err)
		}
		for _, d := range dirs {
			if !yield(d.Bucket, int(d.Shards)) {
				return
			}
		}
	}, func(bucket time.Time, shard int) string {
		return "SELECT COUNT(*) FROM jobs WHERE home = ? AND shard = ?"
	}, b.queueShard(ctx, t))
	if largest == 0 || largest > homeBound {
		t.Errorf("largest home partition holds %d rows, want 1 to %d", largest, homeBound)
	}

	// State index (Created): ten minutes of held jobs per bucket, over the
	// shards (a home partition's jobs share one shard). Succeeded jobs have
	// no state-index rows: the finish logs of their home partitions name
	// them, one row per finishing batch, counted in the bound above.
	stateBound := perMinute / 5 * int(stateWidth/time.Minute) / shards * 2
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
		switch {
		case st == repo.StateSucceeded && largest != 0:
			t.Errorf("largest %s partition holds %d rows, want none (named by finish logs)", st, largest)
		case st != repo.StateSucceeded && (largest == 0 || largest > stateBound):
			t.Errorf("largest %s partition holds %d rows, want 1 to %d", st, largest, stateBound)
		}
	}

	b.settle(ctx, t)
	var hours int
	iter := cqltest.Session(t).Query("SELECT COUNT(*) FROM count_hours WHERE queue = ?", nil).Bind(b.queue).Iter()
	iter.Scan(&hours)
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if hours > minutes/60+3 {
		t.Errorf("counts of the queue take %d rows after %d minutes, want one per hour", hours, minutes)
	}
	if n := b.count(ctx, t, repo.StateCreated); n != minutes*perMinute/5 {
		t.Errorf("Count(Created) = %d, want %d", n, minutes*perMinute/5)
	}
}

// largestPartition counts the rows of every partition the directory lists
// and returns the largest count.
// For the jobs table, key is the queue's number shifted left by 8 (the
// shard of sub-shard 0); for the indexes, the queue name.
func largestPartition(ctx context.Context, t *testing.T, table string, dirs func(func(time.Time, int) bool), stmt func(time.Time, int) string, key any) int {
	t.Helper()
	largest, partitions := 0, 0
	for bucket, shards := range dirs {
		for sh := 0; sh < shards; sh++ {
			var n int
			q := cqltest.Session(t).ContextQuery(ctx, stmt(bucket, sh), nil)
			if base, ok := key.(int32); ok {
				q.Bind(bucket, base+int32(sh))
			} else {
				q.Bind(key, bucket, sh)
			}
			if err := q.GetRelease(&n); err != nil {
				t.Fatalf("count %s partition: %v", table, err)
			}
			partitions++
			largest = max(largest, n)
		}
	}
	t.Logf("%s: %d partitions, the largest holds %d rows", table, partitions, largest)
	return largest
}
