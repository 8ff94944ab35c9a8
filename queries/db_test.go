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

func TestJobsQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	at := now()
	row := models.JobsRow{
		ID: gocql.TimeUUID(), Queue: cqltest.Queue(t), Type: "t", Args: []byte(`{"n":1}`), State: 1, Version: 1,
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
	got, err := db.JobsGet(ctx, row.ID).One()
	check(t, "JobsGet", err)
	if diff := cmp.Diff(row, got); diff != "" {
		t.Errorf("JobsGet mismatch (-want +got):\n%s", diff)
	}
	serial, err := db.JobsGet(ctx, row.ID).Consistency(gocql.Consistency(gocql.Serial)).One()
	check(t, "JobsGet at SERIAL", err)
	if serial.Version != 1 {
		t.Errorf("JobsGet at SERIAL: version %d, want 1", serial.Version)
	}

	other := row
	other.ID = gocql.TimeUUID()
	applied, _, err = db.JobsCreate(ctx, other).Exec()
	check(t, "JobsCreate other", err)
	many, err := db.JobsGetMany(ctx, []gocql.UUID{row.ID, other.ID, gocql.TimeUUID()}).All()
	check(t, "JobsGetMany", err)
	if !applied || len(many) != 2 {
		t.Errorf("JobsGetMany: %d rows, want 2", len(many))
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

	applied, _, err = db.JobsClaim(ctx, 2, 3, at, at, "w1", gocql.TimeUUID(), at.Add(time.Minute), row.ID, 2).Exec()
	check(t, "JobsClaim", err)
	if !applied {
		t.Error("JobsClaim: not applied")
	}
	applied, _, err = db.JobsHeartbeat(ctx, 4, at.Add(2*time.Minute), row.ID, 3).Exec()
	check(t, "JobsHeartbeat", err)
	got, err = db.JobsGet(ctx, row.ID).One()
	check(t, "JobsGet after the lease", err)
	if !applied || got.Version != 4 || got.LeaseOwner != "w1" || !got.LeaseUntil.Equal(at.Add(2*time.Minute)) {
		t.Errorf("after JobsClaim and JobsHeartbeat: applied %v, %+v", applied, got)
	}

	applied, cur, err = db.JobsDelete(ctx, row.ID, 3).Exec()
	check(t, "JobsDelete on a stale version", err)
	if applied || cur.Version != 4 {
		t.Errorf("JobsDelete on a stale version: applied %v, current version %d; want false, 4", applied, cur.Version)
	}
	applied, _, err = db.JobsDelete(ctx, row.ID, 4).Exec()
	check(t, "JobsDelete", err)
	if _, err := db.JobsGet(ctx, row.ID).One(); !applied || !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("after JobsDelete: applied %v, JobsGet error %v; want true, gocql.ErrNotFound", applied, err)
	}
	mark(t, "JobsCreate", "JobsGet", "JobsGetMany", "JobsWrite", "JobsClaim", "JobsHeartbeat", "JobsDelete")
}

func TestDueQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	queue, at := cqltest.Queue(t), now()
	bucket := at.Truncate(time.Minute)
	var want []queries.DueScanRow
	for i := range 5 {
		e := models.ScheduledJobsRow{Queue: queue, Bucket: bucket, Shard: 1, DueAt: at.Add(time.Duration(i) * time.Second), JobID: gocql.TimeUUID()}
		check(t, "DueInsert", db.DueInsert(ctx, e).Exec())
		want = append(want, queries.DueScanRow{DueAt: e.DueAt, JobID: e.JobID})
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

	first := models.ScheduledJobsRow{Queue: queue, Bucket: bucket, Shard: 1, DueAt: want[0].DueAt, JobID: want[0].JobID}
	check(t, "DueDelete", db.DueDelete(ctx, first).Exec())
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
	for i := range 3 {
		check(t, "DueBucketInsert", db.DueBucketInsert(ctx, queue, bucket.Add(time.Duration(i)*time.Minute), 60_000, 8).Exec())
	}
	dirs, err := db.DueBucketsRange(ctx, queue, bucket.Add(time.Minute), bucket.Add(time.Hour)).All()
	check(t, "DueBucketsRange", err)
	if len(dirs) != 2 || !dirs[0].Bucket.Equal(bucket.Add(time.Minute)) || dirs[0].WidthMs != 60_000 || dirs[0].Shards != 8 {
		t.Errorf("DueBucketsRange = %+v, want the last two buckets", dirs)
	}
	check(t, "DueBucketDelete", db.DueBucketDelete(ctx, queue, bucket, 60_000, 8).Exec())
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
	mark(t, "DueInsert", "DueScan", "DueDelete", "DueDropPartition", "DueBucketInsert", "DueBucketsRange", "DueBucketDelete",
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

func TestCountQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	queue := cqltest.Queue(t)
	old, cur := time.UnixMilli(0).UTC(), now().Truncate(time.Hour)
	for _, add := range []struct {
		jobs   int64
		bucket time.Time
		shard  int32
	}{
		{jobs: 5, bucket: old, shard: 0},
		{jobs: -2, bucket: old, shard: 1},
		{jobs: 7, bucket: cur, shard: 0},
	} {
		check(t, "CountAdd", db.CountAdd(ctx, add.jobs, queue, 1, add.bucket, add.shard).Exec())
	}
	rows, err := db.CountRead(ctx, queue, 1).All()
	check(t, "CountRead", err)
	sum := int64(0)
	for _, r := range rows {
		sum += r.Jobs
	}
	if len(rows) != 3 || sum != 10 {
		t.Errorf("CountRead = %+v, want 3 cells summing to 10", rows)
	}
	check(t, "CountDropBefore", db.CountDropBefore(ctx, queue, 1, cur).Exec())
	if rows, _ := db.CountRead(ctx, queue, 1).All(); len(rows) != 1 || rows[0].Jobs != 7 {
		t.Errorf("after CountDropBefore: %+v, want the current bucket's 7", rows)
	}
	mark(t, "CountAdd", "CountRead", "CountDropBefore")
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
	check(t, "BatchJobFinished", db.BatchJobFinished(ctx, 3, batch, jobs[0]).Exec())
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

	parent := gocql.TimeUUID()
	for _, j := range jobs {
		c := models.JobContinuationsRow{ParentID: parent, JobID: j}
		check(t, "ContinuationInsert", db.ContinuationInsert(ctx, c).Exec())
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
	mark(t, "BatchCreate", "BatchJobInsert", "BatchJobFinished", "BatchJobsList", "BatchJobDelete", "ContinuationInsert", "ContinuationsList", "ContinuationDelete")
}

func TestRecurringAndQueueQueries(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	shard, at := int32(1000+time.Now().Nanosecond()%1000), now()
	rj := models.RecurringJobsRow{Shard: shard, ID: "nightly", Queue: "q", Cron: "0 3 * * *", Timezone: "Europe/Paris", Type: "report",
		Args: []byte("{}"), MaxRetries: 2, Metadata: map[string]string{"a": "b"}, CreatedAt: at, UpdatedAt: at, NextRunAt: at.Add(time.Hour)}
	check(t, "RecurringUpsert", db.RecurringUpsert(ctx, rj).Exec())
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
	check(t, "RecurringDelete", db.RecurringDelete(ctx, shard, "nightly").Exec())
	if _, err := db.RecurringGet(ctx, shard, "nightly").One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("RecurringGet after RecurringDelete: %v, want gocql.ErrNotFound", err)
	}

	for _, name := range []string{"b", "a"} {
		check(t, "QueueInsert", db.QueueInsert(ctx, models.QueuesRow{Shard: shard, Name: name, CreatedAt: at}).Exec())
	}
	queues, err := db.QueuesList(ctx, shard).All()
	check(t, "QueuesList", err)
	if diff := cmp.Diff([]queries.QueuesListRow{{Name: "a"}, {Name: "b"}}, queues); diff != "" {
		t.Errorf("QueuesList mismatch (-want +got):\n%s", diff)
	}
	mark(t, "RecurringUpsert", "RecurringGet", "RecurringAdvance", "RecurringList", "RecurringDelete", "QueueInsert", "QueuesList")
}

// TestBatches sends the batches the store uses: unlogged writes to one
// partition, counter updates, and conditional batches on one partition,
// applied, not applied (with the current values), and mixing a condition
// with unconditional statements.
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

	counts := db.NewBatch(ctx, gocql.CounterBatch)
	counts.CountAdd(2, queue, 5, bucket, 0)
	counts.CountAdd(3, queue, 5, bucket, 1)
	check(t, "counter batch", counts.Exec())
	if rows, _ := db.CountRead(ctx, queue, 5).All(); len(rows) != 2 || rows[0].Jobs+rows[1].Jobs != 5 {
		t.Errorf("after the counter batch: %+v", rows)
	}

	// A job created and changed in one conditional batch (one partition).
	row := models.JobsRow{ID: gocql.TimeUUID(), Queue: queue, Type: "t", State: 1, Version: 1, CreatedAt: at, ScheduledAt: at, StateChangedAt: at}
	jb := db.NewJobsBatch(ctx, gocql.LoggedBatch)
	jb.JobsCreate(row)
	applied, current, err := jb.ExecCAS()
	check(t, "conditional batch", err)
	if !applied || len(current) != 0 {
		t.Errorf("conditional batch on a new job: applied %v, current %+v; want applied, no rows", applied, current)
	}
	jb = db.NewJobsBatch(ctx, gocql.LoggedBatch)
	jb.JobsHeartbeat(2, at, row.ID, 1)
	jb.JobsClaim(2, 2, time.Time{}, time.Time{}, "w", gocql.UUID{}, time.Time{}, row.ID, 7)
	applied, current, err = jb.ExecCAS()
	check(t, "conditional batch with a failing condition", err)
	if applied || len(current) != 1 || current[0].ID != row.ID || current[0].Version != 1 {
		t.Errorf("failing condition: applied %v, current %+v; want not applied, the job's key and version 1", applied, current)
	}
	if got, _ := db.JobsGet(ctx, row.ID).One(); got.Version != 1 || !got.LeaseUntil.IsZero() {
		t.Errorf("a batch whose condition failed changed the job: %+v", got)
	}

	// A condition and unconditional statements on one partition of the
	// bucket directory: all or nothing.
	check(t, "DueWatermarkInit", func() error {
		_, _, err := db.DueWatermarkInit(ctx, at, queue).Exec()
		return err
	}())
	dir := func(i int) time.Time { return bucket.Add(time.Duration(i) * time.Minute) }
	mixed := db.NewScheduledBucketsBatch(ctx, gocql.LoggedBatch)
	mixed.DueWatermarkAdvance(at.Add(time.Minute), queue, at)
	mixed.DueBucketInsert(queue, dir(10), 60_000, 4)
	mixed.DueBucketInsert(queue, dir(11), 60_000, 4)
	applied, dirCurrent, err := mixed.ExecCAS()
	check(t, "mixed batch", err)
	if !applied || len(dirCurrent) != 0 {
		t.Errorf("mixed batch: applied %v, current %+v; want applied", applied, dirCurrent)
	}
	mixed = db.NewScheduledBucketsBatch(ctx, gocql.LoggedBatch)
	mixed.DueWatermarkAdvance(at.Add(time.Hour), queue, at)
	mixed.DueBucketInsert(queue, dir(12), 60_000, 4)
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

// TestEveryQueryRan fails when a query of schema/queries.cql has no round
// trip above: every method of DB that runs a query must have run.
func TestEveryQueryRan(t *testing.T) {
	// The tests above are not parallel, so they have all run by now, unless
	// -run left some out.
	ran.Lock()
	defer ran.Unlock()
	if len(ran.tests) < 6 {
		t.Skipf("only %d of the 6 round-trip tests ran", len(ran.tests))
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
