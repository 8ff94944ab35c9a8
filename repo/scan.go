package repo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
	row, err := s.db.DueWatermarkGet(ctx, queue).One()
	switch err = s.interpret(queries.DueWatermarkGet.Name, err); {
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
	dirRows, err := s.db.DueBucketsRange(ctx, queue, watermark.Add(-maxDueWidth), to).All()
	if err != nil {
		return nil, fmt.Errorf("read due buckets of queue %s: %w", queue, s.interpret(queries.DueBucketsRange.Name, err))
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
	results := make([][]queries.DueScanRow, len(parts))
	err = forEach(ctx, len(parts), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		p := parts[i]
		lo, hi := maxTime(from, p.b.Start), minTime(to, p.b.End().Add(-time.Millisecond))
		rows, err := s.db.DueScan(ctx, queue, p.b.Start, int32(p.shard), lo, hi, int32(perShard)).All()
		results[i] = rows
		return s.interpret(queries.DueScan.Name, err)
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
	var c queries.CAS[models.ScheduledBucketsRow]
	q := queries.DueWatermarkAdvance
	if watermark.Equal(epoch) {
		if _, set, err := s.watermark(ctx, queue); err != nil || set {
			return
		}
		q, c = queries.DueWatermarkInit, s.db.DueWatermarkInit(ctx, target, queue)
	} else {
		c = s.db.DueWatermarkAdvance(ctx, target, queue, watermark)
	}
	if applied, _, err := c.Exec(); s.interpret(q.Name, err) != nil || !applied {
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
	err := forEach(ctx, len(parts), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		e := parts[i]
		return s.exec(queries.DueDropPartition, s.db.DueDropPartition(ctx, e.Queue, e.Bucket.Start, int32(e.Shard)))
	})
	if err == nil {
		err = forEach(ctx, len(drop), s.set.writeConcurrency, func(ctx context.Context, i int) error {
			b := drop[i]
			return s.exec(queries.DueBucketDelete, s.db.DueBucketDelete(ctx, queue, b.Start, int32(b.Width.Milliseconds()), int32(b.Shards)))
		})
	}
	if err != nil {
		s.set.log.Warn("jobsharp: could not drop due buckets behind the watermark", "queue", queue, "err", err)
	}
}

// scanConcurrency bounds the due entries one scan resolves at once.
const scanConcurrency = 16

// errStop ends a scan early.
var errStop = errors.New("stop scan")

// scan reads the due entries of queue this store has not handled yet and
// resolves each: stale entries are deleted, expired leases rescued, waiting
// continuations checked, and due jobs offered to take. take returns whether
// it took the job; errStop from take ends the scan. The scanner's cursor
// then moves past what was resolved.
func (s *Store) scan(ctx context.Context, queue string, perShard int, take func(context.Context, *Job) (bool, error), rescued ...func(*Job)) error {
	sc := s.scanner(queue)
	watermark, from, to, err := s.scanWindow(ctx, queue, sc)
	if err != nil {
		return err
	}
	rd, err := s.readDue(ctx, queue, watermark, from, to, perShard)
	if err != nil {
		return err
	}
	// Candidates in a random order, so that racing workers spread out; the
	// window is the oldest entries, so the order stays roughly oldest first.
	// A few are resolved at a time: each costs several round trips.
	order := rand.Perm(len(rd.entries))
	var (
		mu           sync.Mutex
		resolvedUpTo = rd.complete
		stopped      bool
		errs         []error
	)
	unresolved := func(e dueEntry) {
		mu.Lock()
		resolvedUpTo = minTime(resolvedUpTo, e.DueAt)
		mu.Unlock()
	}
	_ = forEach(ctx, len(order), scanConcurrency, func(ctx context.Context, i int) error {
		e := rd.entries[order[i]]
		mu.Lock()
		stop := stopped
		mu.Unlock()
		sc.mu.Lock()
		busy := sc.inflight[e]
		if !stop && !busy {
			sc.inflight[e] = true
		}
		sc.mu.Unlock()
		if stop || busy {
			// Left for a later scan, or another goroutine of this store has it.
			unresolved(e)
			return nil
		}
		ok, err := s.resolve(ctx, e, to, take, rescued)
		sc.mu.Lock()
		delete(sc.inflight, e)
		sc.mu.Unlock()
		if ok && err == nil {
			return nil
		}
		unresolved(e)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, errStop):
			stopped = true
		case err != nil:
			errs = append(errs, err)
		}
		return nil
	})
	s.advance(ctx, queue, sc, watermark, resolvedUpTo, rd.buckets)
	return errors.Join(errs...)
}

// resolve handles one due entry. It returns false when the entry still
// needs handling later (a due job nobody took, or an entry too fresh to
// judge).
//
// Hints are written before the change that makes them true, so an entry
// that does not match its job may belong to a change still in flight (an
// insert before its LWT, a release or requeue about to land). Such an entry
// is left alone while it is younger than Grace, and removed as stale after.
// An entry is removed at once only when it is certainly spent: the job was
// taken from it, or its lease expiry was handled.
func (s *Store) resolve(ctx context.Context, e dueEntry, now time.Time, take func(context.Context, *Job) (bool, error), rescued []func(*Job)) (bool, error) {
	spent := func() (bool, error) {
		s.deleteDue(ctx, e)
		return true, nil
	}
	stale := func() (bool, error) {
		if e.DueAt.After(now.Add(-s.set.grace)) {
			return false, nil // perhaps a change in flight: look again later
		}
		return spent()
	}
	for round := 0; ; round++ {
		job, err := s.get(ctx, e.JobID, round > 0)
		if errors.Is(err, ErrNotFound) {
			return stale() // an insert between its hints and its row, or a stray hint
		}
		if err != nil {
			return false, err
		}
		if job.Queue != e.Queue {
			return spent()
		}
		switch {
		case job.State.Claimable():
			if job.ScheduledAt.After(now) {
				return stale() // rescheduled: it has a later entry
			}
			took, err := take(ctx, job)
			switch {
			case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
				return true, nil // another worker changed or took it; the entry is theirs to delete
			case err != nil:
				return false, err
			case took:
				return spent()
			}
			return false, nil
		case job.State == StateProcessing:
			if job.Lease.Until.After(now) {
				return stale() // a live lease: a later entry exists, or a release is in flight
			}
			r, err := s.rescue(ctx, job)
			if errors.Is(err, ErrConflict) {
				return true, nil
			}
			if err != nil {
				return false, err
			}
			for _, f := range rescued {
				f(r)
			}
			return spent() // the retry has its own entry, after the backoff
		case (job.State == StateAwaitingContinuation || job.State == StateAwaitingBatch) && round == 0:
			if err := s.checkWaiting(ctx, job); err != nil {
				return false, err
			}
			continue // released (then due now) or still waiting
		case job.State.Final():
			if err := s.settle(ctx, job); err != nil {
				return false, err
			}
		}
		return stale()
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
	jobs, err := s.listDue(ctx, queue, watermark, limit)
	if err != nil {
		return nil, fmt.Errorf("list due jobs: %w", err)
	}
	return jobs, nil
}

// listDue is ListDue from a watermark already read.
func (s *Store) listDue(ctx context.Context, queue string, watermark time.Time, limit int) ([]*Job, error) {
	now := s.now()
	return s.walkDue(ctx, queue, watermark, now, limit, func(j *Job) bool {
		return j.State.Claimable() && !j.ScheduledAt.After(now)
	})
}

// walkDue reads the due index of queue from the watermark to `to`, a page
// of entries per partition at a time, and returns up to limit of their jobs
// that keep accepts, in due order. Jobs are read a page at a time too, only
// as many as are still wanted (plus a few for stale hints).
func (s *Store) walkDue(ctx context.Context, queue string, watermark, to time.Time, limit int, keep func(*Job) bool) ([]*Job, error) {
	var out []*Job
	seen := map[gocql.UUID]bool{}
	from := watermark
	for len(out) < limit {
		rd, err := s.readDue(ctx, queue, watermark, from, to, limit+1)
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
		for len(ids) > 0 && len(out) < limit {
			n := min(len(ids), limit-len(out)+8)
			jobs, err := s.getMany(ctx, ids[:n])
			if err != nil {
				return nil, err
			}
			ids = ids[n:]
			for _, job := range jobs {
				if job.Queue == queue && keep(job) && len(out) < limit {
					out = append(out, job)
				}
			}
		}
		if !rd.complete.Before(to) {
			break
		}
		from = rd.complete
	}
	return out, nil
}
