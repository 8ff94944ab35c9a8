package repo

import (
	"bytes"
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

// changeOp describes a kind of change: its name in errors and hooks, the
// statement that writes it, and who makes it.
type changeOp struct {
	name string
	stmt changeStmt
	// fenced marks a change by the lease holder: a failed condition then
	// reports [ErrLeaseLost] when the lease was taken away, rather than
	// [ErrConflict].
	fenced bool
}

type changeStmt int

const (
	// writeFull rewrites every column of the row (every state change; it
	// also sets or clears the retention TTL).
	writeFull changeStmt = iota
	writeCreate
	writeClaim
	writeHeartbeat
	writeDelete
	// writeMark sets HasContinuations (and the version) and nothing else:
	// no state changes, so it needs no hints and moves no lease.
	writeMark
)

// The changes a job goes through.
var (
	opInsert         = changeOp{name: "insert", stmt: writeCreate}
	opClaim          = changeOp{name: "claim", stmt: writeClaim}
	opHeartbeat      = changeOp{name: "heartbeat", stmt: writeHeartbeat, fenced: true}
	opComplete       = changeOp{name: "complete", fenced: true}
	opFail           = changeOp{name: "fail", fenced: true}
	opRelease        = changeOp{name: "release", fenced: true}
	opSnooze         = changeOp{name: "snooze", fenced: true}
	opCancelHeld     = changeOp{name: "cancel", fenced: true}
	opRescue         = changeOp{name: "rescue"}
	opCancel         = changeOp{name: "cancel"}
	opRequeue        = changeOp{name: "requeue"}
	opUpdate         = changeOp{name: "update"}
	opDelete         = changeOp{name: "delete", stmt: writeDelete}
	opReleaseWaiting = changeOp{name: "release"} // a continuation whose parent finished
	opMarkContinued  = changeOp{name: "mark continued", stmt: writeMark}
)

// change is one job's change, from cur (nil for a new job) to next (for a
// delete: the job as it was).
type change struct {
	cur, next *Job
	op        changeOp
	home      homeRef

	hinted   bool     // its hints are written
	hints    hintSet  // what it wrote ahead, to drop if it fails
	lease    dueEntry // the lease entry it was written under (claims, heartbeats)
	attempts int      // batches sent with it that failed outright

	// Results, set when resolved.
	out     *Job
	existed bool // a create found the same job stored (a retried insert)
	err     error
}

func newChange(cur, next *Job, op changeOp) *change {
	if cur != nil {
		next.Version = cur.Version + 1
		// Only a mark sets HasContinuations, and nothing clears it: a
		// caller's copy of the job may predate the mark (its condition on
		// the version then fails, see rebase).
		next.HasContinuations = cur.HasContinuations || op.stmt == writeMark
		next.UniqueKey = cur.UniqueKey // set at insert, never changed
	}
	return &change{cur: cur, next: next, op: op}
}

// apply makes changes and returns when each is resolved. Every change is a
// lightweight transaction on its job's row, conditioned on the version the
// caller read (a create: on there being no row). Changes of one home
// partition go out together, and with those other goroutines of this store
// make at the same time, as one conditional batch: one Paxos round for all
// (see groupCommit). For each change, in order:
//
//  1. the hints it needs are written first (its due or state entry, a lease
//     entry per batch of claims, a settle entry for a job that finishes
//     while nobody holds it), so a crash leaves only stray hints;
//  2. the batch, with one entry of the partition's count log; an unknown
//     outcome (a timeout) is settled by a serial read, and changes whose
//     condition still holds are sent again;
//  3. then the removal of hints that no longer hold, and, for jobs that
//     just finished, the settling of their continuations and batches.
//
// The result of each change is in its out and err fields. apply returns
// ctx's error when ctx ended before every change was resolved; then some
// may still apply.
func (s *Store) apply(ctx context.Context, chs ...*change) error {
	groups := map[homeRef][]*change{}
	var order []homeRef
	for _, c := range chs {
		h, err := rowKey(c.next)
		if err != nil {
			c.err = err
			continue
		}
		c.home = h
		if _, ok := groups[h]; !ok {
			order = append(order, h)
		}
		groups[h] = append(groups[h], c)
	}
	var err error
	if len(order) == 1 {
		err = s.commits.do(ctx, order[0], groups[order[0]]...)
	} else {
		err = forEach(ctx, len(order), s.set.writeConcurrency, func(ctx context.Context, i int) error {
			return s.commits.do(ctx, order[i], groups[order[i]]...)
		})
	}
	if err != nil {
		return err // some changes may still be in flight: leave them be
	}
	if s.afterBatch != nil {
		if err := s.afterBatch(chs[0].op.name); err != nil {
			return err
		}
	}
	// What follows from the changes that applied, in the caller's goroutine:
	// settling a finished job changes its continuations, which may live in
	// the same partition, so it must not run inside a batch of it.
	var done []*change
	for _, c := range chs {
		if c.err == nil && c.out != nil && !c.existed {
			done = append(done, c)
		}
	}
	if len(done) > 0 {
		s.after(ctx, done)
	}
	return nil
}

// applyOne makes one change and returns its result.
func (s *Store) applyOne(ctx context.Context, c *change) (*Job, error) {
	if err := s.apply(ctx, c); err != nil {
		return nil, fmt.Errorf("%s job %s: %w", c.op.name, c.next.ID, err)
	}
	if c.err != nil {
		return nil, fmt.Errorf("%s job %s: %w", c.op.name, c.next.ID, c.err)
	}
	return c.out, nil
}

// maxBatchChanges and maxBatchBytes bound one conditional batch: Cassandra
// takes a single-partition batch of any size, but one mutation must stay
// well under max_mutation_size (half the 32 MiB commit log segment).
const (
	maxBatchChanges = 200
	maxBatchBytes   = 4 << 20
)

// batchLimit returns how many of the pending changes the next batch takes.
// A batch never holds two changes of one job: Cassandra checks every
// condition of a batch against the rows as they were before it, so two
// changes conditioned on the same version would both apply (two claims of
// one job would both succeed). The second waits for the next batch, where
// its condition fails or holds on what the first wrote.
func batchLimit(chs []*change) int {
	size := 0
	seen := make(map[gocql.UUID]bool, len(chs))
	for i, c := range chs {
		size += c.next.size()
		if i == maxBatchChanges || i > 0 && size > maxBatchBytes || seen[c.next.ID] {
			return i
		}
		seen[c.next.ID] = true
	}
	return len(chs)
}

// size estimates the bytes a job's row takes in a batch.
func (j *Job) size() int {
	n := 200 + len(j.Type) + len(j.Args) + len(j.Result) + len(j.LastError) + len(j.Lease.Owner)
	for _, e := range j.Errors {
		n += 40 + len(e.Error) + len(e.Trace)
	}
	for k, v := range j.Metadata {
		n += len(k) + len(v) + 8
	}
	return n
}

// maxAttempts bounds the batches a change is sent in when they fail with a
// transient error and the serial read shows they did not apply.
const maxAttempts = 3

// commitBatch sends one batch of changes of partition h and resolves each,
// or returns those to send again (their condition held but another change
// of the batch failed its own).
func (s *Store) commitBatch(ctx context.Context, h homeRef, chs []*change) (retry []*change) {
	chs = s.writeChangeHints(ctx, chs)
	if len(chs) == 0 {
		return nil
	}
	b := s.db.NewJobsBatch(ctx, gocql.UnloggedBatch)
	for _, c := range chs {
		s.addChange(b, h, c)
	}
	s.addCountLog(b, h, chs)
	applied, current, err := b.ExecCAS()
	err = s.interpret(ctx, "JobsBatch", err)
	switch {
	case err == nil && applied:
		s.applied(ctx, h, chs)
		return nil
	case err == nil:
		return s.notApplied(ctx, h, chs, current)
	}
	return s.unknownOutcome(ctx, h, chs, err)
}

// writeChangeHints writes the hints of the changes that have none yet and
// returns the changes that may go on (those whose hints failed are resolved
// with the error).
func (s *Store) writeChangeHints(ctx context.Context, chs []*change) []*change {
	var fresh []*change
	for _, c := range chs {
		if !c.hinted {
			fresh = append(fresh, c)
		}
	}
	if len(fresh) == 0 {
		return chs
	}
	var all hintSet
	var dirs []homeDirKey
	now := s.now()
	for _, c := range fresh {
		s.changeHints(&c.hints, c, now)
		all.add(&c.hints)
		if c.cur == nil {
			if k, err := s.homeDir(c.next.Queue, c.next.ID); err == nil {
				dirs = append(dirs, k)
			}
		}
	}
	if lease, ok := s.leaseEntry(fresh); ok {
		all.addDue(lease)
		for _, c := range fresh {
			if c.next.State == StateProcessing && c.op.stmt != writeDelete && c.op.stmt != writeMark {
				c.lease = lease
				c.hints.addDue(lease)
			}
		}
	}
	err := s.writeHomeDirs(ctx, dirs)
	if err == nil {
		err = s.markCountsDirty(ctx, fresh)
	}
	if err == nil {
		err = s.writeHints(ctx, &all)
	}
	if err == nil && s.afterHints != nil {
		err = s.afterHints(fresh[0].op.name)
	}
	if err != nil {
		keep := chs[:0:0]
		for _, c := range chs {
			if c.hinted {
				keep = append(keep, c)
			} else {
				c.err = err
			}
		}
		return keep
	}
	for _, c := range fresh {
		c.hinted = true
	}
	return chs
}

// changeHints adds the hints change c needs before its row is written: a
// due entry when the job waits to run at another time than its home time
// (a new job due at its home time is found in its home partition), a state
// entry when it rests in its state, and a settle entry when it finishes
// while no worker holds it (a worker's job has its lease entry). Lease
// entries are added per batch (leaseEntry).
func (s *Store) changeHints(h *hintSet, c *change, now time.Time) {
	j := c.next
	if c.op.stmt == writeDelete || c.op.stmt == writeMark {
		return
	}
	switch {
	case j.State.Claimable():
		if c.cur != nil || !s.foundAtHome(j, now) {
			h.addDue(s.dueEntryAt(j.Queue, j.ID, j.ScheduledAt))
		}
	case j.State == StateProcessing:
	case finalStateAfter(c):
		// Written when the job is settled, after its batch (see after).
	case !j.State.stateIndexed():
		// Succeeded: the batch's finish-log row names it (addCountLog).
	default:
		ttl := 0
		if j.State.Final() {
			ttl = s.set.ttlSeconds()
		}
		h.addState(s.stateEntryOf(j), ttl)
	}
	if j.State.Final() && (c.cur == nil || !c.cur.State.Final()) && (c.cur == nil || c.cur.State != StateProcessing) {
		h.addDue(s.dueEntryAt(j.Queue, j.ID, now)) // settle: looked at by scanners if this process dies first
	}
}

// finalStateAfter reports whether change c is a lease holder's outcome that
// ends its job in a state with state-index rows (a last Fail, CancelHeld; a
// Complete's Succeeded job has none, its batch's finish-log row names it):
// the row is written when the job is settled, after the batch, rather than
// as a hint before it. The job's lease entry covers the gap: this store
// deletes it only once the job is settled, state row included, and a
// scanner that meets it after a crash settles the finished jobs of its
// range, state rows included (resolveDue). Together with the settling, the
// rows of every job that finishes in this store at about the same time go
// out as one write per index partition, off the batch's path.
func finalStateAfter(c *change) bool {
	return c.op.fenced && c.cur != nil && c.cur.State == StateProcessing && c.op.stmt != writeDelete &&
		c.next.State.Final() && c.next.State.stateIndexed()
}

// foundAtHome reports whether scanners find new job j in its home
// partition when it is due: it is due at its home time, and that time is
// not so far behind the scanners that their last look at the range (Grace
// after their frontier passed it) may come before the row lands. A row
// written now lands within its batch's latency; the frontier passed its home
// time at the earliest at that time (by the scanner's clock), so a job whose
// home time is less than Grace/2 ago is found by that look, with the other
// half of Grace left for the batch's latency and the clocks' skew. A big
// InsertMany whose last batches go out seconds after its ids were minted
// therefore writes no due entries; a recurring occurrence caught up late
// is entered in the due index.
func (s *Store) foundAtHome(j *Job, now time.Time) bool {
	info, err := parseID(j.ID)
	if err != nil {
		return false
	}
	return !j.ScheduledAt.After(info.At) && !info.At.Before(now.Add(-s.set.grace/2))
}

// leaseEntry returns the due entry of the jobs the changes lease (claims and
// heartbeats): one entry for the batch, due when the last lease of the batch
// expires, naming the range of ids from the first to the last. A scanner
// that meets it after that time rescues those of the range whose lease
// expired and settles those that finished.
func (s *Store) leaseEntry(chs []*change) (dueEntry, bool) {
	var first, last gocql.UUID
	var until time.Time
	var queue string
	n := 0
	for _, c := range chs {
		j := c.next
		if j.State != StateProcessing || c.op.stmt == writeDelete || c.op.stmt == writeMark {
			continue
		}
		if n == 0 || compareUUID(j.ID, first) < 0 {
			first = j.ID
		}
		if n == 0 || compareUUID(j.ID, last) > 0 {
			last = j.ID
		}
		until = maxTime(until, j.Lease.Until)
		queue = j.Queue
		n++
	}
	if n == 0 {
		return dueEntry{}, false
	}
	e := s.dueEntryAt(queue, first, until)
	e.LastID = last
	return e, true
}

// addChange adds the statement of change c to batch b.
func (s *Store) addChange(b *queries.JobsBatch, h homeRef, c *change) {
	next := c.next
	switch c.op.stmt {
	case writeCreate:
		b.JobsCreate(rowFromJob(next, h))
	case writeClaim:
		b.JobsClaim(int32(next.State), next.Version, ms(next.StateChangedAt), ms(next.StartedAt), next.Lease.Owner, next.Lease.Token, ms(next.Lease.Until), h.Start, h.Shard, next.ID, c.cur.Version)
	case writeHeartbeat:
		b.JobsHeartbeat(next.Version, ms(next.Lease.Until), h.Start, h.Shard, next.ID, c.cur.Version)
	case writeDelete:
		b.JobsDelete(h.Start, h.Shard, next.ID, c.cur.Version)
	case writeMark:
		b.JobsMarkContinued(next.Version, h.Start, h.Shard, next.ID, c.cur.Version)
	default:
		ttl := 0
		if next.State.Final() {
			ttl = s.set.ttlSeconds()
		}
		if clears(len(c.cur.Errors), len(next.Errors)) || clears(len(c.cur.Metadata), len(next.Metadata)) {
			b.JobsWrite(rowFromJob(next, h), int32(ttl), c.cur.Version)
		} else {
			// Empty errors and metadata stay as they are: nothing, since
			// the job had none either, rather than a collection tombstone
			// per write (measured in ARCHITECTURE.md).
			b.JobsWriteKeep(rowFromJob(next, h), int32(ttl), c.cur.Version)
		}
	}
}

// applied records the changes of a batch that applied (apply then does
// what follows from them).
func (s *Store) applied(ctx context.Context, h homeRef, chs []*change) {
	for _, c := range chs {
		if c.op.stmt == writeDelete {
			c.out = c.cur
		} else {
			c.out = c.next
		}
	}
	s.counts.touched(h, chs[0].next.Queue)
}

// after does what follows from applied changes: it removes the state
// entries the jobs left, keeps track of lease entries, and settles jobs that
// just finished (their continuations and batches).
func (s *Store) after(ctx context.Context, chs []*change) {
	var oldStates []stateEntry
	var finished []*settleItem
	var settleEntries []dueEntry
	for _, c := range chs {
		cur, next := c.cur, c.next
		if cur != nil && cur.State.stateIndexed() &&
			(c.op.stmt == writeDelete || cur.State != next.State || !cur.StateChangedAt.Equal(next.StateChangedAt)) {
			oldStates = append(oldStates, s.stateEntryOf(cur))
		}
		if c.op.stmt != writeDelete && next.State.Final() && (cur == nil || !cur.State.Final()) {
			finished = append(finished, &settleItem{job: next, state: finalStateAfter(c)})
		}
		for _, e := range c.hints.due {
			if e.LastID == (gocql.UUID{}) && next.State.Final() && e.JobID == next.ID {
				settleEntries = append(settleEntries, e)
			}
		}
	}
	s.deleteState(ctx, oldStates...)
	s.afterUnique(ctx, chs)
	settled := map[gocql.UUID]bool{}
	if len(finished) > 0 {
		// Settling reads the continuations of every finished job: jobs that
		// finish at the same time in this store (handlers completing one by
		// one) are settled together, with one read.
		if ctx.Value(settlingKey{}) != nil {
			// A change made while settling (a continuation cancelled
			// because its parent failed): settling is what this goroutine
			// does already, and the settle group waits on it, so settle
			// here rather than queue behind ourselves.
			s.settleBatch(ctx, struct{}{}, finished)
		} else if err := s.settles.do(ctx, struct{}{}, finished...); err != nil {
			s.set.log.Warn("jobsharp: could not settle finished jobs; a scanner will", "jobs", len(finished), "err", err)
		}
		for _, it := range finished {
			if it.settled {
				settled[it.job.ID] = true
			}
		}
	}
	var spent []dueEntry
	for _, e := range settleEntries {
		if settled[e.JobID] {
			spent = append(spent, e)
		}
	}
	spent = append(spent, s.leases.update(chs, settled, s.now())...)
	s.deleteDue(ctx, spent...)
}

// afterUnique keeps the unique keys of changed jobs in step with them: a
// job that runs again after it finished (a requeue) holds its key without
// a TTL again, and a deleted job gives its key back. Both are rare, and
// conditioned on the key still naming the job.
func (s *Store) afterUnique(ctx context.Context, chs []*change) {
	var again []*Job
	for _, c := range chs {
		switch cur := c.cur; {
		case cur == nil || cur.UniqueKey == nil:
		case c.op.stmt == writeDelete:
			_, _, err := s.db.UniqueRelease(ctx, cur.UniqueKey, cur.ID).Exec()
			if err = s.interpret(ctx, queries.UniqueRelease.Name, err); err != nil {
				s.set.log.Warn("jobsharp: could not give back the unique key of a deleted job; the next insert takes it over", "job_id", cur.ID, "err", err)
			}
		case cur.State.Final() && !c.next.State.Final():
			again = append(again, c.next)
		}
	}
	s.setUniqueTTL(ctx, again, 0)
}

// notApplied handles a batch whose conditions did not all hold: current
// holds the row of every condition with its version now. Changes whose
// condition held go again; the others failed, and a serial read of their
// rows says why.
func (s *Store) notApplied(ctx context.Context, h homeRef, chs []*change, current []models.JobsRow) []*change {
	version := make(map[gocql.UUID]int64, len(current))
	for _, r := range current {
		version[r.ID] = r.Version
	}
	var retry, failed []*change
	for _, c := range chs {
		v, ok := version[c.next.ID]
		switch {
		case !ok && c.cur == nil:
			// Cassandra returns only the tested rows that exist: a create
			// whose row is absent still holds its condition.
			retry = append(retry, c)
		case !ok:
			failed = append(failed, c) // the row is gone; a serial read says so
		case c.cur == nil && v == 0, c.cur != nil && v == c.cur.Version:
			retry = append(retry, c)
		default:
			failed = append(failed, c)
		}
	}
	if len(failed) > 0 {
		retry = append(retry, s.explainFailed(ctx, h, failed, nil)...)
	}
	return retry
}

// unknownOutcome handles a batch that failed with err: a timeout leaves its
// outcome unknown, so a serial read (which also completes a Paxos round left
// in progress) settles it. When the batch applied, every change did (a
// batch is atomic); when it did not, changes whose condition still holds go
// again, up to maxAttempts.
func (s *Store) unknownOutcome(ctx context.Context, h homeRef, chs []*change, err error) []*change {
	ids := make([]gocql.UUID, len(chs))
	for i, c := range chs {
		ids[i] = c.next.ID
	}
	stored, rerr := s.jobsOfPartition(ctx, h, ids, true)
	if rerr != nil {
		// What the jobs are now is unknown, so their hints may be needed:
		// leave them, as a stray hint is harmless.
		for _, c := range chs {
			c.err = errors.Join(err, rerr)
		}
		return nil
	}
	byID := make(map[gocql.UUID]*Job, len(stored))
	for _, j := range stored {
		byID[j.ID] = j
	}
	for _, c := range chs {
		if sameWrite(byID[c.next.ID], c) {
			s.applied(ctx, h, chs) // the batch that timed out did apply
			return nil
		}
	}
	var retry, failed []*change
	for _, c := range chs {
		now := byID[c.next.ID]
		held := c.cur == nil && now == nil || c.cur != nil && now != nil && now.Version == c.cur.Version
		c.attempts++
		switch {
		case !held:
			failed = append(failed, c)
		case c.attempts >= maxAttempts || !IsRetryable(err):
			c.err = err
			s.dropNewHints(ctx, c, now)
		default:
			retry = append(retry, c)
		}
	}
	if len(failed) > 0 {
		retry = append(retry, s.explainFailed(ctx, h, failed, byID)...)
	}
	return retry
}

// explainFailed resolves changes whose condition failed, from the jobs as a
// serial read shows them (read here unless given): the lease holder lost its
// lease, the job changed or is gone, or (a create) the job exists, which is
// no error when it is the same job (an insert retried). It returns the
// changes to send again: those that met only a mark (rebase).
func (s *Store) explainFailed(ctx context.Context, h homeRef, chs []*change, byID map[gocql.UUID]*Job) (retry []*change) {
	if byID == nil {
		ids := make([]gocql.UUID, len(chs))
		for i, c := range chs {
			ids[i] = c.next.ID
		}
		stored, err := s.jobsOfPartition(ctx, h, ids, true)
		if err != nil {
			for _, c := range chs {
				c.err = err
			}
			return
		}
		byID = make(map[gocql.UUID]*Job, len(stored))
		for _, j := range stored {
			byID[j.ID] = j
		}
	}
	for _, c := range chs {
		now := byID[c.next.ID]
		switch {
		case c.cur == nil && now != nil && now.Queue == c.next.Queue && now.Type == c.next.Type && bytes.Equal(now.Args, c.next.Args):
			c.out, c.existed = now, true
			continue
		case c.cur == nil && now != nil:
			c.err = fmt.Errorf("%w: %s", ErrExists, c.next.ID)
		case c.cur == nil:
			c.err = fmt.Errorf("%w: %s vanished while it was stored", ErrConflict, c.next.ID)
		case now == nil:
			c.err = ErrNotFound
		case rebase(c, now):
			retry = append(retry, c)
			continue
		default:
			c.err = lostOrConflict(c.cur, now, c.op.fenced)
		}
		s.dropNewHints(ctx, c, now)
	}
	return retry
}

// rebase moves change c onto the job as it is now when the one change made
// since the caller read it is a mark (InsertContinuation set
// HasContinuations and the version, nothing else), and reports whether it
// did. The change then goes again, conditioned on the marked version: the
// lease holder's outcome is not lost to a continuation added while its job
// runs, and the job, once finished, is settled with its continuations.
func rebase(c *change, now *Job) bool {
	cur := c.cur
	if c.op.stmt == writeMark || cur.HasContinuations || !now.HasContinuations || now.Version != cur.Version+1 ||
		now.State != cur.State || !now.StateChangedAt.Equal(cur.StateChangedAt) ||
		now.Lease.Token != cur.Lease.Token || !now.Lease.Until.Equal(cur.Lease.Until) {
		return false
	}
	c.cur = now
	c.next.Version = now.Version + 1
	c.next.HasContinuations = true
	return true
}

// sameWrite reports whether the stored job is the one change c wrote: the
// same version and the same change (state, time of change, lease, and for a
// new job its creation), so a write that timed out is recognised as applied
// rather than taken for a conflict with itself.
func sameWrite(stored *Job, c *change) bool {
	next := c.next
	if c.op.stmt == writeDelete {
		return false // a delete leaves nothing to compare; the version check decides
	}
	return stored != nil && stored.Version == next.Version && stored.State == next.State &&
		stored.StateChangedAt.Equal(ms(next.StateChangedAt)) && stored.Lease.Token == next.Lease.Token &&
		stored.Lease.Until.Equal(ms(next.Lease.Until)) && stored.CreatedAt.Equal(ms(next.CreatedAt))
}

// lostOrConflict explains a failed condition: the lease holder lost its
// lease, or the job changed since it was read.
func lostOrConflict(cur, now *Job, fenced bool) error {
	if fenced && (now.State != StateProcessing || now.Lease.Token != cur.Lease.Token) {
		return &LeaseLostError{JobID: cur.ID, State: now.State, Owner: now.Lease.Owner}
	}
	return &ConflictError{JobID: cur.ID, Expected: cur.Version, Actual: now.Version}
}

// dropNewHints removes the hints a failed change wrote ahead, except those
// that the job as the caller saw it or as it is now still needs (another
// change may have written the very same entry: a snooze retried at the same
// millisecond by a holder that lost the lease). A lease entry is shared by
// its batch and left to scanners.
func (s *Store) dropNewHints(ctx context.Context, c *change, now *Job) {
	var keep hintSet
	t := s.now()
	for _, j := range []*Job{c.cur, now} {
		if j != nil {
			s.changeHints(&keep, &change{cur: j, next: j, op: opUpdate}, t)
			s.changeHints(&keep, &change{next: j, op: opInsert}, t)
		}
	}
	due := slices.DeleteFunc(slices.Clone(c.hints.due), func(e dueEntry) bool {
		return e.LastID != (gocql.UUID{}) || slices.ContainsFunc(keep.due, e.sameRow)
	})
	states := slices.DeleteFunc(slices.Clone(c.hints.states), func(e stateEntry) bool { return slices.Contains(keep.states, e) })
	s.deleteDue(ctx, due...)
	s.deleteState(ctx, states...)
}

// settlingKey marks the context of settleBatch: changes it makes settle
// inline (see after).
type settlingKey struct{}

// settleLinger is how long the settling of finished jobs waits for others
// to join it: the jobs of one claim finish within a few milliseconds, and
// settled together their state rows and continuations take one statement
// each rather than two (the first job alone, then the rest).
const settleLinger = 2 * time.Millisecond

// settleItem is a finished job waiting to be settled with others.
type settleItem struct {
	job     *Job
	state   bool // its state-index row is written when it is settled (finalStateAfter)
	settled bool
}

// settleBatch settles the jobs of a group of settle items: the exec of the
// store's settle group commit.
func (s *Store) settleBatch(ctx context.Context, _ struct{}, items []*settleItem) []*settleItem {
	ctx = context.WithValue(ctx, settlingKey{}, true)
	jobs := make([]*Job, len(items))
	var states []*Job
	for i, it := range items {
		jobs[i] = it.job
		if it.state {
			states = append(states, it.job)
		}
	}
	settled, err := s.settleJobs(ctx, jobs, states)
	if err != nil {
		s.set.log.Debug("jobsharp: could not settle some finished jobs; a scanner will", "jobs", len(jobs), "err", err)
	}
	for _, it := range items {
		it.settled = settled[it.job.ID]
	}
	return nil
}

// leaseTracker remembers, for the lease entries this store wrote, which of
// their jobs this store still holds, so that an entry is deleted once every
// job it covers has finished (or moved to a newer entry) and been settled:
// scanners then never need to look at it. An entry this store loses track
// of (a restart, a job rescued elsewhere) is resolved by a scanner when it
// comes due.
type leaseTracker struct {
	mu      sync.Mutex
	entries map[dueEntry]int        // entry → jobs still held under it
	jobs    map[gocql.UUID]dueEntry // job → its entry
}

// update records the lease changes of applied changes and returns the
// entries that no longer cover a held job.
func (t *leaseTracker) update(chs []*change, settled map[gocql.UUID]bool, now time.Time) []dueEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = map[dueEntry]int{}
		t.jobs = map[gocql.UUID]dueEntry{}
	}
	var spent []dueEntry
	release := func(id gocql.UUID) {
		e, ok := t.jobs[id]
		if !ok {
			return
		}
		delete(t.jobs, id)
		t.entries[e]--
		if t.entries[e] == 0 {
			delete(t.entries, e)
			spent = append(spent, e)
		}
	}
	for _, c := range chs {
		id := c.next.ID
		switch {
		case c.op.stmt == writeMark:
			// Not the holder's change (or, made by the holder's store, no
			// change of its lease): the job stays under its entry.
		case c.op.stmt != writeDelete && c.next.State == StateProcessing && c.lease.LastID != (gocql.UUID{}):
			release(id)
			t.jobs[id] = c.lease
			t.entries[c.lease]++
		case c.cur != nil && c.cur.State == StateProcessing:
			if c.op.stmt != writeDelete && c.next.State.Final() && !settled[id] {
				// Not settled: keep the entry, so a scanner settles the job.
				if e, ok := t.jobs[id]; ok {
					delete(t.jobs, id)
					_ = e // the count stays above zero: the entry is never deleted here
				}
				continue
			}
			release(id)
		}
	}
	// Forget entries long past due: a scanner has resolved them.
	if len(t.entries) > 10_000 {
		for e := range t.entries {
			if e.DueAt.Before(now.Add(-time.Hour)) {
				delete(t.entries, e)
			}
		}
	}
	return spent
}

// clears reports whether a change from a collection of cur elements to
// one of next elements empties one that held something: a write that must clear it, which JobsWriteKeep
// (it leaves an empty collection as it is) cannot.
func clears(cur, next int) bool {
	return cur > 0 && next == 0
}
