package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// scanner is this store's position in one queue's due index. Everything due
// before cursor has been handled by this store (claimed, rescued, found
// stale, or taken by another worker); each scan re-reads Grace before it for
// entries that landed late. The persisted watermark trails the cursors of
// all stores and lets old buckets be dropped.
type scanner struct {
	mu       sync.Mutex
	cursor   time.Time
	inflight map[dueEntry]bool
}

func (s *Store) scanner(queue string) *scanner {
	s.scanMu.Lock()
	defer s.scanMu.Unlock()
	sc := s.scanners[queue]
	if sc == nil {
		sc = &scanner{inflight: map[dueEntry]bool{}}
		s.scanners[queue] = sc
	}
	return sc
}

var epoch = time.UnixMilli(0).UTC()

// watermark reads the queue's watermark; the epoch when none is set.
func (s *Store) watermark(ctx context.Context, queue string) (time.Time, bool, error) {
	var row models.ScheduledBucketsRow
	err := models.GetRelease(s.query(ctx, queries.DueWatermarkGet).BindStruct(&models.ScheduledBucketsRow{Queue: queue}), &row)
	switch err = s.interpret(queries.DueWatermarkGet, err); {
	case errors.Is(err, ErrNotFound):
		return epoch, false, nil
	case err != nil:
		return time.Time{}, false, err
	case row.Watermark.IsZero():
		return epoch, false, nil
	}
	return row.Watermark.UTC(), true, nil
}

// dueRead is the result of reading a time range of the due index.
type dueRead struct {
	entries []dueEntry // oldest first
	buckets []bucketRef
	// complete is the end of the prefix of the range that was read whole:
	// a partition that returned its limit was cut off after its last entry.
	complete time.Time
}

// maxDueWidth is the widest due bucket Options allow.
const maxDueWidth = 24 * time.Hour

// readDue reads the entries of queue due in [from, to], at most perShard
// from each partition, through the bucket directory from the watermark on.
func (s *Store) readDue(ctx context.Context, queue string, watermark, from, to time.Time, perShard int) (*dueRead, error) {
	// A bucket that starts before the watermark may still hold entries after
	// it; directory rows of buckets wholly behind it were dropped.
	var dirRows []models.ScheduledBucketsRow
	err := models.SelectRelease(s.query(ctx, queries.DueBucketsRange).
		BindStructMap(&models.ScheduledBucketsRow{Queue: queue}, map[string]any{"from": watermark.Add(-maxDueWidth), "to": to}), &dirRows)
	if err != nil {
		return nil, fmt.Errorf("read due buckets of queue %s: %w", queue, s.interpret(queries.DueBucketsRange, err))
	}
	res := &dueRead{complete: to}
	type part struct {
		b     bucketRef
		shard int
	}
	var parts []part
	for _, r := range dirRows {
		b := bucketRef{Start: r.Bucket.UTC(), Width: time.Duration(r.WidthMs) * time.Millisecond, Shards: int(r.Shards)}
		if b.Width <= 0 || b.Shards <= 0 {
			continue
		}
		res.buckets = append(res.buckets, b)
		if !b.End().After(from) || b.Start.After(to) {
			continue
		}
		for sh := 0; sh < b.Shards; sh++ {
			parts = append(parts, part{b, sh})
		}
	}
	results := make([][]models.ScheduledJobsRow, len(parts))
	err = forEach(ctx, len(parts), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		p := parts[i]
		lo, hi := maxTime(from, p.b.Start), minTime(to, p.b.End().Add(-time.Millisecond))
		return s.interpret(queries.DueScan, models.SelectRelease(s.query(ctx, queries.DueScan).
			BindStructMap(&models.ScheduledJobsRow{Queue: queue, Bucket: p.b.Start, Shard: int32(p.shard)},
				map[string]any{"from": lo, "to": hi, "limit": perShard}), &results[i]))
	})
	if err != nil {
		return nil, fmt.Errorf("scan due jobs of queue %s: %w", queue, err)
	}
	for i, rows := range results {
		for _, r := range rows {
			res.entries = append(res.entries, dueEntry{Queue: queue, Bucket: parts[i].b, Shard: parts[i].shard, DueAt: r.DueAt.UTC(), JobID: r.JobID})
		}
		if len(rows) >= perShard && len(rows) > 0 {
			res.complete = minTime(res.complete, rows[len(rows)-1].DueAt.UTC())
		}
	}
	slices.SortFunc(res.entries, func(a, b dueEntry) int {
		if c := a.DueAt.Compare(b.DueAt); c != 0 {
			return c
		}
		return compareUUID(a.JobID, b.JobID)
	})
	return res, nil
}

func compareUUID(a, b gocql.UUID) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// scanWindow returns the range this store's scanner must read next for
// queue and the watermark.
func (s *Store) scanWindow(ctx context.Context, queue string, sc *scanner) (watermark, from, to time.Time, err error) {
	watermark, _, err = s.watermark(ctx, queue)
	if err != nil {
		return
	}
	sc.mu.Lock()
	if sc.cursor.IsZero() || sc.cursor.Before(watermark) {
		sc.cursor = watermark
	}
	from = maxTime(sc.cursor.Add(-s.set.grace), watermark)
	sc.mu.Unlock()
	return watermark, from, s.now(), nil
}

// advance moves the scanner's cursor to upTo (never back), and the queue's
// watermark after it when it trails by more than a bucket, dropping the
// buckets the watermark passed.
func (s *Store) advance(ctx context.Context, queue string, sc *scanner, watermark, upTo time.Time, buckets []bucketRef) {
	sc.mu.Lock()
	if upTo.After(sc.cursor) {
		sc.cursor = upTo
	}
	target := sc.cursor.Add(-s.set.grace)
	sc.mu.Unlock()
	if target.Sub(watermark) < s.set.dueWidth {
		return
	}
	target = ms(target)
	expected := any(watermark)
	if watermark.Equal(epoch) {
		if _, set, err := s.watermark(ctx, queue); err != nil || set {
			return
		}
		expected = nil
	}
	applied, err := s.cas(ctx, queries.DueWatermarkAdvance, &models.ScheduledBucketsRow{Queue: queue, Watermark: target}, map[string]any{"expected_watermark": expected})
	if err != nil || !applied {
		return // another store moved it; fine
	}
	// Buckets wholly before the watermark hold nothing anyone needs, and no
	// entry can land in them any more: drop them as whole partitions, then
	// their directory rows, one by one. (A range delete of the directory
	// could remove the row of a wider bucket, written by a store with other
	// settings, that still takes entries.)
	var drop []bucketRef
	for _, b := range buckets {
		if !b.End().After(target) {
			drop = append(drop, b)
		}
	}
	var parts []dueEntry
	for _, b := range drop {
		for sh := 0; sh < b.Shards; sh++ {
			parts = append(parts, dueEntry{Queue: queue, Bucket: b, Shard: sh})
		}
	}
	err = forEach(ctx, len(parts), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		return s.exec(ctx, queries.DueDropPartition, parts[i].row(), nil)
	})
	if err == nil {
		err = forEach(ctx, len(drop), s.set.writeConcurrency, func(ctx context.Context, i int) error {
			b := drop[i]
			return s.exec(ctx, queries.DueBucketDelete, &models.ScheduledBucketsRow{Queue: queue, Bucket: b.Start, WidthMs: int32(b.Width.Milliseconds()), Shards: int32(b.Shards)}, nil)
		})
	}
	if err != nil {
		s.set.log.Warn("jobsharp: could not drop due buckets behind the watermark", "queue", queue, "err", err)
	}
}

// ListDue returns up to limit jobs of queue that are due (Scheduled, or
// Failed with a retry pending, and ScheduledAt not after now), oldest first:
// JobSharp's GetScheduledJobs. It reads the due index from the queue's
// watermark to now, so its cost follows what is due, not the history. It
// changes nothing; use [Jobs.Claim] to take jobs.
func (j *Jobs) ListDue(ctx context.Context, queue string, limit int) ([]*Job, error) {
	s := j.s
	if queue == "" {
		queue = DefaultQueue
	}
	if limit <= 0 || limit > 10_000 {
		return nil, invalid("limit", "%d, want 1 to 10,000", limit)
	}
	watermark, _, err := s.watermark(ctx, queue)
	if err != nil {
		return nil, fmt.Errorf("list due jobs: %w", err)
	}
	return s.listDue(ctx, queue, watermark, limit)
}

// listDue is ListDue from a watermark already read.
func (s *Store) listDue(ctx context.Context, queue string, watermark time.Time, limit int) ([]*Job, error) {
	now := s.now()
	var out []*Job
	seen := map[gocql.UUID]bool{}
	from := watermark
	for len(out) < limit {
		rd, err := s.readDue(ctx, queue, watermark, from, now, limit+1)
		if err != nil {
			return nil, err
		}
		var ids []gocql.UUID
		for _, e := range rd.entries {
			if !seen[e.JobID] {
				seen[e.JobID] = true
				ids = append(ids, e.JobID)
			}
		}
		if len(ids) == 0 {
			break
		}
		// The entries are merged oldest first: read jobs a page at a time,
		// only as many as are still wanted (plus a few for stale hints).
		for len(ids) > 0 && len(out) < limit {
			n := min(len(ids), limit-len(out)+8)
			jobs, err := s.getMany(ctx, ids[:n])
			if err != nil {
				return nil, fmt.Errorf("list due jobs: %w", err)
			}
			ids = ids[n:]
			for _, job := range jobs {
				if job.Queue == queue && job.State.Claimable() && !job.ScheduledAt.After(now) && len(out) < limit {
					out = append(out, job)
				}
			}
		}
		if !rd.complete.Before(now) {
			break
		}
		from = rd.complete
	}
	return out, nil
}
