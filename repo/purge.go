package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobsharp/cassandra/queries"
)

// PurgeParams select finished jobs to delete.
type PurgeParams struct {
	// Queue to purge; empty purges every queue.
	Queue string
	// State is Succeeded, Cancelled or Abandoned.
	State State
	// OlderThan keeps jobs that finished more recently than this.
	OlderThan time.Duration
	// DryRun counts what would be deleted and deletes nothing.
	DryRun bool
	// Progress, if set, is called after each state bucket (home bucket for
	// Succeeded) with the jobs purged (or, in a dry run, found) so far.
	Progress func(purged int)
}

// Purge deletes finished jobs in a state that finished more than OlderThan
// ago, oldest first, and returns how many it deleted. For Cancelled and
// Abandoned it walks the state index bucket by bucket, and drops a bucket
// wholly older than the cut whole; Succeeded jobs have no state-index rows,
// so for them it walks every home partition of the queue, oldest first. Each
// job is deleted by a lightweight transaction on its version. Finished jobs also expire on their own after Options.Retention;
// Purge is for shorter retention or a store that keeps them.
func (j *Jobs) Purge(ctx context.Context, p *PurgeParams) (int, error) {
	if err := j.check(ctx); err != nil {
		return 0, err
	}
	s := j.s
	switch {
	case p == nil:
		return 0, invalid("purge params", "nil")
	case !p.State.Final():
		return 0, invalid("state", "only finished jobs (Succeeded, Cancelled, Abandoned) are purged, not %s", p.State)
	case p.OlderThan < 0:
		return 0, invalid("older than", "negative %s", p.OlderThan)
	}
	queues, err := j.queuesOf(ctx, p.Queue)
	if err != nil {
		return 0, err
	}
	cut := s.now().Add(-p.OlderThan)
	total := 0
	for _, q := range queues {
		n, err := s.purgeQueue(ctx, q, p, cut, total)
		total += n
		if err != nil {
			return total, fmt.Errorf("purge %s jobs of queue %s: %w", p.State, q, err)
		}
	}
	return total, nil
}

func (s *Store) purgeQueue(ctx context.Context, queue string, p *PurgeParams, cut time.Time, before int) (int, error) {
	if p.State.homeListed() {
		return s.purgeAtHome(ctx, queue, p, cut, before)
	}
	n := 0
	var after time.Time // buckets are read oldest first, in pages
	for {
		dirs, err := s.db.StateBucketsOldest(ctx, queue, int32(p.State), cut, 64).All()
		if err != nil {
			return n, s.interpret(ctx, queries.StateBucketsOldest.Name, err)
		}
		progressed := false
		for _, d := range dirs {
			b := bucketRef{Start: d.Bucket.UTC(), Width: time.Duration(d.WidthMs) * time.Millisecond, Shards: int(d.Shards)}
			if !b.Start.After(after) && !after.IsZero() {
				continue
			}
			progressed = true
			after = b.Start
			m, err := s.purgeBucket(ctx, queue, p, b, cut)
			n += m
			if err != nil {
				return n, err
			}
			if p.Progress != nil {
				p.Progress(before + n)
			}
		}
		if !progressed || len(dirs) < 64 {
			return n, nil
		}
	}
}

// purgeBucket deletes the jobs of one state bucket that finished before cut,
// and drops the bucket when it lies wholly before cut.
func (s *Store) purgeBucket(ctx context.Context, queue string, p *PurgeParams, b bucketRef, cut time.Time) (int, error) {
	n := 0
	beforeTime := cut
	for {
		entries, err := s.readStateBucket(ctx, queue, p.State, b, beforeTime, 500)
		if err != nil {
			return n, err
		}
		if len(entries) == 0 {
			break
		}
		live, _, err := s.verifyStateEntries(ctx, p.State, entries)
		if err != nil {
			return n, err
		}
		m, err := s.purgeJobs(ctx, live, p.DryRun)
		n += m
		if err != nil {
			return n, err
		}
		beforeTime = entries[len(entries)-1].EnteredAt
		if len(entries) < 500 {
			break
		}
	}
	if p.DryRun || b.End().After(cut) {
		return n, nil
	}
	err := forEach(ctx, b.Shards, s.set.writeConcurrency, func(ctx context.Context, sh int) error {
		return s.exec(ctx, queries.StateDropPartition, s.db.StateDropPartition(ctx, queue, int32(p.State), b.Start, int32(sh)))
	})
	if err == nil {
		dir := stateEntry{Queue: queue, State: p.State, Bucket: b}.dirRow()
		err = s.exec(ctx, queries.StateBucketDelete, s.db.StateBucketDelete(ctx, dir))
	}
	return n, err
}

// purgeJobs deletes jobs by lightweight transaction on each one's version,
// one conditional batch per home partition, and returns how many it deleted
// (in a dry run: how many it was given). A job that changed or went
// meanwhile is left.
func (s *Store) purgeJobs(ctx context.Context, jobs []*Job, dryRun bool) (int, error) {
	if dryRun {
		return len(jobs), nil
	}
	chs := make([]*change, len(jobs))
	for i, j := range jobs {
		chs[i] = newChange(j, j.clone(), opDelete)
	}
	if err := s.apply(ctx, chs...); err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, c := range chs {
		switch {
		case c.err == nil:
			n++
		case errors.Is(c.err, ErrConflict) || errors.Is(c.err, ErrNotFound):
			// changed or gone meanwhile: leave it
		default:
			errs = append(errs, c.err)
		}
	}
	return n, errors.Join(errs...)
}

// purgeAtHome purges the jobs of a state listed from their home partitions
// (Succeeded): it walks every home bucket of the queue, oldest first, and
// reads each partition's jobs in the state that finished before cut (a
// filter inside the partition), 500 at a time. Every bucket is read, not
// only those before cut: a job run before its home time (triggered early)
// finishes before it.
func (s *Store) purgeAtHome(ctx context.Context, queue string, p *PurgeParams, cut time.Time, before int) (int, error) {
	qn, err := s.queueNumber(ctx, queue)
	if err != nil {
		return 0, err
	}
	dirs, err := s.homeBuckets(ctx, queue, epoch, farFuture)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range dirs {
		for _, part := range k.partitions(qn) {
			m, err := s.purgePartition(ctx, part, p, cut)
			n += m
			if err != nil {
				return n, err
			}
		}
		if p.Progress != nil {
			p.Progress(before + n)
		}
	}
	return n, nil
}

// purgePartition purges one home partition's jobs in p.State that finished
// before cut.
func (s *Store) purgePartition(ctx context.Context, part homeRef, p *PurgeParams, cut time.Time) (int, error) {
	const page = 500
	n := 0
	after := idAt(epoch)
	for {
		rows, err := s.db.JobsScanFinishedBefore(ctx, part.Start, part.Shard, after, int32(p.State), cut, page).All()
		if err != nil {
			return n, s.interpret(ctx, queries.JobsScanFinishedBefore.Name, err)
		}
		jobs := make([]*Job, len(rows))
		for i := range rows {
			jobs[i] = jobFromRow(&rows[i])
		}
		m, err := s.purgeJobs(ctx, jobs, p.DryRun)
		n += m
		if err != nil || len(rows) < page {
			return n, err
		}
		after = rows[len(rows)-1].ID
	}
}
