package repo

import (
	"context"
	"fmt"
	"time"
)

// QueueStats is how one queue stands.
type QueueStats struct {
	Queue string
	// Counts holds Jobs.Count for every state.
	Counts map[State]int64
	// DueEntries is the number of due-index entries from the watermark to
	// now: the backlog of jobs due and not yet claimed, plus lease expiries
	// and stale entries not yet cleaned. At most MaxDueEntries are counted.
	DueEntries int
	// DueEntriesCapped is set when there were more than were counted.
	DueEntriesCapped bool
	// OldestDue is the ScheduledAt of the oldest job that is due and not
	// claimed; zero when none is.
	OldestDue time.Time
}

// MaxDueEntries caps the due entries [Jobs.Stats] counts per queue.
const MaxDueEntries = 10_000

// Stats reports on one queue, or on every queue when queue is "": counts per
// state, the due backlog and the oldest due job. It reads the counters, the
// due index from the watermark to now (entries are counted, not verified)
// and the oldest due job.
func (j *Jobs) Stats(ctx context.Context, queue string) ([]QueueStats, error) {
	queues, err := j.queuesOf(ctx, queue)
	if err != nil {
		return nil, err
	}
	out := make([]QueueStats, 0, len(queues))
	for _, q := range queues {
		st := QueueStats{Queue: q, Counts: map[State]int64{}}
		states := States()
		counts := make([]int64, len(states))
		err := forEach(ctx, len(states), j.s.set.writeConcurrency, func(ctx context.Context, i int) error {
			n, err := j.s.count(ctx, q, states[i])
			counts[i] = n
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("stats of queue %s: %w", q, err)
		}
		for i, state := range states {
			st.Counts[state] = counts[i]
		}
		watermark, _, err := j.s.watermark(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("stats of queue %s: %w", q, err)
		}
		to := j.s.now()
		rd, err := j.s.readDue(ctx, q, watermark, watermark, to, MaxDueEntries)
		if err != nil {
			return nil, fmt.Errorf("stats of queue %s: %w", q, err)
		}
		st.DueEntries = min(len(rd.entries), MaxDueEntries)
		st.DueEntriesCapped = len(rd.entries) > MaxDueEntries || rd.complete.Before(to)
		oldest, err := j.s.listDue(ctx, q, watermark, 1)
		if err != nil {
			return nil, fmt.Errorf("stats of queue %s: %w", q, err)
		}
		if len(oldest) == 1 {
			st.OldestDue = oldest[0].ScheduledAt
		}
		out = append(out, st)
	}
	return out, nil
}
