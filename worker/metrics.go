package worker

import "time"

// Metrics receives what a [Processor] counts and times. Implementations must
// be safe for concurrent use and quick: they are called on the processor's
// hot path. The prommetrics package adapts them to Prometheus.
type Metrics interface {
	// JobClaimed is called for each job the processor claims. latency is
	// the queue latency: from when the job was due (its ScheduledAt) to its
	// claim, by the store's clock.
	JobClaimed(queue, jobType string, latency time.Duration)
	// JobFinished is called when an attempt has ended and its outcome was
	// written (or found impossible to write, for OutcomeLeaseLost). runTime
	// is how long the handler ran.
	JobFinished(queue, jobType string, outcome Outcome, runTime time.Duration)
	// JobsRescued is called when the rescuer returned n > 0 jobs with
	// expired leases to Failed or Abandoned.
	JobsRescued(queue string, n int)
	// RecurringFired is called for each job the scheduler created from an
	// occurrence of a recurring schedule.
	RecurringFired(queue, jobType string)
}

// Outcome is how an attempt ended. Its value is a short lowercase word, fit
// for a metric label.
type Outcome string

// The outcomes of an attempt.
const (
	// OutcomeSucceeded: the handler returned nil; the job is Succeeded.
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeRetried: the handler failed (error, panic, timeout, no
	// handler); the job is Failed and runs again after a backoff.
	OutcomeRetried Outcome = "retried"
	// OutcomeAbandoned: the handler failed and no retries are left; the job
	// is Abandoned.
	OutcomeAbandoned Outcome = "abandoned"
	// OutcomeCancelled: the handler returned [JobCancel], or the job was
	// cancelled while it ran; the job is Cancelled.
	OutcomeCancelled Outcome = "cancelled"
	// OutcomeSnoozed: the handler returned [JobSnooze]; the job is
	// Scheduled again with no attempt counted.
	OutcomeSnoozed Outcome = "snoozed"
	// OutcomeReleased: the processor shut down before the handler returned;
	// the job is Scheduled again with no attempt counted.
	OutcomeReleased Outcome = "released"
	// OutcomeLeaseLost: the lease expired under the running handler (or
	// heartbeats could not reach the store) and the job was or may be
	// rescued: it runs again elsewhere, and this attempt's outcome is lost.
	// Also a claim answered after its lease ran out whose lease no
	// heartbeat confirmed: its handler did not run (runTime 0).
	OutcomeLeaseLost Outcome = "lease_lost"
	// OutcomeUnrecorded: the outcome could not be written (the store was
	// unreachable until the lease ran out). The job will be rescued.
	OutcomeUnrecorded Outcome = "unrecorded"
)

// Failed reports whether the outcome is a failed attempt (retried or
// abandoned).
func (o Outcome) Failed() bool { return o == OutcomeRetried || o == OutcomeAbandoned }

type nopMetrics struct{}

func (nopMetrics) JobClaimed(string, string, time.Duration)           {}
func (nopMetrics) JobFinished(string, string, Outcome, time.Duration) {}
func (nopMetrics) JobsRescued(string, int)                            {}
func (nopMetrics) RecurringFired(string, string)                      {}
