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
	// Progress, if set, is called after each state bucket with the jobs
	// purged (or, in a dry run, found) so far.
	Progress func(purged int)
}

// Purge deletes finished jobs in a state that finished more than OlderThan
// ago, oldest first, and returns how many it deleted. It walks the state
// index bucket by bucket; each job is deleted by a lightweight transaction
// on its version, and a bucket wholly older than the cut is then dropped
// whole. Finished jobs also expire on their own after Options.Retention;
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
			// Deletes by lightweight transaction on each job's version,
			// one conditional batch per home partition.
			chs := make([]*change, len(live))
			for i, j := range live {
				chs[i] = newChange(j, j.clone(), opDelete)
			}
			if err := s.apply(ctx, chs...); err != nil {
				return n, err
			}
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
			if err := errors.Join(errs...); err != nil {
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
