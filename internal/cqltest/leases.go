package cqltest

import (
	"testing"
	"time"

	"github.com/gocql/gocql"
)

// DeleteLeaseEntries removes the lease entries of the due index whose range
// ends at job id (a claim's or heartbeat's entry for that one job), as a
// scanner removes entries it finds stale, and returns how many it removed.
func DeleteLeaseEntries(t testing.TB, queue string, id gocql.UUID) int {
	t.Helper()
	session := Session(t)
	var entries []struct {
		Bucket time.Time  `db:"bucket"`
		Shard  int        `db:"shard"`
		DueAt  time.Time  `db:"due_at"`
		JobID  gocql.UUID `db:"job_id"`
	}
	err := session.Query("SELECT bucket, shard, due_at, job_id FROM scheduled_jobs WHERE queue = ? AND last_id = ? ALLOW FILTERING", nil).
		Bind(queue, id).SelectRelease(&entries)
	if err != nil {
		t.Fatalf("read the lease entries of job %s: %v", id, err)
	}
	for _, e := range entries {
		if err := session.Query("DELETE FROM scheduled_jobs WHERE queue = ? AND bucket = ? AND shard = ? AND due_at = ? AND job_id = ?", nil).
			Bind(queue, e.Bucket, e.Shard, e.DueAt, e.JobID).ExecRelease(); err != nil {
			t.Fatalf("delete a lease entry of job %s: %v", id, err)
		}
	}
	return len(entries)
}
