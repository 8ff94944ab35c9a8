package rawcql_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/bench/rawcql"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
)

// TestStatementsAreTheGeneratedOnes checks that raw gocql sends the very
// statements the store sends.
func TestStatementsAreTheGeneratedOnes(t *testing.T) {
	t.Parallel()

	tests := map[string]struct{ raw, generated string }{
		"JobsCreate":       {rawcql.JobsCreate, queries.JobsCreateCQL},
		"JobsGet":          {rawcql.JobsGet, queries.JobsGetCQL},
		"JobsGetMany":      {rawcql.JobsGetMany, queries.JobsGetManyCQL},
		"JobsScan":         {rawcql.JobsScan, queries.JobsScanCQL},
		"JobsScanBrief":    {rawcql.JobsScanBrief, queries.JobsScanBriefCQL},
		"JobsClaim":        {rawcql.JobsClaim, queries.JobsClaimCQL},
		"JobsWrite":        {rawcql.JobsWrite, queries.JobsWriteCQL},
		"JobsWriteKeep":    {rawcql.JobsWriteKeep, queries.JobsWriteKeepCQL},
		"QueueNumberTake":  {rawcql.QueueNumberTake, queries.QueueNumberTakeCQL},
		"QueueCreate":      {rawcql.QueueCreate, queries.QueueCreateCQL},
		"HomeBucketInsert": {rawcql.HomeBucketInsert, queries.HomeBucketInsertCQL},
		"CountHourDirty":   {rawcql.CountHourDirty, queries.CountHourDirtyCQL},
		"CountLogActive":   {rawcql.CountLogActive, queries.CountLogActiveCQL},
		"DueInsert":        {rawcql.DueInsert, queries.DueInsertCQL},
		"StateInsert":      {rawcql.StateInsert, queries.StateInsertCQL},
		"DueScan":          {rawcql.DueScan, queries.DueScanCQL},
	}
	// The generated statements are laid out over lines; Cassandra reads
	// any whitespace alike.
	oneLine := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for name, tt := range tests {
		if diff := cmp.Diff(oneLine(tt.generated), oneLine(tt.raw)); diff != "" {
			t.Errorf("%s: hand-written statement differs from the generated one (-generated +raw):\n%s", name, diff)
		}
	}
}

// TestDefaultsAreTheStores checks the settings raw gocql copies.
func TestDefaultsAreTheStores(t *testing.T) {
	t.Parallel()

	for _, c := range []struct {
		name      string
		raw, repo any
	}{
		{"home width", rawcql.HomeWidth, repo.DefaultHomeBucketWidth},
		{"home shards", rawcql.HomeShards, repo.DefaultHomeShards},
		{"lease", rawcql.Lease, repo.DefaultLease},
		{"grace", rawcql.Grace, repo.DefaultGrace},
		{"retention", rawcql.Retention, repo.DefaultRetention},
		{"scheduled", rawcql.StateScheduled, int(repo.StateScheduled)},
		{"processing", rawcql.StateProcessing, int(repo.StateProcessing)},
		{"succeeded", rawcql.StateSucceeded, int(repo.StateSucceeded)},
		{"failed", rawcql.StateFailed, int(repo.StateFailed)},
	} {
		if c.raw != c.repo {
			t.Errorf("%s: raw gocql uses %v, the store %v", c.name, c.raw, c.repo)
		}
	}
}

// TestIDsAreStoreIDs checks that raw gocql lays out job ids as the store
// does: the store reads a job from the partition raw gocql wrote it to.
func TestIDsAreStoreIDs(t *testing.T) {
	t.Parallel()

	at := time.Date(2026, 12, 6, 7, 30, 59, 123e6, time.UTC)
	for _, q := range []int32{1, 0xabcde, 1<<20 - 1} {
		for sub := range rawcql.HomeShards {
			id := rawcql.JobID(at, sub, q)
			home, shard, err := repo.Partition(id)
			if err != nil {
				t.Fatalf("repo.Partition(%s) error = %v", id, err)
			}
			rh, rs := rawcql.Home(id)
			if !home.Equal(rh) || shard != rs || shard != rawcql.Shard(q, sub) || !home.Equal(rawcql.BucketStart(at, rawcql.HomeWidth)) {
				t.Fatalf("id %s: raw reads partition (%s, %d), the store (%s, %d); want queue %d sub-shard %d of the bucket of %s", id, rh, rs, home, shard, q, sub, at)
			}
			if lo, hi := rawcql.IDAt(at), rawcql.IDAt(at.Add(time.Millisecond)); !less(lo, id) || !less(id, hi) || !less(id, rawcql.Next(id)) {
				t.Errorf("id %s is not between the bounds %s and %s of its time, or not before its successor", id, lo, hi)
			}
		}
	}
}

func less(a, b [16]byte) bool { return string(a[:]) < string(b[:]) }
