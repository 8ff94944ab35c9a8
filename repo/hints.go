package repo

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// dueEntry is a row of the due index: look at job JobID at DueAt, or, for
// a lease entry, at the jobs from JobID to LastID of JobID's home partition.
type dueEntry struct {
	Queue  string
	Bucket bucketRef
	Shard  int
	DueAt  time.Time
	JobID  gocql.UUID
	LastID gocql.UUID
}

func (e dueEntry) row() models.ScheduledJobsRow {
	return models.ScheduledJobsRow{Queue: e.Queue, Bucket: e.Bucket.Start, Shard: int32(e.Shard), DueAt: e.DueAt, JobID: e.JobID, LastID: e.LastID}
}

// sameRow reports whether two entries are the same row of the due index.
func (e dueEntry) sameRow(o dueEntry) bool {
	return e.Queue == o.Queue && e.Bucket == o.Bucket && e.Shard == o.Shard && e.DueAt.Equal(o.DueAt) && e.JobID == o.JobID
}

// stateEntry is a row of the state index.
type stateEntry struct {
	Queue     string
	State     State
	Bucket    bucketRef
	Shard     int
	EnteredAt time.Time
	JobID     gocql.UUID
}

func (e stateEntry) row() models.JobsByStateRow {
	return models.JobsByStateRow{Queue: e.Queue, State: int32(e.State), Bucket: e.Bucket.Start, Shard: int32(e.Shard), EnteredAt: e.EnteredAt, JobID: e.JobID}
}

// dueEntryAt is where a job is entered in the due index: at the given time,
// or now when that has passed, so that no entry lands behind a scanner.
func (s *Store) dueEntryAt(queue string, id gocql.UUID, at time.Time) dueEntry {
	if now := s.now(); at.Before(now) {
		at = now
	}
	return s.dueEntryExact(queue, id, at)
}

// dueEntryExact is the due entry for time at, as this store writes it.
func (s *Store) dueEntryExact(queue string, id gocql.UUID, at time.Time) dueEntry {
	at = ms(at)
	b := bucketOf(at, s.set.dueWidth, s.set.dueShards)
	return dueEntry{Queue: queue, Bucket: b, Shard: indexShard(id, b.Shards), DueAt: at, JobID: id}
}

// stateEntryOf is the state-index row of a job resting in its state.
func (s *Store) stateEntryOf(j *Job) stateEntry {
	b := bucketOf(j.StateChangedAt, s.set.stateWidth, s.set.stateShards)
	return stateEntry{Queue: j.Queue, State: j.State, Bucket: b, Shard: indexShard(j.ID, b.Shards), EnteredAt: ms(j.StateChangedAt), JobID: j.ID}
}

// indexShard is the shard of a job's rows in the due and state indexes: the
// same for every job of one home partition, so that the entries of a batch
// of changes (which share a partition) go out as one statement, and
// computed from the id alone, so an entry can be found again.
func indexShard(id gocql.UUID, shards int) int {
	h, err := homeOf(id)
	if err != nil {
		return shardOf(id, shards)
	}
	f := fnv.New32a()
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(h.Start.UnixMilli()))
	binary.BigEndian.PutUint32(b[8:], uint32(h.Shard))
	_, _ = f.Write(b[:])
	return int(f.Sum32() % uint32(shards))
}

// hintSet collects the hint rows a change writes before its LWT, so that
// several jobs' hints go out together with bounded parallelism.
type hintSet struct {
	due    []dueEntry
	states []stateEntry
	ttl    map[int]int // index into states -> TTL seconds
}

// add adds the hints of o.
func (h *hintSet) add(o *hintSet) {
	h.due = append(h.due, o.due...)
	for i, e := range o.states {
		h.addState(e, o.ttl[i])
	}
}

func (h *hintSet) addDue(e dueEntry) { h.due = append(h.due, e) }

func (h *hintSet) addState(e stateEntry, ttl int) {
	if h.ttl == nil {
		h.ttl = map[int]int{}
	}
	h.ttl[len(h.states)] = ttl
	h.states = append(h.states, e)
}

// writeHints sends the hints: directory rows first (a scanner must find the
// bucket before the entry can matter), then the entries (writeRows), each
// group with bounded parallelism.
func (s *Store) writeHints(ctx context.Context, h *hintSet) error {
	type dirWrite struct {
		rowWrite
		undo func() // forget the cached directory row when the write fails
	}
	var dirs []dirWrite
	var rows []rowWrite
	for _, e := range h.due {
		k := dirKey{table: "due", queue: e.Queue, b: e.Bucket}
		if s.dueDirs.add(k) {
			row := models.ScheduledBucketsRow{Queue: e.Queue, Bucket: e.Bucket.Start, WidthMs: int32(e.Bucket.Width.Milliseconds()), Shards: int32(e.Bucket.Shards)}
			w := write(queries.DueBucketInsert, partKey{},
				func(ctx context.Context, db *queries.DB) queries.Write { return db.DueBucketInsert(ctx, row) },
				func(b *queries.Batch) { b.DueBucketInsert(row) })
			dirs = append(dirs, dirWrite{w, func() { s.dueDirs.forget(k) }})
		}
		rows = append(rows, e.insert())
	}
	for i, e := range h.states {
		ttl := h.ttl[i]
		k := dirKey{table: "state", queue: e.Queue, state: e.State, b: e.Bucket}
		if s.stateDirs.add(k) {
			dirTTL := 0
			if ttl > 0 {
				// The directory row must outlive the bucket's last entry.
				dirTTL = ttl + int(e.Bucket.Width/time.Second) + 60
			}
			row, ttl := e.dirRow(), int32(dirTTL)
			w := write(queries.StateBucketInsert, partKey{},
				func(ctx context.Context, db *queries.DB) queries.Write { return db.StateBucketInsert(ctx, row, ttl) },
				func(b *queries.Batch) { b.StateBucketInsert(row, ttl) })
			dirs = append(dirs, dirWrite{w, func() { s.stateDirs.forget(k) }})
		}
		rows = append(rows, e.insert(ttl))
	}
	err := forEach(ctx, len(dirs), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		d := dirs[i]
		if err := s.interpret(ctx, d.op, d.exec(ctx, s.db)); err != nil {
			d.undo()
			return fmt.Errorf("write %s hint: %w", d.op, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.writeRows(ctx, rows); err != nil {
		return fmt.Errorf("write hints: %w", err)
	}
	return nil
}

// rowWrite is one generated statement on one row of an index or lookup
// table, with its Params bound: run alone (exec), or added to the batch of
// its partition (add).
type rowWrite struct {
	op   string  // the query's name, for errors
	part partKey // the partition, as a key for grouping
	exec func(context.Context, *queries.DB) error
	add  func(*queries.Batch)
}

// partKey names the partition of a rowWrite: its table and the parts of
// the partition key that table has (zero for the others).
type partKey struct {
	table, queue string
	id           gocql.UUID
	bucket       int64
	state, shard int
}

// write pairs a query's statement and its batch entry: run sends it alone,
// add adds it to a batch, both with the same values.
func write(q queries.Query, part partKey, run func(context.Context, *queries.DB) queries.Write, add func(*queries.Batch)) rowWrite {
	return rowWrite{
		op:   q.Name,
		part: part,
		exec: func(ctx context.Context, db *queries.DB) error { return run(ctx, db).Exec() },
		add:  add,
	}
}

func (e dueEntry) part() partKey {
	return partKey{table: "due", queue: e.Queue, bucket: e.Bucket.Start.UnixMilli(), shard: e.Shard}
}

func (e dueEntry) insert() rowWrite {
	row := e.row()
	return write(queries.DueInsert, e.part(),
		func(ctx context.Context, db *queries.DB) queries.Write { return db.DueInsert(ctx, row) },
		func(b *queries.Batch) { b.DueInsert(row) })
}

func (e dueEntry) delete() rowWrite {
	return write(queries.DueDelete, e.part(),
		func(ctx context.Context, db *queries.DB) queries.Write {
			return db.DueDelete(ctx, e.Queue, e.Bucket.Start, int32(e.Shard), e.DueAt, e.JobID)
		},
		func(b *queries.Batch) { b.DueDelete(e.Queue, e.Bucket.Start, int32(e.Shard), e.DueAt, e.JobID) })
}

func (e stateEntry) part() partKey {
	return partKey{table: "state", queue: e.Queue, bucket: e.Bucket.Start.UnixMilli(), state: int(e.State), shard: e.Shard}
}

func (e stateEntry) insert(ttl int) rowWrite {
	row, t := e.row(), int32(ttl)
	return write(queries.StateInsert, e.part(),
		func(ctx context.Context, db *queries.DB) queries.Write { return db.StateInsert(ctx, row, t) },
		func(b *queries.Batch) { b.StateInsert(row, t) })
}

func (e stateEntry) delete() rowWrite {
	row := e.row()
	return write(queries.StateDelete, e.part(),
		func(ctx context.Context, db *queries.DB) queries.Write { return db.StateDelete(ctx, row) },
		func(b *queries.Batch) { b.StateDelete(row) })
}

// dirRow is the directory row of the entry's bucket.
func (e stateEntry) dirRow() models.StateBucketsRow {
	return models.StateBucketsRow{Queue: e.Queue, State: int32(e.State), Bucket: e.Bucket.Start, WidthMs: int32(e.Bucket.Width.Milliseconds()), Shards: int32(e.Bucket.Shards)}
}

// maxBatchRows keeps a partition's batch of hint rows near 3 KiB, under
// Cassandra's 5 KiB batch warning (hint rows take about 46 to 58 bytes).
const maxBatchRows = 50

// writeRows sends row writes grouped by partition: one unlogged batch per
// partition (a single mutation on the replica), the batches with bounded
// parallelism. Measured on 1,000 jobs' hint rows (BENCHMARKS.md), this is
// 6 to 8 times faster than one statement per row with the same parallelism;
// a batch across partitions is slower and breaks the 50 KiB limit.
func (s *Store) writeRows(ctx context.Context, rows []rowWrite) error {
	var order []partKey
	groups := map[partKey][]rowWrite{}
	for _, r := range rows {
		if _, ok := groups[r.part]; !ok {
			order = append(order, r.part)
		}
		groups[r.part] = append(groups[r.part], r)
	}
	var chunks [][]rowWrite
	for _, part := range order {
		g := groups[part]
		for len(g) > 0 {
			n := min(len(g), maxBatchRows)
			chunks = append(chunks, g[:n])
			g = g[n:]
		}
	}
	return forEach(ctx, len(chunks), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		chunk := chunks[i]
		if len(chunk) == 1 {
			return s.interpret(ctx, chunk[0].op, chunk[0].exec(ctx, s.db))
		}
		// Idempotent when its statements are, so that gocql may retry the
		// batch after a timeout.
		b := s.db.NewBatch(ctx, gocql.UnloggedBatch)
		for _, r := range chunk {
			r.add(b)
		}
		return s.interpret(ctx, chunk[0].op, b.Exec())
	})
}

// deleteDue removes due entries; failures are logged, not returned: a stale
// entry is harmless and scanners remove it when they meet it.
func (s *Store) deleteDue(ctx context.Context, entries ...dueEntry) {
	rows := make([]rowWrite, len(entries))
	for i, e := range entries {
		rows[i] = e.delete()
	}
	if err := s.writeRows(ctx, rows); err != nil {
		s.set.log.Warn("jobsharp: could not delete due entries; scanners will", "entries", len(entries), "err", err)
	}
}

// deleteState removes state-index rows, like deleteDue.
func (s *Store) deleteState(ctx context.Context, entries ...stateEntry) {
	rows := make([]rowWrite, len(entries))
	for i, e := range entries {
		rows[i] = e.delete()
	}
	if err := s.writeRows(ctx, rows); err != nil {
		s.set.log.Warn("jobsharp: could not delete state entries; readers will", "entries", len(entries), "err", err)
	}
}
