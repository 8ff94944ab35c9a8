package cqlcount

import (
	"context"
	"testing"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/queries"
)

func TestKind(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		queries.JobsCreateCQL:                          "UPDATE jobs IF",
		queries.DueInsertCQL:                           "INSERT scheduled_jobs",
		queries.JobsGetCQL:                             "SELECT jobs",
		queries.DueWatermarkAdvanceCQL:                 "UPDATE scheduled_buckets IF",
		"DELETE FROM jobs WHERE id = ? IF version = ?": "DELETE jobs IF",
		"select watermark from ks.scheduled_buckets":   "SELECT scheduled_buckets",
		"CREATE TABLE IF NOT EXISTS jobs (id uuid)":    "CREATE ",
	}
	for stmt, want := range tests {
		if got := Kind(stmt); got != want {
			t.Errorf("Kind(%q) = %q, want %q", stmt, got, want)
		}
	}
}

// A conditional batch is one lightweight transaction however many
// statements it holds; its statements count apart from the round trips.
func TestCounterCountsBatchesAndLWTs(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	c := New()
	c.ObserveQuery(ctx, gocql.ObservedQuery{Statement: "SELECT * FROM jobs WHERE id = ?", Rows: 1})
	before := c.Snapshot()
	c.ObserveQuery(ctx, gocql.ObservedQuery{Statement: "UPDATE jobs SET state = ? WHERE id = ? IF version = ?"})
	c.ObserveBatch(ctx, gocql.ObservedBatch{Statements: []string{
		"UPDATE jobs SET state = ? WHERE bucket = ? AND id = ? IF version = ?",
		"UPDATE jobs SET state = ? WHERE bucket = ? AND id = ? IF version = ?",
		"UPDATE jobs SET state = ? WHERE bucket = ? AND id = ? IF version = ?",
	}})
	c.ObserveBatch(ctx, gocql.ObservedBatch{Statements: []string{
		"INSERT INTO due (q, id) VALUES (?, ?)", "INSERT INTO due (q, id) VALUES (?, ?)",
	}})
	got := c.Snapshot().Sub(before)
	want := Counts{
		Queries: 1, Batches: 2, BatchStatements: 5, LWTs: 2,
		ByKind: map[string]int64{"UPDATE jobs IF": 1, "BATCH of UPDATE jobs IF": 1, "BATCH of INSERT due": 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counts since the snapshot (-want +got):\n%s", diff)
	}
	if got.RoundTrips() != 3 {
		t.Errorf("RoundTrips() = %d, want 3", got.RoundTrips())
	}
	if total := c.Snapshot(); total.Queries != 2 || total.Rows != 1 {
		t.Errorf("total counts = %+v, want 2 queries and 1 row", total)
	}
}
