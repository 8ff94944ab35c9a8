package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// settleJobs does what follows from jobs finishing: it records each job's
// final state in its batch, releases or cancels the continuations of the
// jobs, and, when a batch is complete, those of the batch. It reads the
// continuations of the jobs that have any (HasContinuations: their inserts
// mark them before they check the parent, and a holder's outcome read
// before a mark goes again on the marked row) with one statement, and
// records batch progress with one statement per batch. Beside that it
// writes the state-index rows of the jobs in states (those a lease holder
// finished, whose rows are written when they are settled:
// finalStateAfter), one statement per index partition. It is idempotent:
// every release is a lightweight transaction from a waiting state and a
// state row is the same row again, so settling twice (a scanner after a
// crash, say) changes nothing more. It returns the jobs it settled
// completely.
func (s *Store) settleJobs(ctx context.Context, jobs, states []*Job) (map[gocql.UUID]bool, error) {
	var serr error
	var wg sync.WaitGroup
	if len(states) > 0 {
		wg.Go(func() { serr = s.writeFinalStates(ctx, states) })
	}
	if slices.ContainsFunc(jobs, func(j *Job) bool { return j.UniqueKey != nil }) {
		wg.Go(func() { s.setUniqueTTL(ctx, jobs, s.set.ttlSeconds()) })
	}
	settled, err := s.settleLinks(ctx, jobs)
	wg.Wait()
	if serr != nil {
		for _, j := range states {
			delete(settled, j.ID)
		}
	}
	return settled, errors.Join(err, serr)
}

// setUniqueTTL rewrites the unique keys that jobs hold with a TTL of ttl
// seconds (0: none), a lightweight transaction each, on the condition that
// the key still names its job: finished jobs' keys get the retention TTL of
// their rows, so a key without a period goes with its job, and a requeued
// job's key holds for good again. A store that keeps finished jobs (no
// retention) never gives keys a TTL. A failure is logged, not returned: the
// key then stays until an insert takes it over (one small row).
func (s *Store) setUniqueTTL(ctx context.Context, jobs []*Job, ttl int) {
	if s.set.ttlSeconds() == 0 {
		return
	}
	var held []*Job
	for _, j := range jobs {
		if j.UniqueKey != nil {
			held = append(held, j)
		}
	}
	if len(held) == 0 {
		return
	}
	err := forEach(ctx, len(held), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		j := held[i]
		row := models.UniqueKeysRow{Key: j.UniqueKey, JobID: j.ID, ClaimedAt: s.now()}
		_, _, err := s.db.UniqueTakeOver(ctx, row, int32(ttl), j.ID).Exec()
		return s.interpret(ctx, queries.UniqueTakeOver.Name, err)
	})
	if err != nil {
		s.set.log.Warn("jobsharp: could not set the TTL of unique keys; they stay until taken over", "jobs", len(held), "err", err)
	}
}

// writeFinalStates writes the state-index rows of finished jobs (Cancelled,
// Abandoned; a Succeeded job has none), with the retention TTL (one
// statement per index partition).
func (s *Store) writeFinalStates(ctx context.Context, jobs []*Job) error {
	var h hintSet
	ttl := s.set.ttlSeconds()
	for _, j := range jobs {
		if j.State.Final() && j.State.stateIndexed() {
			h.addState(s.stateEntryOf(j), ttl)
		}
	}
	return s.writeHints(ctx, &h)
}

// settleLinks settles the batches and continuations of finished jobs (see
// settleJobs).
func (s *Store) settleLinks(ctx context.Context, jobs []*Job) (map[gocql.UUID]bool, error) {
	settled := make(map[gocql.UUID]bool, len(jobs))
	failed := map[gocql.UUID]bool{}
	var errs []error
	byBatch := map[gocql.UUID][]*Job{}
	var batches []gocql.UUID
	ids := make([]gocql.UUID, 0, len(jobs))
	var parentIDs []gocql.UUID
	for _, j := range jobs {
		ids = append(ids, j.ID)
		if j.HasContinuations {
			parentIDs = append(parentIDs, j.ID)
		}
		if j.BatchID != (gocql.UUID{}) {
			if _, ok := byBatch[j.BatchID]; !ok {
				batches = append(batches, j.BatchID)
			}
			byBatch[j.BatchID] = append(byBatch[j.BatchID], j)
		}
	}
	for _, b := range batches {
		var rows []rowWrite
		for _, j := range byBatch[b] {
			row := models.BatchJobsRow{FinishedState: int32(j.State), BatchID: b, JobID: j.ID}
			rows = append(rows, write(queries.BatchJobFinished, partKey{table: "batch", id: b},
				func(ctx context.Context, db *queries.DB) queries.Write { return db.BatchJobFinished(ctx, row) },
				func(qb *queries.Batch) { qb.BatchJobFinished(row) }))
		}
		err := s.writeRows(ctx, rows)
		if err == nil {
			var done bool
			done, err = s.batchDone(ctx, b)
			if err == nil && done {
				err = s.settleChildren(ctx, b)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("settle batch %s: %w", b, err))
			for _, j := range byBatch[b] {
				failed[j.ID] = true
			}
		}
	}
	children, err := s.childrenOf(ctx, parentIDs)
	if err != nil {
		return settled, fmt.Errorf("list continuations: %w", err)
	}
	var parents []gocql.UUID
	for p := range children {
		parents = append(parents, p)
	}
	var mu sync.Mutex
	_ = forEach(ctx, len(parents), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		if err := s.settleChildIDs(ctx, children[parents[i]]); err != nil {
			mu.Lock()
			errs = append(errs, err)
			failed[parents[i]] = true
			mu.Unlock()
		}
		return nil
	})
	for _, id := range ids {
		if !failed[id] {
			settled[id] = true
		}
	}
	return settled, errors.Join(errs...)
}

// childrenOf returns the continuations of parents that have any, one
// statement for all.
func (s *Store) childrenOf(ctx context.Context, parents []gocql.UUID) (map[gocql.UUID][]gocql.UUID, error) {
	out := map[gocql.UUID][]gocql.UUID{}
	for len(parents) > 0 {
		n := min(len(parents), 100)
		rows, err := s.db.ContinuationsListMany(ctx, parents[:n]).All()
		if err != nil {
			return nil, s.interpret(ctx, queries.ContinuationsListMany.Name, err)
		}
		for _, r := range rows {
			out[r.ParentID] = append(out[r.ParentID], r.JobID)
		}
		parents = parents[n:]
	}
	return out, nil
}

// settleChildren checks every job waiting for parent.
func (s *Store) settleChildren(ctx context.Context, parent gocql.UUID) error {
	ids, err := s.childIDs(ctx, parent)
	if err != nil {
		return err
	}
	return s.settleChildIDs(ctx, ids)
}

// settleChildIDs checks the jobs with the given ids, which wait for a
// parent: those whose parent finished are released or cancelled.
func (s *Store) settleChildIDs(ctx context.Context, ids []gocql.UUID) error {
	children, err := s.getJobs(ctx, ids, false)
	if err != nil {
		return err
	}
	return forEach(ctx, len(children), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		return s.checkWaiting(ctx, children[i])
	})
}

func (s *Store) childIDs(ctx context.Context, parent gocql.UUID) ([]gocql.UUID, error) {
	rows, err := s.db.ContinuationsList(ctx, parent).All()
	if err != nil {
		return nil, fmt.Errorf("list continuations of %s: %w", parent, s.interpret(ctx, queries.ContinuationsList.Name, err))
	}
	ids := make([]gocql.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.JobID
	}
	return ids, nil
}

// checkWaiting releases a continuation whose parent succeeded (or whose
// batch finished), and cancels one whose parent job ended otherwise. It
// leaves a job that still has to wait, or no longer waits, alone.
func (s *Store) checkWaiting(ctx context.Context, child *Job) error {
	var release bool
	var cancelWhy string
	switch child.State {
	case StateAwaitingContinuation:
		parent, err := s.getSerial(ctx, child.ParentID)
		switch {
		case errors.Is(err, ErrNotFound):
			cancelWhy = fmt.Sprintf("parent job %s no longer exists", child.ParentID)
		case err != nil:
			return err
		case parent.State == StateSucceeded:
			release = true
		case parent.State.Final():
			cancelWhy = fmt.Sprintf("parent job %s ended %s", parent.ID, parent.State)
		}
	case StateAwaitingBatch:
		done, err := s.batchDone(ctx, child.ParentID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		release = done
	default:
		return nil
	}
	if !release && cancelWhy == "" {
		return nil
	}
	now := s.now()
	next := child.clone()
	next.StateChangedAt = now
	if release {
		next.State = StateScheduled
		next.ScheduledAt = now
	} else {
		next.State = StateCancelled
		next.FinishedAt = now
		next.LastError = cancelWhy
	}
	_, err := s.applyOne(ctx, newChange(child, next, opReleaseWaiting))
	if errors.Is(err, ErrConflict) {
		return nil // released or changed by someone else
	}
	return err
}

// batchDone reports whether every job of a batch has finished. Each job's
// final state is cached in the batch's rows once known, so a check reads one
// partition plus the jobs not yet known to be finished, and stops at the
// first that is still running.
func (s *Store) batchDone(ctx context.Context, batch gocql.UUID) (bool, error) {
	rows, err := s.batchRows(ctx, batch)
	if err != nil {
		return false, fmt.Errorf("read batch %s: %w", batch, err)
	}
	if int(rows[0].Size) != len(rows) {
		return false, nil // still being stored
	}
	for _, r := range rows {
		if State(r.FinishedState).Final() {
			continue
		}
		job, err := s.get(ctx, r.JobID, true)
		if errors.Is(err, ErrNotFound) && s.young(rows[0].CreatedAt) {
			return false, nil // a young batch: the job may still be being stored
		}
		if errors.Is(err, ErrNotFound) {
			continue // deleted or expired: it is not running
		}
		if err != nil {
			return false, err
		}
		if !job.State.Final() {
			return false, nil
		}
		p := models.BatchJobsRow{FinishedState: int32(job.State), BatchID: batch, JobID: job.ID}
		if err := s.exec(ctx, queries.BatchJobFinished, s.db.BatchJobFinished(ctx, p)); err != nil {
			s.set.log.Warn("jobsharp: could not record batch progress", "batch", batch, "job", job.ID, "err", err)
		}
	}
	return true, nil
}
