package repo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gocql/gocql"

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
	// Progress, if set, is called after each state bucket with the jobs
	// purged (or, in a dry run, found) so far.
	Progress func(purged int)
}

// Purge deletes finished jobs in a state that finished more than OlderThan
// ago, oldest first, and returns how many it deleted. For Cancelled and
// Abandoned it walks the state index bucket by bucket, and drops a bucket
// wholly older than the cut; for Succeeded it walks the home partitions,
// oldest bucket first, and reads the jobs their finish logs name. Each job
// is deleted by a lightweight transaction on its version. Finished jobs
// also expire on their own after Options.Retention; Purge is for shorter
// retention or a store that keeps them.
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
	if !p.State.stateIndexed() {
		return s.purgeFinished(ctx, queue, p, cut, before)
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
		if p.DryRun {
			n += len(live)
		} else {
			chs := make([]*change, len(live))
			for i, j := range live {
				chs[i] = newChange(j, j.clone(), opDelete)
			}
			m, err := s.deleteAll(ctx, chs)
			n += m
			if err != nil {
				return n, err
			}
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

// purgeFinished purges Succeeded jobs: every home partition of the queue,
// oldest bucket first, reads the jobs its finish log names in rows made
// before the cut (and up to Grace after it: a row is made when its batch
// is, after the jobs' finish times it records), and deletes those still
// Succeeded at the version named that finished before the cut. The
// finish-log rows stay: they hold the count changes, and expire with the
// rows they counted.
func (s *Store) purgeFinished(ctx context.Context, queue string, p *PurgeParams, cut time.Time, before int) (int, error) {
	dirs, err := s.homeBuckets(ctx, queue, epoch, farFuture)
	if err != nil {
		return 0, err
	}
	qn, err := s.queueNumber(ctx, queue)
	if err != nil {
		return 0, err
	}
	slices.SortFunc(dirs, func(a, b homeDirKey) int { return a.bucket.Compare(b.bucket) })
	bound := gocql.MinTimeUUID(cut.Add(s.set.grace))
	n := 0
	for _, d := range dirs {
		for _, h := range d.partitions(qn) {
			m, err := s.purgePartition(ctx, queue, h, p.DryRun, bound, cut)
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

// purgePartition purges the Succeeded jobs of one home partition that the
// finish log names in rows before bound and that finished before cut.
func (s *Store) purgePartition(ctx context.Context, queue string, h homeRef, dryRun bool, bound gocql.UUID, cut time.Time) (int, error) {
	rows, err := s.db.FinishLogSucceeded(ctx, h.Start, h.Shard, bound).All()
	if err != nil {
		return 0, s.interpret(ctx, queries.FinishLogSucceeded.Name, err)
	}
	version := map[gocql.UUID]int64{}
	for _, r := range rows {
		for id, v := range r.SucceededJobs {
			version[id] = max(version[id], v)
		}
	}
	ids := slices.SortedFunc(maps.Keys(version), compareUUID)
	n := 0
	for chunk := range slices.Chunk(ids, 500) {
		jobs, err := s.jobsOfPartition(ctx, h, chunk, false)
		if err != nil {
			return n, err
		}
		var chs []*change
		for _, j := range jobs {
			if j.Queue == queue && j.State == StateSucceeded && j.Version == version[j.ID] && j.StateChangedAt.Before(cut) {
				chs = append(chs, newChange(j, j.clone(), opDelete))
			}
		}
		if dryRun {
			n += len(chs)
			continue
		}
		m, err := s.deleteAll(ctx, chs)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// deleteAll makes deletes by lightweight transaction on each job's version,
// one conditional batch per home partition, and returns how many applied;
// a job changed or gone meanwhile is left alone.
func (s *Store) deleteAll(ctx context.Context, chs []*change) (int, error) {
	if len(chs) == 0 {
		return 0, nil
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
		default:
			errs = append(errs, c.err)
		}
	}
	return n, errors.Join(errs...)
}
