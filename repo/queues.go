package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jobsharp/cassandra/queries"
)

// Queues lists, pauses and resumes queues. Get it from [Store.Queues].
//
// A paused queue accepts jobs as before (inserts, retries, recurring
// occurrences), but processors claim none of its jobs until it is resumed.
// The flag lives in the queue registry (the queues table: one partition,
// one row per queue). A processor reads the flags of every queue once per
// poll interval ([Queues.Paused]), so a pause or a resume takes effect on
// every processor within one poll interval (plus the time of that read),
// and a claim costs no extra statement. A pause stops claims only: jobs
// already running go on to their end, and their outcomes are written as
// usual. [Jobs.Claim] itself does not look at the flag; code that claims
// without a worker.Processor reads [Queues.Paused] on its own schedule.
type Queues struct{ s *Store }

// ErrQueueNotFound: no queue has the given name. A queue exists from the
// first job stored in it.
var ErrQueueNotFound = errors.New("jobsharp: queue not found")

// QueueNotFoundError names the queue that does not exist. It matches
// ErrQueueNotFound.
type QueueNotFoundError struct{ Queue string }

func (e *QueueNotFoundError) Error() string {
	return fmt.Sprintf("jobsharp: queue %q not found (a queue exists from its first job)", e.Queue)
}

// Is reports whether target is ErrQueueNotFound.
func (e *QueueNotFoundError) Is(target error) bool { return target == ErrQueueNotFound }

// QueueInfo is one queue of the registry.
type QueueInfo struct {
	Name      string
	CreatedAt time.Time
	// Paused is set while the queue is paused: processors claim none of its
	// jobs.
	Paused bool
	// PausedAt is when the queue was last paused or resumed; zero if never.
	PausedAt time.Time
	// Counts holds the number of jobs in every state (see [Jobs.Count]).
	Counts map[State]int64
	// Settled reports whether the counts are exact as of FoldedAt.
	Settled bool
	// FoldedAt is when the oldest count fold of the queue began.
	FoldedAt time.Time
}

// List returns every queue, in name order, with its paused flag and its
// counts per state: one read of the registry, then one partition read per
// queue for its counts (which lag the jobs as [Jobs.Count] says).
func (q *Queues) List(ctx context.Context) ([]QueueInfo, error) {
	if err := q.check(ctx); err != nil {
		return nil, err
	}
	rows, err := q.s.db.QueuesList(ctx, 0).All()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", q.s.interpret(ctx, queries.QueuesList.Name, err))
	}
	slices.SortFunc(rows, func(a, b queries.QueuesListRow) int { return strings.Compare(a.Name, b.Name) })
	out := make([]QueueInfo, 0, len(rows))
	for _, r := range rows {
		c, err := q.s.readCounts(ctx, r.Name)
		if err != nil {
			return nil, fmt.Errorf("counts of queue %s: %w", r.Name, err)
		}
		info := QueueInfo{Name: r.Name, CreatedAt: r.CreatedAt.UTC(), Paused: r.Paused, Counts: c.everyState(), Settled: c.Settled, FoldedAt: c.FoldedAt}
		if !r.PausedAt.IsZero() {
			info.PausedAt = r.PausedAt.UTC()
		}
		out = append(out, info)
	}
	return out, nil
}

// Paused returns the names of the paused queues, sorted. With no queues
// named it reads every row of the registry partition; with names it reads
// their rows alone (`name IN …`), so what it costs does not grow with the
// registry: processors call it once per poll interval with their own
// queues. A named queue that does not exist is not paused. Returns a
// [*ValidationError] for an invalid name, before any statement.
func (q *Queues) Paused(ctx context.Context, queues ...string) ([]string, error) {
	if err := q.check(ctx); err != nil {
		return nil, err
	}
	var names []string
	keep := func(name string, paused bool) {
		if paused {
			names = append(names, name)
		}
	}
	if len(queues) == 0 {
		rows, err := q.s.db.QueuesPaused(ctx, 0).All()
		if err != nil {
			return nil, fmt.Errorf("read paused queues: %w", q.s.interpret(ctx, queries.QueuesPaused.Name, err))
		}
		for _, r := range rows {
			keep(r.Name, r.Paused)
		}
	} else {
		for _, name := range queues {
			if err := ValidQueue(name); err != nil {
				return nil, err
			}
		}
		queues = slices.Compact(slices.Sorted(slices.Values(queues)))
		rows, err := q.s.db.QueuesPausedAmong(ctx, 0, queues).All()
		if err != nil {
			return nil, fmt.Errorf("read paused queues: %w", q.s.interpret(ctx, queries.QueuesPausedAmong.Name, err))
		}
		for _, r := range rows {
			keep(r.Name, r.Paused)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Pause pauses a queue: processors stop claiming its jobs within one poll
// interval; running jobs are not interrupted. Pausing a paused queue
// changes nothing but PausedAt. Returns a [*ValidationError] for an invalid
// name and a [*QueueNotFoundError] for a queue that never held a job. One
// lightweight transaction; on [ErrTimeout] the pause may or may not have
// applied, and calling Pause again is safe.
func (q *Queues) Pause(ctx context.Context, queue string) error {
	return q.setPaused(ctx, queue, true)
}

// Resume resumes a paused queue: processors claim its jobs again within one
// poll interval. Resuming a queue that is not paused changes nothing but
// PausedAt. Errors as [Queues.Pause].
func (q *Queues) Resume(ctx context.Context, queue string) error {
	return q.setPaused(ctx, queue, false)
}

func (q *Queues) setPaused(ctx context.Context, queue string, paused bool) error {
	if err := q.check(ctx); err != nil {
		return err
	}
	if err := ValidQueue(queue); err != nil {
		return err
	}
	op := "pause"
	if !paused {
		op = "resume"
	}
	applied, _, err := q.s.db.QueueSetPaused(ctx, paused, q.s.now(), 0, queue).Exec()
	if err != nil {
		return fmt.Errorf("%s queue %s: %w", op, queue, q.s.interpret(ctx, queries.QueueSetPaused.Name, err))
	}
	if !applied {
		return &QueueNotFoundError{Queue: queue}
	}
	return nil
}
