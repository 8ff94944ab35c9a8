package faults

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// WorkArgs are the arguments of the suite's jobs: how long the handler
// works, and how many of its first attempts fail on purpose.
type WorkArgs struct {
	// Seq numbers the jobs of one producer.
	Seq int `json:"seq"`
	// WorkMS is how long the handler works (sleeps), in milliseconds.
	WorkMS int `json:"work_ms"`
	// FailAttempts makes attempts 1 … FailAttempts return PlannedFailure.
	FailAttempts int `json:"fail_attempts,omitempty"`
}

// Kind is the job kind of WorkArgs (worker.JobArgs): Enqueue and Handle
// take it from the type.
func (WorkArgs) Kind() string { return "faults.work" }

// PlannedFailure is the error a handler returns on an attempt its job's
// FailAttempts marks.
func PlannedFailure(attempt int) error { return fmt.Errorf("planned failure of attempt %d", attempt) }

// Mix shapes the jobs a producer makes.
type Mix struct {
	// ShortMS bounds the work of most jobs: uniform in [ShortMS/10, ShortMS].
	ShortMS int
	// LongShare of the jobs work LongMS (± half): long enough for the
	// processor to extend the lease while they run.
	LongShare float64
	LongMS    int
	// FailShare of the jobs fail their first attempt on purpose.
	FailShare float64
	// ContinueShare of the jobs are stored as continuations of a job
	// acknowledged a moment before (worker.EnqueueAfter), which is then
	// often still waiting or running.
	ContinueShare float64
}

// Args returns the arguments of job number seq.
func (m Mix) Args(seq int, r *rand.Rand) WorkArgs {
	a := WorkArgs{Seq: seq, WorkMS: m.ShortMS/10 + r.IntN(m.ShortMS-m.ShortMS/10+1)}
	if r.Float64() < m.LongShare {
		a.WorkMS = m.LongMS/2 + r.IntN(m.LongMS+1)
	}
	if r.Float64() < m.FailShare {
		a.FailAttempts = 1
	}
	return a
}

// Work is the handler's work time.
func (a WorkArgs) Work() time.Duration { return time.Duration(a.WorkMS) * time.Millisecond }
