package repo

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/models"
)

// State is the state of a job. The numbers are those of JobSharp.
type State int

// The states of a job.
const (
	// StateCreated: stored but not runnable until moved to Scheduled.
	StateCreated State = 0
	// StateScheduled: runnable once ScheduledAt has passed.
	StateScheduled State = 1
	// StateProcessing: claimed by a worker that holds its lease.
	StateProcessing State = 2
	// StateSucceeded: finished successfully (final).
	StateSucceeded State = 3
	// StateFailed: an attempt failed and a retry is scheduled at ScheduledAt.
	StateFailed State = 4
	// StateCancelled: cancelled (final).
	StateCancelled State = 5
	// StateAbandoned: failed more often than MaxRetries allows (final).
	StateAbandoned State = 6
	// StateAwaitingContinuation: waits for its parent job to succeed.
	StateAwaitingContinuation State = 7
	// StateAwaitingBatch: waits for every job of its parent batch to finish.
	StateAwaitingBatch State = 8
)

var stateNames = [...]string{"Created", "Scheduled", "Processing", "Succeeded", "Failed", "Cancelled", "Abandoned", "AwaitingContinuation", "AwaitingBatch"}

// States lists every state in numeric order.
func States() []State {
	out := make([]State, len(stateNames))
	for i := range out {
		out[i] = State(i)
	}
	return out
}

// String returns the state's name, as JobSharp spells it.
func (s State) String() string {
	if s.Valid() {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Number returns the state's number as stored, in decimal.
func (s State) Number() string { return fmt.Sprint(int(s)) }

// Valid reports whether s is one of the nine states.
func (s State) Valid() bool { return s >= 0 && int(s) < len(stateNames) }

// Final reports whether a job in state s is finished: Succeeded, Cancelled
// or Abandoned. Finished jobs expire after the retention period.
func (s State) Final() bool {
	return s == StateSucceeded || s == StateCancelled || s == StateAbandoned
}

// Claimable reports whether a job in state s runs when due: Scheduled, or
// Failed with a retry pending.
func (s State) Claimable() bool { return s == StateScheduled || s == StateFailed }

// dueIndexed reports whether jobs in state s are found through the due index
// (by run time or lease expiry) rather than the state index.
func (s State) dueIndexed() bool { return s.Claimable() || s == StateProcessing }

// stateIndexed reports whether jobs in state s have a row in the state
// index: Created, AwaitingContinuation, AwaitingBatch, Cancelled and
// Abandoned. Succeeded jobs are named by the finish log of their home
// partition instead, written in the batch that finishes them.
func (s State) stateIndexed() bool { return !s.dueIndexed() && s != StateSucceeded }

// ParseState parses a state name (case-insensitive) or number.
func ParseState(text string) (State, error) {
	for i, n := range stateNames {
		if equalFold(n, text) || fmt.Sprint(i) == text {
			return State(i), nil
		}
	}
	return 0, invalid("state", "%q is not a state (want one of %v)", text, stateNames)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Job is a job as the store holds it.
type Job struct {
	ID    gocql.UUID
	Queue string
	// Type names the handler that runs the job.
	Type string
	// Args are the serialized arguments.
	Args  []byte
	State State
	// Version grows with every change. Update and the lease operations are
	// conditioned on it.
	Version int64
	// CreatedAt, ScheduledAt, … are UTC and truncated to the millisecond.
	CreatedAt time.Time
	// ScheduledAt is when the job may run (again).
	ScheduledAt    time.Time
	StateChangedAt time.Time
	// StartedAt is when the current or last attempt was claimed.
	StartedAt  time.Time
	FinishedAt time.Time
	// RetryCount is the number of failed attempts so far.
	RetryCount int
	// MaxRetries is the number of retries after the first attempt; then the
	// job is Abandoned.
	MaxRetries int
	LastError  string
	// Errors holds every failed attempt, oldest first.
	Errors []AttemptError
	Result []byte
	// BatchID is the batch the job belongs to, zero if none.
	BatchID gocql.UUID
	// ParentID is the job or batch a continuation waits for, zero if none.
	ParentID gocql.UUID
	// HasContinuations is true once a continuation of this job has been
	// stored (InsertContinuation sets it). The store keeps it: a change
	// cannot clear it. Settling a finished job looks up its continuations
	// only when it is set.
	HasContinuations bool
	// RecurringID is the schedule that created the job, empty if none.
	RecurringID string
	// Lease is the claim of a Processing job.
	Lease    Lease
	Metadata map[string]string
	// UniqueKey is the key in unique_keys that the job holds when it was
	// inserted with UniqueOpts and no ByPeriod (a SHA-256), nil otherwise.
	// When the job finishes, the key gets the retention TTL of the job's
	// row, so it goes with the job. The store sets it at insert and keeps
	// it: a change cannot alter it.
	UniqueKey []byte
}

// Lease is the claim a worker holds on a Processing job. Token fences the
// worker's writes: a worker whose lease was taken over cannot change the job.
type Lease struct {
	Owner string
	Token gocql.UUID
	Until time.Time
}

// AttemptError records one failed attempt.
type AttemptError struct {
	Attempt  int
	FailedAt time.Time
	Error    string
	Trace    string
}

// ms truncates t to the millisecond and makes it UTC: Cassandra stores
// milliseconds, and a time used for a key must compare equal when read back.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// jobFromRow converts a stored row; it is the only place that knows the
// column layout of jobs.
func jobFromRow(r *models.JobsRow) *Job {
	j := &Job{
		ID: r.ID, Queue: r.Queue, Type: r.Type, Args: r.Args, State: State(r.State), Version: r.Version,
		CreatedAt: utc(r.CreatedAt), ScheduledAt: utc(r.ScheduledAt), StateChangedAt: utc(r.StateChangedAt),
		StartedAt: utc(r.StartedAt), FinishedAt: utc(r.FinishedAt),
		RetryCount: int(r.RetryCount), MaxRetries: int(r.MaxRetries), LastError: r.LastError, Result: r.Result,
		BatchID: r.BatchID, ParentID: r.ParentID, HasContinuations: r.Continued, RecurringID: r.RecurringID,
		Lease:    Lease{Owner: r.LeaseOwner, Token: r.LeaseToken, Until: utc(r.LeaseUntil)},
		Metadata: r.Metadata, UniqueKey: r.UniqueKey,
	}
	for _, e := range r.Errors {
		j.Errors = append(j.Errors, AttemptError{Attempt: int(e.Attempt), FailedAt: utc(e.FailedAt), Error: e.Error, Trace: e.Trace})
	}
	return j
}

// rowFromJob is the inverse of jobFromRow; h is the job's partition.
func rowFromJob(j *Job, h homeRef) models.JobsRow {
	r := models.JobsRow{
		Home: h.Start, Shard: h.Shard, ID: j.ID, Queue: j.Queue, Type: j.Type, Args: j.Args, State: int32(j.State), Version: j.Version,
		CreatedAt: ms(j.CreatedAt), ScheduledAt: ms(j.ScheduledAt), StateChangedAt: ms(j.StateChangedAt),
		StartedAt: ms(j.StartedAt), FinishedAt: ms(j.FinishedAt),
		RetryCount: int32(j.RetryCount), MaxRetries: int32(j.MaxRetries), LastError: j.LastError, Result: j.Result,
		BatchID: j.BatchID, ParentID: j.ParentID, Continued: j.HasContinuations, RecurringID: j.RecurringID,
		LeaseOwner: j.Lease.Owner, LeaseToken: j.Lease.Token, LeaseUntil: ms(j.Lease.Until),
		Metadata: j.Metadata, UniqueKey: j.UniqueKey,
	}
	for _, e := range j.Errors {
		r.Errors = append(r.Errors, models.AttemptError{Attempt: int32(e.Attempt), FailedAt: ms(e.FailedAt), Error: e.Error, Trace: e.Trace})
	}
	return r
}

// utc returns t in UTC; the zero time (a null timestamp) stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// clone returns a deep copy, so a change can be prepared without touching
// the caller's job.
func (j *Job) clone() *Job {
	c := *j
	c.Args = slices.Clone(j.Args)
	c.Result = slices.Clone(j.Result)
	c.Errors = slices.Clone(j.Errors)
	c.Metadata = maps.Clone(j.Metadata)
	return &c
}
