package repo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// Counts converge by design. Every conditional batch that changes jobs of a
// home partition adds one entry to that partition's count log, in the same
// Paxos round as the change: the log sums exactly to the partition's jobs
// per state, whatever fails. Changes of the other states go to a static map
// of the jobs table (active_log); changes of final states go to the
// partition's finish log, one clustering row per batch that sorts before
// every job (see Schema.cql), with the TTL of the rows they count, so
// finished jobs leave the count when they expire, and a read of a job or of
// a range of jobs does not read them. (The static final_log held them
// before; a fold still adds what it holds.) Counting costs no statement per
// job: the log entry rides in the change's batch, and a store marks an hour
// dirty at most once per FoldInterval (markCountsDirty).
//
// A fold reads a partition's log and writes its sum as a cell (count_cells,
// one row per partition), then sums the cells of the partition's hour into
// count_hours, which Count and Stats read: one partition per queue. Every
// store folds the partitions it changed, every FoldInterval; a sweeper (one
// store per queue at a time, by lease, among the stores whose folder runs:
// those that changed a job) folds every partition of the home directory
// every SweepInterval, so a fold lost to a crash is made up.
//
// Settled: before a store changes jobs of an hour it marks the hour dirty
// until the end of its next fold window (count_hours.dirty_until, written
// with that time as its write timestamp, so the latest mark wins). An hour
// whose last fold started after its mark is settled: its count is exact as
// of that fold.

// countKey names a count_hours row.
type countKey struct {
	queue string
	hour  time.Time
}

// hourOf is the count hour of a home bucket.
func hourOf(bucket time.Time) time.Time { return bucket.UTC().Truncate(time.Hour) }

// countFolder folds the count logs of the partitions this store changed.
type countFolder struct {
	s *Store

	mu      sync.Mutex
	dirty   map[homeRef]string     // partition → queue, changed since the last fold
	marks   map[countKey]time.Time // dirty_until this store wrote
	refold  map[countKey]time.Time // hours to fold again once past their mark
	started bool
	stop    chan struct{}
	done    chan struct{}
}

// touched records that a partition of queue changed.
func (f *countFolder) touched(h homeRef, queue string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dirty == nil {
		f.dirty = map[homeRef]string{}
	}
	f.dirty[h] = queue
	f.startLocked()
}

func (f *countFolder) startLocked() {
	if f.started || f.s.set.foldInterval < 0 {
		return
	}
	f.started = true
	f.stop, f.done = make(chan struct{}), make(chan struct{})
	go f.loop()
}

// close stops the folder after a last fold.
func (f *countFolder) close() {
	f.mu.Lock()
	started := f.started
	f.started = false
	stop, done := f.stop, f.done
	f.mu.Unlock()
	if started {
		close(stop)
		<-done
	}
}

func (f *countFolder) loop() {
	defer close(f.done)
	t := time.NewTicker(f.s.set.foldInterval)
	defer t.Stop()
	sweep := time.NewTicker(f.s.set.sweepInterval / 4)
	defer sweep.Stop()
	for {
		select {
		case <-f.stop:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			f.foldDirty(ctx)
			f.settleMarks(ctx)
			cancel()
			return
		case <-t.C:
			if f.s.session.Closed() {
				// The session was closed under a store left open: nothing
				// can be folded any more; the sweeper of another store will.
				f.mu.Lock()
				f.started = false
				f.mu.Unlock()
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			f.foldDirty(ctx)
			cancel()
		case <-sweep.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			f.sweepDue(ctx)
			cancel()
		}
	}
}

// markCountsDirty marks the count hours the changes touch as changing until
// the end of this store's next fold window, before they are written.
func (s *Store) markCountsDirty(ctx context.Context, chs []*change) error {
	now := s.now()
	until := now.Add(2*s.set.foldInterval + time.Second)
	f := &s.counts
	var todo []countKey
	f.mu.Lock()
	if f.marks == nil {
		f.marks = map[countKey]time.Time{}
		f.refold = map[countKey]time.Time{}
	}
	for _, c := range chs {
		h, err := homeOf(c.next.ID)
		if err != nil {
			continue
		}
		k := countKey{c.next.Queue, hourOf(h.Start)}
		if f.marks[k].After(now.Add(s.set.foldInterval)) {
			continue
		}
		f.marks[k] = until
		f.refold[k] = until
		todo = append(todo, k)
	}
	if len(f.marks) > 10_000 {
		for k, t := range f.marks {
			if t.Before(now) {
				delete(f.marks, k)
			}
		}
	}
	f.mu.Unlock()
	slices.SortFunc(todo, func(a, b countKey) int { return a.hour.Compare(b.hour) })
	todo = slices.Compact(todo)
	return forEach(ctx, len(todo), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		k := todo[i]
		err := s.exec(ctx, queries.CountHourDirty, s.db.CountHourDirty(ctx, until.UnixMicro(), until, k.queue, k.hour))
		if err != nil {
			f.mu.Lock()
			delete(f.marks, k)
			f.mu.Unlock()
			return fmt.Errorf("mark counts of queue %s: %w", k.queue, err)
		}
		return nil
	})
}

// maxCloseWait bounds how long Close waits for this store's marks to run
// out (settleMarks).
const maxCloseWait = 5 * time.Second

// settleMarks, when the store closes, waits until the marks it wrote have
// run out and folds their hours once more: an hour is settled by a fold
// that starts after its last mark, and a store that closed before its marks
// ran out would otherwise leave the hours it changed unsettled until a
// sweeper folds them (SweepInterval). The wait is what is left of the
// marks, at most 2×FoldInterval+1 s when the store changed jobs just
// before, and none when that would exceed maxCloseWait (the sweeper then
// settles them) or when the store runs on a clock of its own (Options.Now).
func (f *countFolder) settleMarks(ctx context.Context) {
	if !f.s.set.realClock {
		return
	}
	f.mu.Lock()
	var last time.Time
	for _, until := range f.refold {
		last = maxTime(last, until)
	}
	f.mu.Unlock()
	if last.IsZero() {
		return
	}
	wait := last.Sub(f.s.now()) + time.Millisecond
	if wait > maxCloseWait {
		return
	}
	if wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
	f.foldDirty(ctx)
}

// foldDirty folds the partitions changed since the last fold, and hours
// whose mark has passed since (so that their last fold starts after it).
func (f *countFolder) foldDirty(ctx context.Context) {
	now := f.s.now()
	f.mu.Lock()
	parts := f.dirty
	f.dirty = nil
	hours := map[countKey]bool{}
	for k, until := range f.refold {
		if until.Before(now) {
			hours[k] = true
			delete(f.refold, k)
		}
	}
	f.mu.Unlock()
	if err := f.s.fold(ctx, parts, hours, now); err != nil {
		f.s.set.log.Warn("jobsharp: could not fold job counts; the next fold or the sweeper will", "err", err)
		f.mu.Lock()
		if f.dirty == nil {
			f.dirty = map[homeRef]string{}
		}
		maps.Copy(f.dirty, parts)
		// The hours too: an hour's last fold (after its mark ran out) is
		// what settles it, and it comes when no partition of it changes any
		// more, so a failed one would have left it unsettled until the
		// sweeper.
		for k := range hours {
			if _, ok := f.refold[k]; !ok {
				f.refold[k] = now
			}
		}
		f.mu.Unlock()
	}
}

// fold sums the count logs of parts into their cells, then the cells of
// every hour they belong to (and of hours) into count_hours. start is when
// the fold began: every change made before it is counted.
func (s *Store) fold(ctx context.Context, parts map[homeRef]string, hours map[countKey]bool, start time.Time) error {
	type part struct {
		h     homeRef
		queue string
	}
	list := make([]part, 0, len(parts))
	for h, q := range parts {
		list = append(list, part{h, q})
		hours[countKey{q, hourOf(h.Start)}] = true
	}
	err := forEach(ctx, len(list), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		_, err := s.foldPartition(ctx, list[i].queue, list[i].h, start)
		return err
	})
	if err != nil {
		return err
	}
	keys := slices.Collect(maps.Keys(hours))
	return forEach(ctx, len(keys), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		return s.foldHour(ctx, keys[i], start)
	})
}

// maxActiveLog is the length of a partition's active log past which a fold
// compacts it into one entry.
const maxActiveLog = 64

// foldPartition writes the sum of a partition's count log as its cell and
// returns it; it compacts a long active log, and empties one that sums to
// zero (every job final), so that the partition can expire.
func (s *Store) foldPartition(ctx context.Context, queue string, h homeRef, start time.Time) (map[State]int64, error) {
	row, err := s.db.CountLogRead(ctx, h.Start, h.Shard).One()
	switch err = s.interpret(ctx, queries.CountLogRead.Name, err); {
	case errors.Is(err, ErrNotFound):
		row = queries.CountLogReadRow{}
	case err != nil:
		return nil, fmt.Errorf("read count log: %w", err)
	}
	active := sumLog(row.ActiveLog)
	sum := maps.Clone(active)
	for st, n := range sumLog(row.FinalLog) {
		sum[st] += n
	}
	fin, err := s.db.FinishLogChanges(ctx, h.Start, h.Shard, finishLogEnd).All()
	if err != nil {
		return nil, fmt.Errorf("read finish log: %w", s.interpret(ctx, queries.FinishLogChanges.Name, err))
	}
	for _, r := range fin {
		for st, n := range r.FinalChange {
			sum[State(st)] += int64(n)
		}
	}
	cell := make(map[int32]int64, len(sum))
	for st, n := range sum {
		if n != 0 {
			cell[int32(st)] = n
		}
	}
	err = s.exec(ctx, queries.CountCellWrite, s.db.CountCellWrite(ctx, models.CountCellsRow{
		Queue: queue, Hour: hourOf(h.Start), Bucket: h.Start, Shard: h.Shard, Jobs: cell, FoldedAt: start,
	}))
	if err != nil {
		return nil, fmt.Errorf("write count cell: %w", err)
	}
	zero := true
	for _, n := range active {
		zero = zero && n == 0
	}
	if len(row.ActiveLog) > maxActiveLog || zero && len(row.ActiveLog) > 0 {
		s.compactLog(ctx, h, row.ActiveLog, active)
	}
	return sum, nil
}

// compactLog replaces a partition's active log by one entry holding its sum
// (none when it sums to zero), by lightweight transaction on the log as it
// was read: an entry added meanwhile makes it fail, and a later fold tries
// again.
func (s *Store) compactLog(ctx context.Context, h homeRef, read map[gocql.UUID]map[int32]int32, sum map[State]int64) {
	var next map[gocql.UUID]map[int32]int32
	entry := map[int32]int32{}
	for st, n := range sum {
		if n != 0 {
			entry[int32(st)] = int32(n)
		}
	}
	if len(entry) > 0 {
		next = map[gocql.UUID]map[int32]int32{gocql.TimeUUID(): entry}
	}
	_, _, err := s.db.CountLogCompact(ctx, next, h.Start, h.Shard, read).Exec()
	if err = s.interpret(ctx, queries.CountLogCompact.Name, err); err != nil {
		s.set.log.Debug("jobsharp: could not compact a count log", "err", err)
	}
}

// sumLog adds up the entries of a count log.
func sumLog(log map[gocql.UUID]map[int32]int32) map[State]int64 {
	out := map[State]int64{}
	for _, e := range log {
		for st, n := range e {
			out[State(st)] += int64(n)
		}
	}
	return out
}

// foldHour sums the cells of an hour into its count_hours row, by
// lightweight transaction on the row's generation: a sum of older cells
// never overwrites a newer one.
func (s *Store) foldHour(ctx context.Context, k countKey, start time.Time) error {
	for range 5 {
		cells, err := s.db.CountCellsOfHour(ctx, k.queue, k.hour).All()
		if err != nil {
			return fmt.Errorf("read count cells: %w", s.interpret(ctx, queries.CountCellsOfHour.Name, err))
		}
		sum := map[int32]int64{}
		for _, c := range cells {
			for st, n := range c.Jobs {
				sum[st] += n
			}
		}
		maps.DeleteFunc(sum, func(_ int32, n int64) bool { return n == 0 })
		cur, err := s.db.CountHourGet(ctx, k.queue, k.hour).Consistency(gocql.Consistency(s.set.serial)).One()
		err = s.interpret(ctx, queries.CountHourGet.Name, err)
		var applied bool
		switch {
		case errors.Is(err, ErrNotFound) || err == nil && cur.Gen == 0:
			applied, _, err = s.db.CountHourCreate(ctx, sum, 1, start, k.queue, k.hour).Exec()
			err = s.interpret(ctx, queries.CountHourCreate.Name, err)
		case err != nil:
			return fmt.Errorf("read count hour: %w", err)
		default:
			if cur.FoldedAt.After(start) {
				return nil // a later fold already wrote it
			}
			applied, _, err = s.db.CountHourWrite(ctx, sum, cur.Gen+1, start, k.queue, k.hour, cur.Gen).Exec()
			err = s.interpret(ctx, queries.CountHourWrite.Name, err)
		}
		if err != nil {
			return fmt.Errorf("write count hour: %w", err)
		}
		if applied {
			return nil
		}
	}
	return fmt.Errorf("write count hour of queue %s: lost the race five times", k.queue)
}

// sweepDue sweeps the queues whose sweep is due and whose lease this store
// takes.
func (f *countFolder) sweepDue(ctx context.Context) {
	queues, err := f.s.db.QueuesList(ctx, 0).All()
	if err != nil {
		f.s.set.log.Warn("jobsharp: could not list queues to sweep their counts", "err", err)
		return
	}
	now := f.s.now()
	for _, q := range queues {
		if now.Sub(q.SweptAt) < f.s.set.sweepInterval {
			continue
		}
		if err := f.s.sweep(ctx, q.Name, false); err != nil && !errors.Is(err, errSweepTaken) {
			f.s.set.log.Warn("jobsharp: could not sweep job counts", "queue", q.Name, "err", err)
		}
	}
}

var errSweepTaken = errors.New("another store is sweeping this queue")

// SweepCounts folds the count log of every partition of a queue's home
// directory into the counts, so that counts are exact as of its start, also
// after any fault (a store that died before folding what it changed). It
// removes the directory rows and cells of partitions that hold no job any
// more. Stores sweep on their own every SweepInterval, one store per queue
// at a time (a lease in the queue registry); SweepCounts sweeps at once,
// whoever holds the lease (sweeps are idempotent). It costs one read per
// partition of the queue, plus a read of the rows (few columns, 1,000 a
// page) of each partition that holds Processing jobs, to enter those whose
// lease ended long ago and that no lease entry covers (orphans.go).
func (s *Store) SweepCounts(ctx context.Context, queue string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if queue == "" {
		queue = DefaultQueue
	}
	if err := ValidQueue(queue); err != nil {
		return err
	}
	return s.sweep(ctx, queue, true)
}

// sweep sweeps a queue's counts; unless force, only when this store takes
// the queue's sweep lease.
func (s *Store) sweep(ctx context.Context, queue string, force bool) error {
	qn, err := s.queueNumber(ctx, queue)
	if err != nil {
		return err
	}
	start := s.now()
	if !force {
		until := start.Add(10 * time.Minute)
		applied, _, err := s.db.QueueSweepTake(ctx, s.owner, until, 0, queue, start).Exec()
		if err = s.interpret(ctx, queries.QueueSweepTake.Name, err); err == nil && !applied {
			applied, _, err = s.db.QueueSweepTakeFirst(ctx, s.owner, until, 0, queue).Exec()
			err = s.interpret(ctx, queries.QueueSweepTakeFirst.Name, err)
		}
		if err != nil {
			return fmt.Errorf("sweep counts of queue %s: %w", queue, err)
		}
		if !applied {
			return errSweepTaken
		}
	}
	dirs, err := s.db.HomeBucketsAll(ctx, queue).All()
	if err != nil {
		return fmt.Errorf("sweep counts of queue %s: %w", queue, s.interpret(ctx, queries.HomeBucketsAll.Name, err))
	}
	type part struct {
		h   homeRef
		dir homeDirKey
	}
	var parts []part
	for _, r := range dirs {
		k := homeDirKey{queue: queue, bucket: r.Bucket.UTC(), width: time.Duration(r.WidthMs) * time.Millisecond, shards: int(r.Shards)}
		if k.width <= 0 || k.shards <= 0 {
			continue
		}
		for _, h := range k.partitions(qn) {
			parts = append(parts, part{h, k})
		}
	}
	empty := make([]bool, len(parts))
	err = forEach(ctx, len(parts), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		sum, err := s.foldPartition(ctx, queue, parts[i].h, start)
		if err != nil {
			return err
		}
		if sum[StateProcessing] > 0 {
			// The backstop of rescue; a failure leaves it to the next sweep
			// and does not stop the counts'.
			if err := s.reEnterOrphans(ctx, queue, parts[i].h, start.Add(-s.orphanAfter())); err != nil {
				s.set.log.Warn("jobsharp: could not look for Processing jobs with no lease entry", "queue", queue, "err", err)
			}
		}
		empty[i] = true
		for _, n := range sum {
			empty[i] = empty[i] && n == 0
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep counts of queue %s: %w", queue, err)
	}
	// Directory rows whose partitions are all empty, and old enough that no
	// store writes new jobs there, go; so do their cells.
	emptyDir := map[homeDirKey]bool{}
	for i, p := range parts {
		if _, seen := emptyDir[p.dir]; !seen {
			emptyDir[p.dir] = true
		}
		emptyDir[p.dir] = emptyDir[p.dir] && empty[i]
	}
	hours := map[countKey]bool{}
	for _, p := range parts {
		hours[countKey{queue, hourOf(p.h.Start)}] = true
	}
	var gone []homeDirKey
	for k, e := range emptyDir {
		if e && k.bucket.Add(k.width).Before(start.Add(-2*homeDirRefresh)) {
			gone = append(gone, k)
		}
	}
	err = forEach(ctx, len(gone), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		k := gone[i]
		for _, h := range k.partitions(qn) {
			if err := s.exec(ctx, queries.CountCellDelete, s.db.CountCellDelete(ctx, queue, hourOf(h.Start), h.Start, h.Shard)); err != nil {
				return err
			}
		}
		return s.exec(ctx, queries.HomeBucketDelete, s.db.HomeBucketDelete(ctx, models.HomeBucketsRow{Queue: queue, Bucket: k.bucket, WidthMs: int32(k.width.Milliseconds()), Shards: int32(k.shards)}))
	})
	if err != nil {
		return fmt.Errorf("sweep counts of queue %s: %w", queue, err)
	}
	// Every hour with a row, too: an hour whose cells are all gone sums to
	// nothing.
	rows, err := s.db.CountHoursRead(ctx, queue).All()
	if err != nil {
		return fmt.Errorf("sweep counts of queue %s: %w", queue, s.interpret(ctx, queries.CountHoursRead.Name, err))
	}
	for _, r := range rows {
		hours[countKey{queue, r.Hour.UTC()}] = true
	}
	keys := slices.Collect(maps.Keys(hours))
	err = forEach(ctx, len(keys), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		return s.foldHour(ctx, keys[i], start)
	})
	if err != nil {
		return fmt.Errorf("sweep counts of queue %s: %w", queue, err)
	}
	if force {
		return nil
	}
	// The lease ends before the sweep began, so the next sweep may start at
	// once when it is due.
	_, _, err = s.db.QueueSweepDone(ctx, start.Add(-time.Millisecond), start, 0, queue, s.owner).Exec()
	if err = s.interpret(ctx, queries.QueueSweepDone.Name, err); err != nil {
		return fmt.Errorf("sweep counts of queue %s: %w", queue, err)
	}
	return nil
}

// Counts is what the count hours of a queue say.
type Counts struct {
	// Jobs per state; a state with no job is missing.
	Jobs map[State]int64
	// Settled reports whether every count is exact as of FoldedAt: no store
	// changed jobs of the queue after its last fold, and no state summed
	// below zero. A count is never negative: a state whose logs sum below
	// zero (an entry lost, or a finished job's entry that expired a moment
	// before its pair) shows 0 and leaves the counts unsettled until a fold
	// finds it at zero or more.
	Settled bool
	// FoldedAt is when the oldest of the hours' last folds began: every
	// change made before it is counted.
	FoldedAt time.Time
	// Unsettled is the number of hours changed since their last fold.
	Unsettled int
}

// everyState returns the counts with every state present (zero when the
// queue has no job in it), as Stats and Queues.List report them.
func (c Counts) everyState() map[State]int64 {
	out := make(map[State]int64, len(States()))
	for _, st := range States() {
		out[st] = c.Jobs[st]
	}
	return out
}

// counts reads the count hours of a queue.
func (s *Store) readCounts(ctx context.Context, queue string) (Counts, error) {
	rows, err := s.db.CountHoursRead(ctx, queue).All()
	if err != nil {
		return Counts{}, s.interpret(ctx, queries.CountHoursRead.Name, err)
	}
	out := Counts{Jobs: map[State]int64{}, Settled: true}
	for _, r := range rows {
		for st, n := range r.Jobs {
			out.Jobs[State(st)] += n
		}
		if out.FoldedAt.IsZero() || r.FoldedAt.Before(out.FoldedAt) {
			out.FoldedAt = r.FoldedAt.UTC()
		}
		if !r.DirtyUntil.IsZero() && !r.FoldedAt.After(r.DirtyUntil) {
			out.Settled = false
			out.Unsettled++
		}
	}
	for st, n := range out.Jobs {
		if n < 0 {
			// A count log that lost an entry (or a final entry that expired
			// a moment before its pair): a count never shows negative, and
			// it is not exact, so not settled either.
			s.set.log.Warn("jobsharp: a job count summed below zero; shown as 0", "queue", queue, "state", st, "count", n)
			out.Jobs[st] = 0
			out.Settled = false
		}
	}
	return out, nil
}

// Count returns the number of jobs of a queue in a state (JobSharp's
// GetJobCount); queue "" counts every queue. It reads the folded counts:
// one partition per queue, whatever the history. A count lags the jobs by
// at most FoldInterval plus a few seconds while the stores that changed
// them run, and by at most SweepInterval after a store died before it
// folded; [Jobs.Counts] says whether the counts are settled.
func (j *Jobs) Count(ctx context.Context, queue string, state State) (int64, error) {
	if err := j.check(ctx); err != nil {
		return 0, err
	}
	if !state.Valid() {
		return 0, invalid("state", "%d is not a state", int(state))
	}
	queues, err := j.queuesOf(ctx, queue)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, q := range queues {
		c, err := j.s.readCounts(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("count %s jobs of queue %s: %w", state, q, err)
		}
		total += c.Jobs[state]
	}
	return total, nil
}

// Counts returns the counts of one queue per state, and whether they are
// settled.
func (j *Jobs) Counts(ctx context.Context, queue string) (Counts, error) {
	if err := j.check(ctx); err != nil {
		return Counts{}, err
	}
	if queue == "" {
		queue = DefaultQueue
	}
	if err := ValidQueue(queue); err != nil {
		return Counts{}, err
	}
	c, err := j.s.readCounts(ctx, queue)
	if err != nil {
		return Counts{}, fmt.Errorf("counts of queue %s: %w", queue, err)
	}
	return c, nil
}

// countLogEntry is what one batch adds to a partition's count log.
type countLogEntry struct {
	active map[int32]int32
	final  map[int]map[int32]int32 // TTL seconds (0: none) → deltas
}

// countDeltas returns the count log entry of a batch of changes.
func (s *Store) countDeltas(chs []*change, now time.Time) countLogEntry {
	e := countLogEntry{active: map[int32]int32{}, final: map[int]map[int32]int32{}}
	add := func(st State, d int32, ttl int) {
		if !st.Final() {
			e.active[int32(st)] += d
			return
		}
		m := e.final[ttl]
		if m == nil {
			m = map[int32]int32{}
			e.final[ttl] = m
		}
		m[int32(st)] += d
	}
	for _, c := range chs {
		if c.cur != nil {
			ttl := 0
			if c.cur.State.Final() && s.set.ttlSeconds() > 0 {
				// The row's cells expire Retention after they were written
				// (when the job finished); the minus goes with them.
				left := c.cur.StateChangedAt.Add(s.set.retention).Sub(now)
				ttl = max(1, int((left+time.Second-1)/time.Second))
			}
			add(c.cur.State, -1, ttl)
		}
		if c.op.stmt != writeDelete {
			ttl := 0
			if c.next.State.Final() {
				ttl = s.set.ttlSeconds()
			}
			add(c.next.State, 1, ttl)
		}
	}
	maps.DeleteFunc(e.active, func(_ int32, n int32) bool { return n == 0 })
	for ttl, m := range e.final {
		maps.DeleteFunc(m, func(_ int32, n int32) bool { return n == 0 })
		if len(m) == 0 {
			delete(e.final, ttl)
		}
	}
	return e
}

// addCountLog adds the count log entry of a batch's changes to the batch:
// its changes of active states to the static log, and a finish-log row per
// TTL of its changes of final states. The row with the TTL of finished rows
// also names the jobs the batch leaves Succeeded, with their versions. A
// finish-log row's id is a time UUID of the store's clock now (the order of
// lists of Succeeded jobs, and the time purges compare).
func (s *Store) addCountLog(b *queries.JobsBatch, h homeRef, chs []*change) {
	now := s.now()
	e := s.countDeltas(chs, now)
	if len(e.active) > 0 {
		b.CountLogActive(gocql.TimeUUID(), e.active, h.Start, h.Shard)
	}
	succeeded := succeededBy(chs)
	full := s.set.ttlSeconds()
	if len(succeeded) > 0 && e.final[full] == nil {
		e.final[full] = map[int32]int32{} // a Succeeded job changed, its count did not
	}
	ttls := slices.Collect(maps.Keys(e.final))
	sort.Ints(ttls)
	for _, ttl := range ttls {
		if ttl == full && len(succeeded) > 0 {
			b.FinishLogJobs(int32(ttl), e.final[ttl], succeeded, h.Start, h.Shard, finishLogID(now))
		} else {
			b.FinishLogCount(int32(ttl), e.final[ttl], h.Start, h.Shard, finishLogID(now))
		}
	}
}

// succeededBy returns the jobs that changes leave Succeeded, with their
// versions after the change: what the batch's finish-log row names.
func succeededBy(chs []*change) map[gocql.UUID]int64 {
	var out map[gocql.UUID]int64
	for _, c := range chs {
		if c.op.stmt != writeDelete && c.next.State == StateSucceeded {
			if out == nil {
				out = map[gocql.UUID]int64{}
			}
			out[c.next.ID] = c.next.Version
		}
	}
	return out
}

// finishLogID returns the id of a finish-log row made at t: a version-1
// UUID of t, with a random node, so that rows two processes make at one
// instant in one partition do not overwrite each other.
func finishLogID(t time.Time) gocql.UUID {
	u := gocql.UUIDFromTime(t)
	_, _ = rand.Read(u[10:])
	return u
}

// finishLogEnd bounds a partition's finish log: every finish-log row (a
// version-1 UUID) sorts before it, every job id (version 7) at or after it.
var finishLogEnd = idAt(time.UnixMilli(0))
