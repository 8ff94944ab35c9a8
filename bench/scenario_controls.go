package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jobsharp/cassandra/bench/cqlcount"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
	"github.com/jobsharp/cassandra/worker/oteljobs"
)

// The variants of the controls scenario, in the order they run in the
// first repetition.
const (
	// ControlBaseline: plain inserts, no hooks, no registry row.
	ControlBaseline = "baseline"
	// ControlUnique: every insert unique by its arguments (a free key each).
	ControlUnique = "unique"
	// ControlUniqueDup: every job inserted twice with the same unique key:
	// half the insert calls are duplicates that return the existing job.
	ControlUniqueDup = "unique-dup"
	// ControlOTel: oteljobs as the store's InsertHook and the processor's
	// AttemptHook, on the OpenTelemetry SDK with in-memory exporters.
	ControlOTel = "otel"
	// ControlRegistry: the processor rewrites its row in the registry of
	// running processors every ControlsReportInterval (the others run with
	// the registry off).
	ControlRegistry = "registry"
)

// ControlVariants lists the variants of the controls scenario.
func ControlVariants() []string {
	return []string{ControlBaseline, ControlUnique, ControlUniqueDup, ControlOTel, ControlRegistry}
}

// ControlsReport is what the operator controls cost: the same job workload
// (ControlsJobs jobs enqueued one by one, then claimed and completed by one
// processor with a no-op handler) with each control on in turn, and the
// timer-driven statements of processors that do nothing.
type ControlsReport struct {
	// Jobs is the jobs each run stores and completes; Slots the handler
	// slots of its processor.
	Jobs  int `json:"jobs"`
	Slots int `json:"slots"`
	// Variants are the runs of each variant, in ControlVariants' order.
	Variants []*ControlsVariant `json:"variants"`
	// Timers is the idle processors' window.
	Timers *ControlsTimers `json:"timers"`
}

// ControlsVariant is the runs of one variant.
type ControlsVariant struct {
	Variant string         `json:"variant"`
	Runs    []*ControlsRun `json:"runs"`
}

// ControlsRun is one run of a variant: the statements of its two phases,
// counted with the driver's observers. Job is every statement but the
// processor's timer-driven ones, which are counted apart: its registry row
// (written every report interval, deleted when it stops) and its reads of
// the paused queues (every poll interval, in every variant: the pause
// watcher cannot be turned off).
type ControlsRun struct {
	// Jobs is the jobs stored and completed; Inserts the insert calls;
	// Existed those that returned a job stored before (duplicates).
	Jobs    int `json:"jobs"`
	Inserts int `json:"inserts"`
	Existed int `json:"existed"`
	// Insert is the statements of the inserts; Process those of the
	// processing (claims, outcomes, settling), from the processor's start
	// to its return.
	Insert  cqlcount.Counts `json:"insert"`
	Process cqlcount.Counts `json:"process"`
	// Registry is the processor's registry writes and its delete; Pauses
	// its reads of the paused queues.
	Registry cqlcount.Counts `json:"registry"`
	Pauses   cqlcount.Counts `json:"pauses"`
	// InsertSeconds and ProcessSeconds are the phases' wall times;
	// CPUSeconds this process's CPU time over both (driver included).
	InsertSeconds  float64 `json:"insert_seconds"`
	ProcessSeconds float64 `json:"process_seconds"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	// Spans is the spans the OpenTelemetry SDK exported (otel only): one
	// per insert call and one per attempt.
	Spans int `json:"spans,omitempty"`
}

// Statements is the statements per job of the run: inserts, processing and
// the registry row, but not the pause watcher's reads (see PauseReadsPerJob).
func (r *ControlsRun) Statements() float64 {
	return perJob(r.Insert.RoundTrips()+r.Process.RoundTrips()+r.Registry.RoundTrips(), r.Jobs)
}

// LWTs is the lightweight transactions per job of the run.
func (r *ControlsRun) LWTs() float64 {
	return perJob(r.Insert.LWTs+r.Process.LWTs+r.Registry.LWTs, r.Jobs)
}

// InsertStatements is the statements per insert call.
func (r *ControlsRun) InsertStatements() float64 { return perJob(r.Insert.RoundTrips(), r.Inserts) }

// InsertLWTs is the lightweight transactions per insert call.
func (r *ControlsRun) InsertLWTs() float64 { return perJob(r.Insert.LWTs, r.Inserts) }

// InsertStatementsPerJob is the insert statements per job (every insert
// call of the job: two for a job inserted twice).
func (r *ControlsRun) InsertStatementsPerJob() float64 { return perJob(r.Insert.RoundTrips(), r.Jobs) }

// InsertLWTsPerJob is the inserts' lightweight transactions per job.
func (r *ControlsRun) InsertLWTsPerJob() float64 { return perJob(r.Insert.LWTs, r.Jobs) }

// ProcessStatements is the processing statements per job (registry and
// pause reads apart).
func (r *ControlsRun) ProcessStatements() float64 { return perJob(r.Process.RoundTrips(), r.Jobs) }

// ProcessLWTs is the processing's lightweight transactions per job.
func (r *ControlsRun) ProcessLWTs() float64 { return perJob(r.Process.LWTs, r.Jobs) }

// RegistryWritesPerJob is the registry statements per job of the run.
func (r *ControlsRun) RegistryWritesPerJob() float64 { return perJob(r.Registry.RoundTrips(), r.Jobs) }

// PauseReadsPerJob is the pause watcher's reads per job of the run.
func (r *ControlsRun) PauseReadsPerJob() float64 { return perJob(r.Pauses.RoundTrips(), r.Jobs) }

// JobsPerS is jobs completed per second of processing.
func (r *ControlsRun) JobsPerS() float64 { return ratio(float64(r.Jobs), r.ProcessSeconds) }

// CPUMicrosPerJob is this process's CPU time per job, in microseconds.
func (r *ControlsRun) CPUMicrosPerJob() float64 { return ratio(r.CPUSeconds*1e6, float64(r.Jobs)) }

func perJob(n int64, jobs int) float64 { return ratio(float64(n), float64(jobs)) }

// ControlsTimers is the timer-driven statements of Processors processors
// running for Window on a queue with nothing to do, each on a session of
// its own, with the registry's report interval and the poll interval
// given.
type ControlsTimers struct {
	Processors     int           `json:"processors"`
	Window         time.Duration `json:"window_ns"`
	ReportInterval time.Duration `json:"report_interval_ns"`
	PollInterval   time.Duration `json:"poll_interval_ns"`
	// Registry and Pauses are per processor, in the order they started.
	Registry []Ticks `json:"registry"`
	Pauses   []Ticks `json:"pauses"`
}

// Ticks is the statements of one timer of one processor: how many, and the
// time from the first to the last.
type Ticks struct {
	N    int           `json:"n"`
	Span time.Duration `json:"span_ns"`
}

// PerMinute is the timer's rate: the intervals between its statements per
// minute ((N-1) / Span), which does not depend on where the window's ends
// fell between two ticks. NaN for fewer than two statements.
func (t Ticks) PerMinute() float64 {
	if t.N < 2 || t.Span <= 0 {
		return ratio(0, 0)
	}
	return float64(t.N-1) / t.Span.Minutes()
}

// ticksOf returns the ticks of statement times.
func ticksOf(at []time.Time) Ticks {
	if len(at) == 0 {
		return Ticks{}
	}
	first, last := at[0], at[0]
	for _, t := range at {
		if t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	return Ticks{N: len(at), Span: last.Sub(first)}
}

// controlsCounter counts a session's statements in three parts: the
// processor registry's (its row's write and delete), the pause watcher's
// (the read of the paused queues), and every other. Statements are told
// apart by their text, the generated queries' CQL, so that a read of the
// queue registry on the job path (the queue's number) is not taken for the
// pause watcher's. It records when each registry write and pause read
// started.
type controlsCounter struct {
	jobs, registry, pauses *cqlcount.Counter

	mu                     sync.Mutex
	reportsAt, pauseReadAt []time.Time
}

func newControlsCounter() *controlsCounter {
	return &controlsCounter{jobs: cqlcount.New(), registry: cqlcount.New(), pauses: cqlcount.New()}
}

// ObserveQuery implements gocql.QueryObserver.
func (c *controlsCounter) ObserveQuery(ctx context.Context, q gocql.ObservedQuery) {
	switch q.Statement {
	case queries.ProcessorReportCQL:
		c.registry.ObserveQuery(ctx, q)
		c.mu.Lock()
		c.reportsAt = append(c.reportsAt, q.Start)
		c.mu.Unlock()
	case queries.ProcessorDeleteCQL:
		c.registry.ObserveQuery(ctx, q)
	case queries.QueuesPausedCQL, queries.QueuesPausedAmongCQL:
		c.pauses.ObserveQuery(ctx, q)
		c.mu.Lock()
		c.pauseReadAt = append(c.pauseReadAt, q.Start)
		c.mu.Unlock()
	default:
		c.jobs.ObserveQuery(ctx, q)
	}
}

// ObserveBatch implements gocql.BatchObserver: no control sends a batch.
func (c *controlsCounter) ObserveBatch(ctx context.Context, b gocql.ObservedBatch) {
	c.jobs.ObserveBatch(ctx, b)
}

// controlsSnap is a controlsCounter's counts at one moment.
type controlsSnap struct{ jobs, registry, pauses cqlcount.Counts }

func (c *controlsCounter) snapshot() controlsSnap {
	return controlsSnap{c.jobs.Snapshot(), c.registry.Snapshot(), c.pauses.Snapshot()}
}

// ticks returns the ticks of the registry writes and pause reads so far.
func (c *controlsCounter) ticks() (registry, pauses Ticks) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ticksOf(c.reportsAt), ticksOf(c.pauseReadAt)
}

// controlArgs are the arguments of the scenario's jobs: the same size in
// every variant, unique per run (unique keys are by type and arguments, so
// runs must not share them).
type controlArgs struct {
	Run string `json:"run"`
	N   int    `json:"n"`
}

func (controlArgs) Kind() string { return "bench.control" }

// finishCounter is the processor's Metrics: it counts outcomes written and
// closes done when want jobs succeeded.
type finishCounter struct {
	want      int64
	succeeded atomic.Int64
	other     atomic.Int64
	done      chan struct{}
	once      sync.Once
}

func (f *finishCounter) JobClaimed(string, string, time.Duration) {}
func (f *finishCounter) JobFinished(_, _ string, o worker.Outcome, _ time.Duration) {
	if o != worker.OutcomeSucceeded {
		f.other.Add(1)
		return
	}
	if f.succeeded.Add(1) == f.want {
		f.once.Do(func() { close(f.done) })
	}
}
func (f *finishCounter) JobsRescued(string, int)       {}
func (f *finishCounter) RecurringFired(string, string) {}

// controlsProcessTimeout bounds the processing of one run.
const controlsProcessTimeout = 3 * time.Minute

func (e *env) runControls(ctx context.Context, rep *Report) error {
	cfg := e.cfg
	n := newControlsCounter()
	cl := e.cluster(e.oursKS, nil)
	cl.QueryObserver, cl.BatchObserver = n, n
	session, err := gocqlx.WrapSession(cl.CreateSession())
	if err != nil {
		return fmt.Errorf("connect to %s: %w", e.oursKS, err)
	}
	defer session.Close()

	out := &ControlsReport{Jobs: cfg.ControlsJobs, Slots: cfg.Slots}
	byName := map[string]*ControlsVariant{}
	for _, v := range ControlVariants() {
		byName[v] = &ControlsVariant{Variant: v}
		out.Variants = append(out.Variants, byName[v])
	}
	// Warm up: prepare the statements of every variant once, so that no
	// run pays for the first preparations.
	if _, err := e.controlRun(ctx, session, n, ControlUniqueDup, min(cfg.ControlsJobs, 20)); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	for r := 0; r < cfg.ControlsReps; r++ {
		for _, v := range balanced(ControlVariants(), r) {
			run, err := e.controlRun(ctx, session, n, v, cfg.ControlsJobs)
			if err != nil {
				return fmt.Errorf("%s, repetition %d: %w", v, r+1, err)
			}
			byName[v].Runs = append(byName[v].Runs, run)
			e.logf("controls: rep %d/%d, %s: %d jobs, %.2f statements and %.2f LWTs per job, %.0f jobs/s", r+1, cfg.ControlsReps, v, run.Jobs, run.Statements(), run.LWTs(), run.JobsPerS())
		}
	}
	if out.Timers, err = e.controlTimers(ctx); err != nil {
		return fmt.Errorf("timers: %w", err)
	}
	rep.Controls = out
	return nil
}

// controlRun runs one variant: jobs enqueued one by one through the worker
// package (each a conditional batch of its own, so that the insert counts
// do not depend on timing), then completed by a processor of cfg.Slots
// slots with a no-op handler. Count folding is off (its statements come
// with time and partitions, not with controls), and so are the processor's
// scheduler and rescuer.
func (e *env) controlRun(ctx context.Context, session gocqlx.Session, n *controlsCounter, variant string, jobs int) (*ControlsRun, error) {
	var (
		tel   *oteljobs.Telemetry
		spans *tracetest.InMemoryExporter
	)
	if variant == ControlOTel {
		spans = tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		defer func() { _ = tp.Shutdown(context.WithoutCancel(ctx)); _ = mp.Shutdown(context.WithoutCancel(ctx)) }()
		var err error
		if tel, err = oteljobs.New(&oteljobs.Opts{TracerProvider: tp, MeterProvider: mp}); err != nil {
			return nil, err
		}
	}
	opts := &repo.Options{Logger: discardLogger, FoldInterval: -1, SweepInterval: 7 * 24 * time.Hour}
	if tel != nil {
		opts.InsertHook = tel
	}
	store, err := repo.New(session, opts)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	queue := e.queue("controls-" + variant)
	run := &ControlsRun{Jobs: jobs}
	tag := randomHex(6)
	eo := &worker.EnqueueOpts{Queue: queue}
	if variant == ControlUnique || variant == ControlUniqueDup {
		eo.Unique = &repo.UniqueOpts{ByArgs: true}
	}

	cpu0 := cpuTime()
	s0 := n.snapshot()
	began := time.Now()
	for i := range jobs {
		args := controlArgs{Run: tag, N: i}
		res, err := worker.EnqueueOne(ctx, store, args, eo)
		if err != nil {
			return nil, err
		}
		run.Inserts++
		if res.Existed {
			return nil, fmt.Errorf("insert %d returned an existing job %s", i, res.Job.ID)
		}
		if variant != ControlUniqueDup {
			continue
		}
		dup, err := worker.EnqueueOne(ctx, store, args, eo)
		if err != nil {
			return nil, err
		}
		run.Inserts++
		if !dup.Existed || dup.Job.ID != res.Job.ID {
			return nil, fmt.Errorf("duplicate insert %d: existed %t, job %s; want the job %s stored before", i, dup.Existed, dup.Job.ID, res.Job.ID)
		}
		run.Existed++
	}
	run.InsertSeconds = time.Since(began).Seconds()
	s1 := n.snapshot()

	fin := &finishCounter{want: int64(jobs), done: make(chan struct{})}
	wc := &worker.Config{
		Queues:           map[string]worker.QueueConfig{queue: {MaxWorkers: e.cfg.Slots}},
		Owner:            "bench-controls-" + variant + "-" + tag,
		PollInterval:     e.cfg.ControlsPollInterval,
		ReportInterval:   -1,
		RescueInterval:   -1,
		ScheduleInterval: -1,
		Logger:           discardLogger,
		Metrics:          fin,
	}
	if variant == ControlRegistry {
		wc.ReportInterval = e.cfg.ControlsReportInterval
	}
	if tel != nil {
		wc.AttemptHook = tel
	}
	p, err := worker.New(store, wc)
	if err != nil {
		return nil, err
	}
	if err := worker.Handle(p, func(context.Context, *worker.Job[controlArgs]) error { return nil }, nil); err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	began = time.Now()
	go func() { ran <- p.Run(runCtx) }()
	var waitErr error
	select {
	case <-fin.done:
	case <-time.After(controlsProcessTimeout):
		waitErr = fmt.Errorf("%d of %d jobs succeeded after %s (%d other outcomes)", fin.succeeded.Load(), jobs, controlsProcessTimeout, fin.other.Load())
	case <-ctx.Done():
		waitErr = ctx.Err()
	}
	run.ProcessSeconds = time.Since(began).Seconds()
	stop()
	if err := errors.Join(waitErr, <-ran); err != nil {
		return nil, err
	}
	if o := fin.other.Load(); o > 0 {
		return nil, fmt.Errorf("%d attempts did not succeed", o)
	}
	s2 := n.snapshot()
	run.CPUSeconds = (cpuTime() - cpu0).Seconds()
	run.Insert = s1.jobs.Sub(s0.jobs)
	run.Process = s2.jobs.Sub(s1.jobs)
	run.Registry = s2.registry.Sub(s0.registry)
	run.Pauses = s2.pauses.Sub(s0.pauses)
	if spans != nil {
		run.Spans = len(spans.GetSpans())
		if want := run.Inserts + jobs; run.Spans != want {
			return nil, fmt.Errorf("the SDK exported %d spans, want %d (one per insert call and one per attempt)", run.Spans, want)
		}
	}
	return run, nil
}

// controlTimers runs cfg.ControlsProcessors processors, each with a store
// and a session of its own, on a queue with no job for
// cfg.ControlsWindow, and records when each wrote its registry row and
// read the paused queues.
func (e *env) controlTimers(ctx context.Context) (*ControlsTimers, error) {
	cfg := e.cfg
	t := &ControlsTimers{Processors: cfg.ControlsProcessors, Window: cfg.ControlsWindow, ReportInterval: cfg.ControlsReportInterval, PollInterval: cfg.ControlsPollInterval}
	queue := e.queue("controls-idle")
	runCtx, stop := context.WithCancel(ctx)
	var (
		counters []*controlsCounter
		closers  []func()
		wg       sync.WaitGroup
		mu       sync.Mutex
		runErr   error
	)
	// Stop the processors that started, then close their stores and
	// sessions, whatever happened.
	defer func() {
		stop()
		wg.Wait()
		for _, c := range slices.Backward(closers) {
			c()
		}
	}()
	for i := range cfg.ControlsProcessors {
		c := newControlsCounter()
		cl := e.cluster(e.oursKS, nil)
		cl.QueryObserver, cl.BatchObserver = c, c
		session, err := gocqlx.WrapSession(cl.CreateSession())
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", e.oursKS, err)
		}
		closers = append(closers, session.Close)
		store, err := repo.New(session, &repo.Options{Logger: discardLogger, FoldInterval: -1, SweepInterval: 7 * 24 * time.Hour})
		if err != nil {
			return nil, err
		}
		closers = append(closers, store.Close)
		p, err := worker.New(store, &worker.Config{
			Queues: map[string]worker.QueueConfig{queue: {MaxWorkers: 1}}, Owner: fmt.Sprintf("bench-idle-%d-%s", i, randomHex(3)),
			PollInterval: cfg.ControlsPollInterval, ReportInterval: cfg.ControlsReportInterval,
			RescueInterval: -1, ScheduleInterval: -1, Logger: discardLogger,
		})
		if err != nil {
			return nil, err
		}
		counters = append(counters, c)
		wg.Go(func() {
			if err := p.Run(runCtx); err != nil {
				mu.Lock()
				runErr = errors.Join(runErr, err)
				mu.Unlock()
			}
		})
	}
	select {
	case <-time.After(cfg.ControlsWindow):
	case <-ctx.Done():
	}
	for _, c := range counters {
		reg, pauses := c.ticks()
		t.Registry = append(t.Registry, reg)
		t.Pauses = append(t.Pauses, pauses)
	}
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return t, errors.Join(runErr, ctx.Err())
}
