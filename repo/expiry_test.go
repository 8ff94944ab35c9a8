package repo_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
)

// TestFinishedRowsExpireWhole reads the write time and the TTL of every cell
// of finished jobs' rows: each live cell carries the retention TTL, so the
// row expires whole. A cell left without one (an empty value a write kept
// rather than rewrote) would keep a row of nothing but that cell forever.
// The jobs cover the writes that leave columns out: a new job's empty
// optional columns (JobsCreate binds them unset), and an outcome that keeps
// empty errors and metadata as they are (JobsWriteKeep), beside jobs with
// metadata, errors and a result, and one whose outcome is written by the
// full JobsWrite after a failed attempt.
func TestFinishedRowsExpireWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &repo.Options{Now: time.Now, Retention: time.Hour})

	insert := func(nj *repo.NewJob) *repo.Job {
		t.Helper()
		nj.Queue, nj.Type = b.queue, "expiry.test"
		job, err := b.store.Jobs.Insert(ctx, nj)
		if err != nil {
			t.Fatal(err)
		}
		return job
	}
	claim := func() *repo.Job {
		t.Helper()
		jobs, err := b.store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "w", Limit: 1, Lease: time.Minute})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("Claim() = %d jobs, %v; want 1", len(jobs), err)
		}
		return jobs[0]
	}
	var finished []*repo.Job
	complete := func(j *repo.Job, result []byte) {
		t.Helper()
		done, err := b.store.Jobs.Complete(ctx, j, result)
		if err != nil {
			t.Fatal(err)
		}
		finished = append(finished, done)
	}

	insert(&repo.NewJob{}) // bare: every optional column empty
	complete(claim(), nil)
	insert(&repo.NewJob{Args: []byte(`{"n":1}`), Metadata: map[string]string{"tenant": "acme"}})
	complete(claim(), []byte(`{"ok":true}`))
	// Unique without a period: the job row holds its key (unique_key).
	if _, err := b.store.Jobs.InsertOne(ctx, &repo.NewJob{Queue: b.queue, Type: "expiry.test", Args: []byte(`"u"`), Unique: &repo.UniqueOpts{ByArgs: true}}); err != nil {
		t.Fatal(err)
	}
	complete(claim(), nil)
	insert(&repo.NewJob{MaxRetries: 3}) // fails once, then succeeds
	j := claim()
	if _, err := b.store.Jobs.Fail(ctx, j, &repo.FailParams{Error: "boom", RetryAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	complete(claim(), nil)
	cancelled := insert(&repo.NewJob{ScheduledAt: time.Now().Add(time.Hour)})
	c, err := b.store.Jobs.Cancel(ctx, cancelled.ID)
	if err != nil {
		t.Fatal(err)
	}
	finished = append(finished, c)

	session := cqltest.Session(t).Session
	for _, job := range finished {
		home, shard, err := repo.Partition(job.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range queries.Columns() {
			if col.Table != "jobs" || col.Kind != "regular" {
				continue // the key, and the partition's static count logs
			}
			stmt := "SELECT WRITETIME(" + col.Name + "), TTL(" + col.Name + ") FROM jobs WHERE home = ? AND shard = ? AND id = ?"
			q := session.Query(stmt, home, shard, job.ID).WithContext(ctx)
			if col.Type == "map<text, text>" || col.Type == "list<frozen<attempt_error>>" {
				// Non-frozen collections: one write time and TTL per element.
				var wts []int64
				var ttls []int32
				if err := q.Scan(&wts, &ttls); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
				for i := range wts {
					if i >= len(ttls) || ttls[i] <= 0 {
						t.Errorf("job %s (%s): element %d of %s has no TTL (write times %v, TTLs %v)", job.ID, job.State, i, col.Name, wts, ttls)
					}
				}
				continue
			}
			var wt int64
			var ttl int32
			if err := q.Scan(&wt, &ttl); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
			if wt != 0 && (ttl <= 0 || ttl > 3600) {
				t.Errorf("job %s (%s): column %s is live with TTL %d, want the retention's (0 < TTL <= 3600)", job.ID, job.State, col.Name, ttl)
			}
		}
	}
}
