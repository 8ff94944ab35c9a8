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

// farFuture bounds scans that look past now: no job is due later.
var farFuture = maxHomeTime

// Queues lists the queues that have ever held a job, in name order.
func (j *Jobs) Queues(ctx context.Context) ([]string, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	rows, err := j.s.db.QueuesList(ctx, 0).All()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", j.s.interpret(ctx, queries.QueuesList.Name, err))
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	return names, nil
}

func (j *Jobs) queuesOf(ctx context.Context, queue string) ([]string, error) {
	if queue != "" {
		if err := ValidQueue(queue); err != nil {
			return nil, err
		}
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
// index, soonest due (or lease expiry) first; Succeeded jobs from the finish
// logs of their home partitions, in ListPage's order; jobs in other states
// from the state index, most recent first. Every hint is checked against
// the job, and stale ones are skipped and removed.
func (j *Jobs) ListByState(ctx context.Context, p *ListParams) ([]*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
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
		switch {
		case p.State.dueIndexed():
			jobs, err = j.s.listDueIndexed(ctx, q, p.State, p.Limit-len(out))
		case !p.State.stateIndexed():
			jobs, err = j.s.listFinished(ctx, q, p.Limit-len(out))
		default:
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
	keep := func(j *Job) bool { return j.State == state }
	fromIndex, err := s.walkDue(ctx, queue, watermark, farFuture, limit, keep)
	if err != nil || state != StateScheduled {
		return fromIndex, err
	}
	// New jobs wait in their home partitions, which hold no due entry.
	atHome, err := s.walkHomes(ctx, queue, watermark, farFuture, limit, keep)
	if err != nil {
		return nil, err
	}
	return mergeByDue(fromIndex, atHome, limit), nil
}

// listResting walks the state index of a queue and state, newest bucket
// first, reading every shard of a bucket and merging them newest first.
func (s *Store) listResting(ctx context.Context, queue string, state State, limit int) ([]*Job, error) {
	var out []*Job
	before := farFuture
	for len(out) < limit {
		dirs, err := s.db.StateBucketsBefore(ctx, queue, int32(state), before, 16).All()
		if err != nil {
			return nil, s.interpret(ctx, queries.StateBucketsBefore.Name, err)
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

// listFinished returns the newest Succeeded jobs of a queue, from the finish
// logs of its home partitions, page by page as ListPage reads them.
func (s *Store) listFinished(ctx context.Context, queue string, limit int) ([]*Job, error) {
	c := &listCursor{V: cursorVersion, State: int(StateSucceeded), Queue: queue, Queues: []queueCursor{{Name: queue}}}
	var out []*Job
	for len(out) < limit {
		res, err := s.listPage(ctx, c, min(limit-len(out), 1000))
		if err != nil {
			return nil, err
		}
		out = append(out, res.Jobs...)
		if res.Next == "" {
			break
		}
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
		return s.interpret(ctx, queries.StateScan.Name, err)
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
	ids := make([]gocql.UUID, len(entries))
	for i, e := range entries {
		ids[i] = e.JobID
	}
	found, err := s.getJobs(ctx, ids, false)
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[gocql.UUID]*Job, len(found))
	for _, j := range found {
		byID[j.ID] = j
	}
	for _, e := range entries {
		job := byID[e.JobID]
		if job != nil && job.State == state && job.Queue == e.Queue && job.StateChangedAt.Equal(e.EnteredAt) {
			live = append(live, job)
		} else {
			stale = append(stale, e)
		}
	}
	return live, stale, nil
}

// Update writes a changed job (JobSharp's UpdateJob) if it has not changed
// since it was read: job.Version must be the stored version. A change of
// state moves the job's index entries; a job moved to a final state gets the
// retention TTL and its continuations are settled. Returns [ErrConflict] if
// the job changed underneath, [ErrNotFound] if it is gone, and
// [ErrInvalid] for an invalid job (nothing is written then).
func (j *Jobs) Update(ctx context.Context, job *Job) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	s := j.s
	if job == nil {
		return nil, invalid("job", "nil")
	}
	switch {
	case !job.State.Valid():
		return nil, invalid("state", "%d is not a state", int(job.State))
	case len(job.Args) > s.set.maxArgs:
		return nil, invalid("args", "%d bytes, more than the limit of %d (Options.MaxArgsBytes)", len(job.Args), s.set.maxArgs)
	case job.State == StateProcessing && (job.Lease.Token == (gocql.UUID{}) || job.Lease.Until.IsZero()):
		return nil, invalid("lease", "a Processing job needs a lease; claim jobs with Jobs.Claim")
	case (job.State == StateAwaitingContinuation || job.State == StateAwaitingBatch) && job.ParentID == (gocql.UUID{}):
		return nil, invalid("parent", "a job in %s needs a ParentID", job.State)
	}
	if err := checkJobText(job); err != nil {
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
	return s.applyOne(ctx, newChange(cur, next, opUpdate))
}

// Delete removes a job (JobSharp's DeleteJob) by a lightweight transaction
// on its current version, then its state-index row; other hints that point
// at it become stale and are removed by whoever meets them. Continuations
// waiting for it are cancelled. Returns [ErrNotFound] if there is no such
// job.
func (j *Jobs) Delete(ctx context.Context, id gocql.UUID) error {
	if err := j.check(ctx); err != nil {
		return err
	}
	s := j.s
	if err := checkID("id", id); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.get(ctx, id, attempt > 0)
		if err != nil {
			return fmt.Errorf("delete job %s: %w", id, err)
		}
		_, err = s.applyOne(ctx, newChange(cur, cur.clone(), opDelete))
		switch {
		case errors.Is(err, ErrConflict) && attempt < 5:
			continue
		case errors.Is(err, ErrNotFound) && attempt > 0:
			// Deleted, by this call (after a timeout) or another.
		case err != nil:
			return err
		}
		if err := s.settleChildren(ctx, id); err != nil {
			s.set.log.Warn("jobsharp: could not cancel the continuations of a deleted job", "job", id, "err", err)
		}
		return nil
	}
}

// checkJobText validates what Update writes of a job besides its state:
// its type, queue and text columns, which must be valid UTF-8, its metadata
// and its times.
func checkJobText(job *Job) error {
	if err := ValidJobType(job.Type); err != nil {
		return err
	}
	if err := ValidQueue(job.Queue); err != nil {
		return err
	}
	for _, f := range []struct{ field, text string }{
		{"last error", job.LastError}, {"lease owner", job.Lease.Owner}, {"recurring id", job.RecurringID},
	} {
		if err := validText(f.field, f.text); err != nil {
			return err
		}
	}
	for i, e := range job.Errors {
		if err := validText(fmt.Sprintf("errors[%d].error", i), e.Error); err != nil {
			return err
		}
		if err := validText(fmt.Sprintf("errors[%d].trace", i), e.Trace); err != nil {
			return err
		}
	}
	if err := validTime("scheduled at", job.ScheduledAt); err != nil {
		return err
	}
	return validMetadata(job.Metadata)
}
