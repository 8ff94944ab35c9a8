package worker

import (
	"context"
	"time"

	"github.com/jobsharp/cassandra/repo"
)

// AttemptHook wraps every attempt the processor runs, so that a package
// beside it can trace attempts without the processor depending on it: the
// oteljobs package makes one consumer span per attempt, a child of (or linked
// to) the trace that enqueued the job. Implementations must be safe for
// concurrent use.
type AttemptHook interface {
	// StartAttempt is called when the handler of a claimed job is about to
	// run, with the job as claimed (read it, do not change it). The context
	// it returns must descend from ctx: it becomes the handler's. end is
	// called once, after the attempt's outcome is written (or found
	// impossible to write).
	StartAttempt(ctx context.Context, job *repo.Job) (handlerCtx context.Context, end func(AttemptEnd))
}

// AttemptEnd is how an attempt ended, for [AttemptHook].
type AttemptEnd struct {
	// Outcome is what became of the job.
	Outcome Outcome
	// Err is the handler's error (a [*PanicError] for a panic, one matching
	// [ErrJobTimeout] or [ErrNoHandler]); nil when it succeeded.
	Err error
	// RunTime is how long the handler ran.
	RunTime time.Duration
}
