package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jobsharp/cassandra/queries"
)

// changeOp describes a kind of change: its name in errors and hooks, the
// statement that writes it, and who makes it.
type changeOp struct {
	name string
	// stmt is the statement of the change: a full rewrite of the row (every
	// state change; it also sets or clears the retention TTL), or the
	// smaller claim and heartbeat updates.
	stmt changeStmt
	// fenced marks a change by the lease holder: a failed condition then
	// reports [ErrLeaseLost] when the lease was taken away, rather than
	// [ErrConflict].
	fenced bool
}

type changeStmt int

const (
	writeFull changeStmt = iota
	writeClaim
	writeHeartbeat
)

// The changes a job goes through.
var (
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
	opReleaseWaiting = changeOp{name: "release"} // a continuation whose parent finished
)

// change moves a job from cur to next with one lightweight transaction
// conditioned on cur.Version; next.Version becomes cur.Version+1. It is the
// one path by which jobs rows change after creation:
//
//  1. the hints next needs are written first (its due or state entry, and a
//     settle entry when it finishes), so a crash leaves only stray hints;
//  2. the LWT; an unknown outcome (timeout) is settled by a serial read;
//  3. then counts, the removal of cur's hints that no longer hold, and, for a
//     job that just finished, its continuations and batch are settled.
//
// counts, when not nil, collects the count changes for the caller to apply
// with others (a scan claiming many jobs); otherwise they are applied here.
func (s *Store) change(ctx context.Context, cur, next *Job, op changeOp, counts *countDeltas) (*Job, error) {
	next.Version = cur.Version + 1
	finishing := next.State.Final() && !cur.State.Final()

	var h hintSet
	s.hintsFor(&h, next)
	var settle []dueEntry
	if finishing && cur.State != StateProcessing {
		// Looked at by scanners if this process dies before settling. A
		// Processing job needs none: its lease entry, deleted last, serves.
		settle = append(settle, s.dueEntryAt(next.Queue, next.ID, s.now()))
		h.addDue(settle[0])
	}
	if err := s.writeHints(ctx, &h); err != nil {
		return nil, fmt.Errorf("%s job %s: %w", op.name, cur.ID, err)
	}
	if s.afterHints != nil {
		if err := s.afterHints(op.name); err != nil {
			return nil, err
		}
	}

	applied, err := s.writeChange(ctx, cur, next, op)
	if err != nil && !errors.Is(err, ErrTimeout) {
		return nil, fmt.Errorf("%s job %s: %w", op.name, cur.ID, err)
	}
	if !applied {
		now, rerr := s.getSerial(ctx, cur.ID)
		switch {
		case rerr == nil && err != nil && sameWrite(now, next):
			applied = true // the write that timed out did apply
		case rerr != nil:
			// What the job is now is unknown, so its hints may be among
			// these: leave them, as a stray hint is harmless.
			return nil, fmt.Errorf("%s job %s: %w", op.name, cur.ID, errors.Join(err, rerr))
		default:
			s.dropNewHints(ctx, &h, cur, now)
			if err != nil {
				return nil, fmt.Errorf("%s job %s: %w", op.name, cur.ID, err)
			}
			return nil, fmt.Errorf("%s job %s: %w", op.name, cur.ID, lostOrConflict(cur, now, op.fenced))
		}
	}

	if counts == nil {
		counts = &countDeltas{}
		defer func() { s.applyCounts(ctx, counts) }()
	}
	counts.add(s, cur, -1)
	counts.add(s, next, 1)

	var oldDue []dueEntry
	if cur.State == StateProcessing && (next.State != StateProcessing || !next.Lease.Until.Equal(cur.Lease.Until)) {
		oldDue = append(oldDue, s.dueEntryExact(cur.Queue, cur.ID, cur.Lease.Until))
	}
	if !cur.State.dueIndexed() && (cur.State != next.State || !cur.StateChangedAt.Equal(next.StateChangedAt)) {
		s.deleteState(ctx, s.stateEntryOf(cur))
	}
	if finishing {
		if err := s.settle(ctx, next); err != nil {
			// The settle entry (and any lease entry) stays for a scanner.
			s.set.log.Warn("jobsharp: could not settle a finished job; a scanner will", "job", next.ID, "err", err)
			return next, nil
		}
		oldDue = append(oldDue, settle...)
	}
	s.deleteDue(ctx, oldDue...)
	return next, nil
}

// writeChange runs the lightweight transaction of a change, conditioned on
// cur's version.
func (s *Store) writeChange(ctx context.Context, cur, next *Job, op changeOp) (bool, error) {
	switch op.stmt {
	case writeClaim:
		return s.cas(queries.JobsClaim, s.db.JobsClaim(ctx, int32(next.State), next.Version, ms(next.StateChangedAt), ms(next.StartedAt),
			next.Lease.Owner, next.Lease.Token, ms(next.Lease.Until), next.ID, cur.Version))
	case writeHeartbeat:
		return s.cas(queries.JobsHeartbeat, s.db.JobsHeartbeat(ctx, next.Version, ms(next.Lease.Until), next.ID, cur.Version))
	}
	ttl := 0
	if next.State.Final() {
		ttl = s.set.ttlSeconds()
	}
	return s.cas(queries.JobsWrite, s.db.JobsWrite(ctx, rowFromJob(next), int32(ttl), cur.Version))
}

// sameWrite reports whether the stored job is the one next describes: the
// same version and the same change (state, time of change and lease).
func sameWrite(stored, next *Job) bool {
	return stored.Version == next.Version && stored.State == next.State &&
		stored.StateChangedAt.Equal(next.StateChangedAt) && stored.Lease.Token == next.Lease.Token &&
		stored.Lease.Until.Equal(ms(next.Lease.Until))
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
// millisecond by a holder that lost the lease).
func (s *Store) dropNewHints(ctx context.Context, h *hintSet, keepFor ...*Job) {
	var keep hintSet
	for _, j := range keepFor {
		s.hintsFor(&keep, j)
	}
	due := slices.DeleteFunc(slices.Clone(h.due), func(e dueEntry) bool { return slices.Contains(keep.due, e) })
	states := slices.DeleteFunc(slices.Clone(h.states), func(e stateEntry) bool { return slices.Contains(keep.states, e) })
	s.deleteDue(ctx, due...)
	s.deleteState(ctx, states...)
}
