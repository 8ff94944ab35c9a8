package repo

import (
	"context"
	"fmt"
	"time"
)

// QueueStats is how one queue stands.
type QueueStats struct {
	Queue string
	// Counts holds the number of jobs in every state (see [Jobs.Count]).
	Counts map[State]int64
	// Settled reports whether the counts are exact as of FoldedAt (see
	// [Counts]).
	Settled bool
	// FoldedAt is when the oldest count fold of the queue began.
	FoldedAt time.Time
	// Due is the number of jobs that are due and not claimed: the backlog.
	// At most MaxDue are counted.
	Due int
	// DueCapped is set when there were more than were counted.
	DueCapped bool
	// OldestDue is the ScheduledAt of the oldest job that is due and not
	// claimed; zero when none is.
	OldestDue time.Time
}

// MaxDue caps the due jobs [Jobs.Stats] counts per queue.
const MaxDue = 1000

// Stats reports on one queue, or on every queue when queue is "": counts per
// state and whether they are settled (one partition read per queue), and the
// backlog of due jobs (read from the due index and the home partitions from
// the watermark to now, up to MaxDue jobs) with the oldest of them.
func (j *Jobs) Stats(ctx context.Context, queue string) ([]QueueStats, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if queue != "" {
		if err := ValidQueue(queue); err != nil {
			return nil, err
		}
	}
	queues, err := j.queuesOf(ctx, queue)
	if err != nil {
		return nil, err
	}
	out := make([]QueueStats, 0, len(queues))
	for _, q := range queues {
		c, err := j.s.readCounts(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("stats of queue %s: %w", q, err)
		}
		st := QueueStats{Queue: q, Counts: c.everyState(), Settled: c.Settled, FoldedAt: c.FoldedAt}
		watermark, _, err := j.s.watermark(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("stats of queue %s: %w", q, err)
		}
		due, err := j.s.listDue(ctx, q, watermark, MaxDue+1)
		if err != nil {
			return nil, fmt.Errorf("stats of queue %s: %w", q, err)
		}
		st.Due = min(len(due), MaxDue)
		st.DueCapped = len(due) > MaxDue
		if len(due) > 0 {
			st.OldestDue = due[0].ScheduledAt
		}
		out = append(out, st)
	}
	return out, nil
}
