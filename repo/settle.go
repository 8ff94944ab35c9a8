package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/queries"
)

// settle does what follows from a job finishing: it records the job's final
// state in its batch, releases or cancels the continuations of the job, and,
// when the batch is complete, those of the batch. It is idempotent: every
// release is a lightweight transaction from a waiting state, so settling
// twice (a scanner after a crash, say) changes nothing more.
func (s *Store) settle(ctx context.Context, job *Job) error {
	var errs []error
	if job.BatchID != (gocql.UUID{}) {
		if err := s.exec(queries.BatchJobFinished, s.db.BatchJobFinished(ctx, int32(job.State), job.BatchID, job.ID)); err != nil {
			errs = append(errs, fmt.Errorf("record batch progress: %w", err))
		}
		done, err := s.batchDone(ctx, job.BatchID)
		switch {
		case err != nil:
			errs = append(errs, err)
		case done:
			errs = append(errs, s.settleChildren(ctx, job.BatchID))
		}
	}
	errs = append(errs, s.settleChildren(ctx, job.ID))
	return errors.Join(errs...)
}

// settleChildren checks every job waiting for parent.
func (s *Store) settleChildren(ctx context.Context, parent gocql.UUID) error {
	ids, err := s.childIDs(ctx, parent)
	if err != nil {
		return err
	}
	return forEach(ctx, len(ids), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		child, err := s.get(ctx, ids[i], false)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.checkWaiting(ctx, child)
	})
}

func (s *Store) childIDs(ctx context.Context, parent gocql.UUID) ([]gocql.UUID, error) {
	rows, err := s.db.ContinuationsList(ctx, parent).All()
	if err != nil {
		return nil, fmt.Errorf("list continuations of %s: %w", parent, s.interpret(queries.ContinuationsList.Name, err))
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
	_, err := s.change(ctx, child, next, opReleaseWaiting, nil)
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
		if err := s.exec(queries.BatchJobFinished, s.db.BatchJobFinished(ctx, int32(job.State), batch, job.ID)); err != nil {
			s.set.log.Warn("jobsharp: could not record batch progress", "batch", batch, "job", job.ID, "err", err)
		}
	}
	return true, nil
}
