package worker

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the processor. Test them with errors.Is. Configuration and
// argument errors are the store's: they match [repo.ErrInvalidConfig] and
// [repo.ErrInvalid].
var (
	// ErrRunning: Run was called on a processor that is running or has run.
	// Make a new Processor to run again.
	ErrRunning = errors.New("jobsharp: processor already running")

	// ErrJobCancelled is the cause (context.Cause) of a handler's context
	// when the job was cancelled while it ran ([repo.Jobs.Cancel]). The
	// handler should return; whatever it returns, the job stays Cancelled.
	ErrJobCancelled = errors.New("jobsharp: job cancelled while running")

	// ErrShutdown is the cause of a handler's context when the processor
	// stopped and [Config.ShutdownTimeout] ran out before the handler
	// returned. The job is released: it runs again, with no attempt counted,
	// unless the handler returns nil.
	ErrShutdown = errors.New("jobsharp: processor shut down before the handler returned")

	// ErrJobTimeout is the cause of a handler's context when the job ran
	// longer than its timeout ([HandleOpts.Timeout], [Config.JobTimeout]).
	// The attempt counts as failed.
	ErrJobTimeout = errors.New("jobsharp: job ran longer than its timeout")

	// ErrLeaseExpired is the cause of a handler's context when heartbeats
	// failed (Cassandra unreachable) until the job's lease ran out: another
	// processor may now rescue the job and run it again, so this one stops.
	// If the store answers again before a rescue, a success is still
	// written, and a failure releases the job with no attempt counted.
	ErrLeaseExpired = errors.New("jobsharp: lease expired; heartbeats could not reach the store")

	// ErrNoHandler is recorded as the error of a job whose type has no
	// handler in the processor that claimed it. The attempt counts as
	// failed: a processor that knows the type may run the retry.
	ErrNoHandler = errors.New("jobsharp: no handler for job type")
)

// Errors that handlers return to say what should happen to the job rather
// than fail it.

// JobSnooze returns an error that tells the processor to run the job again
// after delay, with no attempt counted (River's JobSnooze): the job goes back
// to Scheduled at now+delay. Use it for "not yet" (a resource is busy, a rate
// limit applies). A delay of zero or less runs it again at once. The new due
// time is now+delay by this process's clock.
func JobSnooze(delay time.Duration) error { return &SnoozeError{Delay: delay} }

// SnoozeError is what [JobSnooze] returns.
type SnoozeError struct{ Delay time.Duration }

func (e *SnoozeError) Error() string { return fmt.Sprintf("jobsharp: job snoozed for %s", e.Delay) }

// JobCancel returns an error that tells the processor to give the job up for
// good (River's JobCancel): it ends Cancelled with err as its last error,
// whatever retries are left, and its continuations are cancelled. err may be
// nil.
func JobCancel(err error) error { return &CancelError{Err: err} }

// CancelError is what [JobCancel] returns.
type CancelError struct{ Err error }

func (e *CancelError) Error() string {
	if e.Err == nil {
		return "jobsharp: job cancelled by its handler"
	}
	return "jobsharp: job cancelled by its handler: " + e.Err.Error()
}

// Unwrap returns the handler's reason.
func (e *CancelError) Unwrap() error { return e.Err }

// PanicError is the failure recorded when a handler panics: the panic value
// and the goroutine's stack, which becomes the attempt's trace.
type PanicError struct {
	Value any
	Stack string
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }
