package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jobsharp/cassandra/repo"
)

// execution is one attempt of one claimed job: the handler, the heartbeats
// that keep its lease, and the write of its outcome.
type execution struct {
	p   *Processor
	log *slog.Logger

	mu sync.Mutex
	// held is the job at the version this processor last wrote: every
	// lease operation is conditioned on it.
	held *repo.Job
	// deadline is when the lease runs out by this process's clock: the
	// start of the last successful claim or heartbeat plus Lease.
	deadline time.Time
	// lost is set once the lease is known to be gone: a *repo.LeaseLostError
	// (wrapped with ErrJobCancelled for a cancelled job), or ErrLeaseExpired.
	lost error
}

func (e *execution) state() (held *repo.Job, deadline time.Time, lost error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.held, e.deadline, e.lost
}

// execute runs one claimed job to its outcome. It owns one of q's slots
// until the handler returns, then one of q's writing tokens until the
// outcome is written, and one count of p.running throughout.
func (p *Processor) execute(q *queue, job *repo.Job, claimedAt time.Time) {
	defer p.running.Done()
	defer q.active.Add(-1)
	slotHeld := true
	defer func() {
		if slotHeld {
			p.freeSlots(q, 1)
		}
	}()

	e := &execution{p: p, log: p.jobLog(job), held: job, deadline: claimedAt.Add(p.set.lease)}
	if !e.leaseBeforeStart() {
		p.set.metrics.JobFinished(job.Queue, job.Type, OutcomeLeaseLost, 0)
		return
	}
	h := p.handler(job.Type)

	ctx, cancel := context.WithCancelCause(p.workCtx)
	defer cancel(nil)
	runCtx := ctx
	var end func(AttemptEnd)
	if hook := p.set.attemptHook; hook != nil {
		runCtx, end = hook.StartAttempt(runCtx, job)
	}
	if h != nil && h.timeout > 0 {
		var stop context.CancelFunc
		runCtx, stop = context.WithTimeoutCause(runCtx, h.timeout, ErrJobTimeout)
		defer stop()
	}

	stopBeats, beatsDone := make(chan struct{}), make(chan struct{})
	go e.heartbeat(cancel, stopBeats, beatsDone)

	e.log.Debug("jobsharp: job started", "latency", job.StartedAt.Sub(job.ScheduledAt))
	start := time.Now()
	result, err := e.call(runCtx, h, job)
	runTime := time.Since(start)
	_, _, lostWhileRunning := e.state()
	close(stopBeats)
	<-beatsDone

	// Stopped by the processor (shutdown, or a lease that ran out while the
	// handler ran): an error then is not the job's, and counts no attempt.
	interrupted := errors.Is(context.Cause(ctx), ErrShutdown) || errors.Is(lostWhileRunning, ErrLeaseExpired)
	// The handler is done: its slot goes to the next job while the outcome
	// is written (the store sends the outcomes of many jobs of one partition
	// as one batch). The lease still covers the job until then.
	q.writing <- struct{}{}
	p.freeSlots(q, 1)
	slotHeld = false
	defer func() { <-q.writing }()
	outcome := e.finish(h, result, err, interrupted)
	p.set.metrics.JobFinished(job.Queue, job.Type, outcome, runTime)
	if end != nil {
		end(AttemptEnd{Outcome: outcome, Err: err, RunTime: runTime})
	}
	e.logOutcome(outcome, err, runTime)
}

// leaseBeforeStart reports whether the job may run. A claim answered after
// its lease ran out (a lightweight transaction slowed by a fault or a loaded
// node) holds a job that may have been rescued and claimed by another
// processor meanwhile: its lease is confirmed first by a heartbeat, fenced
// on the claim's version. Without that confirmation the handler does not
// run, so the job runs once, not twice. A heartbeat that fails for a
// transient reason (the fault that slowed the claim may still be on) is
// tried again every tenth of a heartbeat interval, for up to two leases
// past the claim's: the job is Processing under this claim, and a claim
// that landed that late may have outlived its lease entry (removed as stale
// before the claim applied), so no rescuer would ever find it.
func (e *execution) leaseBeforeStart() bool {
	p := e.p
	_, deadline, _ := e.state()
	if time.Now().Before(deadline) {
		return true
	}
	giveUp := deadline.Add(2 * p.set.lease)
	for {
		extended, lost := e.extend()
		switch {
		case extended:
			return true
		case lost != nil:
			e.log.Warn("jobsharp: the claim's answer came after its lease ran out, and the job was rescued; not run here", "err", lost)
			return false
		case time.Now().After(giveUp):
			e.log.Warn("jobsharp: the claim's answer came after its lease ran out, and no heartbeat could confirm it; not run here (the job will be rescued)")
			return false
		}
		select {
		case <-p.workCtx.Done():
			e.log.Warn("jobsharp: the claim's answer came after its lease ran out, and the processor stopped before a heartbeat confirmed it; not run here (the job will be rescued)")
			return false
		case <-time.After(p.set.heartbeat / 10):
		}
	}
}

// call runs the handler on a copy of the job, turning a panic into a
// *PanicError and an error after the timeout into one that says so.
func (e *execution) call(ctx context.Context, h *handler, job *repo.Job) (result []byte, err error) {
	if h == nil {
		return nil, fmt.Errorf("%w %q", ErrNoHandler, job.Type)
	}
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, &PanicError{Value: r, Stack: string(debug.Stack())}
		}
	}()
	view := *job
	view.Args, view.Metadata, view.Errors = slices.Clone(job.Args), maps.Clone(job.Metadata), slices.Clone(job.Errors)
	result, err = h.run(ctx, &view)
	if err != nil && errors.Is(context.Cause(ctx), ErrJobTimeout) && !errors.Is(err, ErrJobTimeout) {
		err = fmt.Errorf("%w (%s): %w", ErrJobTimeout, h.timeout, err)
	}
	return result, err
}

// heartbeat extends the lease every HeartbeatInterval until stop closes,
// sooner when the lease is nearer its end than that (a slow claim, failed
// heartbeats). When the lease is lost (rescued, cancelled, taken over) or
// runs out by the local clock because heartbeats failed, it cancels the
// handler's context with the reason as cause and stops.
func (e *execution) heartbeat(cancel context.CancelCauseFunc, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	p := e.p
	every := p.set.heartbeat
	failing := false // a heartbeat failed since the last one that succeeded
	for {
		held, deadline, _ := e.state()
		beat := time.NewTimer(max(min(every, time.Until(deadline)-every), every/10))
		expiry := time.NewTimer(time.Until(deadline))
		select {
		case <-stop:
		case <-expiry.C:
			// The deadline passed. If heartbeats were failing, another
			// processor may rescue the job: stop. If none was tried since the
			// last success (a claim slower than the lease, a stalled
			// process), try one: it is fenced, so it fails if the job was
			// rescued meanwhile.
			if failing {
				e.loseLease(ErrLeaseExpired, cancel)
			}
		case <-beat.C:
		}
		beat.Stop()
		expiry.Stop()
		select {
		case <-stop:
			return
		default:
		}
		if _, _, lost := e.state(); lost != nil {
			return
		}
		sent := time.Now()
		ctx, cancelBeat := context.WithTimeout(context.Background(), max(time.Until(deadline), every))
		next, err := p.store.Jobs.Heartbeat(ctx, held, p.set.lease)
		cancelBeat()
		failing = err != nil
		switch {
		case err == nil:
			e.mu.Lock()
			e.held, e.deadline = next, sent.Add(p.set.lease)
			e.mu.Unlock()
		case errors.Is(err, repo.ErrLeaseLost), errors.Is(err, repo.ErrConflict), errors.Is(err, repo.ErrNotFound):
			if lost := e.recheck(held, err); lost != nil {
				e.loseLease(lost, cancel)
				return
			}
		default:
			e.log.Warn("jobsharp: heartbeat failed; retrying until the lease runs out", "err", err, "lease_deadline", deadline)
		}
	}
}

// recheck reads the job after a lease operation failed its condition. It
// adopts the stored job if this processor still holds it (a write of ours
// that timed out did apply) and returns nil; else it returns the
// *repo.LeaseLostError that says who has the job now.
func (e *execution) recheck(held *repo.Job, err error) error {
	if lle, ok := errors.AsType[*repo.LeaseLostError](err); ok {
		return lle
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.p.set.lease)
	defer cancel()
	cur, gerr := e.p.store.Jobs.Get(ctx, held.ID)
	switch {
	case errors.Is(gerr, repo.ErrNotFound):
		return &repo.LeaseLostError{JobID: held.ID, State: repo.StateCancelled}
	case gerr != nil:
		return nil // unknown: the next try tells
	case cur.State == repo.StateProcessing && cur.Lease.Token == held.Lease.Token:
		e.mu.Lock()
		e.held = cur
		e.mu.Unlock()
		return nil
	}
	return &repo.LeaseLostError{JobID: held.ID, State: cur.State, Owner: cur.Lease.Owner}
}

// loseLease records why the lease is gone and cancels the handler.
func (e *execution) loseLease(why error, cancel context.CancelCauseFunc) {
	if lle, ok := errors.AsType[*repo.LeaseLostError](why); ok && lle.State == repo.StateCancelled {
		why = fmt.Errorf("%w: %w", ErrJobCancelled, lle)
		e.log.Info("jobsharp: job cancelled while running; cancelling its handler")
	} else if ok {
		e.log.Error("jobsharp: lease lost while the handler ran; the job may run twice (make handlers idempotent)", "state", lle.State, "owner", lle.Owner)
	} else {
		e.log.Error("jobsharp: lease ran out: heartbeats could not reach the store; cancelling the handler, the job may be rescued and run again", "err", why)
	}
	e.mu.Lock()
	e.lost = why
	e.mu.Unlock()
	cancel(why)
}

// finish writes the attempt's outcome and returns it. interrupted says the
// processor stopped the handler (shutdown, lease run out locally): its error
// then releases the job rather than failing it.
func (e *execution) finish(h *handler, result []byte, herr error, interrupted bool) Outcome {
	p := e.p
	_, _, lost := e.state()
	if lost != nil && !errors.Is(lost, ErrLeaseExpired) {
		if errors.Is(lost, ErrJobCancelled) {
			return OutcomeCancelled
		}
		return OutcomeLeaseLost
	}
	var w outcomeWrite
	snooze, snoozed := errors.AsType[*SnoozeError](herr)
	cancelled, isCancel := errors.AsType[*CancelError](herr)
	// Each write says how to recognise it in the stored job: a try whose
	// answer was lost may have applied.
	released := func(stored, from *repo.Job) (repo.State, bool) {
		// Scheduled at the next version, or claimed again since, with no
		// attempt charged (a rescue would have charged one).
		next := stored.Version == from.Version+1 && stored.State == repo.StateScheduled
		later := stored.Version > from.Version+1 && stored.RetryCount == from.RetryCount && stored.StartedAt.After(from.StartedAt)
		return repo.StateScheduled, next || later
	}
	switch {
	case herr == nil:
		w.op = func(ctx context.Context, job *repo.Job) (*repo.Job, error) {
			return p.store.Jobs.Complete(ctx, job, result)
		}
		w.wrote = func(stored, from *repo.Job) (repo.State, bool) {
			return repo.StateSucceeded, stored.Version == from.Version+1 && stored.State == repo.StateSucceeded && bytes.Equal(stored.Result, result)
		}
	case interrupted:
		// Stopped by the processor, not by the job: no attempt counted. (A
		// write after the lease ran out is safe: it is fenced by the version,
		// so it fails if the job was rescued meanwhile.)
		w.op, w.wrote = p.store.Jobs.Release, released
	case snoozed:
		w.op = func(ctx context.Context, job *repo.Job) (*repo.Job, error) {
			return p.store.Jobs.Snooze(ctx, job, snooze.Delay)
		}
		w.wrote = released
	case isCancel:
		reason := storable(cancelled.Error(), repo.MaxErrorBytes)
		w.op = func(ctx context.Context, job *repo.Job) (*repo.Job, error) {
			return p.store.Jobs.CancelHeld(ctx, job, reason)
		}
		w.wrote = func(stored, from *repo.Job) (repo.State, bool) {
			return repo.StateCancelled, stored.Version == from.Version+1 && stored.State == repo.StateCancelled && stored.LastError == reason
		}
	default:
		fp := failParams(herr)
		backoff := p.set.backoff
		if h != nil && h.backoff != nil {
			backoff = h.backoff
		}
		if backoff != nil {
			held, _, _ := e.state()
			fp.RetryAt = time.Now().Add(backoff(held.RetryCount + 1))
		}
		w.op = func(ctx context.Context, job *repo.Job) (*repo.Job, error) { return p.store.Jobs.Fail(ctx, job, fp) }
		w.wrote = failedWith(fp.Error)
	}

	job, err := e.write(w)
	if herr == nil && errors.Is(err, repo.ErrInvalid) {
		// The handler succeeded but its result cannot be stored (too large).
		msg := storable(fmt.Sprintf("store the result: %v", err), repo.MaxErrorBytes)
		job, err = e.write(outcomeWrite{
			op: func(ctx context.Context, job *repo.Job) (*repo.Job, error) {
				return p.store.Jobs.Fail(ctx, job, &repo.FailParams{Error: msg})
			},
			wrote: failedWith(msg),
		})
	}
	switch {
	case err == nil:
	case errors.Is(err, repo.ErrLeaseLost):
		if lle, ok := errors.AsType[*repo.LeaseLostError](err); ok && lle.State == repo.StateCancelled {
			return OutcomeCancelled
		}
		e.log.Error("jobsharp: lease lost before the outcome was written; the job may run twice (make handlers idempotent)", "err", err)
		return OutcomeLeaseLost
	default:
		e.log.Error("jobsharp: could not write the job's outcome; it is rescued when its lease expires", "err", err)
		return OutcomeUnrecorded
	}
	switch job.State {
	case repo.StateSucceeded:
		return OutcomeSucceeded
	case repo.StateFailed:
		return OutcomeRetried
	case repo.StateAbandoned:
		return OutcomeAbandoned
	case repo.StateCancelled:
		return OutcomeCancelled
	case repo.StateScheduled:
		if snoozed && !interrupted {
			return OutcomeSnoozed
		}
		return OutcomeReleased
	}
	return OutcomeUnrecorded
}

// failParams is the failure a handler's error records: its text made valid
// UTF-8 and bounded, so that the store takes it whatever the handler
// returned (a panic value, bytes from elsewhere), and a panic's stack as the
// trace.
func failParams(herr error) *repo.FailParams {
	fp := &repo.FailParams{Error: storable(herr.Error(), repo.MaxErrorBytes)}
	if fp.Error == "" {
		fp.Error = fmt.Sprintf("handler returned a %T with an empty message", herr)
	}
	if pe, ok := errors.AsType[*PanicError](herr); ok {
		fp.Trace = storable(pe.Stack, repo.MaxTraceBytes)
	}
	return fp
}

// failedWith recognises a failed attempt recorded with msg: the job's
// errors hold the attempt with msg (a rescue records its own message), even
// if the job was claimed again since.
func failedWith(msg string) func(stored, from *repo.Job) (repo.State, bool) {
	return func(stored, from *repo.Job) (repo.State, bool) {
		attempt := from.RetryCount + 1
		state := repo.StateFailed
		if attempt > from.MaxRetries {
			state = repo.StateAbandoned
		}
		if stored.Version <= from.Version || stored.RetryCount < attempt {
			return state, false
		}
		for _, e := range stored.Errors {
			if e.Attempt == attempt && e.Error == msg {
				return state, true
			}
		}
		return state, false
	}
}

// storable makes text valid UTF-8 (invalid bytes become U+FFFD) and cuts it
// to at most n bytes at a character boundary.
func storable(text string, n int) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	if len(text) <= n {
		return text
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut]
}

// outcomeWrite is the write of an attempt's outcome: op applies it to the
// held job, and wrote reports whether the stored job shows that op applied
// on from (the held job of an earlier try), and the state op left the job
// in.
type outcomeWrite struct {
	op    func(ctx context.Context, job *repo.Job) (*repo.Job, error)
	wrote func(stored, from *repo.Job) (repo.State, bool)
}

// write applies an outcome to the held job. Transient errors (a timeout, a
// broken connection, replicas unavailable: repo.IsRetryable) are retried
// with backoff while the lease lasts, extending it by a heartbeat when it
// nears its end, and for up to two leases past it when heartbeats fail too:
// writes are fenced by the version, so one that comes late fails rather
// than overwriting a rescue. A try that failed so may have applied all the
// same; when a later try then finds its condition gone, the job is read,
// and if it holds what the unsure try wrote, at the version after the one
// it was conditioned on, that write is the outcome. Otherwise a failed
// condition is checked with a read: if this processor still holds the job,
// the write is retried on the stored version.
func (e *execution) write(w outcomeWrite) (*repo.Job, error) {
	p := e.p
	began := time.Now()
	pause := 50 * time.Millisecond
	var unsure []*repo.Job // the held job of each try whose outcome is unknown
	conflicts := 0
	for attempt := 1; ; attempt++ {
		held, deadline, _ := e.state()
		ctx, cancel := context.WithTimeout(context.Background(), p.set.lease)
		job, err := w.op(ctx, held)
		cancel()
		switch {
		case err == nil:
			return job, nil
		case errors.Is(err, repo.ErrLeaseLost), errors.Is(err, repo.ErrConflict), errors.Is(err, repo.ErrNotFound):
			if job, ok := e.applied(w, unsure); ok {
				return job, nil
			}
			if lost := e.recheck(held, err); lost != nil {
				return nil, lost
			}
			if conflicts++; conflicts >= 5 {
				return nil, err
			}
			continue
		case !repo.IsRetryable(err):
			return nil, err
		}
		unsure = append(unsure, held)
		if now := time.Now(); now.After(deadline.Add(2*p.set.lease)) || now.Sub(began) > maxOutcomeRetry*p.set.lease {
			if job, ok := e.applied(w, unsure); ok {
				return job, nil
			}
			return nil, err
		}
		e.log.Warn("jobsharp: writing the job's outcome failed; retrying", "err", err, "attempt", attempt)
		// The pause may be longer than what is left of the lease: it is
		// slept in naps that end when a heartbeat is due (less than a
		// heartbeat interval left; a failed one is tried again every tenth
		// of it), as the handler's heartbeats did.
		for wake := time.Now().Add(jitter(pause)); ; {
			_, deadline, _ := e.state()
			time.Sleep(min(time.Until(wake), max(time.Until(deadline)-p.set.heartbeat, p.set.heartbeat/10)))
			extended, lost := e.extend()
			switch {
			case lost != nil:
				if job, ok := e.applied(w, unsure); ok {
					return job, nil
				}
				return nil, lost
			case extended:
				// A heartbeat applied on the version the unsure tries were
				// conditioned on: none of them applied, nor can it any more.
				unsure = unsure[:0]
			}
			if !time.Now().Before(wake) {
				break
			}
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// maxOutcomeRetry bounds, in leases, how long an outcome write is retried
// while heartbeats keep the lease.
const maxOutcomeRetry = 10

// extend renews the lease by a heartbeat when less than a heartbeat
// interval of it is left, while the outcome write is retried. It reports
// whether it did, or the lease's loss.
func (e *execution) extend() (extended bool, lost error) {
	p := e.p
	held, deadline, _ := e.state()
	if time.Until(deadline) > p.set.heartbeat {
		return false, nil
	}
	sent := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), max(time.Until(deadline), p.set.heartbeat))
	next, err := p.store.Jobs.Heartbeat(ctx, held, p.set.lease)
	cancel()
	switch {
	case err == nil:
		e.mu.Lock()
		e.held, e.deadline = next, sent.Add(p.set.lease)
		e.mu.Unlock()
		return true, nil
	case errors.Is(err, repo.ErrLeaseLost), errors.Is(err, repo.ErrConflict), errors.Is(err, repo.ErrNotFound):
		return false, e.recheck(held, err)
	}
	return false, nil // transient: the next try tells
}

// applied reads the job after tries of w whose outcome is unknown, and if
// one of them applied, returns the job as that try left it (the state it
// wrote; the job may have moved on since).
func (e *execution) applied(w outcomeWrite, unsure []*repo.Job) (*repo.Job, bool) {
	if len(unsure) == 0 {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.p.set.lease)
	defer cancel()
	stored, err := e.p.store.Jobs.Get(ctx, unsure[0].ID)
	if err != nil {
		return nil, false
	}
	for _, from := range unsure {
		if state, ok := w.wrote(stored, from); ok {
			e.log.Info("jobsharp: an outcome write whose answer was lost had applied", "version", from.Version+1)
			stored.State = state
			return stored, true
		}
	}
	return nil, false
}

func (e *execution) logOutcome(outcome Outcome, herr error, runTime time.Duration) {
	switch outcome {
	case OutcomeSucceeded:
		e.log.Debug("jobsharp: job succeeded", "run_time", runTime)
	case OutcomeRetried:
		e.log.Warn("jobsharp: job failed; it is retried after a backoff", "err", herr, "run_time", runTime)
	case OutcomeAbandoned:
		e.log.Error("jobsharp: job failed with no retries left; abandoned", "err", herr, "run_time", runTime)
	case OutcomeCancelled:
		e.log.Info("jobsharp: job cancelled", "err", herr, "run_time", runTime)
	case OutcomeSnoozed:
		e.log.Debug("jobsharp: job snoozed", "err", herr, "run_time", runTime)
	case OutcomeReleased:
		e.log.Info("jobsharp: job released by a stopping processor; it runs again", "run_time", runTime)
	}
}
