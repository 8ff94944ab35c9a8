package repo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gocql/gocql"
)

// ClaimParams says what to claim and for whom.
type ClaimParams struct {
	// Queue to claim from; default "default".
	Queue string
	// Owner names the worker (host, process); kept in the lease for operators.
	Owner string
	// Limit is the most jobs to claim; 1 to 1,000.
	Limit int
	// Lease is how long the claim holds without a heartbeat. Default 30s.
	Lease time.Duration
}

// Claim takes up to Limit due jobs of a queue for one worker: each moves from
// Scheduled (or Failed) to Processing with a new lease, by a lightweight
// transaction on its version, so a job is claimed by one worker only, however
// many race for it. Jobs whose lease expired are rescued on the way (see
// [Jobs.Rescue]), and continuations whose parent finished are released.
//
// New jobs are read where they live: Claim reads the queue's home partitions
// from where this store's previous claim stopped, in home-time order, and
// claims the due jobs of a partition with one conditional batch (one Paxos
// round for up to a hundred jobs). Jobs due at another time than their home
// time (retries, snoozes, requeues, released continuations) come from the
// due index. Partitions are read in a random order, so that workers racing
// for the same queue mostly take different jobs.
//
// Execution is at-least-once: a worker that outlives its lease without a
// heartbeat loses the job to another worker, and its own later writes fail
// with [ErrLeaseLost]. A claim slowed past its lease (a loaded node, a
// network fault) returns jobs whose Lease.Until has passed and that may
// have been rescued meanwhile: heartbeat such a job before running it, as
// the worker package does; the heartbeat fails with [ErrLeaseLost] if the
// job is no longer the caller's.
func (j *Jobs) Claim(ctx context.Context, p *ClaimParams) ([]*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, invalid("claim params", "nil")
	}
	queue, lease := p.Queue, p.Lease
	if queue == "" {
		queue = DefaultQueue
	}
	if lease == 0 {
		lease = DefaultLease
	}
	switch {
	case p.Limit < 1 || p.Limit > 1000:
		return nil, invalid("limit", "%d, want 1 to 1,000", p.Limit)
	case lease < time.Second || lease > 24*time.Hour:
		return nil, invalid("lease", "%s, want 1s to 24h", lease)
	case len(p.Owner) > 255:
		return nil, invalid("owner", "%d bytes, more than 255", len(p.Owner))
	}
	if err := validText("owner", p.Owner); err != nil {
		return nil, err
	}
	if err := ValidQueue(queue); err != nil {
		return nil, err
	}
	s := j.s
	qn, err := s.queueNumber(ctx, queue)
	if err != nil {
		return nil, fmt.Errorf("claim jobs of queue %s: %w", queue, err)
	}
	mk := func(job *Job) *change { return s.claimChange(job, p.Owner, lease) }
	sc := s.scanner(queue)
	watermark, err := s.cachedWatermark(ctx, queue, sc)
	if err != nil {
		return nil, fmt.Errorf("claim jobs of queue %s: %w", queue, err)
	}
	// New jobs from their home partitions, then the due index (retries,
	// snoozes, requeues, released continuations; a scan there also rescues
	// expired leases) for the capacity left, or at least every
	// dueScanEvery while home partitions fill every claim, so that nothing
	// due waits behind a stream of new jobs.
	claimed, herr := s.claimAtHome(ctx, sc, queue, qn, watermark, p.Limit, mk)
	var derr error
	if sc.dueScanDue(time.Now(), len(claimed) < p.Limit) {
		var got []*Job
		got, derr = s.scanDue(ctx, queue, 2*p.Limit, p.Limit-len(claimed), mk, nil)
		claimed = append(claimed, got...)
	}
	if err := errors.Join(derr, herr); err != nil && len(claimed) == 0 {
		return nil, fmt.Errorf("claim jobs of queue %s: %w", queue, err)
	}
	return claimed, nil
}

// Rescue scans a queue's due index without claiming: it returns jobs whose
// lease expired to Failed with a retry due now (or Abandoned when retries are
// used up), releases continuations whose parent finished, and removes stale
// entries. [Jobs.Claim] does the same on its way; Rescue serves a worker that
// has no capacity to claim. It returns the number of jobs rescued.
func (j *Jobs) Rescue(ctx context.Context, queue string) (int, error) {
	if err := j.check(ctx); err != nil {
		return 0, err
	}
	if queue == "" {
		queue = DefaultQueue
	}
	if err := ValidQueue(queue); err != nil {
		return 0, err
	}
	var n atomic.Int64
	_, err := j.s.scanDue(ctx, queue, 500, 0, nil, func(*Job) { n.Add(1) })
	if err != nil {
		return int(n.Load()), fmt.Errorf("rescue jobs of queue %s: %w", queue, err)
	}
	return int(n.Load()), nil
}

// dueScanEvery is how often a claimer reads the due index of a queue.
const dueScanEvery = 100 * time.Millisecond

// claimChange is the change that claims a due job under a new lease.
func (s *Store) claimChange(job *Job, owner string, lease time.Duration) *change {
	now := s.now()
	next := job.clone()
	next.State = StateProcessing
	next.StateChangedAt = now
	next.StartedAt = now
	next.Lease = Lease{Owner: owner, Token: randomID(), Until: ms(now.Add(lease))}
	return newChange(job, next, opClaim)
}

// failed returns job after a failed attempt: Failed with a retry at retryAt
// (zero: after the backoff), or Abandoned when its retries are used up.
func (s *Store) failed(job *Job, msg, trace string, retryAt time.Time) *Job {
	now := s.now()
	next := job.clone()
	next.RetryCount++
	next.LastError = msg
	next.Errors = append(next.Errors, AttemptError{Attempt: next.RetryCount, FailedAt: now, Error: msg, Trace: trace})
	next.Lease = Lease{}
	next.StateChangedAt = now
	if next.RetryCount > next.MaxRetries {
		next.State = StateAbandoned
		next.FinishedAt = now
		return next
	}
	next.State = StateFailed
	if retryAt.IsZero() {
		retryAt = now.Add(Backoff(next.RetryCount))
	}
	next.ScheduledAt = ms(retryAt)
	return next
}

// Backoff is the default delay before retry n (1 for the first retry):
// exponential from one second, capped at one hour, with ±25% jitter so that
// jobs that failed together do not retry together.
func Backoff(retry int) time.Duration {
	d := time.Hour
	if retry < 13 {
		d = min(time.Second<<max(retry-1, 0), time.Hour)
	}
	jitter := 0.75 + rand.Float64()/2
	return time.Duration(float64(d) * jitter)
}

// checkHeld fails unless job is a Processing job with a lease, as a worker
// holds it.
func checkHeld(job *Job, op string) error {
	switch {
	case job == nil:
		return invalid("job", "nil")
	case job.State != StateProcessing || job.Lease.Token == (gocql.UUID{}):
		return &StateError{JobID: job.ID, State: job.State, Op: op}
	}
	return nil
}

// Heartbeat extends the lease of a job the caller holds to now+lease and
// returns the job with its new version. Returns [ErrLeaseLost] if the lease
// was lost (expired and rescued, cancelled) in the meantime.
func (j *Jobs) Heartbeat(ctx context.Context, job *Job, lease time.Duration) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if err := checkHeld(job, "heartbeat"); err != nil {
		return nil, err
	}
	if lease < time.Second || lease > 24*time.Hour {
		return nil, invalid("lease", "%s, want 1s to 24h", lease)
	}
	next := job.clone()
	next.Lease.Until = ms(j.s.now().Add(lease))
	return j.s.applyOne(ctx, newChange(job, next, opHeartbeat))
}

// Complete marks a job the caller holds Succeeded with its result. The row is
// rewritten with the retention TTL, its continuations are released and its
// batch is checked. Returns [ErrLeaseLost] if the caller lost the lease: then
// another worker may run or have run the job.
func (j *Jobs) Complete(ctx context.Context, job *Job, result []byte) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if err := checkHeld(job, "complete"); err != nil {
		return nil, err
	}
	if len(result) > j.s.set.maxArgs {
		return nil, invalid("result", "%d bytes, more than the limit of %d", len(result), j.s.set.maxArgs)
	}
	now := j.s.now()
	next := job.clone()
	next.State = StateSucceeded
	next.StateChangedAt, next.FinishedAt = now, now
	next.Result = result
	next.Lease = Lease{}
	return j.s.applyOne(ctx, newChange(job, next, opComplete))
}

// FailParams describes a failed attempt.
type FailParams struct {
	// Error is the error message; required.
	Error string
	// Trace is a stack trace or other detail.
	Trace string
	// RetryAt overrides the backoff; zero uses [Backoff].
	RetryAt time.Time
	// Abandon gives up at once, whatever retries are left.
	Abandon bool
}

// Fail records a failed attempt of a job the caller holds: Failed with a
// retry after exponential backoff while retries remain, else Abandoned.
// Returns [ErrLeaseLost] if the caller lost the lease.
func (j *Jobs) Fail(ctx context.Context, job *Job, p *FailParams) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if err := checkHeld(job, "fail"); err != nil {
		return nil, err
	}
	if p == nil || p.Error == "" {
		return nil, invalid("error", "empty")
	}
	if err := validText("error", p.Error); err != nil {
		return nil, err
	}
	if err := validText("trace", p.Trace); err != nil {
		return nil, err
	}
	if err := validTime("retry at", p.RetryAt); err != nil {
		return nil, err
	}
	msg, trace := truncate(p.Error, MaxErrorBytes), truncate(p.Trace, MaxTraceBytes)
	next := j.s.failed(job, msg, trace, p.RetryAt)
	if p.Abandon && next.State == StateFailed {
		next.State = StateAbandoned
		next.FinishedAt = next.StateChangedAt
		next.ScheduledAt = job.ScheduledAt
	}
	return j.s.applyOne(ctx, newChange(job, next, opFail))
}

// MaxErrorBytes and MaxTraceBytes bound the error message and the trace a
// failed attempt records (and a cancel's reason); longer ones are cut, at a
// character boundary.
const (
	MaxErrorBytes = 16 << 10
	MaxTraceBytes = 64 << 10
)

// truncate cuts s to at most n bytes at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Release gives back a job the caller claimed but did not run (a worker
// shutting down): Scheduled again, due now, with no attempt counted.
func (j *Jobs) Release(ctx context.Context, job *Job) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	return j.s.release(ctx, job, 0, opRelease)
}

// Snooze gives back a job the caller holds to run again after delay (a
// handler asking for a later run): Scheduled, with no attempt counted.
// Returns [ErrLeaseLost] if the caller lost the lease.
func (j *Jobs) Snooze(ctx context.Context, job *Job, delay time.Duration) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	return j.s.release(ctx, job, max(delay, 0), opSnooze)
}

func (s *Store) release(ctx context.Context, job *Job, delay time.Duration, op changeOp) (*Job, error) {
	if err := checkHeld(job, op.name); err != nil {
		return nil, err
	}
	now := s.now()
	next := job.clone()
	next.State = StateScheduled
	next.StateChangedAt = now
	next.ScheduledAt = ms(now.Add(delay))
	next.Lease = Lease{}
	return s.applyOne(ctx, newChange(job, next, op))
}

// CancelHeld cancels a job the caller holds (a handler giving up for good),
// recording reason as its last error; its continuations are cancelled with
// it, as by [Jobs.Cancel]. Returns [ErrLeaseLost] if the caller lost the
// lease.
func (j *Jobs) CancelHeld(ctx context.Context, job *Job, reason string) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if err := checkHeld(job, opCancelHeld.name); err != nil {
		return nil, err
	}
	if err := validText("reason", reason); err != nil {
		return nil, err
	}
	now := j.s.now()
	next := job.clone()
	next.State = StateCancelled
	next.StateChangedAt, next.FinishedAt = now, now
	next.LastError = truncate(reason, MaxErrorBytes)
	next.Lease = Lease{}
	return j.s.applyOne(ctx, newChange(job, next, opCancelHeld))
}

// Cancel cancels a job that has not finished. A running job's worker loses
// its lease: its next heartbeat or completion fails with [ErrLeaseLost]. The
// job's continuations are cancelled with it. Returns [ErrWrongState] for a
// finished job and [ErrNotFound] for a missing one.
func (j *Jobs) Cancel(ctx context.Context, id gocql.UUID) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	return j.s.retryChange(ctx, id, opCancel, func(cur *Job) (*Job, error) {
		if cur.State.Final() {
			return nil, &StateError{JobID: id, State: cur.State, Op: "cancel"}
		}
		now := j.s.now()
		next := cur.clone()
		next.State = StateCancelled
		next.StateChangedAt, next.FinishedAt = now, now
		next.Lease = Lease{}
		return next, nil
	})
}

// Requeue schedules a job again at the given time (zero: now) with its
// retries reset: for finished jobs (Succeeded, Cancelled, Abandoned), failed
// ones, and ones resting in Created. Returns [ErrWrongState] for a job that
// is Processing or waits for a parent.
func (j *Jobs) Requeue(ctx context.Context, id gocql.UUID, at time.Time) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if err := validTime("at", at); err != nil {
		return nil, err
	}
	return j.s.retryChange(ctx, id, opRequeue, func(cur *Job) (*Job, error) {
		switch cur.State {
		case StateProcessing, StateAwaitingContinuation, StateAwaitingBatch:
			return nil, &StateError{JobID: id, State: cur.State, Op: "requeue"}
		}
		now := j.s.now()
		next := cur.clone()
		next.State = StateScheduled
		next.StateChangedAt = now
		next.ScheduledAt = ms(at)
		if next.ScheduledAt.IsZero() {
			next.ScheduledAt = now
		}
		next.RetryCount = 0
		next.FinishedAt = time.Time{}
		next.Lease = Lease{}
		return next, nil
	})
}

// retryChange reads a job, applies f and writes the result, reading again
// when another change won the race (operator commands hold no version).
func (s *Store) retryChange(ctx context.Context, id gocql.UUID, op changeOp, f func(cur *Job) (*Job, error)) (*Job, error) {
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.get(ctx, id, attempt > 0)
		if err != nil {
			return nil, fmt.Errorf("%s job %s: %w", op.name, id, err)
		}
		next, err := f(cur)
		if err != nil {
			return nil, err
		}
		out, err := s.applyOne(ctx, newChange(cur, next, op))
		if errors.Is(err, ErrConflict) && attempt < 5 {
			continue
		}
		return out, err
	}
}
