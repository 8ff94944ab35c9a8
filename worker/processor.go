package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
)

// Processor runs the handlers of jobs it claims from its queues. Make one
// with [New], register handlers with [Handle], then call [Processor.Run].
// Any number of processors, in one process or many, may work the same
// queues: a claim is exclusive, and the scheduler and rescuer need no leader.
type Processor struct {
	store *repo.Store
	set   settings
	log   *slog.Logger

	mu       sync.RWMutex
	handlers map[string]*handler

	started atomic.Bool
	queues  []*queue

	// Slots shared by the queues (Config.MaxWorkers), nil when each queue
	// has its own: a token per running handler, beside its queue's.
	shared     chan struct{}
	freed      chan struct{} // a shared handler slot was freed
	wakeAll    chan struct{} // poke the shared claim loop out of its idle pause
	byPriority []int         // queue indexes in strict priority order

	// workCtx is the parent of handler contexts: it outlives Run's context
	// by the shutdown timeout.
	workCtx context.Context
	running sync.WaitGroup // executions: handler, heartbeats and the final write

	// pausesKnown is closed once the paused queues have been read: no
	// queue is claimed from before.
	pausesKnown chan struct{}
	startedAt   time.Time
}

// outcomesPerSlot bounds the outcome writes in flight per handler slot.
// An outcome waits for its partition's batch, its LWT and its settling (a
// few round trips), while its slot already runs the next job: with one
// outcome per slot the queue ran at slots ÷ that latency, and a loaded node
// drained 10,000 jobs at a third to two thirds of the rate it reached with eight (1,617
// and 2,791 jobs/s against 499 and 1,938, alternate runs of bench's drain).
// More outcomes in flight also make larger batches.
const outcomesPerSlot = 8

// queue is the state of one queue's poll loop.
type queue struct {
	name  string
	slots chan struct{} // a token per running handler
	// writing holds a token per attempt whose handler returned and whose
	// outcome is being written: a handler's slot is free as soon as it
	// returns, and this bounds the outcomes in flight (back-pressure when
	// writes are slow).
	writing chan struct{}
	wake    chan struct{} // poke the poll loop out of its idle pause
	// paused is set while the registry says the queue is paused (as of the
	// last read, at most a poll interval ago): the poll loop claims nothing.
	paused atomic.Bool
	// active counts the attempts under way: from the claim to the written
	// outcome.
	active atomic.Int64
	weight int // priority among queues that share slots
}

// New returns a processor on store. cfg may be nil for the defaults.
// Returns an error matching [repo.ErrInvalidConfig], naming the field, for
// an out-of-range setting, and one that matches [repo.ErrInvalid] too for a
// nil store (or one not made by repo's constructors).
func New(store *repo.Store, cfg *Config) (*Processor, error) {
	if store == nil || store.Jobs == nil {
		return nil, repo.InvalidArgument("store", storeProblem)
	}
	set, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	p := &Processor{store: store, set: set, log: set.log, handlers: map[string]*handler{}, pausesKnown: make(chan struct{})}
	for _, qs := range set.queues {
		p.queues = append(p.queues, &queue{name: qs.name, slots: make(chan struct{}, qs.maxWorkers), writing: make(chan struct{}, outcomesPerSlot*qs.maxWorkers), wake: make(chan struct{}, 1), weight: qs.weight})
	}
	if set.maxWorkers > 0 {
		p.shared = make(chan struct{}, set.maxWorkers)
		p.freed, p.wakeAll = make(chan struct{}, 1), make(chan struct{}, 1)
		p.byPriority = priorityOrder(p.queues)
	}
	return p, nil
}

// Owner returns the name this processor puts in the leases it takes.
func (p *Processor) Owner() string {
	if p == nil {
		return ""
	}
	return p.set.owner
}

// Queues returns the names of the queues the processor works, sorted.
func (p *Processor) Queues() []string {
	if p == nil {
		return nil
	}
	names := make([]string, len(p.queues))
	for i, q := range p.queues {
		names[i] = q.name
	}
	return names
}

// Paused returns the names of the processor's queues that it sees paused
// (as of its last read of the queue registry, at most a poll interval
// ago), sorted. It claims no job of these queues.
func (p *Processor) Paused() []string {
	if p == nil {
		return nil
	}
	var names []string
	for _, q := range p.queues {
		if q.paused.Load() {
			names = append(names, q.name)
		}
	}
	return names
}

func (p *Processor) register(jobType string, run func(context.Context, *repo.Job) ([]byte, error), opts *HandleOpts) error {
	if err := repo.ValidJobType(jobType); err != nil {
		var v *repo.ValidationError
		if errors.As(err, &v) {
			v.Field = "job type" // Handle's argument, not NewJob.Type
		}
		return err
	}
	h := &handler{run: run, timeout: p.set.jobTimeout, backoff: p.set.backoff}
	if opts != nil {
		if opts.Timeout != 0 {
			h.timeout = max(opts.Timeout, 0)
		}
		if opts.Backoff != nil {
			h.backoff = opts.Backoff
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.handlers[jobType]; dup {
		return &repo.ValidationError{Field: "job type", Problem: fmt.Sprintf("%q has a handler already", jobType)}
	}
	p.handlers[jobType] = h
	return nil
}

func (p *Processor) handler(jobType string) *handler {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.handlers[jobType]
}

// Run works the processor's queues until ctx ends, then shuts down
// gracefully and returns nil. It runs, concurrently:
//
//   - per queue, a poll loop that claims due jobs in batches up to the free
//     handler slots and starts their handlers, backing off up to
//     PollInterval while nothing is due;
//   - per running job, a heartbeat that extends its lease every
//     HeartbeatInterval;
//   - the scheduler, which turns due occurrences of recurring schedules into
//     jobs, every ScheduleInterval;
//   - the rescuer, which returns jobs with expired leases to Failed (retry
//     after backoff) or Abandoned, every RescueInterval;
//   - the pause watcher, which reads which of its queues are paused
//     ([repo.Queues.Paused], their registry rows alone) every
//     PollInterval: poll loops of paused queues
//     claim nothing (running jobs go on), and resume at once when the
//     queue is resumed. Until the first read succeeds, nothing is claimed;
//     when a later read fails, the last known flags hold;
//   - the reporter, which rewrites the processor's row in the registry of
//     running processors ([repo.Processors]) every ReportInterval, until
//     every attempt's outcome is written, then deletes it.
//
// When ctx ends, Run stops claiming and releases jobs it claimed but did not
// start (Scheduled again, no attempt counted). Running handlers may finish
// for up to ShutdownTimeout; then their contexts are cancelled with cause
// [ErrShutdown], and jobs whose handler then returns an error are released.
// Run returns when every handler has returned and its outcome is written, so
// a handler that ignores its context holds Run up. Store errors while running
// are logged and retried; they do not end Run. Returns [ErrRunning] if the
// processor runs or has run already.
func (p *Processor) Run(ctx context.Context) error {
	if p == nil || p.store == nil {
		return &repo.ValidationError{Field: "processor", Problem: "nil (make one with New)"}
	}
	if ctx == nil {
		return &repo.ValidationError{Field: "context", Problem: "nil (pass context.Background() or a context of the caller)"}
	}
	if !p.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	workCtx, stopWork := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopWork(nil)
	p.workCtx = workCtx
	p.startedAt = time.Now()

	p.log.Info("jobsharp: processor started", "owner", p.set.owner, "queues", p.Queues())
	var reporting sync.WaitGroup
	stopReports := make(chan struct{})
	if p.set.report > 0 {
		reporting.Go(func() { p.reporter(stopReports) })
	}
	var loops sync.WaitGroup
	loops.Go(func() { p.watchPauses(ctx) })
	if p.shared != nil {
		loops.Go(func() { p.dispatch(ctx) })
	} else {
		for _, q := range p.queues {
			loops.Go(func() { p.poll(ctx, q) })
		}
	}
	if p.set.schedule > 0 {
		loops.Go(func() { p.scheduler(ctx) })
	}
	if p.set.rescue > 0 {
		loops.Go(func() { p.rescuer(ctx) })
	}
	<-ctx.Done()
	loops.Wait()

	done := make(chan struct{})
	go func() { p.running.Wait(); close(done) }()
	timer := time.NewTimer(max(p.set.shutdown, 0))
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		p.log.Warn("jobsharp: shutdown timeout ran out; cancelling running handlers", "owner", p.set.owner, "timeout", p.set.shutdown)
		stopWork(ErrShutdown)
		<-done
	}
	close(stopReports)
	reporting.Wait()
	p.log.Info("jobsharp: processor stopped", "owner", p.set.owner)
	return nil
}

// pacing is when a queue may claim again: soon after a claim that found
// work, later and later after claims that found nothing or failed.
type pacing struct {
	empty    int // consecutive claims that found nothing: back off
	failures int // consecutive claim errors: back off
	next     time.Time
	busy     bool // the last claim found work
}

// claimed records a claim made at at that took got jobs.
func (p *Processor) claimed(st *pacing, at time.Time, got int, err error) {
	if err != nil {
		st.failures++
	} else {
		st.failures = 0
	}
	if got == 0 {
		st.empty++
	} else {
		st.empty = 0
	}
	st.busy = false
	switch {
	case st.failures > 0:
		st.next = time.Now().Add(jitter(min(p.set.poll<<min(st.failures-1, 10), 30*time.Second)))
	case st.empty > 0:
		st.next = time.Now().Add(jitter(p.idlePause(st.empty)))
	default:
		st.next, st.busy = at.Add(p.set.cooldown), true
	}
}

// poll is the claim loop of a queue with slots of its own.
func (p *Processor) poll(ctx context.Context, q *queue) {
	var st pacing
	for {
		switch resumed, live := p.waitClaimable(ctx, q); {
		case !live:
			return
		case resumed:
			// Claim at once after a resume, whatever the pause before.
			st = pacing{}
		}
		// A free slot first: claim only what can start at once.
		select {
		case <-ctx.Done():
			return
		case q.slots <- struct{}{}:
		}
		n := await(ctx, q.slots, q.wake, 1, time.Until(st.next), st.busy)
		if n == 0 {
			return
		}
		if q.paused.Load() { // paused during the pause: wait for the resume
			for range n {
				<-q.slots
			}
			continue
		}
		at := time.Now()
		got, err := p.claim(ctx, q, n, at)
		p.claimed(&st, at, got, err)
		if err != nil {
			p.log.Warn("jobsharp: claim failed; backing off", "queue", q.name, "err", err, "failures", st.failures)
		}
	}
}

// await holds n of slots and waits out pause. After a claim that found
// work (busy), the pause gathers the slots handlers free meanwhile and ends
// early once half of them are free: claims stay batched without leaving
// slots idle. Otherwise a wake-up ends it early. Then it takes every free
// slot, up to 1,000, and returns how many it holds; 0 when ctx ended (the
// slots given back).
func await(ctx context.Context, slots chan struct{}, wake <-chan struct{}, n int, pause time.Duration, busy bool) int {
	if pause > 0 {
		enough := max(1, cap(slots)/2)
		t := time.NewTimer(pause)
	wait:
		for {
			slot := slots
			if !busy || n >= enough || n >= cap(slots) {
				slot = nil
				if busy {
					break wait
				}
			}
			select {
			case <-ctx.Done():
				break wait
			case slot <- struct{}{}:
				n++
			case <-wake:
				break wait
			case <-t.C:
				break wait
			}
		}
		t.Stop()
	}
	// A select picks at random among ready cases, so the slot or a wake-up
	// may have won over the end of ctx: claim nothing then, or the jobs just
	// released would be claimed and released again.
	if ctx.Err() != nil {
		for range n {
			<-slots
		}
		return 0
	}
more:
	for n < cap(slots) && n < 1000 {
		select {
		case slots <- struct{}{}:
			n++
		default:
			break more
		}
	}
	return n
}

// claim claims up to n jobs of q for slots it holds (n of q's, and as many
// shared ones when the queues share slots), gives back the slots it found
// no job for, and starts the jobs.
func (p *Processor) claim(ctx context.Context, q *queue, n int, at time.Time) (int, error) {
	// The claim must not be cut off half-way by shutdown: a job claimed by
	// an LWT whose answer was lost would sit out its lease.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*p.set.lease)
	jobs, err := p.store.Jobs.Claim(cctx, &repo.ClaimParams{Queue: q.name, Owner: p.set.owner, Limit: n, Lease: p.set.lease})
	cancel()
	p.freeSlots(q, n-len(jobs))
	for _, job := range jobs {
		p.set.metrics.JobClaimed(job.Queue, job.Type, job.StartedAt.Sub(job.ScheduledAt))
		if ctx.Err() != nil {
			p.release(job, q, "processor stopping before the job started")
			continue
		}
		p.running.Add(1)
		q.active.Add(1)
		go p.execute(q, job, at)
	}
	return len(jobs), err
}

// freeSlots gives back n of q's slots, and as many shared ones.
func (p *Processor) freeSlots(q *queue, n int) {
	for range n {
		<-q.slots
		if p.shared != nil {
			<-p.shared
			select {
			case p.freed <- struct{}{}:
			default:
			}
		}
	}
}

// waitClaimable waits until the paused queues are known and q is not
// paused. It reports whether it waited for a resume, and whether ctx is
// still live.
func (p *Processor) waitClaimable(ctx context.Context, q *queue) (resumed, live bool) {
	select {
	case <-ctx.Done():
		return false, false
	case <-p.pausesKnown:
	}
	for q.paused.Load() {
		resumed = true
		select {
		case <-ctx.Done():
			return resumed, false
		case <-q.wake:
		}
	}
	return resumed, true
}

// watchPauses reads which of the processor's queues are paused at once and
// then every PollInterval (one read of their rows of the registry each
// time, whatever other queues it holds), sets their flags, and wakes the
// poll loop of a queue whose flag changed.
func (p *Processor) watchPauses(ctx context.Context) {
	t := time.NewTicker(p.set.poll)
	defer t.Stop()
	failures := 0
	own := p.Queues()
	for {
		names, err := p.store.Queues.Paused(ctx, own...)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			failures++
			if failures == 1 || failures%60 == 0 {
				p.log.Warn("jobsharp: reading paused queues failed; the last known flags hold", "err", err, "failures", failures)
			}
		default:
			failures = 0
			for _, q := range p.queues {
				paused := slices.Contains(names, q.name)
				if q.paused.Swap(paused) != paused {
					if paused {
						p.log.Info("jobsharp: queue paused; claiming none of its jobs until it is resumed", "queue", q.name, "owner", p.set.owner)
					} else {
						p.log.Info("jobsharp: queue resumed", "queue", q.name, "owner", p.set.owner)
					}
					p.wake(q.name)
				}
			}
			select {
			case <-p.pausesKnown:
			default:
				close(p.pausesKnown)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reporter writes the processor's row in the registry of running
// processors at once and then every ReportInterval, until stop is closed;
// then it deletes the row.
func (p *Processor) reporter(stop <-chan struct{}) {
	host, _ := os.Hostname()
	info := &repo.ProcessorInfo{Owner: p.set.owner, Host: host, PID: os.Getpid(), Version: p.set.version, StartedAt: p.startedAt, Queues: map[string]int{}}
	for _, q := range p.queues {
		info.Queues[q.name] = cap(q.slots)
	}
	t := time.NewTicker(p.set.report)
	defer t.Stop()
	failures := 0
	for {
		info.Running = map[string]int{}
		for _, q := range p.queues {
			info.Running[q.name] = int(q.active.Load())
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.set.report)
		err := p.store.Processors.Report(ctx, info, p.set.ttl)
		cancel()
		if err != nil {
			failures++
			if failures == 1 || failures%10 == 0 {
				p.log.Warn("jobsharp: reporting the processor failed", "err", err, "failures", failures)
			}
		} else {
			failures = 0
		}
		select {
		case <-stop:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := p.store.Processors.Remove(ctx, p.set.owner); err != nil {
				p.log.Warn("jobsharp: removing the processor's row failed; it expires by its TTL", "err", err, "ttl", p.set.ttl)
			}
			return
		case <-t.C:
		}
	}
}

// idlePause is the pause after n claims in a row found nothing: from twice
// the claim cooldown, doubling, up to PollInterval. A queue fed at a steady
// rate is polled again soon after a miss; an idle one settles at
// PollInterval after a few claims.
func (p *Processor) idlePause(n int) time.Duration {
	base := max(2*p.set.cooldown, 10*time.Millisecond)
	if n > 20 {
		return p.set.poll
	}
	return min(base<<(n-1), p.set.poll)
}

// release gives back a claimed job that was not started.
func (p *Processor) release(job *repo.Job, q *queue, why string) {
	defer p.freeSlots(q, 1)
	ctx, cancel := context.WithTimeout(context.Background(), p.set.lease)
	defer cancel()
	if _, err := p.store.Jobs.Release(ctx, job); err != nil {
		p.jobLog(job).Warn("jobsharp: could not release an unstarted job; it is rescued when its lease expires", "why", why, "err", err)
		return
	}
	p.set.metrics.JobFinished(job.Queue, job.Type, OutcomeReleased, 0)
	p.jobLog(job).Debug("jobsharp: released an unstarted job", "why", why)
}

// scheduler fires due occurrences of recurring schedules of the processor's
// queues, at once and then every ScheduleInterval.
func (p *Processor) scheduler(ctx context.Context) {
	params := &repo.FireParams{Queues: p.Queues(), Missed: p.set.missed, MaxCatchUp: p.set.catchUp}
	for {
		jobs, err := p.store.Recurring.Fire(ctx, params)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("jobsharp: firing recurring schedules failed", "err", err)
		}
		for _, job := range jobs {
			p.set.metrics.RecurringFired(job.Queue, job.Type)
			p.jobLog(job).Debug("jobsharp: recurring occurrence fired", "recurring_id", job.RecurringID, "occurrence", job.ScheduledAt)
			p.wake(job.Queue) // a no-op while a wake-up is pending
		}
		if !sleep(ctx, jitter(p.set.schedule)) {
			return
		}
	}
}

// wake ends the idle pause of a queue's poll loop.
func (p *Processor) wake(name string) {
	for _, q := range p.queues {
		if q.name == name {
			select {
			case q.wake <- struct{}{}:
			default:
			}
			if p.wakeAll != nil {
				select {
				case p.wakeAll <- struct{}{}:
				default:
				}
			}
		}
	}
}

// rescuer returns jobs with expired leases, every RescueInterval.
func (p *Processor) rescuer(ctx context.Context) {
	for sleep(ctx, jitter(p.set.rescue)) {
		for _, q := range p.queues {
			n, err := p.store.Jobs.Rescue(ctx, q.name)
			if err != nil && ctx.Err() == nil {
				p.log.Warn("jobsharp: rescuing expired leases failed", "queue", q.name, "err", err)
			}
			if n > 0 {
				p.set.metrics.JobsRescued(q.name, n)
				p.log.Info("jobsharp: rescued jobs whose lease expired", "queue", q.name, "count", n)
				p.wake(q.name)
			}
		}
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jitter spreads d by ±10%, so that processors started together do not poll
// together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + rand.Float64()/5))
}

// jobLog is the logger of one job's attempt: its records carry the job's
// id, type, queue and attempt. The attributes are formatted only when a
// record is logged, so the common attempt that logs nothing (or only
// disabled debug records) costs no formatting.
func (p *Processor) jobLog(job *repo.Job) *slog.Logger {
	return slog.New(jobAttrs{base: p.log.Handler(), id: job.ID, typ: job.Type, queue: job.Queue, attempt: job.RetryCount + 1})
}

// jobAttrs is a slog.Handler that adds a job's attributes to the records of
// base when they are handled (see jobLog).
type jobAttrs struct {
	base       slog.Handler
	id         gocql.UUID
	typ, queue string
	attempt    int
}

func (h jobAttrs) with() slog.Handler {
	return h.base.WithAttrs([]slog.Attr{
		slog.String("job_id", h.id.String()), slog.String("job_type", h.typ),
		slog.String("queue", h.queue), slog.Int("attempt", h.attempt),
	})
}

func (h jobAttrs) Enabled(ctx context.Context, l slog.Level) bool  { return h.base.Enabled(ctx, l) }
func (h jobAttrs) Handle(ctx context.Context, r slog.Record) error { return h.with().Handle(ctx, r) }
func (h jobAttrs) WithAttrs(as []slog.Attr) slog.Handler           { return h.with().WithAttrs(as) }
func (h jobAttrs) WithGroup(name string) slog.Handler              { return h.with().WithGroup(name) }
