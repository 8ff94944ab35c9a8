package repo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/queries"
)

// A new job is found where it lives: a scanner reads each home partition of
// its queue in id order, which is home-time order, up to now. Per partition
// it keeps a frontier: every row up to it was read and resolved (claimed,
// found taken, or not runnable at its home time; a job that becomes due
// later has a due entry). A row can land behind the frontier (an insert
// whose lightweight transaction committed after a later row was read, or a
// clock behind the scanner's), so every range the frontier passes is read
// again, with few columns, a second after and Grace after: each row is
// read about three times, the first time whole.

// homeCursor is a scanner's position in one home partition.
type homeCursor struct {
	h       homeRef
	end     time.Time  // end of the partition's bucket
	after   gocql.UUID // rows up to this id are resolved
	rereads []reread
	busy    bool // a claim of this store is reading it
	// finished is set when the bucket is over and a read after its end found
	// nothing more: only second looks remain.
	finished bool
}

// reread is a range of a partition to read again at a time.
type reread struct {
	after, until gocql.UUID // (after, until]
	at           time.Time
	first        time.Time // when the first range merged into it was due (addReread)
}

// rereadDelays are when a range passed by the frontier is read again.
func (s *Store) rereadDelays() []time.Duration {
	if s.set.grace <= time.Second {
		return []time.Duration{s.set.grace}
	}
	return []time.Duration{time.Second, s.set.grace}
}

// dirCacheFor is how long a scanner reuses the home directory it read.
const dirCacheFor = 250 * time.Millisecond

// homePartitions returns the cursors of the queue's home partitions that may
// hold due work at now, reading the directory when the cached copy is old,
// and dropping cursors of partitions that are done.
func (s *Store) homePartitions(ctx context.Context, sc *scanner, queue string, qn int32, watermark, now time.Time) ([]*homeCursor, error) {
	sc.mu.Lock()
	fresh := now.Sub(sc.dirAt) < dirCacheFor && !sc.dirAt.After(now)
	sc.mu.Unlock()
	if !fresh {
		dirs, err := s.homeBuckets(ctx, queue, watermark.Add(-maxHomeWidth), now)
		if err != nil {
			return nil, err
		}
		sc.mu.Lock()
		sc.dirAt = now
		for _, d := range dirs {
			if !d.bucket.Add(d.width).After(watermark) {
				continue
			}
			for _, h := range d.partitions(qn) {
				if sc.homes[h] == nil && !sc.doneHomes[h] {
					start := maxTime(watermark, h.Start)
					sc.homes[h] = &homeCursor{h: h, end: d.bucket.Add(d.width), after: idAt(start)}
				}
			}
		}
		sc.mu.Unlock()
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	var out []*homeCursor
	for h, c := range sc.homes {
		if h.Start.After(now) {
			continue
		}
		if len(c.rereads) == 0 && c.end.Before(now.Add(-s.set.grace)) && !c.busy && c.finished {
			delete(sc.homes, h)
			sc.doneHomes[h] = true
			continue
		}
		out = append(out, c)
	}
	if len(sc.doneHomes) > 100_000 {
		clear(sc.doneHomes)
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// maxHomeWidth is the widest home bucket a width code allows.
var maxHomeWidth = widthOf(maxWidthCode)

// claimAtHome claims up to need due jobs of the queue from its home
// partitions, first by reading new rows, then by reading again the ranges
// whose time has come. It returns the jobs claimed.
func (s *Store) claimAtHome(ctx context.Context, sc *scanner, queue string, qn int32, watermark time.Time, need int, mk func(*Job) *change) ([]*Job, error) {
	now := s.now()
	parts, err := s.homePartitions(ctx, sc, queue, qn, watermark, now)
	if err != nil {
		return nil, err
	}
	// Partitions with a batch of this store in flight (completions of jobs
	// claimed before) go last: a claim there would queue behind it.
	slices.SortStableFunc(parts, func(a, b *homeCursor) int {
		return cmp.Compare(b2i(s.commits.busy(a.h)), b2i(s.commits.busy(b.h)))
	})
	var out []*Job
	var errs []error
	for _, c := range parts {
		if len(out) >= need {
			break
		}
		if !sc.take(c) {
			continue
		}
		got, err := s.claimPartition(ctx, c, queue, need-len(out), now, mk)
		sc.release(c)
		out = append(out, got...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 && len(out) == 0 {
		return nil, errs[0]
	}
	return out, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// claimPartition reads one partition from its frontier and claims its due
// jobs, then reads again the ranges that are due for it.
func (s *Store) claimPartition(ctx context.Context, c *homeCursor, queue string, need int, now time.Time, mk func(*Job) *change) ([]*Job, error) {
	until := idAt(now.Add(time.Millisecond))
	var out []*Job
	if compareUUID(c.after, until) < 0 {
		limit := max(need+need/2, 32)
		rows, err := s.db.JobsScan(ctx, c.h.Start, c.h.Shard, c.after, until, int32(limit)).All()
		if err != nil {
			return nil, fmt.Errorf("scan jobs of queue %s: %w", queue, s.interpret(ctx, queries.JobsScan.Name, err))
		}
		jobs := make([]*Job, len(rows))
		for i := range rows {
			jobs[i] = jobFromRow(&rows[i])
		}
		got, upTo, err := s.claimRows(ctx, jobs, queue, need, now, mk)
		out = append(out, got...)
		if err != nil {
			return out, err
		}
		if compareUUID(upTo, c.after) > 0 {
			for _, d := range s.rereadDelays() {
				c.addReread(reread{after: c.after, until: upTo, at: now.Add(d)})
			}
			c.after = upTo
		}
		c.finished = len(rows) < limit && upTo == lastID(jobs) && !c.end.After(now.Add(-s.set.grace))
	}
	// Ranges read before whose second look is due.
	var keep []reread
	for _, r := range c.rereads {
		if r.at.After(now) || len(out) >= need {
			keep = append(keep, r)
			continue
		}
		got, rest, err := s.rereadRange(ctx, c.h, r, queue, need-len(out), now, mk)
		out = append(out, got...)
		if err != nil || rest != nil {
			if rest != nil {
				r = *rest
			}
			keep = append(keep, r)
		}
		if err != nil {
			c.rereads = append(keep, c.rereads[len(keep):]...)
			return out, err
		}
	}
	c.rereads = keep
	return out, nil
}

// rereadMerge is how much later a second look at a range may come so that
// it is one read with the look at the range before it: a busy partition,
// claimed from every few milliseconds, is read again a few times a second
// rather than once per claim.
const rereadMerge = 250 * time.Millisecond

// addReread adds a second look at a range, merged into the look at the
// range just before it when that one is due at most rereadMerge earlier
// (it then comes up to that much later, which a second look allows: it is
// the margin for rows that land late, and later only widens it).
func (c *homeCursor) addReread(r reread) {
	for i := range c.rereads {
		p := &c.rereads[i]
		if p.until == r.after && !p.first.After(r.at) && r.at.Sub(p.first) <= rereadMerge {
			p.until, p.at = r.until, r.at
			return
		}
	}
	r.first = r.at
	c.rereads = append(c.rereads, r)
}

func lastID(jobs []*Job) gocql.UUID {
	if len(jobs) == 0 {
		return gocql.UUID{}
	}
	return jobs[len(jobs)-1].ID
}

// claimRows claims the due jobs among rows read in id order (at most need)
// and returns them, with the id up to which every row is resolved and the
// first error of a claim that failed for another reason than the job having
// changed.
func (s *Store) claimRows(ctx context.Context, rows []*Job, queue string, need int, now time.Time, mk func(*Job) *change) ([]*Job, gocql.UUID, error) {
	var chs []*change
	stop := len(rows) // index of the first row not resolved
	for i, j := range rows {
		if j.Queue != queue || !j.State.Claimable() || j.ScheduledAt.After(now) {
			continue // not runnable at its home time: a later change enters it in the due index
		}
		if len(chs) == need {
			stop = i
			break
		}
		chs = append(chs, mk(j))
	}
	var out []*Job
	var firstErr error
	if len(chs) > 0 {
		if err := s.apply(ctx, chs...); err != nil {
			for _, c := range chs {
				c.err = err
			}
		}
		var spent []dueEntry
		for _, c := range chs {
			switch {
			case c.err == nil:
				out = append(out, c.out)
				if e, ok := s.dueEntryOfClaimed(c.cur); ok {
					spent = append(spent, e)
				}
			case isTaken(c.err):
				// Another worker changed or took it: resolved.
			default:
				// Unknown: the frontier stops before it.
				if k := slices.IndexFunc(rows, func(j *Job) bool { return j.ID == c.next.ID }); k < stop {
					stop = k
				}
				if firstErr == nil {
					firstErr = c.err
				}
			}
		}
		s.deleteDue(ctx, spent...)
	}
	if stop == 0 {
		return out, gocql.UUID{}, firstErr
	}
	return out, rows[stop-1].ID, firstErr
}

// dueEntryOfClaimed returns the due entry of a job claimed where it lives,
// when it has one: a job due later than its home time (a retry, a snooze, a
// released continuation) was entered in the due index, and the entry is
// spent once the job is claimed. A job due at its home time has none (but
// for a late recurring occurrence, whose entry a scanner removes).
func (s *Store) dueEntryOfClaimed(j *Job) (dueEntry, bool) {
	info, err := parseID(j.ID)
	if err != nil || !j.ScheduledAt.After(info.At) {
		return dueEntry{}, false
	}
	return s.dueEntryAt(j.Queue, j.ID, j.ScheduledAt), true
}

// isTaken reports whether a claim failed because the job changed: another
// worker took it, or it was cancelled, deleted or rescheduled meanwhile.
func isTaken(err error) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrLeaseLost)
}

// rereadPage is how many rows a second look reads per statement.
const rereadPage = 1000

// rereadRange reads a range of a partition again, with few columns, and
// claims the due jobs it finds (rows that landed behind the frontier, or
// were left for want of capacity). It returns what is left of the range
// when it stopped early.
func (s *Store) rereadRange(ctx context.Context, h homeRef, r reread, queue string, need int, now time.Time, mk func(*Job) *change) ([]*Job, *reread, error) {
	var out []*Job
	after := r.after
	for {
		rows, err := s.db.JobsScanBrief(ctx, h.Start, h.Shard, after, succUUID(r.until), rereadPage).All()
		if err != nil {
			return out, &reread{after: after, until: r.until, at: r.at}, fmt.Errorf("scan jobs of queue %s: %w", queue, s.interpret(ctx, queries.JobsScanBrief.Name, err))
		}
		var ids []gocql.UUID
		for _, b := range rows {
			if b.Queue == queue && State(b.State).Claimable() && !b.ScheduledAt.After(now) {
				ids = append(ids, b.ID)
			}
		}
		if len(ids) > 0 {
			if len(out) >= need {
				return out, &reread{after: after, until: r.until, at: r.at}, nil
			}
			jobs, err := s.jobsOfPartition(ctx, h, ids, false)
			if err != nil {
				return out, &reread{after: after, until: r.until, at: r.at}, err
			}
			got, upTo, err := s.claimRows(ctx, jobs, queue, need-len(out), now, mk)
			out = append(out, got...)
			if err != nil {
				return out, &reread{after: predUUIDOrZero(jobs, upTo, after), until: r.until, at: r.at}, err
			}
			if upTo != lastID(jobs) {
				// Some left: resume at the first row not resolved.
				return out, &reread{after: predUUIDOrZero(jobs, upTo, after), until: r.until, at: r.at}, nil
			}
		}
		if len(rows) < rereadPage {
			return out, nil, nil
		}
		after = rows[len(rows)-1].ID
	}
}

// predUUIDOrZero returns the id to resume a range after: the last resolved
// one, or the range's own start when none was.
func predUUIDOrZero(jobs []*Job, upTo, start gocql.UUID) gocql.UUID {
	if upTo == (gocql.UUID{}) {
		return start
	}
	return upTo
}

// succUUID returns the next UUID in byte order: an exclusive bound just
// after u.
func succUUID(u gocql.UUID) gocql.UUID {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]++
		if u[i] != 0 {
			break
		}
	}
	return u
}

// predUUID returns the previous UUID in byte order.
func predUUID(u gocql.UUID) gocql.UUID {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]--
		if u[i] != 0xff {
			break
		}
	}
	return u
}

// homeLowWater returns the time before which every row of the partitions
// this scanner reads is resolved and read a second time: the home part of
// the watermark.
func (sc *scanner) homeLowWater(now time.Time) time.Time {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	low := now
	for _, c := range sc.homes {
		if info, err := parseID(c.after); err == nil || c.after == (gocql.UUID{}) {
			if !c.finished {
				t := c.h.Start
				if err == nil {
					t = info.At
				}
				low = minTime(low, t)
			}
		}
		for _, r := range c.rereads {
			if info, err := parseID(r.after); err == nil {
				low = minTime(low, info.At)
			} else {
				low = minTime(low, c.h.Start)
			}
		}
	}
	return low
}
