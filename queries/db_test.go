package queries_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// This file is hand-written: the generator leaves files without its header
// alone. It runs every generated query of schema/queries.cql against the
// real node, through the typed methods of queries.DB.

func TestMain(m *testing.M) { cqltest.Main(m, queries.CreateStatements()...) }

// ran records the queries the tests ran, and the tests that ran them, for
// TestEveryQueryRan.
var ran = struct {
	sync.Mutex
	names, tests map[string]bool
}{names: map[string]bool{}, tests: map[string]bool{}}

// mark records that test t ran the named queries to the end.
func mark(t *testing.T, names ...string) {
	ran.Lock()
	defer ran.Unlock()
	ran.tests[t.Name()] = true
	for _, n := range names {
		ran.names[n] = true
	}
}

func newDB(t *testing.T) *queries.DB {
	t.Helper()
	return queries.New(cqltest.Session(t).Session)
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// jobID returns an id laid out as the store lays out job ids (a UUID
// version 7 whose first six bytes are the unix milliseconds of at), with n
// in its last byte: ids of one millisecond sort by n, in Cassandra's uuid
// order as in bytes. The tables do not care where an id came from; repo
// computes a job's partition from its id, these tests choose it.
func jobID(at time.Time, n byte) gocql.UUID {
	var u gocql.UUID
	m := uint64(at.UnixMilli())
	for i := range 6 {
		u[i] = byte(m >> (40 - 8*i))
	}
	u[6], u[8], u[15] = 0x70, 0x80, n
	return u
}

func TestJobsQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	at := now()
	home, shard := at.Truncate(time.Minute), int32(1<<8|2)
	row := models.JobsRow{
		Home: home, Shard: shard, ID: jobID(at, 1), Queue: cqltest.Queue(t), Type: "t", Args: []byte(`{"n":1}`), State: 1, Version: 1,
		CreatedAt: at, ScheduledAt: at, StateChangedAt: at, MaxRetries: 3,
		Errors:   []models.AttemptError{{Attempt: 1, FailedAt: at, Error: "boom", Trace: "trace"}},
		Metadata: map[string]string{"k": "v"},
	}
	applied, _, err := db.JobsCreate(ctx, row).Exec()
	check(t, "JobsCreate", err)
	if !applied {
		t.Fatal("JobsCreate: not applied on a new id")
	}
	applied, cur, err := db.JobsCreate(ctx, row).Exec()
	check(t, "JobsCreate again", err)
	if applied || cur.Version != 1 {
		t.Errorf("JobsCreate again: applied %v, current version %d; want false, 1 (the tested column)", applied, cur.Version)
	}
	got, err := db.JobsGet(ctx, home, shard, row.ID).One()
	check(t, "JobsGet", err)
	if diff := cmp.Diff(row, got); diff != "" {
		t.Errorf("JobsGet mismatch (-want +got):\n%s", diff)
	}
	serial, err := db.JobsGet(ctx, home, shard, row.ID).Consistency(gocql.Consistency(gocql.Serial)).One()
	check(t, "JobsGet at SERIAL", err)
	if serial.Version != 1 {
		t.Errorf("JobsGet at SERIAL: version %d, want 1", serial.Version)
	}
	// The partition is part of the key: the same id elsewhere is no row.
	if _, err := db.JobsGet(ctx, home, shard+1, row.ID).One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("JobsGet in another shard: error %v, want gocql.ErrNotFound", err)
	}
	if _, err := db.JobsGet(ctx, home.Add(time.Minute), shard, row.ID).One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("JobsGet in another home: error %v, want gocql.ErrNotFound", err)
	}

	other := row
	other.ID = jobID(at, 2)
	applied, _, err = db.JobsCreate(ctx, other).Exec()
	check(t, "JobsCreate other", err)
	many, err := db.JobsGetMany(ctx, home, shard, []gocql.UUID{row.ID, other.ID, jobID(at, 3)}).All()
	check(t, "JobsGetMany", err)
	if !applied || len(many) != 2 || many[0].ID != row.ID || many[1].ID != other.ID {
		t.Errorf("JobsGetMany: %d rows, want the two stored, in id order", len(many))
	}

	// JobsCreate leaves empty optional columns out (:unset): a bare job
	// reads back as it was given.
	bare := models.JobsRow{Home: home, Shard: shard, ID: jobID(at, 4), Queue: row.Queue, Type: "t", State: 1, Version: 1,
		CreatedAt: at, ScheduledAt: at, StateChangedAt: at}
	applied, _, err = db.JobsCreate(ctx, bare).Exec()
	check(t, "JobsCreate bare", err)
	got, err = db.JobsGet(ctx, home, shard, bare.ID).One()
	check(t, "JobsGet bare", err)
	if diff := cmp.Diff(bare, got, cmpopts.EquateEmpty()); !applied || diff != "" {
		t.Errorf("a bare job: applied %v, JobsGet mismatch (-want +got):\n%s", applied, diff)
	}
	// JobsWriteKeep leaves empty errors and metadata as they are, and
	// writes the rest.
	kept := other
	kept.Version, kept.State, kept.Errors, kept.Metadata = 2, 3, nil, nil
	applied, _, err = db.JobsWriteKeep(ctx, kept, 60, 1).Exec()
	check(t, "JobsWriteKeep", err)
	got, err = db.JobsGet(ctx, home, shard, other.ID).One()
	check(t, "JobsGet after JobsWriteKeep", err)
	if !applied || got.Version != 2 || got.State != 3 || !cmp.Equal(got.Errors, other.Errors) || !cmp.Equal(got.Metadata, other.Metadata) {
		t.Errorf("after JobsWriteKeep with empty errors and metadata: applied %v, %+v; want version 2, state 3, errors and metadata kept", applied, got)
	}
	kept.Version, kept.Metadata = 3, map[string]string{"k": "w"}
	applied, _, err = db.JobsWriteKeep(ctx, kept, 60, 2).Exec()
	check(t, "JobsWriteKeep with metadata", err)
	got, err = db.JobsGet(ctx, home, shard, other.ID).One()
	check(t, "JobsGet after JobsWriteKeep", err)
	if !applied || got.Version != 3 || got.Metadata["k"] != "w" {
		t.Errorf("after JobsWriteKeep with metadata: applied %v, %+v; want version 3, metadata k=w", applied, got)
	}

	next := row
	next.State, next.Version, next.LastError = 4, 2, "failed"
	applied, _, err = db.JobsWrite(ctx, next, 0, 1).Exec()
	check(t, "JobsWrite", err)
	if !applied {
		t.Error("JobsWrite: not applied on the right version")
	}
	applied, cur, err = db.JobsWrite(ctx, next, 60, 1).Exec()
	check(t, "JobsWrite on a stale version", err)
	if applied || cur.Version != 2 || cur.LastError != "" {
		t.Errorf("JobsWrite on a stale version: applied %v, current %+v; want false with version 2 only", applied, cur)
	}

	token := gocql.TimeUUID()
	applied, _, err = db.JobsClaim(ctx, 2, 3, at, at, "w1", token, at.Add(time.Minute), home, shard, row.ID, 2).Exec()
	check(t, "JobsClaim", err)
	if !applied {
		t.Error("JobsClaim: not applied")
	}
	applied, _, err = db.JobsHeartbeat(ctx, 4, at.Add(2*time.Minute), home, shard, row.ID, 3).Exec()
	check(t, "JobsHeartbeat", err)
	got, err = db.JobsGet(ctx, home, shard, row.ID).One()
	check(t, "JobsGet after the lease", err)
	if !applied || got.Version != 4 || got.State != 2 || got.LeaseOwner != "w1" || got.LeaseToken != token || !got.LeaseUntil.Equal(at.Add(2*time.Minute)) {
		t.Errorf("after JobsClaim and JobsHeartbeat: applied %v, %+v", applied, got)
	}

	if got.Continued {
		t.Error("a job is marked continued before JobsMarkContinued")
	}
	applied, _, err = db.JobsMarkContinued(ctx, 5, home, shard, row.ID, 4).Exec()
	check(t, "JobsMarkContinued", err)
	got, err = db.JobsGet(ctx, home, shard, row.ID).One()
	check(t, "JobsGet after the mark", err)
	if !applied || !got.Continued || got.Version != 5 || got.LeaseToken != token {
		t.Errorf("after JobsMarkContinued: applied %v, %+v; want continued at version 5, the lease kept", applied, got)
	}

	applied, cur, err = db.JobsDelete(ctx, home, shard, row.ID, 3).Exec()
	check(t, "JobsDelete on a stale version", err)
	if applied || cur.Version != 5 {
		t.Errorf("JobsDelete on a stale version: applied %v, current version %d; want false, 5", applied, cur.Version)
	}
	applied, _, err = db.JobsDelete(ctx, home, shard, row.ID, 5).Exec()
	check(t, "JobsDelete", err)
	if _, err := db.JobsGet(ctx, home, shard, row.ID).One(); !applied || !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("after JobsDelete: applied %v, JobsGet error %v; want true, gocql.ErrNotFound", applied, err)
	}
	mark(t, "JobsCreate", "JobsGet", "JobsGetMany", "JobsWrite", "JobsWriteKeep", "JobsClaim", "JobsHeartbeat", "JobsMarkContinued", "JobsDelete")
}

// TestJobsScanQueries reads ranges of ids of one home partition, as a home
// scan does, in a partition that also holds a count log.
func TestJobsScanQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	queue, at := cqltest.Queue(t), now()
	home, shard := at.Truncate(time.Minute), int32(2<<8)
	var rows []models.JobsRow
	for i := range 5 {
		r := models.JobsRow{Home: home, Shard: shard, ID: jobID(at, byte(10+i)), Queue: queue, Type: "t", State: int32(1 + i%2), Version: int64(1 + i),
			CreatedAt: at, ScheduledAt: at.Add(time.Duration(i) * time.Second), StateChangedAt: at, LeaseUntil: at.Add(time.Duration(i) * time.Minute)}
		applied, _, err := db.JobsCreate(ctx, r).Exec()
		check(t, "JobsCreate", err)
		if !applied {
			t.Fatalf("JobsCreate %d: not applied", i)
		}
		rows = append(rows, r)
	}
	// A row of the same ids in the next shard, and a count log entry in the
	// partition: neither is a row of the scan.
	elsewhere := rows[2]
	elsewhere.Shard++
	if applied, _, err := db.JobsCreate(ctx, elsewhere).Exec(); err != nil || !applied {
		t.Fatalf("JobsCreate in the next shard: applied %v, %v", applied, err)
	}
	check(t, "CountLogActive", db.CountLogActive(ctx, gocql.TimeUUID(), map[int32]int32{1: 3, 2: 2}, home, shard).Exec())

	got, err := db.JobsScan(ctx, home, shard, rows[0].ID, rows[4].ID, 100).All()
	check(t, "JobsScan", err)
	if diff := cmp.Diff(rows[1:4], got); diff != "" {
		t.Errorf("JobsScan between the first and the last id (both excluded) mismatch (-want +got):\n%s", diff)
	}
	got, err = db.JobsScan(ctx, home, shard, jobID(at, 0), jobID(at, 255), 2).All()
	check(t, "JobsScan with LIMIT 2", err)
	if diff := cmp.Diff(rows[:2], got); diff != "" {
		t.Errorf("JobsScan with LIMIT 2 mismatch (-want +got):\n%s", diff)
	}
	// Bounds by time: every id of a millisecond lies between the bounds of
	// the milliseconds around it.
	if got, err := db.JobsScan(ctx, home, shard, jobID(at.Add(-time.Millisecond), 0), jobID(at.Add(time.Millisecond), 0), 100).All(); err != nil || len(got) != 5 {
		t.Errorf("JobsScan around the millisecond: %d rows, %v; want 5", len(got), err)
	}

	brief, err := db.JobsScanBrief(ctx, home, shard, rows[0].ID, jobID(at, 255), 100).All()
	check(t, "JobsScanBrief", err)
	var want []queries.JobsScanBriefRow
	for _, r := range rows[1:] {
		want = append(want, queries.JobsScanBriefRow{ID: r.ID, Queue: r.Queue, State: r.State, Version: r.Version, ScheduledAt: r.ScheduledAt, LeaseUntil: r.LeaseUntil})
	}
	if diff := cmp.Diff(want, brief); diff != "" {
		t.Errorf("JobsScanBrief mismatch (-want +got):\n%s", diff)
	}
	if brief, err := db.JobsScanBrief(ctx, home, shard, rows[4].ID, jobID(at, 255), 100).All(); err != nil || len(brief) != 0 {
		t.Errorf("JobsScanBrief after the last id: %+v, %v; want no rows", brief, err)
	}
	mark(t, "JobsScan", "JobsScanBrief")
}

// TestCountLogQueries writes, reads and compacts the count logs of a home
// partition: the active log (static), the static final log an older
// version wrote, and the finish log (clustering rows before every job).
func TestCountLogQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	at := now()
	home, shard := at.Truncate(time.Minute), int32(3<<8|1)
	if _, err := db.CountLogRead(ctx, home, shard).One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("CountLogRead of an empty partition: error %v, want gocql.ErrNotFound", err)
	}
	k1, k2, k3 := gocql.TimeUUID(), gocql.TimeUUID(), gocql.TimeUUID()
	check(t, "CountLogActive", db.CountLogActive(ctx, k1, map[int32]int32{1: 3}, home, shard).Exec())
	check(t, "CountLogActive", db.CountLogActive(ctx, k2, map[int32]int32{1: -1, 2: 1}, home, shard).Exec())
	// No query writes final_log any more; a keyspace an older version
	// wrote holds entries like this one.
	check(t, "final_log entry", cqltest.Session(t).Query("UPDATE jobs USING TTL 3600 SET final_log[?] = ? WHERE home = ? AND shard = ?", nil).
		Bind(k3, map[int32]int32{3: 1}, home, shard).ExecRelease())
	// A job of the partition leaves the log as it is: one read, one log.
	job := models.JobsRow{Home: home, Shard: shard, ID: jobID(at, 1), Queue: "q", Type: "t", State: 2, Version: 1}
	if applied, _, err := db.JobsCreate(ctx, job).Exec(); err != nil || !applied {
		t.Fatalf("JobsCreate: applied %v, %v", applied, err)
	}
	log, err := db.CountLogRead(ctx, home, shard).One()
	check(t, "CountLogRead", err)
	want := queries.CountLogReadRow{
		ActiveLog: map[gocql.UUID]map[int32]int32{k1: {1: 3}, k2: {1: -1, 2: 1}},
		FinalLog:  map[gocql.UUID]map[int32]int32{k3: {3: 1}},
	}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("CountLogRead mismatch (-want +got):\n%s", diff)
	}
	if got, _ := db.JobsGet(ctx, home, shard, job.ID).One(); got.ActiveLog != nil || got.Version != 1 {
		t.Errorf("JobsGet reads the count log or lost the row: %+v", got)
	}

	// Compaction replaces the log by its sum, unless it changed since read.
	sum := map[gocql.UUID]map[int32]int32{gocql.TimeUUID(): {1: 2, 2: 1}}
	applied, _, err := db.CountLogCompact(ctx, sum, home, shard, log.ActiveLog).Exec()
	check(t, "CountLogCompact", err)
	if !applied {
		t.Error("CountLogCompact: not applied over the log it read")
	}
	applied, cur, err := db.CountLogCompact(ctx, map[gocql.UUID]map[int32]int32{gocql.TimeUUID(): {1: 9}}, home, shard, log.ActiveLog).Exec()
	check(t, "CountLogCompact over a stale log", err)
	if applied || !cmp.Equal(sum, cur.ActiveLog) {
		t.Errorf("CountLogCompact over a stale log: applied %v, current %+v; want false with the compacted log %v", applied, cur, sum)
	}
	log, err = db.CountLogRead(ctx, home, shard).One()
	check(t, "CountLogRead after compaction", err)
	if diff := cmp.Diff(queries.CountLogReadRow{ActiveLog: sum, FinalLog: want.FinalLog}, log); diff != "" {
		t.Errorf("CountLogRead after compaction mismatch (-want +got):\n%s", diff)
	}

	// The finish log: rows with version-1 ids, which sort before every job
	// id, so a scan of the partition's jobs never meets them.
	t1, t2 := at.Add(-2*time.Second), at.Add(-time.Second)
	f1, f2 := gocql.UUIDFromTime(t1), gocql.UUIDFromTime(t2)
	a, b := jobID(at, 7), jobID(at, 8)
	check(t, "FinishLogCount", db.FinishLogCount(ctx, 3600, map[int32]int32{5: 1}, home, shard, f1).Exec())
	check(t, "FinishLogJobs", db.FinishLogJobs(ctx, 3600, map[int32]int32{3: 2}, map[gocql.UUID]int64{a: 4, b: 7}, home, shard, f2).Exec())
	end := jobID(time.UnixMilli(0), 0) // the first job id of all
	changes, err := db.FinishLogChanges(ctx, home, shard, end).All()
	check(t, "FinishLogChanges", err)
	wantChanges := []queries.FinishLogChangesRow{{ID: f1, FinalChange: map[int32]int32{5: 1}}, {ID: f2, FinalChange: map[int32]int32{3: 2}}}
	if diff := cmp.Diff(wantChanges, changes); diff != "" {
		t.Errorf("FinishLogChanges mismatch (-want +got):\n%s", diff)
	}
	scanned, err := db.JobsScan(ctx, home, shard, jobID(time.UnixMilli(0), 0), jobID(at.Add(time.Hour), 0), 100).All()
	check(t, "JobsScan", err)
	if len(scanned) != 1 || scanned[0].ID != job.ID || scanned[0].FinalChange != nil {
		t.Errorf("JobsScan of the whole partition = %+v, want the job alone", scanned)
	}
	succ, err := db.FinishLogSucceeded(ctx, home, shard, gocql.MinTimeUUID(t2)).All()
	check(t, "FinishLogSucceeded", err)
	if diff := cmp.Diff([]queries.FinishLogSucceededRow{{ID: f1}}, succ); diff != "" {
		t.Errorf("FinishLogSucceeded before the second row mismatch (-want +got):\n%s", diff)
	}
	succ, err = db.FinishLogSucceeded(ctx, home, shard, end).All()
	check(t, "FinishLogSucceeded", err)
	if len(succ) != 2 || !cmp.Equal(succ[1].SucceededJobs, map[gocql.UUID]int64{a: 4, b: 7}) {
		t.Errorf("FinishLogSucceeded = %+v, want both rows, the second naming %s and %s", succ, a, b)
	}
	other := shard + 1
	check(t, "FinishLogCount", db.FinishLogCount(ctx, 3600, map[int32]int32{6: 1}, home, other, f1).Exec())
	newest, err := db.FinishLogNewest(ctx, home, []int32{shard, other}, end, 1).PageSize(0).All()
	check(t, "FinishLogNewest", err)
	wantNewest := []queries.FinishLogNewestRow{{Shard: shard, ID: f2, SucceededJobs: map[gocql.UUID]int64{a: 4, b: 7}}, {Shard: other, ID: f1}}
	if diff := cmp.Diff(wantNewest, newest); diff != "" {
		t.Errorf("FinishLogNewest mismatch (-want +got):\n%s", diff)
	}

	// A finish-log row leaves with its TTL, as the rows it counts.
	short := gocql.UUIDFromTime(at.Add(-3 * time.Second))
	check(t, "FinishLogCount with a TTL of 2s", db.FinishLogCount(ctx, 2, map[int32]int32{5: 1}, home, shard, short).Exec())
	has := func() bool {
		rows, err := db.FinishLogChanges(ctx, home, shard, end).All()
		check(t, "FinishLogChanges", err)
		return slices.ContainsFunc(rows, func(r queries.FinishLogChangesRow) bool { return r.ID == short })
	}
	if !has() {
		t.Errorf("finish log lacks the row %s before its TTL", short)
	}
	deadline := time.Now().Add(15 * time.Second)
	for has() {
		if time.Now().After(deadline) {
			t.Fatalf("finish log still holds %s 15s after its 2s TTL", short)
		}
		time.Sleep(250 * time.Millisecond)
	}
	mark(t, "CountLogActive", "CountLogRead", "CountLogCompact", "FinishLogCount", "FinishLogJobs", "FinishLogChanges", "FinishLogSucceeded", "FinishLogNewest")
}

func TestHomeBucketQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	queue := cqltest.Queue(t)
	start := now().Truncate(64 * time.Second)
	bucket := func(i int) time.Time { return start.Add(time.Duration(i) * 64 * time.Second) }
	var rows []models.HomeBucketsRow
	for i := range 3 {
		rows = append(rows, models.HomeBucketsRow{Queue: queue, Bucket: bucket(i), WidthMs: 64_000, Shards: 8})
	}
	// A writer with other settings adds its own row for the same bucket.
	rows = append(rows, models.HomeBucketsRow{Queue: queue, Bucket: bucket(1), WidthMs: 128_000, Shards: 4})
	for _, r := range rows {
		check(t, "HomeBucketInsert", db.HomeBucketInsert(ctx, r).Exec())
	}
	check(t, "HomeBucketInsert of another queue", db.HomeBucketInsert(ctx, models.HomeBucketsRow{Queue: queue + "x", Bucket: bucket(1), WidthMs: 64_000, Shards: 8}).Exec())
	got, err := db.HomeBucketsRange(ctx, queue, bucket(1), bucket(2)).All()
	check(t, "HomeBucketsRange", err)
	want := []queries.HomeBucketsRangeRow{{Bucket: bucket(1), WidthMs: 64_000, Shards: 8}, {Bucket: bucket(1), WidthMs: 128_000, Shards: 4}, {Bucket: bucket(2), WidthMs: 64_000, Shards: 8}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HomeBucketsRange mismatch (-want +got):\n%s", diff)
	}
	all, err := db.HomeBucketsAll(ctx, queue).All()
	check(t, "HomeBucketsAll", err)
	if len(all) != 4 || !all[0].Bucket.Equal(bucket(0)) || !all[3].Bucket.Equal(bucket(2)) {
		t.Errorf("HomeBucketsAll = %+v, want the 4 rows, oldest first", all)
	}
	check(t, "HomeBucketDelete", db.HomeBucketDelete(ctx, rows[3]).Exec())
	got, err = db.HomeBucketsRange(ctx, queue, bucket(1), bucket(1)).All()
	check(t, "HomeBucketsRange after HomeBucketDelete", err)
	if diff := cmp.Diff(want[:1], got); diff != "" {
		t.Errorf("after HomeBucketDelete (-want +got):\n%s", diff)
	}
	mark(t, "HomeBucketInsert", "HomeBucketsRange", "HomeBucketsAll", "HomeBucketDelete")
}

func TestDueQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	queue, at := cqltest.Queue(t), now()
	bucket := at.Truncate(time.Minute)
	var want []queries.DueScanRow
	for i := range 5 {
		e := models.ScheduledJobsRow{Queue: queue, Bucket: bucket, Shard: 1, DueAt: at.Add(time.Duration(i) * time.Second), JobID: jobID(at, byte(i))}
		if i == 2 {
			// A lease entry: the range of ids one claim leased.
			e.LastID = jobID(at, 200)
		}
		check(t, "DueInsert", db.DueInsert(ctx, e).Exec())
		want = append(want, queries.DueScanRow{DueAt: e.DueAt, JobID: e.JobID, LastID: e.LastID})
	}
	from, to := at.Add(time.Second), at.Add(3*time.Second)
	rows, err := db.DueScan(ctx, queue, bucket, 1, from, to, 10).All()
	check(t, "DueScan", err)
	if diff := cmp.Diff(want[1:4], rows); diff != "" {
		t.Errorf("DueScan mismatch (-want +got):\n%s", diff)
	}
	if rows, err := db.DueScan(ctx, queue, bucket, 1, from, to, 2).All(); err != nil || len(rows) != 2 {
		t.Errorf("DueScan with LIMIT 2: %d rows, %v", len(rows), err)
	}

	// Every shard of the bucket at once, at most two entries from each: the
	// entries of shard 1 above, and three of shard 3, in a range that takes
	// only the first two of those.
	var want3 []queries.DueScanShardsRow
	for i := range 3 {
		e := models.ScheduledJobsRow{Queue: queue, Bucket: bucket, Shard: 3, DueAt: at.Add(time.Duration(i+1) * time.Second), JobID: jobID(at, byte(100+i))}
		check(t, "DueInsert", db.DueInsert(ctx, e).Exec())
		want3 = append(want3, queries.DueScanShardsRow{Shard: 3, DueAt: e.DueAt, JobID: e.JobID})
	}
	shardRows, err := db.DueScanShards(ctx, queue, bucket, []int32{0, 1, 2, 3}, from, to, 2).All()
	check(t, "DueScanShards", err)
	byShard := map[int32][]queries.DueScanShardsRow{}
	for _, r := range shardRows {
		byShard[r.Shard] = append(byShard[r.Shard], r)
	}
	want1 := []queries.DueScanShardsRow{
		{Shard: 1, DueAt: want[1].DueAt, JobID: want[1].JobID, LastID: want[1].LastID},
		{Shard: 1, DueAt: want[2].DueAt, JobID: want[2].JobID, LastID: want[2].LastID},
	}
	if diff := cmp.Diff(map[int32][]queries.DueScanShardsRow{1: want1, 3: want3[:2]}, byShard); diff != "" {
		t.Errorf("DueScanShards mismatch (-want +got):\n%s", diff)
	}
	check(t, "DueDropPartition", db.DueDropPartition(ctx, queue, bucket, 3).Exec())

	// Pages of two, with their state, and an iterator over all.
	all := func() queries.Rows[queries.DueScanRow] {
		return db.DueScan(ctx, queue, bucket, 1, at, at.Add(time.Hour), 100)
	}
	var paged []queries.DueScanRow
	var state []byte
	for pages := 1; ; pages++ {
		page, next, err := all().Page(2, state)
		check(t, "DueScan page", err)
		paged = append(paged, page...)
		if next == nil {
			if pages != 3 {
				t.Errorf("5 rows in pages of 2: %d pages, want 3", pages)
			}
			break
		}
		state = next
	}
	if diff := cmp.Diff(want, paged); diff != "" {
		t.Errorf("DueScan by pages mismatch (-want +got):\n%s", diff)
	}
	it := all().PageSize(2).Iter()
	var iterated []queries.DueScanRow
	for it.Next() {
		iterated = append(iterated, it.Row())
	}
	check(t, "DueScan iterator", it.Close())
	if diff := cmp.Diff(want, iterated); diff != "" {
		t.Errorf("DueScan iterator mismatch (-want +got):\n%s", diff)
	}

	check(t, "DueDelete", db.DueDelete(ctx, queue, bucket, 1, want[0].DueAt, want[0].JobID).Exec())
	if rows, _ := all().All(); len(rows) != 4 {
		t.Errorf("after DueDelete: %d rows, want 4", len(rows))
	}
	check(t, "DueDropPartition", db.DueDropPartition(ctx, queue, bucket, 1).Exec())
	if rows, _ := all().All(); len(rows) != 0 {
		t.Errorf("after DueDropPartition: %d rows, want 0", len(rows))
	}

	// The bucket directory and the watermark.
	if _, err := db.DueWatermarkGet(ctx, queue).One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("DueWatermarkGet of a new queue: error %v, want gocql.ErrNotFound", err)
	}
	dir := func(i int) models.ScheduledBucketsRow {
		return models.ScheduledBucketsRow{Queue: queue, Bucket: bucket.Add(time.Duration(i) * time.Minute), WidthMs: 60_000, Shards: 8}
	}
	for i := range 3 {
		check(t, "DueBucketInsert", db.DueBucketInsert(ctx, dir(i)).Exec())
	}
	dirs, err := db.DueBucketsRange(ctx, queue, bucket.Add(time.Minute), bucket.Add(time.Hour)).All()
	check(t, "DueBucketsRange", err)
	if len(dirs) != 2 || !dirs[0].Bucket.Equal(bucket.Add(time.Minute)) || dirs[0].WidthMs != 60_000 || dirs[0].Shards != 8 {
		t.Errorf("DueBucketsRange = %+v, want the last two buckets", dirs)
	}
	check(t, "DueBucketDelete", db.DueBucketDelete(ctx, dir(0)).Exec())
	if dirs, _ := db.DueBucketsRange(ctx, queue, bucket, bucket.Add(time.Hour)).All(); len(dirs) != 2 {
		t.Errorf("after DueBucketDelete: %d buckets, want 2", len(dirs))
	}
	wm, err := db.DueWatermarkGet(ctx, queue).One()
	check(t, "DueWatermarkGet", err)
	if !wm.Watermark.IsZero() {
		t.Errorf("watermark before any = %s, want zero (null)", wm.Watermark)
	}
	applied, _, err := db.DueWatermarkInit(ctx, at, queue).Exec()
	check(t, "DueWatermarkInit", err)
	if !applied {
		t.Error("DueWatermarkInit: not applied on a null watermark")
	}
	applied, cur, err := db.DueWatermarkInit(ctx, at.Add(time.Hour), queue).Exec()
	check(t, "DueWatermarkInit again", err)
	if applied || !cur.Watermark.Equal(at) {
		t.Errorf("DueWatermarkInit again: applied %v, current %s; want false, %s", applied, cur.Watermark, at)
	}
	applied, cur, err = db.DueWatermarkAdvance(ctx, at.Add(time.Minute), queue, at.Add(time.Second)).Exec()
	check(t, "DueWatermarkAdvance from a wrong watermark", err)
	if applied || !cur.Watermark.Equal(at) {
		t.Errorf("DueWatermarkAdvance from a wrong watermark: applied %v, current %s", applied, cur.Watermark)
	}
	applied, _, err = db.DueWatermarkAdvance(ctx, at.Add(time.Minute), queue, at).Exec()
	check(t, "DueWatermarkAdvance", err)
	wm, _ = db.DueWatermarkGet(ctx, queue).One()
	if !applied || !wm.Watermark.Equal(at.Add(time.Minute)) {
		t.Errorf("DueWatermarkAdvance: applied %v, watermark %s", applied, wm.Watermark)
	}
	mark(t, "DueInsert", "DueScan", "DueScanShards", "DueDelete", "DueDropPartition", "DueBucketInsert", "DueBucketsRange", "DueBucketDelete",
		"DueWatermarkGet", "DueWatermarkInit", "DueWatermarkAdvance")
}

func TestStateQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	queue, at := cqltest.Queue(t), now()
	bucket := at.Truncate(time.Hour)
	var ids []gocql.UUID
	for i := range 3 {
		e := models.JobsByStateRow{Queue: queue, State: 3, Bucket: bucket, Shard: 0, EnteredAt: at.Add(time.Duration(i) * time.Second), JobID: gocql.TimeUUID()}
		check(t, "StateInsert", db.StateInsert(ctx, e, 3600).Exec())
		ids = append(ids, e.JobID)
	}
	rows, err := db.StateScan(ctx, queue, 3, bucket, 0, at.Add(2*time.Second), 10).All()
	check(t, "StateScan", err)
	if len(rows) != 2 || rows[0].JobID != ids[1] || rows[1].JobID != ids[0] {
		t.Errorf("StateScan = %+v, want the two oldest, newest first", rows)
	}
	check(t, "StateDelete", db.StateDelete(ctx, models.JobsByStateRow{
		Queue: queue, State: 3, Bucket: bucket, Shard: 0, EnteredAt: at, JobID: ids[0]}).Exec())
	if rows, _ := db.StateScan(ctx, queue, 3, bucket, 0, at.Add(time.Hour), 10).All(); len(rows) != 2 {
		t.Errorf("after StateDelete: %d rows, want 2", len(rows))
	}
	check(t, "StateDropPartition", db.StateDropPartition(ctx, queue, 3, bucket, 0).Exec())
	if rows, _ := db.StateScan(ctx, queue, 3, bucket, 0, at.Add(time.Hour), 10).All(); len(rows) != 0 {
		t.Errorf("after StateDropPartition: %d rows, want 0", len(rows))
	}

	for i := range 3 {
		d := models.StateBucketsRow{Queue: queue, State: 3, Bucket: bucket.Add(time.Duration(i) * time.Hour), WidthMs: 3_600_000, Shards: 8}
		check(t, "StateBucketInsert", db.StateBucketInsert(ctx, d, 0).Exec())
	}
	newest, err := db.StateBucketsBefore(ctx, queue, 3, bucket.Add(3*time.Hour), 2).All()
	check(t, "StateBucketsBefore", err)
	oldest, err := db.StateBucketsOldest(ctx, queue, 3, bucket.Add(3*time.Hour), 2).All()
	check(t, "StateBucketsOldest", err)
	if len(newest) != 2 || !newest[0].Bucket.Equal(bucket.Add(2*time.Hour)) || len(oldest) != 2 || !oldest[0].Bucket.Equal(bucket) {
		t.Errorf("StateBucketsBefore = %+v (want newest first), StateBucketsOldest = %+v (want oldest first)", newest, oldest)
	}
	check(t, "StateBucketDelete", db.StateBucketDelete(ctx, models.StateBucketsRow{
		Queue: queue, State: 3, Bucket: bucket, WidthMs: 3_600_000, Shards: 8}).Exec())
	if rows, _ := db.StateBucketsOldest(ctx, queue, 3, bucket.Add(3*time.Hour), 10).All(); len(rows) != 2 {
		t.Errorf("after StateBucketDelete: %d buckets, want 2", len(rows))
	}
	mark(t, "StateInsert", "StateScan", "StateDelete", "StateDropPartition", "StateBucketInsert", "StateBucketsBefore", "StateBucketsOldest", "StateBucketDelete")
}

// TestCountQueries writes and reads the count cells (level 1: a snapshot
// per home partition) and the count hours (level 2: their sum, changed by
// lightweight transaction on gen, with a dirty mark whose latest write wins).
func TestCountQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	queue, at := cqltest.Queue(t), now()
	hour := at.Truncate(time.Hour)
	bucket := func(i int) time.Time { return hour.Add(time.Duration(i) * 64 * time.Second) }
	cells := []models.CountCellsRow{
		{Queue: queue, Hour: hour, Bucket: bucket(0), Shard: 1 << 8, Jobs: map[int32]int64{1: 4, 3: 2}, FoldedAt: at},
		{Queue: queue, Hour: hour, Bucket: bucket(0), Shard: 1<<8 | 1, Jobs: map[int32]int64{1: 1}, FoldedAt: at},
		{Queue: queue, Hour: hour, Bucket: bucket(1), Shard: 1 << 8, Jobs: map[int32]int64{2: 5}, FoldedAt: at},
	}
	for _, c := range cells {
		check(t, "CountCellWrite", db.CountCellWrite(ctx, c).Exec())
	}
	// A fold writes a snapshot: the next one replaces the whole cell.
	cells[0].Jobs, cells[0].FoldedAt = map[int32]int64{3: 6}, at.Add(time.Second)
	check(t, "CountCellWrite again", db.CountCellWrite(ctx, cells[0]).Exec())
	got, err := db.CountCellsOfHour(ctx, queue, hour).All()
	check(t, "CountCellsOfHour", err)
	var want []queries.CountCellsOfHourRow
	for _, c := range cells {
		want = append(want, queries.CountCellsOfHourRow{Bucket: c.Bucket, Shard: c.Shard, Jobs: c.Jobs, FoldedAt: c.FoldedAt})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CountCellsOfHour mismatch (-want +got):\n%s", diff)
	}
	check(t, "CountCellDelete", db.CountCellDelete(ctx, queue, hour, bucket(0), 1<<8|1).Exec())
	if got, err := db.CountCellsOfHour(ctx, queue, hour).All(); err != nil || len(got) != 2 {
		t.Errorf("after CountCellDelete: %d cells, %v; want 2", len(got), err)
	}

	// An hour's sum, created once and then changed by generation.
	if _, err := db.CountHourGet(ctx, queue, hour).One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("CountHourGet of a new hour: error %v, want gocql.ErrNotFound", err)
	}
	first := map[int32]int64{1: 1, 2: 5, 3: 6}
	applied, _, err := db.CountHourCreate(ctx, first, 1, at, queue, hour).Exec()
	check(t, "CountHourCreate", err)
	if !applied {
		t.Error("CountHourCreate: not applied on a new hour")
	}
	applied, cur, err := db.CountHourCreate(ctx, map[int32]int64{1: 9}, 1, at, queue, hour).Exec()
	check(t, "CountHourCreate again", err)
	if applied || cur.Gen != 1 {
		t.Errorf("CountHourCreate again: applied %v, current gen %d; want false, 1", applied, cur.Gen)
	}
	second := map[int32]int64{2: 5, 3: 7}
	applied, _, err = db.CountHourWrite(ctx, second, 2, at.Add(time.Second), queue, hour, 1).Exec()
	check(t, "CountHourWrite", err)
	if !applied {
		t.Error("CountHourWrite: not applied on the generation read")
	}
	applied, cur, err = db.CountHourWrite(ctx, first, 2, at, queue, hour, 1).Exec()
	check(t, "CountHourWrite from an older generation", err)
	if applied || cur.Gen != 2 {
		t.Errorf("CountHourWrite from an older generation: applied %v, current gen %d; want false, 2", applied, cur.Gen)
	}
	h, err := db.CountHourGet(ctx, queue, hour).One()
	check(t, "CountHourGet", err)
	if diff := cmp.Diff(queries.CountHourGetRow{Jobs: second, Gen: 2, FoldedAt: at.Add(time.Second)}, h); diff != "" {
		t.Errorf("CountHourGet mismatch (-want +got):\n%s", diff)
	}

	// Dirty marks of another hour: the latest wins, whatever order they
	// arrive in (each is written at its own time as its timestamp).
	next := hour.Add(time.Hour)
	later, earlier := at.Add(3*time.Second), at.Add(2*time.Second)
	check(t, "CountHourDirty", db.CountHourDirty(ctx, later.UnixMicro(), later, queue, next).Exec())
	check(t, "CountHourDirty with an earlier mark", db.CountHourDirty(ctx, earlier.UnixMicro(), earlier, queue, next).Exec())
	hours, err := db.CountHoursRead(ctx, queue).All()
	check(t, "CountHoursRead", err)
	wantHours := []queries.CountHoursReadRow{
		{Hour: hour, Jobs: second, Gen: 2, FoldedAt: at.Add(time.Second)},
		{Hour: next, DirtyUntil: later},
	}
	if diff := cmp.Diff(wantHours, hours); diff != "" {
		t.Errorf("CountHoursRead mismatch (-want +got):\n%s", diff)
	}

	applied, cur, err = db.CountHourDelete(ctx, queue, hour, 1).Exec()
	check(t, "CountHourDelete from an older generation", err)
	if applied || cur.Gen != 2 {
		t.Errorf("CountHourDelete from an older generation: applied %v, current gen %d; want false, 2", applied, cur.Gen)
	}
	applied, _, err = db.CountHourDelete(ctx, queue, hour, 2).Exec()
	check(t, "CountHourDelete", err)
	if _, err := db.CountHourGet(ctx, queue, hour).One(); !applied || !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("after CountHourDelete: applied %v, CountHourGet error %v; want true, gocql.ErrNotFound", applied, err)
	}
	mark(t, "CountCellWrite", "CountCellsOfHour", "CountCellDelete", "CountHourGet", "CountHourCreate", "CountHourWrite",
		"CountHourDirty", "CountHoursRead", "CountHourDelete")
}

func TestBatchAndContinuationQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	batch, at := gocql.TimeUUID(), now()
	check(t, "BatchCreate", db.BatchCreate(ctx, at, 2, batch).Exec())
	jobs := []gocql.UUID{gocql.TimeUUID(), gocql.TimeUUID()}
	for _, j := range jobs {
		check(t, "BatchJobInsert", db.BatchJobInsert(ctx, batch, j).Exec())
	}
	check(t, "BatchJobFinished", db.BatchJobFinished(ctx, models.BatchJobsRow{BatchID: batch, JobID: jobs[0], FinishedState: 3}).Exec())
	rows, err := db.BatchJobsList(ctx, batch).All()
	check(t, "BatchJobsList", err)
	want := []queries.BatchJobsListRow{{JobID: jobs[0], FinishedState: 3, CreatedAt: at, Size: 2}, {JobID: jobs[1], CreatedAt: at, Size: 2}}
	slices.SortFunc(want, func(a, b queries.BatchJobsListRow) int { return strings.Compare(a.JobID.String(), b.JobID.String()) })
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("BatchJobsList mismatch (-want +got):\n%s", diff)
	}
	check(t, "BatchJobDelete", db.BatchJobDelete(ctx, batch, jobs[1]).Exec())
	if rows, _ := db.BatchJobsList(ctx, batch).All(); len(rows) != 1 {
		t.Errorf("after BatchJobDelete: %d rows, want 1", len(rows))
	}

	parent, other := gocql.TimeUUID(), gocql.TimeUUID()
	for _, j := range jobs {
		c := models.JobContinuationsRow{ParentID: parent, JobID: j}
		check(t, "ContinuationInsert", db.ContinuationInsert(ctx, c).Exec())
	}
	check(t, "ContinuationInsert", db.ContinuationInsert(ctx, models.JobContinuationsRow{ParentID: other, JobID: jobs[0]}).Exec())
	many, err := db.ContinuationsListMany(ctx, []gocql.UUID{parent, other, gocql.TimeUUID()}).All()
	check(t, "ContinuationsListMany", err)
	wantMany := []models.JobContinuationsRow{{ParentID: parent, JobID: jobs[0]}, {ParentID: parent, JobID: jobs[1]}, {ParentID: other, JobID: jobs[0]}}
	byKey := func(a, b models.JobContinuationsRow) int {
		if c := strings.Compare(a.ParentID.String(), b.ParentID.String()); c != 0 {
			return c
		}
		return strings.Compare(a.JobID.String(), b.JobID.String())
	}
	slices.SortFunc(wantMany, byKey)
	slices.SortFunc(many, byKey)
	if diff := cmp.Diff(wantMany, many); diff != "" {
		t.Errorf("ContinuationsListMany mismatch (-want +got):\n%s", diff)
	}
	children, err := db.ContinuationsList(ctx, parent).All()
	check(t, "ContinuationsList", err)
	if len(children) != 2 {
		t.Errorf("ContinuationsList = %+v, want 2", children)
	}
	check(t, "ContinuationDelete", db.ContinuationDelete(ctx, models.JobContinuationsRow{ParentID: parent, JobID: jobs[0]}).Exec())
	if children, _ := db.ContinuationsList(ctx, parent).All(); len(children) != 1 || children[0].JobID != jobs[1] {
		t.Errorf("after ContinuationDelete: %+v", children)
	}
	mark(t, "BatchCreate", "BatchJobInsert", "BatchJobFinished", "BatchJobsList", "BatchJobDelete", "ContinuationInsert", "ContinuationsList",
		"ContinuationsListMany", "ContinuationDelete")
}

func TestRecurringQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	shard, at := int32(1000+time.Now().Nanosecond()%1000), now()
	rj := models.RecurringJobsRow{Shard: shard, ID: "nightly", Queue: "q", Cron: "0 3 * * *", Timezone: "Europe/Paris", Type: "report",
		Args: []byte("{}"), MaxRetries: 2, Metadata: map[string]string{"a": "b"}, CreatedAt: at, UpdatedAt: at, NextRunAt: at.Add(time.Hour)}
	check(t, "RecurringUpsert", db.RecurringUpsert(ctx, rj.Shard, rj.ID, rj.Queue, rj.Cron, rj.Timezone, rj.Type, rj.Args, rj.MaxRetries,
		rj.Metadata, rj.CreatedAt, rj.UpdatedAt, rj.NextRunAt, rj.LastRunAt, rj.LastJobID).Exec())
	got, err := db.RecurringGet(ctx, shard, "nightly").One()
	check(t, "RecurringGet", err)
	if diff := cmp.Diff(rj, got); diff != "" {
		t.Errorf("RecurringGet mismatch (-want +got):\n%s", diff)
	}
	job := gocql.TimeUUID()
	check(t, "RecurringAdvance", db.RecurringAdvance(ctx, at.Add(2*time.Hour), at.Add(time.Hour), job, shard, "nightly").Exec())
	list, err := db.RecurringList(ctx, shard).All()
	check(t, "RecurringList", err)
	if len(list) != 1 || list[0].LastJobID != job || !list[0].NextRunAt.Equal(at.Add(2*time.Hour)) || list[0].Cron != rj.Cron {
		t.Errorf("RecurringList after RecurringAdvance = %+v", list)
	}
	check(t, "RecurringPause", db.RecurringPause(ctx, true, at, shard, "nightly").Exec())
	if got, err := db.RecurringGet(ctx, shard, "nightly").One(); err != nil || !got.Paused || !got.PausedAt.Equal(at) {
		t.Errorf("RecurringGet after RecurringPause = %+v, %v", got, err)
	}
	check(t, "RecurringResume", db.RecurringResume(ctx, false, at.Add(time.Minute), at.Add(time.Minute), at.Add(3*time.Hour), shard, "nightly").Exec())
	check(t, "RecurringTriggered", db.RecurringTriggered(ctx, at.Add(2*time.Minute), job, shard, "nightly").Exec())
	if got, err := db.RecurringGet(ctx, shard, "nightly").One(); err != nil || got.Paused || !got.SkipUntil.Equal(at.Add(time.Minute)) ||
		!got.NextRunAt.Equal(at.Add(3*time.Hour)) || got.TriggeredJobID != job || got.Cron != rj.Cron {
		t.Errorf("RecurringGet after RecurringResume and RecurringTriggered = %+v, %v", got, err)
	}
	check(t, "RecurringDelete", db.RecurringDelete(ctx, shard, "nightly").Exec())
	if _, err := db.RecurringGet(ctx, shard, "nightly").One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("RecurringGet after RecurringDelete: %v, want gocql.ErrNotFound", err)
	}

	mark(t, "RecurringUpsert", "RecurringGet", "RecurringAdvance", "RecurringList", "RecurringDelete", "RecurringPause", "RecurringResume",
		"RecurringTriggered")
}

// TestUniqueKeyQueries claims, takes over and gives back a unique key as
// the store does: every write a lightweight transaction on the holder.
func TestUniqueKeyQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	at := now()
	key := []byte("key-" + time.Now().Format(time.RFC3339Nano))
	a, b := gocql.TimeUUID(), gocql.TimeUUID()
	applied, _, err := db.UniqueClaim(ctx, models.UniqueKeysRow{Key: key, JobID: a, ClaimedAt: at}, 0).Exec()
	check(t, "UniqueClaim", err)
	if !applied {
		t.Fatal("UniqueClaim of a free key did not apply")
	}
	applied, cur, err := db.UniqueClaim(ctx, models.UniqueKeysRow{Key: key, JobID: b, ClaimedAt: at}, 60).Exec()
	check(t, "UniqueClaim of a held key", err)
	if applied || cur.JobID != a || !cur.ClaimedAt.Equal(at) {
		t.Errorf("UniqueClaim of a held key: applied %v, current %+v; want the holder %s", applied, cur, a)
	}
	applied, cur, err = db.UniqueTakeOver(ctx, models.UniqueKeysRow{Key: key, JobID: b, ClaimedAt: at}, 60, b).Exec()
	check(t, "UniqueTakeOver on the wrong holder", err)
	if applied || cur.JobID != a {
		t.Errorf("UniqueTakeOver on the wrong holder: applied %v, current %+v", applied, cur)
	}
	applied, _, err = db.UniqueTakeOver(ctx, models.UniqueKeysRow{Key: key, JobID: b, ClaimedAt: at}, 60, a).Exec()
	check(t, "UniqueTakeOver", err)
	if got, err := db.UniqueGet(ctx, key).One(); !applied || err != nil || got.JobID != b {
		t.Errorf("UniqueGet after UniqueTakeOver = %+v, %v (applied %v); want holder %s", got, err, applied, b)
	}
	if applied, _, err := db.UniqueRelease(ctx, key, a).Exec(); err != nil || applied {
		t.Errorf("UniqueRelease by a job that does not hold the key: applied %v, %v", applied, err)
	}
	applied, _, err = db.UniqueRelease(ctx, key, b).Exec()
	check(t, "UniqueRelease", err)
	if _, err := db.UniqueGet(ctx, key).One(); !applied || !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("UniqueGet after UniqueRelease: %v (applied %v), want gocql.ErrNotFound", err, applied)
	}
	mark(t, "UniqueClaim", "UniqueTakeOver", "UniqueRelease", "UniqueGet")
}

// TestQueueQueries registers queues with numbers, as the store does (a
// number taken by lightweight transaction, then the queue's row), and
// passes the count sweeper's lease around.
func TestQueueQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	shard, at := int32(1000+time.Now().Nanosecond()%1000), now()

	number := int32(1 + time.Now().Nanosecond()%(1<<20-1))
	if _, err := db.QueueNumberGet(ctx, number).One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("QueueNumberGet of a free number: error %v, want gocql.ErrNotFound", err)
	}
	applied, _, err := db.QueueNumberTake(ctx, models.QueueNumbersRow{Number: number, Name: "b"}).Exec()
	check(t, "QueueNumberTake", err)
	if !applied {
		t.Error("QueueNumberTake: not applied on a free number")
	}
	applied, taken, err := db.QueueNumberTake(ctx, models.QueueNumbersRow{Number: number, Name: "a"}).Exec()
	check(t, "QueueNumberTake of a taken number", err)
	if applied || taken.Name != "b" || taken.Number != number {
		t.Errorf("QueueNumberTake of a taken number: applied %v, current %+v; want false, the number's owner b", applied, taken)
	}
	owner, err := db.QueueNumberGet(ctx, number).One()
	check(t, "QueueNumberGet", err)
	if owner.Name != "b" {
		t.Errorf("QueueNumberGet = %q, want b", owner.Name)
	}

	applied, _, err = db.QueueCreate(ctx, shard, "b", number, at).Exec()
	check(t, "QueueCreate", err)
	if !applied {
		t.Error("QueueCreate: not applied on a new queue")
	}
	applied, cur, err := db.QueueCreate(ctx, shard, "b", number+1, at.Add(time.Second)).Exec()
	check(t, "QueueCreate again", err)
	if applied || cur.Number != number || !cur.CreatedAt.Equal(at) {
		t.Errorf("QueueCreate again: applied %v, current %+v; want false, the first number %d", applied, cur, number)
	}
	if applied, _, err := db.QueueCreate(ctx, shard, "a", number+2, at).Exec(); err != nil || !applied {
		t.Errorf("QueueCreate a: applied %v, %v", applied, err)
	}
	queues, err := db.QueuesList(ctx, shard).All()
	check(t, "QueuesList", err)
	if diff := cmp.Diff([]queries.QueuesListRow{{Name: "a", Number: number + 2, CreatedAt: at}, {Name: "b", Number: number, CreatedAt: at}}, queues); diff != "" {
		t.Errorf("QueuesList mismatch (-want +got):\n%s", diff)
	}

	// The sweeper's lease: the first take needs no lease yet (a null
	// sweep_until is not before any time), later ones an expired lease.
	applied, _, err = db.QueueSweepTake(ctx, "p1", at.Add(time.Minute), shard, "b", at).Exec()
	check(t, "QueueSweepTake of a queue never swept", err)
	if applied {
		t.Error("QueueSweepTake applied on a null sweep_until; QueueSweepTakeFirst is the statement for it")
	}
	applied, _, err = db.QueueSweepTakeFirst(ctx, "p1", at.Add(time.Minute), shard, "b").Exec()
	check(t, "QueueSweepTakeFirst", err)
	if !applied {
		t.Error("QueueSweepTakeFirst: not applied on a queue never swept")
	}
	applied, cur, err = db.QueueSweepTakeFirst(ctx, "p2", at.Add(time.Minute), shard, "b").Exec()
	check(t, "QueueSweepTakeFirst again", err)
	if applied || !cur.SweepUntil.Equal(at.Add(time.Minute)) {
		t.Errorf("QueueSweepTakeFirst again: applied %v, current %+v; want false, p1's lease", applied, cur)
	}
	applied, _, err = db.QueueSweepTake(ctx, "p2", at.Add(2*time.Minute), shard, "b", at.Add(30*time.Second)).Exec()
	check(t, "QueueSweepTake of a held lease", err)
	if applied {
		t.Error("QueueSweepTake: applied while p1's lease runs")
	}
	applied, cur, err = db.QueueSweepDone(ctx, at, at.Add(10*time.Second), shard, "b", "p2").Exec()
	check(t, "QueueSweepDone by another", err)
	if applied || cur.Sweeper != "p1" {
		t.Errorf("QueueSweepDone by another: applied %v, current %+v; want false, sweeper p1", applied, cur)
	}
	applied, _, err = db.QueueSweepDone(ctx, at, at.Add(10*time.Second), shard, "b", "p1").Exec()
	check(t, "QueueSweepDone", err)
	if !applied {
		t.Error("QueueSweepDone: not applied by the lease holder")
	}
	applied, _, err = db.QueueSweepTake(ctx, "p2", at.Add(3*time.Minute), shard, "b", at.Add(time.Second)).Exec()
	check(t, "QueueSweepTake of an expired lease", err)
	if !applied {
		t.Error("QueueSweepTake: not applied on an expired lease")
	}
	q, err := db.QueueGet(ctx, shard, "b").One()
	check(t, "QueueGet", err)
	if diff := cmp.Diff(queries.QueueGetRow{Name: "b", Number: number, CreatedAt: at, SweptAt: at.Add(10 * time.Second)}, q); diff != "" {
		t.Errorf("QueueGet mismatch (-want +got):\n%s", diff)
	}

	// Pause and resume: only a queue that exists.
	applied, _, err = db.QueueSetPaused(ctx, true, at, shard, "b").Exec()
	check(t, "QueueSetPaused", err)
	if !applied {
		t.Error("QueueSetPaused: not applied on an existing queue")
	}
	applied, _, err = db.QueueSetPaused(ctx, true, at, shard, "missing").Exec()
	check(t, "QueueSetPaused of a missing queue", err)
	if applied {
		t.Error("QueueSetPaused applied on a queue that does not exist")
	}
	paused, err := db.QueuesPaused(ctx, shard).All()
	check(t, "QueuesPaused", err)
	if diff := cmp.Diff([]queries.QueuesPausedRow{{Name: "a"}, {Name: "b", Paused: true}}, paused); diff != "" {
		t.Errorf("QueuesPaused mismatch (-want +got):\n%s", diff)
	}
	among, err := db.QueuesPausedAmong(ctx, shard, []string{"b", "nope"}).All()
	check(t, "QueuesPausedAmong", err)
	if diff := cmp.Diff([]queries.QueuesPausedAmongRow{{Name: "b", Paused: true}}, among); diff != "" {
		t.Errorf("QueuesPausedAmong mismatch (-want +got):\n%s", diff)
	}
	if _, _, err = db.QueueSetPaused(ctx, false, at.Add(time.Second), shard, "b").Exec(); err != nil {
		t.Fatalf("QueueSetPaused false: %v", err)
	}
	queues, err = db.QueuesList(ctx, shard).All()
	check(t, "QueuesList after a resume", err)
	if len(queues) != 2 || queues[1].Paused || !queues[1].PausedAt.Equal(at.Add(time.Second)) {
		t.Errorf("QueuesList after a resume = %+v, want b not paused, changed at %v", queues, at.Add(time.Second))
	}

	mark(t, "QueueNumberTake", "QueueNumberGet", "QueueCreate", "QueuesList", "QueueSweepTake", "QueueSweepTakeFirst", "QueueSweepDone", "QueueGet", "QueueSetPaused", "QueuesPaused", "QueuesPausedAmong")
}

// TestProcessorQueries writes a processor's row with a TTL, lists it and
// deletes it.
func TestProcessorQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	shard, at := int32(1000+time.Now().Nanosecond()%1000), now()

	row := models.ProcessorsRow{Shard: shard, Owner: "p1", Host: "h", Pid: 7, Version: "v1", Queues: map[string]int32{"a": 4}, Running: map[string]int32{"a": 1}, StartedAt: at, LastSeen: at, ExpiresAt: at.Add(30 * time.Second)}
	check(t, "ProcessorReport", db.ProcessorReport(ctx, row, 30).Exec())
	list, err := db.ProcessorsList(ctx, shard).All()
	check(t, "ProcessorsList", err)
	if diff := cmp.Diff([]models.ProcessorsRow{row}, list); diff != "" {
		t.Errorf("ProcessorsList mismatch (-want +got):\n%s", diff)
	}
	check(t, "ProcessorDelete", db.ProcessorDelete(ctx, shard, "p1").Exec())
	list, err = db.ProcessorsList(ctx, shard).All()
	check(t, "ProcessorsList after ProcessorDelete", err)
	if len(list) != 0 {
		t.Errorf("ProcessorsList after ProcessorDelete = %+v, want none", list)
	}
	mark(t, "ProcessorReport", "ProcessorsList", "ProcessorDelete")
}

// TestBatches sends the batches the store uses: unlogged writes to one
// partition, and conditional batches on one partition, applied and not
// applied (with the current values), mixing conditions with unconditional
// statements: job changes with a count log entry, a watermark with
// directory rows.
func TestBatches(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := newDB(t)
	queue, at := cqltest.Queue(t), now()
	bucket := at.Truncate(time.Minute)

	b := db.NewBatch(ctx, gocql.UnloggedBatch)
	for i := range 3 {
		b.DueInsert(models.ScheduledJobsRow{Queue: queue, Bucket: bucket, Shard: 2, DueAt: at.Add(time.Duration(i) * time.Millisecond), JobID: gocql.TimeUUID()})
	}
	if b.Size() != 3 {
		t.Errorf("Size() = %d, want 3", b.Size())
	}
	check(t, "unlogged batch", b.Exec())
	if rows, _ := db.DueScan(ctx, queue, bucket, 2, at, at.Add(time.Second), 10).All(); len(rows) != 3 {
		t.Errorf("after the unlogged batch: %d rows, want 3", len(rows))
	}

	// Conditional batches on one home partition, as the store sends them:
	// the rows' statements, each conditioned on its version, and one entry
	// of the partition's count log, in one Paxos round.
	home, shard := bucket, int32(4<<8|7)
	job := func(n byte) models.JobsRow {
		return models.JobsRow{Home: home, Shard: shard, ID: jobID(at, n), Queue: queue, Type: "t", State: 1, Version: 1, CreatedAt: at, ScheduledAt: at, StateChangedAt: at}
	}
	readLog := func(what string) map[gocql.UUID]map[int32]int32 {
		t.Helper()
		log, err := db.CountLogRead(ctx, home, shard).One()
		check(t, what, err)
		return log.ActiveLog
	}
	created := gocql.TimeUUID()
	jb := db.NewJobsBatch(ctx, gocql.UnloggedBatch)
	for n := range byte(3) {
		jb.JobsCreate(job(n))
	}
	jb.CountLogActive(created, map[int32]int32{1: 3}, home, shard)
	if jb.Size() != 4 {
		t.Errorf("Size() = %d, want 4", jb.Size())
	}
	applied, current, err := jb.ExecCAS()
	check(t, "conditional batch of creates", err)
	if !applied || len(current) != 0 {
		t.Errorf("conditional batch of creates: applied %v, current %+v; want applied, no rows", applied, current)
	}
	if rows, err := db.JobsScan(ctx, home, shard, jobID(at.Add(-time.Millisecond), 0), jobID(at, 255), 10).All(); err != nil || len(rows) != 3 {
		t.Errorf("after the creates: %d rows, %v; want 3", len(rows), err)
	}
	if diff := cmp.Diff(map[gocql.UUID]map[int32]int32{created: {1: 3}}, readLog("CountLogRead after the creates")); diff != "" {
		t.Errorf("count log after the creates (-want +got):\n%s", diff)
	}

	// Two claims, one on a stale version: nothing applies, neither claim
	// nor log entry, and the result names every row a condition tested.
	jb = db.NewJobsBatch(ctx, gocql.UnloggedBatch)
	jb.JobsClaim(2, 2, at, at, "w", gocql.TimeUUID(), at.Add(time.Minute), home, shard, jobID(at, 0), 1)
	jb.JobsClaim(2, 2, at, at, "w", gocql.TimeUUID(), at.Add(time.Minute), home, shard, jobID(at, 1), 7)
	jb.CountLogActive(gocql.TimeUUID(), map[int32]int32{1: -2, 2: 2}, home, shard)
	applied, current, err = jb.ExecCAS()
	check(t, "conditional batch with a failing condition", err)
	versions := map[gocql.UUID]int64{}
	for _, r := range current {
		versions[r.ID] = r.Version
	}
	if applied || len(current) != 2 || versions[jobID(at, 0)] != 1 || versions[jobID(at, 1)] != 1 {
		t.Errorf("failing condition: applied %v, current %+v; want not applied, both rows at version 1", applied, current)
	}
	if got, _ := db.JobsGet(ctx, home, shard, jobID(at, 0)).One(); got.Version != 1 || got.State != 1 || got.LeaseOwner != "" {
		t.Errorf("a batch whose condition failed changed a job: %+v", got)
	}
	if log := readLog("CountLogRead after the failed batch"); len(log) != 1 {
		t.Errorf("a batch whose condition failed added to the count log: %v", log)
	}

	// A create of an id that exists, with a new one: the existing row comes
	// back at its version, and the new job is not created. Cassandra returns
	// only the tested rows that exist: the row the other create would have
	// made is not in current.
	jb = db.NewJobsBatch(ctx, gocql.UnloggedBatch)
	jb.JobsCreate(job(2))
	jb.JobsCreate(job(3))
	jb.CountLogActive(gocql.TimeUUID(), map[int32]int32{1: 2}, home, shard)
	applied, current, err = jb.ExecCAS()
	check(t, "conditional batch creating an existing job", err)
	if applied || len(current) != 1 || current[0].ID != jobID(at, 2) || current[0].Version != 1 {
		t.Errorf("creating an existing job: applied %v, current %+v; want not applied, only the existing row, at version 1", applied, current)
	}
	if _, err := db.JobsGet(ctx, home, shard, jobID(at, 3)).One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("the new job of a batch that did not apply: error %v, want gocql.ErrNotFound", err)
	}

	// The claims on the right versions apply together with their entry.
	claimed := gocql.TimeUUID()
	jb = db.NewJobsBatch(ctx, gocql.UnloggedBatch)
	for n := range byte(2) {
		jb.JobsClaim(2, 2, at, at, "w", gocql.TimeUUID(), at.Add(time.Minute), home, shard, jobID(at, n), 1)
	}
	jb.CountLogActive(claimed, map[int32]int32{1: -2, 2: 2}, home, shard)
	applied, current, err = jb.ExecCAS()
	check(t, "conditional batch of claims", err)
	if !applied || len(current) != 0 {
		t.Errorf("conditional batch of claims: applied %v, current %+v; want applied", applied, current)
	}
	jobs, err := db.JobsGetMany(ctx, home, shard, []gocql.UUID{jobID(at, 0), jobID(at, 1), jobID(at, 2)}).All()
	check(t, "JobsGetMany after the claims", err)
	var states []int32
	for _, j := range jobs {
		states = append(states, j.State)
	}
	if diff := cmp.Diff([]int32{2, 2, 1}, states); diff != "" {
		t.Errorf("states after the claims (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[gocql.UUID]map[int32]int32{created: {1: 3}, claimed: {1: -2, 2: 2}}, readLog("CountLogRead after the claims")); diff != "" {
		t.Errorf("count log after the claims (-want +got):\n%s", diff)
	}

	// A condition and unconditional statements on one partition of the
	// bucket directory: all or nothing.
	check(t, "DueWatermarkInit", func() error {
		_, _, err := db.DueWatermarkInit(ctx, at, queue).Exec()
		return err
	}())
	dir := func(i int) models.ScheduledBucketsRow {
		return models.ScheduledBucketsRow{Queue: queue, Bucket: bucket.Add(time.Duration(i) * time.Minute), WidthMs: 60_000, Shards: 4}
	}
	mixed := db.NewScheduledBucketsBatch(ctx, gocql.LoggedBatch)
	mixed.DueWatermarkAdvance(at.Add(time.Minute), queue, at)
	mixed.DueBucketInsert(dir(10))
	mixed.DueBucketInsert(dir(11))
	applied, dirCurrent, err := mixed.ExecCAS()
	check(t, "mixed batch", err)
	if !applied || len(dirCurrent) != 0 {
		t.Errorf("mixed batch: applied %v, current %+v; want applied", applied, dirCurrent)
	}
	mixed = db.NewScheduledBucketsBatch(ctx, gocql.LoggedBatch)
	mixed.DueWatermarkAdvance(at.Add(time.Hour), queue, at)
	mixed.DueBucketInsert(dir(12))
	applied, dirCurrent, err = mixed.ExecCAS()
	check(t, "mixed batch with a failing condition", err)
	if applied || len(dirCurrent) == 0 || dirCurrent[0].Queue != queue || !dirCurrent[0].Watermark.Equal(at.Add(time.Minute)) {
		t.Errorf("mixed batch with a failing condition: applied %v, current %+v; want not applied, watermark %s", applied, dirCurrent, at.Add(time.Minute))
	}
	dirs, err := db.DueBucketsRange(ctx, queue, bucket, bucket.Add(time.Hour)).All()
	check(t, "DueBucketsRange", err)
	var starts []int
	for _, d := range dirs {
		starts = append(starts, int(d.Bucket.Sub(bucket)/time.Minute))
	}
	sort.Ints(starts)
	if diff := cmp.Diff([]int{10, 11}, starts); diff != "" {
		t.Errorf("bucket rows after the mixed batches (-want +got):\n%s", diff)
	}
}

// roundTripTests is the number of tests above that call mark.
const roundTripTests = 12

// TestPagingQueries runs the reads of keyset paging: every shard of an
// index bucket in one statement, the tie reads (rows at one time after a
// job id), and the directories from a bucket on, a page at a time.
func TestPagingQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	queue, at := cqltest.Queue(t), now()
	bucket := at.Truncate(time.Hour)
	// Three rows at one instant and one older, on shards 0 and 1.
	var tied []gocql.UUID
	for i := range 3 {
		e := models.JobsByStateRow{Queue: queue, State: 0, Bucket: bucket, Shard: int32(i % 2), EnteredAt: at, JobID: jobID(at, byte(i+1))}
		check(t, "StateInsert", db.StateInsert(ctx, e, 0).Exec())
		tied = append(tied, e.JobID)
	}
	older := models.JobsByStateRow{Queue: queue, State: 0, Bucket: bucket, Shard: 1, EnteredAt: at.Add(-time.Second), JobID: jobID(at, 9)}
	check(t, "StateInsert", db.StateInsert(ctx, older, 0).Exec())
	tie, err := db.StateScanShardsTie(ctx, queue, 0, bucket, []int32{0, 1}, at, tied[0], 10).All()
	check(t, "StateScanShardsTie", err)
	want := []queries.StateScanShardsTieRow{{Shard: 0, EnteredAt: at, JobID: tied[2]}, {Shard: 1, EnteredAt: at, JobID: tied[1]}}
	if diff := cmp.Diff(want, tie); diff != "" {
		t.Errorf("StateScanShardsTie mismatch (-want +got):\n%s", diff)
	}
	rest, err := db.StateScanShards(ctx, queue, 0, bucket, []int32{0, 1}, at.Add(time.Millisecond), 1).All()
	check(t, "StateScanShards", err)
	wantRest := []queries.StateScanShardsRow{{Shard: 0, EnteredAt: at, JobID: tied[0]}, {Shard: 1, EnteredAt: at, JobID: tied[1]}}
	if diff := cmp.Diff(wantRest, rest); diff != "" {
		t.Errorf("StateScanShards (one per partition) mismatch (-want +got):\n%s", diff)
	}

	due := bucket.Add(time.Minute)
	for i := range 3 {
		e := models.ScheduledJobsRow{Queue: queue, Bucket: bucket, Shard: int32(i % 2), DueAt: due, JobID: jobID(at, byte(i+1))}
		if i == 2 {
			e.LastID = jobID(at, 7)
		}
		check(t, "DueInsert", db.DueInsert(ctx, e).Exec())
	}
	dueTie, err := db.DueScanShardsTie(ctx, queue, bucket, []int32{0, 1}, due, jobID(at, 1), 10).All()
	check(t, "DueScanShardsTie", err)
	wantDue := []queries.DueScanShardsTieRow{{Shard: 0, DueAt: due, JobID: jobID(at, 3), LastID: jobID(at, 7)}, {Shard: 1, DueAt: due, JobID: jobID(at, 2)}}
	if diff := cmp.Diff(wantDue, dueTie); diff != "" {
		t.Errorf("DueScanShardsTie mismatch (-want +got):\n%s", diff)
	}

	for i := range 4 {
		check(t, "DueBucketInsert", db.DueBucketInsert(ctx, models.ScheduledBucketsRow{Queue: queue, Bucket: bucket.Add(time.Duration(i) * time.Minute), WidthMs: 60_000, Shards: 8}).Exec())
		check(t, "HomeBucketInsert", db.HomeBucketInsert(ctx, models.HomeBucketsRow{Queue: queue, Bucket: bucket.Add(time.Duration(i) * 64 * time.Second), WidthMs: 64_000, Shards: 8}).Exec())
	}
	dirs, err := db.DueBucketsFrom(ctx, queue, bucket.Add(time.Minute), 2).All()
	check(t, "DueBucketsFrom", err)
	if len(dirs) != 2 || !dirs[0].Bucket.Equal(bucket.Add(time.Minute)) || !dirs[1].Bucket.Equal(bucket.Add(2*time.Minute)) {
		t.Errorf("DueBucketsFrom = %+v, want the buckets at 1 and 2 minutes", dirs)
	}
	homes, err := db.HomeBucketsFrom(ctx, queue, bucket.Add(64*time.Second), 10).All()
	check(t, "HomeBucketsFrom", err)
	if len(homes) != 3 || !homes[0].Bucket.Equal(bucket.Add(64*time.Second)) {
		t.Errorf("HomeBucketsFrom = %+v, want the last three buckets, oldest first", homes)
	}
	before, err := db.HomeBucketsBefore(ctx, queue, bucket.Add(3*64*time.Second), 2).All()
	check(t, "HomeBucketsBefore", err)
	if len(before) != 2 || !before[0].Bucket.Equal(bucket.Add(2*64*time.Second)) || !before[1].Bucket.Equal(bucket.Add(64*time.Second)) {
		t.Errorf("HomeBucketsBefore = %+v, want the buckets at 128 s and 64 s, newest first", before)
	}
	mark(t, "StateScanShards", "StateScanShardsTie", "DueScanShardsTie", "DueBucketsFrom", "HomeBucketsFrom", "HomeBucketsBefore")
}

// TestEveryQueryRan fails when a query of schema/queries.cql has no round
// trip above: every method of DB that runs a query must have run.
func TestEveryQueryRan(t *testing.T) {
	// The tests above are not parallel, so they have all run by now, unless
	// -run left some out.
	ran.Lock()
	defer ran.Unlock()
	if len(ran.tests) < roundTripTests {
		t.Skipf("only %d of the %d round-trip tests ran", len(ran.tests), roundTripTests)
	}
	typ := reflect.TypeFor[*queries.DB]()
	var missing []string
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		if m.Name == "Session" || m.Name == "WithSerialConsistency" || strings.HasPrefix(m.Name, "New") {
			continue
		}
		if !ran.names[m.Name] {
			missing = append(missing, m.Name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("queries without a round trip in this file: %s", strings.Join(missing, ", "))
	}
}
