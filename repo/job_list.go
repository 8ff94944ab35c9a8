package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/queries"
)

// farFuture bounds scans of the due index that look past now.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Queues lists the queues that have ever held a job, in name order.
func (j *Jobs) Queues(ctx context.Context) ([]string, error) {
	rows, err := j.s.db.QueuesList(ctx, 0).All()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", j.s.interpret(queries.QueuesList.Name, err))
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	return names, nil
}

func (j *Jobs) queuesOf(ctx context.Context, queue string) ([]string, error) {
	if queue != "" {
		return []string{queue}, nil
	}
	return j.Queues(ctx)
}

// ListParams selects jobs by state.
type ListParams struct {
	// Queue to list; empty lists every queue.
	Queue string
	State State
	// Limit is the most jobs to return; 1 to 10,000.
	Limit int
}

// ListByState returns up to Limit jobs in a state (JobSharp's
// GetJobsByState). Scheduled, Failed and Processing jobs come from the due
// index, soonest due (or lease expiry) first; jobs in other states from the
// state index, most recent first. Every hint is checked against the job, and
// stale ones are skipped and removed.
func (j *Jobs) ListByState(ctx context.Context, p *ListParams) ([]*Job, error) {
	switch {
	case p == nil:
		return nil, invalid("list params", "nil")
	case !p.State.Valid():
		return nil, invalid("state", "%d is not a state", int(p.State))
	case p.Limit < 1 || p.Limit > 10_000:
		return nil, invalid("limit", "%d, want 1 to 10,000", p.Limit)
	}
	queues, err := j.queuesOf(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	var out []*Job
	for _, q := range queues {
		var jobs []*Job
		if p.State.dueIndexed() {
			jobs, err = j.s.listDueIndexed(ctx, q, p.State, p.Limit-len(out))
		} else {
			jobs, err = j.s.listResting(ctx, q, p.State, p.Limit-len(out))
		}
		if err != nil {
			return nil, fmt.Errorf("list %s jobs of queue %s: %w", p.State, q, err)
		}
		out = append(out, jobs...)
		if len(out) >= p.Limit {
			break
		}
	}
	return out, nil
}

// listDueIndexed walks the due index from the watermark on, bucket by bucket.
func (s *Store) listDueIndexed(ctx context.Context, queue string, state State, limit int) ([]*Job, error) {
	watermark, _, err := s.watermark(ctx, queue)
	if err != nil {
		return nil, err
	}
	return s.walkDue(ctx, queue, watermark, farFuture, limit, func(j *Job) bool { return j.State == state })
}

// listResting walks the state index of a queue and state, newest bucket
// first, reading every shard of a bucket and merging them newest first.
func (s *Store) listResting(ctx context.Context, queue string, state State, limit int) ([]*Job, error) {
	var out []*Job
	before := farFuture
	for len(out) < limit {
		dirs, err := s.db.StateBucketsBefore(ctx, queue, int32(state), before, 16).All()
		if err != nil {
			return nil, s.interpret(queries.StateBucketsBefore.Name, err)
		}
		if len(dirs) == 0 {
			break
		}
		for _, d := range dirs {
			b := bucketRef{Start: d.Bucket.UTC(), Width: time.Duration(d.WidthMs) * time.Millisecond, Shards: int(d.Shards)}
			jobs, err := s.listBucket(ctx, queue, state, b, limit-len(out))
			if err != nil {
				return nil, err
			}
			out = append(out, jobs...)
			if len(out) >= limit {
				break
			}
		}
		before = dirs[len(dirs)-1].Bucket.UTC()
	}
	return out, nil
}

// listBucket returns the live jobs of one state bucket, newest first,
// removing stale rows on the way.
func (s *Store) listBucket(ctx context.Context, queue string, state State, b bucketRef, limit int) ([]*Job, error) {
	entries, err := s.readStateBucket(ctx, queue, state, b, farFuture, limit)
	if err != nil {
		return nil, err
	}
	var out []*Job
	for len(entries) > 0 && len(out) < limit {
		n := min(len(entries), limit-len(out)+8)
		page := entries[:n]
		entries = entries[n:]
		live, stale, err := s.verifyStateEntries(ctx, state, page)
		if err != nil {
			return nil, err
		}
		s.deleteState(ctx, stale...)
		out = append(out, live...)
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// readStateBucket reads up to perShard rows entered before `before` from
// every shard of a state bucket, merged newest first.
func (s *Store) readStateBucket(ctx context.Context, queue string, state State, b bucketRef, before time.Time, perShard int) ([]stateEntry, error) {
	results := make([][]queries.StateScanRow, b.Shards)
	err := forEach(ctx, b.Shards, s.set.writeConcurrency, func(ctx context.Context, sh int) error {
		rows, err := s.db.StateScan(ctx, queue, int32(state), b.Start, int32(sh), before, int32(perShard)).All()
		results[sh] = rows
		return s.interpret(queries.StateScan.Name, err)
	})
	if err != nil {
		return nil, err
	}
	var entries []stateEntry
	for sh, rows := range results {
		for _, r := range rows {
			entries = append(entries, stateEntry{Queue: queue, State: state, Bucket: b, Shard: sh, EnteredAt: r.EnteredAt.UTC(), JobID: r.JobID})
		}
	}
	slices.SortFunc(entries, func(x, y stateEntry) int { return y.EnteredAt.Compare(x.EnteredAt) })
	return entries, nil
}

// verifyStateEntries reads the jobs of state-index rows and splits the rows
// into live jobs and stale rows (the job moved on, or is gone).
func (s *Store) verifyStateEntries(ctx context.Context, state State, entries []stateEntry) (live []*Job, stale []stateEntry, err error) {
	jobs := make([]*Job, len(entries))
	err = forEach(ctx, len(entries), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		job, err := s.get(ctx, entries[i].JobID, false)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		jobs[i] = job
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	for i, e := range entries {
		job := jobs[i]
		if job != nil && job.State == state && job.Queue == e.Queue && job.StateChangedAt.Equal(e.EnteredAt) {
			live = append(live, job)
		} else {
			stale = append(stale, e)
		}
	}
	return live, stale, nil
}

// Count returns the number of jobs in a state (JobSharp's GetJobCount), in
// one queue or, with queue "", in all. It reads counters: one partition per
// queue and state, spread over shards. Counts of finished jobs cover the
// retention period, bucket by bucket, so they may include jobs that expired
// within the last StateBucketWidth.
//
// A count is exact unless a process died between a job's change and its
// count update, or a count update failed (it is logged; counter updates are
// not idempotent, so they are not retried).
func (j *Jobs) Count(ctx context.Context, queue string, state State) (int64, error) {
	if !state.Valid() {
		return 0, invalid("state", "%d is not a state", int(state))
	}
	queues, err := j.queuesOf(ctx, queue)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, q := range queues {
		n, err := j.s.count(ctx, q, state)
		if err != nil {
			return 0, fmt.Errorf("count %s jobs of queue %s: %w", state, q, err)
		}
		total += n
	}
	return total, nil
}

func (s *Store) count(ctx context.Context, queue string, state State) (int64, error) {
	rows, err := s.db.CountRead(ctx, queue, int32(state)).All()
	if err != nil {
		return 0, s.interpret(queries.CountRead.Name, err)
	}
	now := s.now()
	var n int64
	expired := false
	for _, r := range rows {
		if state.Final() && s.set.retention >= 0 && r.Bucket.UnixMilli() != 0 &&
			!r.Bucket.Add(s.set.stateWidth+s.set.retention).After(now) {
			expired = true
			continue
		}
		n += r.Jobs
	}
	if expired {
		// Counter rows of expired buckets are dropped lazily, so the
		// partition stays as small as the retention period.
		cut := bucketOf(now.Add(-s.set.retention-s.set.stateWidth), s.set.stateWidth, 1).Start
		if err := s.exec(queries.CountDropBefore, s.db.CountDropBefore(ctx, queue, int32(state), cut)); err != nil {
			s.set.log.Warn("jobsharp: could not drop expired count rows", "queue", queue, "state", state, "err", err)
		}
	}
	return n, nil
}

// Update writes a changed job (JobSharp's UpdateJob) if it has not changed
// since it was read: job.Version must be the stored version. A change of
// state moves the job's index entries; a job moved to a final state gets the
// retention TTL and its continuations are settled. Returns [ErrConflict] if
// the job changed underneath, [ErrNotFound] if it is gone, and
// [ErrInvalid] for an invalid job (nothing is written then).
func (j *Jobs) Update(ctx context.Context, job *Job) (*Job, error) {
	s := j.s
	if job == nil {
		return nil, invalid("job", "nil")
	}
	switch {
	case !job.State.Valid():
		return nil, invalid("state", "%d is not a state", int(job.State))
	case job.Type == "" || len(job.Type) > 255:
		return nil, invalid("type", "must be 1 to 255 bytes, got %d", len(job.Type))
	case len(job.Args) > s.set.maxArgs:
		return nil, invalid("args", "%d bytes, more than the limit of %d (Options.MaxArgsBytes)", len(job.Args), s.set.maxArgs)
	case job.State == StateProcessing && (job.Lease.Token == (gocql.UUID{}) || job.Lease.Until.IsZero()):
		return nil, invalid("lease", "a Processing job needs a lease; claim jobs with Jobs.Claim")
	case (job.State == StateAwaitingContinuation || job.State == StateAwaitingBatch) && job.ParentID == (gocql.UUID{}):
		return nil, invalid("parent", "a job in %s needs a ParentID", job.State)
	}
	if err := validMetadata(job.Metadata); err != nil {
		return nil, err
	}
	cur, err := s.get(ctx, job.ID, false)
	if err != nil {
		return nil, fmt.Errorf("update job %s: %w", job.ID, err)
	}
	if cur.Version != job.Version {
		return nil, fmt.Errorf("update job %s: %w", job.ID, &ConflictError{JobID: job.ID, Expected: job.Version, Actual: cur.Version})
	}
	if cur.Queue != job.Queue {
		return nil, invalid("queue", "a job cannot move from queue %s to %s", cur.Queue, job.Queue)
	}
	next := job.clone()
	if next.State != cur.State {
		next.StateChangedAt = s.now()
		if next.State.Final() && next.FinishedAt.IsZero() {
			next.FinishedAt = next.StateChangedAt
		}
	}
	return s.change(ctx, cur, next, opUpdate, nil)
}

// Delete removes a job (JobSharp's DeleteJob) by a lightweight transaction
// on its current version, then its state-index row; other hints that point
// at it become stale and are removed by whoever meets them. Continuations
// waiting for it are cancelled. Returns [ErrNotFound] if there is no such
// job.
func (j *Jobs) Delete(ctx context.Context, id gocql.UUID) error {
	s := j.s
	if err := checkID("id", id); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.get(ctx, id, attempt > 0)
		if err != nil {
			return fmt.Errorf("delete job %s: %w", id, err)
		}
		applied, err := s.cas(queries.JobsDelete, s.db.JobsDelete(ctx, id, cur.Version))
		if err != nil && !errors.Is(err, ErrTimeout) {
			return fmt.Errorf("delete job %s: %w", id, err)
		}
		if !applied {
			_, rerr := s.getSerial(ctx, id)
			switch {
			case errors.Is(rerr, ErrNotFound):
				// Deleted, by this call (after a timeout) or another.
			case rerr != nil:
				return fmt.Errorf("delete job %s: %w", id, errors.Join(err, rerr))
			case attempt < 5:
				continue
			default:
				return fmt.Errorf("delete job %s: %w", id, ErrConflict)
			}
		}
		counts := &countDeltas{}
		counts.add(s, cur, -1)
		s.applyCounts(ctx, counts)
		if !cur.State.dueIndexed() {
			s.deleteState(ctx, s.stateEntryOf(cur))
		}
		if err := s.settleChildren(ctx, id); err != nil {
			s.set.log.Warn("jobsharp: could not cancel the continuations of a deleted job", "job", id, "err", err)
		}
		return nil
	}
}
