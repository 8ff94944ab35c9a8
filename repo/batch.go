package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// Batches stores jobs created together and reports on them. Get it from
// [Store.Batches].
type Batches struct{ s *Store }

// Insert stores jobs as one batch (JobSharp's StoreBatch): each job gets
// BatchID batchID, and the batch's lookup rows are written before the jobs,
// so [Batches.Jobs] finds every job without a secondary index. Zero batchID:
// a new id. Storing is not atomic across partitions; it is idempotent when
// retried with the same batch and job ids.
func (b *Batches) Insert(ctx context.Context, batchID gocql.UUID, njs []*NewJob) ([]*Job, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	s := b.s
	if len(njs) == 0 {
		return nil, invalid("batch", "no jobs")
	}
	if len(njs) > s.set.maxBatch {
		return nil, invalid("batch", "%d jobs, more than the limit of %d (Options.MaxBatchSize)", len(njs), s.set.maxBatch)
	}
	if batchID == (gocql.UUID{}) {
		batchID = NewBatchID()
	}
	jobs, err := s.newJobs(ctx, njs)
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	seen := map[gocql.UUID]bool{}
	for _, job := range jobs {
		if seen[job.ID] {
			return nil, invalid("batch", "job id %s appears twice", job.ID)
		}
		seen[job.ID] = true
		job.BatchID = batchID
	}
	lookups := func(ctx context.Context) error {
		if err := s.exec(ctx, queries.BatchCreate, s.db.BatchCreate(ctx, s.now(), int32(len(jobs)), batchID)); err != nil {
			return fmt.Errorf("store batch %s: %w", batchID, err)
		}
		// One partition: its rows go out as unlogged batches.
		rows := make([]rowWrite, len(jobs))
		for i, j := range jobs {
			jobID := j.ID
			rows[i] = write(queries.BatchJobInsert, partKey{table: "batch", id: batchID},
				func(ctx context.Context, db *queries.DB) queries.Write { return db.BatchJobInsert(ctx, batchID, jobID) },
				func(b *queries.Batch) { b.BatchJobInsert(batchID, jobID) })
		}
		return s.writeRows(ctx, rows)
	}
	out, _, err := s.create(ctx, jobs, lookups)
	if err != nil {
		return out, fmt.Errorf("store batch %s: %w", batchID, err)
	}
	return out, nil
}

// Jobs returns the jobs of a batch (JobSharp's GetBatchJobs): one partition
// read, then the jobs by id. A lookup row whose job is gone is skipped, and
// removed once the batch is older than Grace. Returns [ErrNotFound] for an
// unknown batch.
func (b *Batches) Jobs(ctx context.Context, batchID gocql.UUID) ([]*Job, error) {
	rows, err := b.lookup(ctx, batchID, "get")
	if err != nil {
		return nil, err
	}
	jobs, err := b.s.batchJobs(ctx, batchID, rows)
	if err != nil {
		return nil, fmt.Errorf("get batch %s: %w", batchID, err)
	}
	return jobs, nil
}

// lookup checks the store, the context and the batch id of a call about a
// batch, then reads the batch's lookup partition; the error names what the
// call was doing ("get batch …", "status of batch …").
func (b *Batches) lookup(ctx context.Context, batchID gocql.UUID, doing string) ([]queries.BatchJobsListRow, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	if err := checkID("batch id", batchID); err != nil {
		return nil, err
	}
	rows, err := b.s.batchRows(ctx, batchID)
	if err != nil {
		return nil, fmt.Errorf("%s batch %s: %w", doing, batchID, err)
	}
	return rows, nil
}

// batchRows reads a batch's lookup partition; ErrNotFound when it is empty.
func (s *Store) batchRows(ctx context.Context, batchID gocql.UUID) ([]queries.BatchJobsListRow, error) {
	rows, err := s.db.BatchJobsList(ctx, batchID).All()
	if err != nil {
		return nil, s.interpret(ctx, queries.BatchJobsList.Name, err)
	}
	if len(rows) == 0 {
		return nil, ErrNotFound
	}
	return rows, nil
}

// batchJobs reads the jobs of a batch's lookup rows. A row whose job is gone
// is skipped, and removed once the batch is older than Grace.
func (s *Store) batchJobs(ctx context.Context, batchID gocql.UUID, rows []queries.BatchJobsListRow) ([]*Job, error) {
	ids := make([]gocql.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.JobID
	}
	jobs, err := s.getMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	found := map[gocql.UUID]bool{}
	out := jobs[:0]
	for _, j := range jobs {
		if j.BatchID == batchID {
			found[j.ID] = true
			out = append(out, j)
		}
	}
	// The lookup rows are written before the jobs: while the batch is
	// younger than Grace a missing job may be being stored, and deleting its
	// row would leave the batch short of its size, never finished.
	settled := !s.young(rows[0].CreatedAt)
	for _, id := range ids {
		if !found[id] && settled {
			if err := s.exec(ctx, queries.BatchJobDelete, s.db.BatchJobDelete(ctx, batchID, id)); err != nil {
				s.set.log.Warn("jobsharp: could not remove a stale batch row", "batch", batchID, "job", id, "err", err)
			}
		}
	}
	return out, nil
}

// BatchStatus says how far a batch has come.
type BatchStatus struct {
	BatchID gocql.UUID
	// Size is the number of jobs the batch was stored with.
	Size int
	// States counts the batch's jobs per state; jobs that expired after the
	// retention period are missing from it.
	States map[State]int
	// Finished is true when no job of the batch can still run.
	Finished bool
	// Succeeded is true when every job of the batch succeeded.
	Succeeded bool
}

// Status reports how a batch stands: its jobs per state, and whether it has
// finished and how. A job missing from a batch younger than Grace (being
// stored) counts as unfinished; one missing later (expired, deleted) does
// not. Returns [ErrNotFound] for an unknown batch.
func (b *Batches) Status(ctx context.Context, batchID gocql.UUID) (*BatchStatus, error) {
	rows, err := b.lookup(ctx, batchID, "status of")
	if err != nil {
		return nil, err
	}
	jobs, err := b.s.batchJobs(ctx, batchID, rows)
	if err != nil {
		return nil, fmt.Errorf("status of batch %s: %w", batchID, err)
	}
	st := &BatchStatus{BatchID: batchID, Size: int(rows[0].Size), States: map[State]int{}}
	finished, succeeded := len(rows) == st.Size, len(rows) == st.Size
	for _, j := range jobs {
		st.States[j.State]++
		finished = finished && j.State.Final()
		succeeded = succeeded && j.State == StateSucceeded
	}
	if len(jobs) < len(rows) && b.s.young(rows[0].CreatedAt) {
		finished = false // a job of a young batch may still be being stored
	}
	st.Finished, st.Succeeded = finished, succeeded && len(jobs) == st.Size
	return st, nil
}

// BatchProgress is how far a batch has got, as its own partition records
// it: see [Batches.Progress].
type BatchProgress struct {
	BatchID gocql.UUID
	// Size is the number of jobs the batch was stored with.
	Size int
	// Finished counts the jobs whose final state the batch has recorded;
	// Succeeded those of them that succeeded.
	Finished, Succeeded int
	// CreatedAt is when the batch was stored.
	CreatedAt time.Time
}

// Progress reports how many of a batch's jobs have finished with one read of
// the batch's partition, whatever its size: for lists of batches, where
// [Batches.Status], which reads every job, would cost too much. A job's final
// state is recorded in the batch when its finish is settled (right after it
// finishes, or by the scanner that meets it after a crash), so Progress can
// trail Status by that much; a job deleted or expired before it finished is
// never counted. Returns [ErrNotFound] for an unknown batch.
func (b *Batches) Progress(ctx context.Context, batchID gocql.UUID) (*BatchProgress, error) {
	rows, err := b.lookup(ctx, batchID, "progress of")
	if err != nil {
		return nil, err
	}
	p := &BatchProgress{BatchID: batchID, Size: int(rows[0].Size), CreatedAt: utc(rows[0].CreatedAt)}
	for _, r := range rows {
		if st := State(r.FinishedState); st.Final() {
			p.Finished++
			if st == StateSucceeded {
				p.Succeeded++
			}
		}
	}
	return p, nil
}

// InsertContinuation stores a job that waits in AwaitingBatch until every
// job of the batch has finished, whatever their outcome; then it is
// scheduled. Returns [ErrNotFound] for an unknown batch.
func (b *Batches) InsertContinuation(ctx context.Context, batchID gocql.UUID, nj *NewJob) (*Job, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	if err := checkID("batch id", batchID); err != nil {
		return nil, err
	}
	if _, err := b.s.batchRows(ctx, batchID); err != nil {
		return nil, fmt.Errorf("continue batch %s: %w", batchID, err)
	}
	return b.s.insertContinuation(ctx, batchID, StateAwaitingBatch, nj)
}

// InsertContinuation stores a job that waits in AwaitingContinuation until
// the parent job succeeds (JobSharp's StoreContinuation); then it is
// scheduled. If the parent ends Cancelled or Abandoned, the continuation is
// cancelled. A continuation of a parent that has already finished is settled
// at once. Returns [ErrNotFound] if the parent does not exist.
func (j *Jobs) InsertContinuation(ctx context.Context, parentID gocql.UUID, nj *NewJob) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if err := checkID("parent id", parentID); err != nil {
		return nil, err
	}
	if _, err := j.s.get(ctx, parentID, false); err != nil {
		return nil, fmt.Errorf("continue job %s: %w", parentID, err)
	}
	return j.s.insertContinuation(ctx, parentID, StateAwaitingContinuation, nj)
}

// insertContinuation writes, in order: a due entry to check the child now
// (so a crash before the last step is repaired by a scanner), the lookup
// row, the child, and the parent job's mark (markContinued). When the parent
// is marked, its settling finds the child; when it finished first (or a
// batch is the parent), the child is checked here.
func (s *Store) insertContinuation(ctx context.Context, parent gocql.UUID, state State, nj *NewJob) (*Job, error) {
	jobs, err := s.newJobs(ctx, []*NewJob{nj})
	if err != nil {
		return nil, err
	}
	job := jobs[0]
	job.State = state
	job.ParentID = parent
	lookups := func(ctx context.Context) error {
		var h hintSet
		h.addDue(s.dueEntryAt(job.Queue, job.ID, s.now()))
		if err := s.writeHints(ctx, &h); err != nil {
			return err
		}
		row := models.JobContinuationsRow{ParentID: parent, JobID: job.ID}
		return s.exec(ctx, queries.ContinuationInsert, s.db.ContinuationInsert(ctx, row))
	}
	jobs, _, err = s.create(ctx, []*Job{job}, lookups)
	if err != nil {
		return nil, fmt.Errorf("continue %s: %w", parent, err)
	}
	child := jobs[0]
	if state == StateAwaitingContinuation {
		marked, err := s.markContinued(ctx, parent)
		if err != nil {
			// The child is stored, with its due entry: the scanner that
			// meets the entry marks the parent and checks the child.
			s.set.log.Warn("jobsharp: could not mark the parent of a new continuation; a scanner will", "job", child.ID, "parent", parent, "err", err)
			return child, nil
		}
		if marked {
			return child, nil
		}
	}
	if err := s.checkWaiting(ctx, child); err != nil {
		s.set.log.Warn("jobsharp: could not check a new continuation; a scanner will", "job", child.ID, "err", err)
		return child, nil
	}
	if got, err := s.get(ctx, child.ID, false); err == nil {
		child = got
	}
	return child, nil
}

// markContinued sets HasContinuations on a parent job, by a lightweight
// transaction on its version, so that settling it, once it finishes, reads
// its continuations (settleLinks reads them only for marked jobs); a parent
// that changes meanwhile is read again. A lease holder's outcome read before
// the mark fails its condition once and goes again on the marked row
// (rebase).
//
// It reports whether the parent is marked and not final, by a serial read
// or by the mark itself. Then every change that finishes the parent comes
// after that read or write, sees the mark, and settling it reads the lookup
// rows written before, the caller's included: the caller need not check its
// child. Otherwise (the parent finished, or is gone) the caller checks it.
func (s *Store) markContinued(ctx context.Context, parentID gocql.UUID) (marked bool, err error) {
	for attempt := 0; ; attempt++ {
		parent, err := s.getSerial(ctx, parentID)
		switch {
		case errors.Is(err, ErrNotFound):
			return false, nil // deleted meanwhile: the check cancels the child
		case err != nil:
			return false, err
		case parent.State.Final():
			return false, nil
		case parent.HasContinuations:
			return true, nil
		}
		_, err = s.applyOne(ctx, newChange(parent, parent.clone(), opMarkContinued))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, ErrNotFound):
			return false, nil
		case !errors.Is(err, ErrConflict) || attempt >= 20:
			return false, err
		}
	}
}

// Continuations returns the jobs waiting for a parent job or batch
// (JobSharp's GetContinuations), whatever their state now. Lookup rows of
// jobs that are gone are skipped, and removed once the parent has finished.
func (j *Jobs) Continuations(ctx context.Context, parentID gocql.UUID) ([]*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	s := j.s
	if err := checkID("parent id", parentID); err != nil {
		return nil, err
	}
	ids, err := s.childIDs(ctx, parentID)
	if err != nil {
		return nil, err
	}
	jobs, err := s.getMany(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("continuations of %s: %w", parentID, err)
	}
	found := map[gocql.UUID]bool{}
	out := jobs[:0]
	for _, c := range jobs {
		if c.ParentID == parentID {
			found[c.ID] = true
			out = append(out, c)
		}
	}
	if len(found) == len(ids) {
		return out, nil
	}
	// A row whose job is missing may belong to a continuation being stored
	// right now (its row is written first). Only once the parent job has
	// finished, more than Grace ago, can no insert be in flight: a new
	// continuation of a finished parent is settled by its own insert.
	parent, err := s.get(ctx, parentID, false)
	if err != nil || !parent.State.Final() || s.young(parent.StateChangedAt) {
		return out, nil
	}
	for _, id := range ids {
		if !found[id] {
			row := models.JobContinuationsRow{ParentID: parentID, JobID: id}
			err := s.exec(ctx, queries.ContinuationDelete, s.db.ContinuationDelete(ctx, row))
			if err != nil && !errors.Is(err, context.Canceled) {
				s.set.log.Warn("jobsharp: could not remove a stale continuation row", "parent", parentID, "job", id, "err", err)
			}
		}
	}
	return out, nil
}
