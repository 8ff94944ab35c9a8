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

// scanner is this store's position in one queue: in its due index (cursor:
// everything due before it has been handled by this store: claimed,
// rescued, found stale, or taken by another worker; each scan re-reads
// Grace before it for entries that landed late) and in its home partitions
// (homes, see scan_home.go). The persisted watermark trails both and lets
// old due buckets be dropped.
type scanner struct {
	mu        sync.Mutex
	cursor    time.Time
	inflight  map[dueEntry]bool
	homes     map[homeRef]*homeCursor
	doneHomes map[homeRef]bool
	dirAt     time.Time
	dueAt     time.Time // when a claim last read the due index

	// The watermark as last read, reused by claims and due scans for
	// scanCacheFor (see cachedWatermark).
	wm, wmAt time.Time
}

// dueScanDue reports whether a claim should read the due index now: when
// it has capacity left after the home partitions, or when the last read is
// more than dueScanEvery ago (by the local clock); it records the read.
func (sc *scanner) dueScanDue(now time.Time, capacityLeft bool) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !capacityLeft && now.Sub(sc.dueAt) < dueScanEvery && !now.Before(sc.dueAt) {
		return false
	}
	sc.dueAt = now
	return true
}

func (s *Store) scanner(queue string) *scanner {
	s.scanMu.Lock()
	defer s.scanMu.Unlock()
	sc := s.scanners[queue]
	if sc == nil {
		sc = &scanner{inflight: map[dueEntry]bool{}, homes: map[homeRef]*homeCursor{}, doneHomes: map[homeRef]bool{}}
		s.scanners[queue] = sc
	}
	return sc
}

// take marks a home partition as read by the calling claim; false when
// another claim of this store is reading it.
func (sc *scanner) take(c *homeCursor) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if c.busy {
		return false
	}
	c.busy = true
	return true
}

func (sc *scanner) release(c *homeCursor) {
	sc.mu.Lock()
	c.busy = false
	sc.mu.Unlock()
}

var epoch = time.UnixMilli(0).UTC()

// watermark reads the queue's watermark; the epoch when none is set.
func (s *Store) watermark(ctx context.Context, queue string) (time.Time, bool, error) {
	row, err := s.db.DueWatermarkGet(ctx, queue).One()
	switch err = s.interpret(ctx, queries.DueWatermarkGet.Name, err); {
	case errors.Is(err, ErrNotFound):
		return epoch, false, nil
	case err != nil:
		return time.Time{}, false, err
	case row.Watermark.IsZero():
		return epoch, false, nil
	}
	return row.Watermark.UTC(), true, nil
}

// scanCacheFor is how long a scanner reuses the watermark it read, so that a
// processor claiming many times a second does not read it for every claim.
// A stale watermark is safe: it only moves forward, and an older one makes a
// scan read a little more. (The due-bucket directory is read afresh by each
// due scan: a cached one would hide, for a while, the bucket of a retry
// another process just wrote.)
func (s *Store) scanCacheFor() time.Duration {
	return min(dirCacheFor, s.set.grace/4)
}

// cachedWatermark returns the queue's watermark, read again when the
// scanner's copy is older than scanCacheFor.
func (s *Store) cachedWatermark(ctx context.Context, queue string, sc *scanner) (time.Time, error) {
	now := time.Now()
	sc.mu.Lock()
	wm, at := sc.wm, sc.wmAt
	sc.mu.Unlock()
	if !at.IsZero() && now.Sub(at) < s.scanCacheFor() && !now.Before(at) {
		return wm, nil
	}
	wm, _, err := s.watermark(ctx, queue)
	if err != nil {
		return time.Time{}, err
	}
	sc.setWatermark(wm, now)
	return wm, nil
}

// setWatermark records a watermark read or written at (local clock); it
// never moves the cached copy back.
func (sc *scanner) setWatermark(wm, at time.Time) {
	sc.mu.Lock()
	if wm.After(sc.wm) || sc.wmAt.IsZero() {
		sc.wm = wm
	}
	sc.wmAt = at
	sc.mu.Unlock()
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
		return nil, fmt.Errorf("read due buckets of queue %s: %w", queue, s.interpret(ctx, queries.DueBucketsRange.Name, err))
	}
	res := &dueRead{complete: to}
	var buckets []bucketRef
	for _, r := range dirRows {
		b := bucketRef{Start: r.Bucket.UTC(), Width: time.Duration(r.WidthMs) * time.Millisecond, Shards: int(r.Shards)}
		if b.Width <= 0 || b.Shards <= 0 {
			continue
		}
		res.buckets = append(res.buckets, b)
		if !b.End().After(from) || b.Start.After(to) {
			continue
		}
		buckets = append(buckets, b)
	}
	// Every shard of a bucket with one statement, at most perShard entries
	// from each.
	results := make([][]queries.DueScanShardsRow, len(buckets))
	err = forEach(ctx, len(buckets), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		b := buckets[i]
		shards := shardList(b.Shards)
		lo, hi := maxTime(from, b.Start), minTime(to, b.End().Add(-time.Millisecond))
		rows, err := s.db.DueScanShards(ctx, queue, b.Start, shards, lo, hi, int32(perShard)).All()
		results[i] = rows
		return s.interpret(ctx, queries.DueScanShards.Name, err)
	})
	if err != nil {
		return nil, fmt.Errorf("scan due jobs of queue %s: %w", queue, err)
	}
	for i, rows := range results {
		perPart := map[int32]int{}
		for _, r := range rows {
			res.entries = append(res.entries, dueEntry{Queue: queue, Bucket: buckets[i], Shard: int(r.Shard), DueAt: r.DueAt.UTC(), JobID: r.JobID, LastID: r.LastID})
			// A partition's rows come in clustering order: one that
			// returned its limit was cut off after its last entry.
			if perPart[r.Shard]++; perPart[r.Shard] == perShard {
				res.complete = minTime(res.complete, r.DueAt.UTC())
			}
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
	watermark, err = s.cachedWatermark(ctx, queue, sc)
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
	target = minTime(target, sc.homeLowWater(s.now()).Add(-s.set.grace))
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
	if applied, _, err := c.Exec(); s.interpret(ctx, q.Name, err) != nil || !applied {
		return // another store moved it; fine
	}
	sc.setWatermark(target, time.Now())
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
		return s.exec(ctx, queries.DueDropPartition, s.db.DueDropPartition(ctx, e.Queue, e.Bucket.Start, int32(e.Shard)))
	})
	if err == nil {
		err = forEach(ctx, len(drop), s.set.writeConcurrency, func(ctx context.Context, i int) error {
			b := drop[i]
			p := models.ScheduledBucketsRow{Queue: queue, Bucket: b.Start, WidthMs: int32(b.Width.Milliseconds()), Shards: int32(b.Shards)}
			return s.exec(ctx, queries.DueBucketDelete, s.db.DueBucketDelete(ctx, p))
		})
	}
	if err != nil {
		s.set.log.Warn("jobsharp: could not drop due buckets behind the watermark", "queue", queue, "err", err)
	}
}

// scanDue reads the due entries of queue this store has not handled yet and
// resolves them, a home partition at a time (the jobs an entry names are
// read with one statement per partition, and claimed or rescued with one
// conditional batch per partition): due jobs are claimed while need lasts
// (mk makes the claim), expired leases rescued, finished jobs settled,
// waiting continuations checked and stale entries deleted. The scanner's
// cursor then moves past what was resolved. rescued, when set, sees every
// job rescued.
func (s *Store) scanDue(ctx context.Context, queue string, perShard, need int, mk func(*Job) *change, rescued func(*Job)) ([]*Job, error) {
	sc := s.scanner(queue)
	watermark, from, to, err := s.scanWindow(ctx, queue, sc)
	if err != nil {
		return nil, err
	}
	rd, err := s.readDue(ctx, queue, watermark, from, to, perShard)
	if err != nil {
		return nil, err
	}
	// Entries another goroutine of this store is resolving are left to it.
	var mine []dueEntry
	resolvedUpTo := rd.complete
	sc.mu.Lock()
	for _, e := range rd.entries {
		if sc.inflight[e] {
			resolvedUpTo = minTime(resolvedUpTo, e.DueAt)
			continue
		}
		sc.inflight[e] = true
		mine = append(mine, e)
	}
	sc.mu.Unlock()
	defer func() {
		sc.mu.Lock()
		for _, e := range mine {
			delete(sc.inflight, e)
		}
		sc.mu.Unlock()
	}()

	groups := map[homeRef][]dueEntry{}
	var order []homeRef
	for _, e := range mine {
		h, err := homeOf(e.JobID)
		if err != nil {
			s.deleteDue(ctx, e) // not a job id of this store: nothing to look at
			continue
		}
		if _, ok := groups[h]; !ok {
			order = append(order, h)
		}
		groups[h] = append(groups[h], e)
	}
	// Partitions in a random order, so that racing workers spread out.
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var (
		mu      sync.Mutex
		claimed []*Job
		errs    []error
		free    = need // capacity not reserved by a partition yet
	)
	// take reserves up to n of the capacity left; give returns what a
	// partition reserved and did not claim. Partitions are resolved in
	// parallel, so the capacity is reserved before their claims go out.
	take := func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		n = min(n, free)
		free -= n
		return n
	}
	give := func(n int) {
		mu.Lock()
		free += n
		mu.Unlock()
	}
	_ = forEach(ctx, len(order), scanConcurrency, func(ctx context.Context, i int) error {
		got, unresolved, err := s.resolveDue(ctx, order[i], groups[order[i]], to, take, give, mk, rescued)
		mu.Lock()
		defer mu.Unlock()
		claimed = append(claimed, got...)
		for _, e := range unresolved {
			resolvedUpTo = minTime(resolvedUpTo, e.DueAt)
		}
		if err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	s.advance(ctx, queue, sc, watermark, resolvedUpTo, rd.buckets)
	return claimed, errors.Join(errs...)
}

// scanConcurrency bounds the home partitions one due scan resolves at once.
const scanConcurrency = 8

// resolveDue handles the due entries of one home partition. It returns the
// jobs it claimed and the entries that still need handling later (a due job
// left for want of capacity, an entry too fresh to judge, or one whose
// handling failed).
//
// Hints are written before the change that makes them true, so an entry
// that does not match its job may belong to a change still in flight (an
// insert before its LWT, a release or requeue about to land). Such an entry
// is left alone while it is younger than Grace, and removed as stale after.
// An entry is removed at once only when it is certainly spent: the job was
// taken from it, or its lease expiry was handled.
func (s *Store) resolveDue(ctx context.Context, h homeRef, entries []dueEntry, now time.Time, take func(int) int, give func(int), mk func(*Job) *change, rescued func(*Job)) (claimed []*Job, unresolved []dueEntry, err error) {
	jobs, err := s.jobsOfEntries(ctx, h, entries)
	if err != nil {
		return nil, entries, err
	}
	byID := make(map[gocql.UUID]*Job, len(jobs))
	for _, j := range jobs {
		byID[j.ID] = j
	}
	var spent []dueEntry
	stale := func(e dueEntry) {
		if e.DueAt.After(now.Add(-s.set.grace)) {
			unresolved = append(unresolved, e) // perhaps a change in flight: look again later
			return
		}
		spent = append(spent, e)
	}
	type claim struct {
		e dueEntry
		c *change
	}
	var (
		claims   []claim
		rescues  []*change
		settle   []*Job
		waiting  []waitingJob
		ranges   []dueEntry
		rangeOf  = map[*change][]dueEntry{}
		rescueOf = map[gocql.UUID]*change{}
		settleOf = map[gocql.UUID]dueEntry{}
	)
	// rescue adds the rescue of job j, found through entry e: one change
	// per job, whatever the entries that name it.
	rescue := func(j *Job, e dueEntry) {
		c := rescueOf[j.ID]
		if c == nil {
			c = newChange(j, s.failed(j, fmt.Sprintf("lease of %q expired at %s", j.Lease.Owner, j.Lease.Until.Format(time.RFC3339Nano)), "", time.Time{}), opRescue)
			rescueOf[j.ID] = c
			rescues = append(rescues, c)
		}
		rangeOf[c] = append(rangeOf[c], e)
	}
	for _, e := range entries {
		if e.LastID != (gocql.UUID{}) {
			// A lease entry: the jobs of one claim or heartbeat batch.
			for _, j := range jobs {
				if compareUUID(j.ID, e.JobID) < 0 || compareUUID(j.ID, e.LastID) > 0 || j.Queue != e.Queue {
					continue
				}
				switch {
				case j.State == StateProcessing && !j.Lease.Until.After(now):
					rescue(j, e)
				case j.State.Final():
					settle = append(settle, j)
					settleOf[j.ID] = e
				}
			}
			ranges = append(ranges, e) // spent once its rescues and settles succeed (below)
			continue
		}
		j := byID[e.JobID]
		switch {
		case j == nil:
			stale(e) // an insert between its hints and its row, or a stray hint
		case j.Queue != e.Queue:
			spent = append(spent, e)
		case j.State.Claimable():
			if j.ScheduledAt.After(now) {
				stale(e) // rescheduled: it has a later entry
				continue
			}
			claims = append(claims, claim{e, nil}) // one claim per job: see below
		case j.State == StateProcessing:
			if j.Lease.Until.After(now) {
				stale(e) // a live lease: a later entry exists, or a release is in flight
				continue
			}
			rescue(j, e)
		case j.State == StateAwaitingContinuation || j.State == StateAwaitingBatch:
			waiting = append(waiting, waitingJob{j, e})
		case j.State.Final():
			settle = append(settle, j)
			settleOf[j.ID] = e
		default:
			stale(e)
		}
	}

	// Claims, while capacity lasts; the rest stay for a later scan. A job
	// with several entries (a stale one beside its current one) is claimed
	// once, and every entry shares the claim's outcome.
	var chs []*change
	jobsWanted := map[gocql.UUID]bool{}
	for _, cl := range claims {
		jobsWanted[cl.e.JobID] = true
	}
	n := 0
	if mk != nil {
		n = take(len(jobsWanted))
	}
	byJob := map[gocql.UUID]*change{}
	for i := range claims {
		id := claims[i].e.JobID
		if c, ok := byJob[id]; ok {
			claims[i].c = c
			continue
		}
		if len(chs) >= n {
			unresolved = append(unresolved, claims[i].e)
			continue
		}
		claims[i].c = mk(byID[id])
		byJob[id] = claims[i].c
		chs = append(chs, claims[i].c)
	}
	var errs []error
	if len(chs) > 0 || len(rescues) > 0 {
		if err := s.apply(ctx, append(chs, rescues...)...); err != nil {
			errs = append(errs, err)
		}
	}
	counted := map[*change]bool{}
	defer func() { give(n - len(counted)) }() // capacity reserved and not used
	for _, cl := range claims {
		switch c := cl.c; {
		case c == nil:
		case c.err == nil && c.out != nil:
			if !counted[c] {
				counted[c] = true
				claimed = append(claimed, c.out)
			}
			spent = append(spent, cl.e)
		case c.err != nil && isTaken(c.err):
			spent = append(spent, cl.e) // another worker changed or took it
		default:
			unresolved = append(unresolved, cl.e)
			if c.err != nil {
				errs = append(errs, c.err)
			}
		}
	}
	failedRanges := map[dueEntry]bool{}
	for _, c := range rescues {
		ok := c.err == nil && c.out != nil
		if ok && rescued != nil {
			rescued(c.out)
		}
		if !ok && (c.err == nil || !isTaken(c.err)) && c.err != nil {
			errs = append(errs, c.err)
		}
		for _, e := range rangeOf[c] {
			switch {
			case ok, c.err != nil && isTaken(c.err):
				if e.LastID == (gocql.UUID{}) {
					spent = append(spent, e) // the retry has its own entry, after the backoff
				}
			default:
				failedRanges[e] = true
				if e.LastID == (gocql.UUID{}) {
					unresolved = append(unresolved, e)
				}
			}
		}
	}
	for _, w := range waiting {
		// The insert of a continuation marks its parent; an insert cut
		// short before that leaves this entry, and its parent is marked
		// here (a marked parent's settling finds the child), or the entry
		// stays for a later scan.
		marked := false
		var err error
		if w.job.State == StateAwaitingContinuation {
			marked, err = s.markContinued(ctx, w.job.ParentID)
		}
		if err == nil && !marked {
			err = s.checkWaiting(ctx, w.job)
		}
		if err != nil {
			errs = append(errs, err)
			unresolved = append(unresolved, w.e)
			continue
		}
		stale(w.e)
	}
	if len(settle) > 0 {
		// The finished jobs of a lease range may have ended by their
		// holder's outcome, whose state-index row is written only when the
		// holder settles it (finalStateAfter): write them again, as the
		// holder may have died first (the same row; a finished job that
		// had its row already gets it rewritten).
		var ended []*Job
		for _, j := range settle {
			if settleOf[j.ID].LastID != (gocql.UUID{}) {
				ended = append(ended, j)
			}
		}
		settled, err := s.settleJobs(ctx, settle, ended)
		if err != nil {
			errs = append(errs, err)
		}
		for _, j := range settle {
			e := settleOf[j.ID]
			if !settled[j.ID] {
				failedRanges[e] = true
				if e.LastID == (gocql.UUID{}) {
					unresolved = append(unresolved, e)
				}
			} else if e.LastID == (gocql.UUID{}) {
				stale(e)
			}
		}
	}
	// A lease entry whose rescues or settles failed stays for a later scan.
	for _, e := range ranges {
		if failedRanges[e] {
			unresolved = append(unresolved, e)
		} else {
			spent = append(spent, e)
		}
	}
	s.deleteDue(ctx, spent...)
	return claimed, unresolved, errors.Join(errs...)
}

// waitingJob is a waiting continuation met through due entry e.
type waitingJob struct {
	job *Job
	e   dueEntry
}

// jobsOfEntries reads the jobs due entries of one home partition name: by
// id for single entries, by range for lease entries.
func (s *Store) jobsOfEntries(ctx context.Context, h homeRef, entries []dueEntry) ([]*Job, error) {
	var ids []gocql.UUID
	var jobs []*Job
	for _, e := range entries {
		if e.LastID == (gocql.UUID{}) {
			ids = append(ids, e.JobID)
			continue
		}
		after := predUUID(e.JobID)
		for {
			rows, err := s.db.JobsScan(ctx, h.Start, h.Shard, after, succUUID(e.LastID), rereadPage).All()
			if err != nil {
				return nil, s.interpret(ctx, queries.JobsScan.Name, err)
			}
			for i := range rows {
				if rows[i].Version != 0 {
					jobs = append(jobs, jobFromRow(&rows[i]))
				}
			}
			if len(rows) < rereadPage {
				break
			}
			after = rows[len(rows)-1].ID
		}
	}
	single, err := s.jobsOfPartition(ctx, h, ids, false)
	if err != nil {
		return nil, err
	}
	seen := make(map[gocql.UUID]bool, len(jobs))
	for _, j := range jobs {
		seen[j.ID] = true
	}
	for _, j := range single {
		if !seen[j.ID] {
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

// ListDue returns up to limit jobs of queue that are due (Scheduled, or
// Failed with a retry pending, and ScheduledAt not after now), oldest first:
// JobSharp's GetScheduledJobs. It reads the due index from the queue's
// watermark to now, so its cost follows what is due, not the history. It
// changes nothing; use [Jobs.Claim] to take jobs.
func (j *Jobs) ListDue(ctx context.Context, queue string, limit int) ([]*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	s := j.s
	if queue == "" {
		queue = DefaultQueue
	}
	if err := ValidQueue(queue); err != nil {
		return nil, err
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

// listDue is ListDue from a watermark already read: the due jobs of the due
// index and of the home partitions, oldest first.
func (s *Store) listDue(ctx context.Context, queue string, watermark time.Time, limit int) ([]*Job, error) {
	now := s.now()
	keep := func(j *Job) bool { return j.State.Claimable() && !j.ScheduledAt.After(now) }
	fromIndex, err := s.walkDue(ctx, queue, watermark, now, limit, keep)
	if err != nil {
		return nil, err
	}
	atHome, err := s.walkHomes(ctx, queue, watermark, now, limit, keep)
	if err != nil {
		return nil, err
	}
	return mergeByDue(fromIndex, atHome, limit), nil
}

// mergeByDue merges two lists of jobs, drops duplicates, sorts them by
// ScheduledAt (then id) and keeps the first limit.
func mergeByDue(a, b []*Job, limit int) []*Job {
	seen := make(map[gocql.UUID]bool, len(a)+len(b))
	var out []*Job
	for _, j := range append(a, b...) {
		if !seen[j.ID] {
			seen[j.ID] = true
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(x, y *Job) int {
		if c := x.ScheduledAt.Compare(y.ScheduledAt); c != 0 {
			return c
		}
		return compareUUID(x.ID, y.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// maxHomeScan bounds the rows one walk of home partitions reads: a listing
// reads what it shows plus at most this many rows it skips (finished jobs in
// current buckets).
const maxHomeScan = 20_000

// walkHomes reads the queue's home partitions whose buckets lie between the
// watermark and to, in home-time order, and returns up to limit jobs that
// keep accepts and whose home time is not after to.
func (s *Store) walkHomes(ctx context.Context, queue string, watermark, to time.Time, limit int, keep func(*Job) bool) ([]*Job, error) {
	qn, err := s.queueNumber(ctx, queue)
	if err != nil {
		return nil, err
	}
	dirs, err := s.homeBuckets(ctx, queue, watermark.Add(-maxHomeWidth), to)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(dirs, func(a, b homeDirKey) int { return a.bucket.Compare(b.bucket) })
	var out []*Job
	scanned := 0
	until := idAt(to.Add(time.Millisecond))
	for _, d := range dirs {
		if !d.bucket.Add(d.width).After(watermark) {
			continue
		}
		for _, h := range d.partitions(qn) {
			after := idAt(maxTime(watermark, h.Start))
			for len(out) < limit && scanned < maxHomeScan {
				rows, err := s.db.JobsScan(ctx, h.Start, h.Shard, after, until, rereadPage).All()
				if err != nil {
					return nil, s.interpret(ctx, queries.JobsScan.Name, err)
				}
				scanned += len(rows)
				for i := range rows {
					j := jobFromRow(&rows[i])
					if j.Version != 0 && j.Queue == queue && keep(j) {
						out = append(out, j)
					}
				}
				if len(rows) < rereadPage {
					break
				}
				after = rows[len(rows)-1].ID
			}
		}
		if len(out) >= limit || scanned >= maxHomeScan {
			break
		}
	}
	return out, nil
}

// walkDue reads the due index of queue from the watermark to `to`, a page
// of entries per partition at a time, and returns up to limit of their jobs
// that keep accepts, in due order. Jobs are read a page at a time too, only
// as many as are still wanted (plus a few for stale hints).
func (s *Store) walkDue(ctx context.Context, queue string, watermark, to time.Time, limit int, keep func(*Job) bool) ([]*Job, error) {
	var out []*Job
	seen := map[dueEntry]bool{}
	have := map[gocql.UUID]bool{}
	from := watermark
	for len(out) < limit {
		rd, err := s.readDue(ctx, queue, watermark, from, to, limit+1)
		if err != nil {
			return nil, err
		}
		var entries []dueEntry
		for _, e := range rd.entries {
			if !seen[e] {
				seen[e] = true
				entries = append(entries, e)
			}
		}
		if len(entries) == 0 {
			break
		}
		for len(entries) > 0 && len(out) < limit {
			n := min(len(entries), limit-len(out)+8)
			page := entries[:n]
			entries = entries[n:]
			groups := map[homeRef][]dueEntry{}
			var order []homeRef
			for _, e := range page {
				h, err := homeOf(e.JobID)
				if err != nil {
					continue
				}
				if _, ok := groups[h]; !ok {
					order = append(order, h)
				}
				groups[h] = append(groups[h], e)
			}
			found := make([][]*Job, len(order))
			err := forEach(ctx, len(order), s.set.writeConcurrency, func(ctx context.Context, i int) error {
				var err error
				found[i], err = s.jobsOfEntries(ctx, order[i], groups[order[i]])
				return err
			})
			if err != nil {
				return nil, err
			}
			var jobs []*Job
			for _, f := range found {
				jobs = append(jobs, f...)
			}
			slices.SortFunc(jobs, func(x, y *Job) int { return x.ScheduledAt.Compare(y.ScheduledAt) })
			for _, job := range jobs {
				if !have[job.ID] && job.Queue == queue && keep(job) && len(out) < limit {
					have[job.ID] = true
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
