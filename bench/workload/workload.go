// Package workload runs the workloads of bench's throughput scenario against
// one job system and measures them. Each contender's driver adapts its
// system to [System] and calls [Run]: this module's store, the previous
// design built from an archive of an earlier commit, and River on
// PostgreSQL in a module of its own. The package uses the standard library
// only, so that every driver runs the very same timing code.
//
// # Workloads
//
//   - [Drain]: Params.Jobs jobs stored in bulk before the clock starts, due
//     now; then one processor of Params.Slots handler slots with a no-op
//     handler runs until every job has finished. Jobs/s is the jobs over the
//     time from the processor's start to the last job's finished outcome.
//   - [Steady]: Params.Producers producers each store jobs one by one (each
//     insert awaited before the next) while one processor works. After
//     Params.Warmup, the jobs finished and the jobs stored during
//     Params.Duration are counted, and the enqueue → finish latency of the
//     jobs stored then is read from their records. The producers then stop
//     and the processor finishes what is left.
//   - [Bulk]: Params.Jobs jobs stored in bulk, the way the system's users
//     store many jobs at once.
//
// Statements are counted (by systems that count them) over a job's whole
// part in the workload: the bulk insert; the drain from the processor's
// start to the last finished job; and the steady run from the first insert to
// the last finished job, for every job stored.
package workload

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"sync"
	"time"
)

// The workloads.
const (
	Drain  = "drain"
	Steady = "steady"
	Bulk   = "bulk"
)

// System is a job system under test, as a driver adapts it: one queue of
// its own, jobs with no arguments to speak of, and a handler that does
// nothing.
type System interface {
	// InsertMany stores n jobs due now, in bulk, and returns their ids.
	InsertMany(ctx context.Context, n int) ([]string, error)
	// Insert stores one job due now and returns its id. Producers call it
	// concurrently.
	Insert(ctx context.Context) (string, error)
	// Work runs one processor of slots handler slots on the queue until ctx
	// ends, then stops it gracefully and returns. Its no-op handler calls
	// h.Handled with the job's id, and h.Finished is called once the
	// outcome of each attempt is written (durably, as the system defines
	// it).
	Work(ctx context.Context, slots int, h Hooks) error
	// Records reads what the system recorded of the jobs ids, in any
	// order; jobs it does not find are left out.
	Records(ctx context.Context, ids []string) ([]Record, error)
}

// Counter is implemented by systems that count the statements they send.
type Counter interface {
	Counts() Counts
}

// Counts is the statements sent: each request is a round trip (a batch
// counts once); LWTs are the lightweight transactions among them.
type Counts struct {
	RoundTrips      int64            `json:"round_trips"`
	LWTs            int64            `json:"lwts"`
	Batches         int64            `json:"batches"`
	BatchStatements int64            `json:"batch_statements"`
	ByKind          map[string]int64 `json:"by_kind"`
}

func (c Counts) sub(earlier Counts) Counts {
	d := Counts{
		RoundTrips: c.RoundTrips - earlier.RoundTrips, LWTs: c.LWTs - earlier.LWTs,
		Batches: c.Batches - earlier.Batches, BatchStatements: c.BatchStatements - earlier.BatchStatements,
		ByKind: map[string]int64{},
	}
	for k, v := range c.ByKind {
		if n := v - earlier.ByKind[k]; n > 0 {
			d.ByKind[k] = n
		}
	}
	return d
}

// Hooks are what a system's processor reports to the workload.
type Hooks struct {
	// Handled is called by the handler, with the job's id.
	Handled func(id string)
	// Finished is called after an attempt's outcome is written; succeeded
	// says whether the job finished successfully.
	Finished func(succeeded bool)
}

// Record is what a system recorded of a job.
type Record struct {
	ID string
	// Succeeded says the job finished successfully; Attempts is how many
	// attempts it took (1 when it ran once).
	Succeeded bool
	Attempts  int
	// Created is when the job was stored and Finished when its outcome was
	// written, by the system's clock (on this machine).
	Created, Finished time.Time
}

// Params size a workload.
type Params struct {
	Workload string
	// Jobs is the number of jobs of Drain and Bulk.
	Jobs int
	// Slots is the number of handler slots of the processor.
	Slots int
	// Producers, Warmup and Duration shape Steady.
	Producers        int
	Warmup, Duration time.Duration
	// Timeout bounds the wait for the jobs to finish.
	Timeout time.Duration
}

// Flags registers the flags that set p, with the defaults every driver
// shares: -workload, -jobs, -slots, -producers, -warmup, -duration,
// -timeout.
func (p *Params) Flags(fs *flag.FlagSet) {
	fs.StringVar(&p.Workload, "workload", "", "drain, steady or bulk")
	fs.IntVar(&p.Jobs, "jobs", 1000, "jobs of drain and bulk")
	fs.IntVar(&p.Slots, "slots", 100, "handler slots of the processor")
	fs.IntVar(&p.Producers, "producers", 8, "producers of steady")
	fs.DurationVar(&p.Warmup, "warmup", 2*time.Second, "warm-up of steady")
	fs.DurationVar(&p.Duration, "duration", 10*time.Second, "measured window of steady")
	fs.DurationVar(&p.Timeout, "timeout", 10*time.Minute, "bound on the wait for jobs to finish")
}

// Main is a driver's main: it runs run with the command's arguments until
// it returns or an interrupt ends its context, and exits 1 with the error
// on stderr when it fails.
func Main(name string, run func(ctx context.Context, args []string, stdout io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	stopProfile := startProfile(name)
	err := run(ctx, os.Args[1:], os.Stdout)
	stopProfile()
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// startProfile writes a CPU profile of the driver's run to the file named
// by $JOBSHARP_BENCH_CPUPROFILE, when set, to see where a contender spends
// its time. It returns the function that stops the profile.
func startProfile(name string) func() {
	path := os.Getenv("JOBSHARP_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cpu profile: %v\n", name, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// RunAndPrint runs the workload p against sys and writes its result to w
// as JSON, as bench reads it from a driver.
func RunAndPrint(ctx context.Context, w io.Writer, sys System, p Params) error {
	res, err := Run(ctx, sys, p)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// Result is what one workload measured.
type Result struct {
	Workload string `json:"workload"`
	// Jobs is the number of jobs stored (Steady: by every producer, in the
	// warm-up, the window and after).
	Jobs int `json:"jobs"`
	// Seconds is the time measured: Drain, from the processor's start to
	// the last finished job; Bulk, the insert; Steady, the window.
	Seconds float64 `json:"seconds"`
	// JobsPerS is the rate: Drain, jobs finished; Bulk, jobs stored; Steady,
	// jobs finished during the window.
	JobsPerS float64 `json:"jobs_per_s"`
	// InsertsPerS is Steady's jobs stored during the window, per second.
	InsertsPerS float64 `json:"inserts_per_s,omitempty"`
	// Latency is Steady's enqueue → finish time of the jobs stored during
	// the window.
	Latency *Latency `json:"latency_ms,omitempty"`
	// Statements are the statements sent for the Jobs jobs (nil when the
	// system does not count them).
	Statements *Counts `json:"statements,omitempty"`
	// Check is what must hold whatever the timing.
	Check Check `json:"check"`
}

// Latency is a distribution of times, in milliseconds.
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Check is what the handler saw and the records say, whatever the timing.
type Check struct {
	// Jobs is the number of jobs stored, Found the number whose record was
	// read back.
	Jobs  int `json:"jobs"`
	Found int `json:"found"`
	// Handled is the number of jobs whose handler ran; HandledTwice the
	// number whose handler ran more than once.
	Handled      int `json:"handled"`
	HandledTwice int `json:"handled_twice"`
	// Once is the number of jobs whose record says they succeeded on their
	// first attempt.
	Once int `json:"succeeded_once"`
}

// OK reports whether every job stored was found, and for workloads that
// process them, handled once and succeeded on its first attempt.
func (c Check) OK(workload string) bool {
	if c.Found != c.Jobs {
		return false
	}
	return workload == Bulk || (c.Handled == c.Jobs && c.HandledTwice == 0 && c.Once == c.Jobs)
}

// Run runs one workload against sys.
func Run(ctx context.Context, sys System, p Params) (*Result, error) {
	if p.Slots < 1 {
		return nil, fmt.Errorf("workload: Slots must be at least 1, got %d", p.Slots)
	}
	if p.Timeout <= 0 {
		p.Timeout = 10 * time.Minute
	}
	switch p.Workload {
	case Drain, Bulk:
		if p.Jobs < 1 {
			return nil, fmt.Errorf("workload: Jobs must be at least 1, got %d", p.Jobs)
		}
	case Steady:
		if p.Producers < 1 || p.Duration <= 0 || p.Warmup < 0 {
			return nil, fmt.Errorf("workload: steady needs Producers ≥ 1, Duration > 0 and Warmup ≥ 0, got %d, %s, %s", p.Producers, p.Duration, p.Warmup)
		}
	}
	switch p.Workload {
	case Drain:
		return drain(ctx, sys, p)
	case Steady:
		return steady(ctx, sys, p)
	case Bulk:
		return bulk(ctx, sys, p)
	}
	return nil, fmt.Errorf("workload: unknown workload %q (want %s, %s or %s)", p.Workload, Drain, Steady, Bulk)
}

func counts(sys System) (Counts, bool) {
	if c, ok := sys.(Counter); ok {
		return c.Counts(), true
	}
	return Counts{}, false
}

func bulk(ctx context.Context, sys System, p Params) (*Result, error) {
	before, counted := counts(sys)
	start := time.Now()
	ids, err := sys.InsertMany(ctx, p.Jobs)
	took := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("insert %d jobs: %w", p.Jobs, err)
	}
	res := &Result{Workload: Bulk, Jobs: len(ids), Seconds: took.Seconds(), JobsPerS: float64(len(ids)) / took.Seconds()}
	if counted {
		after, _ := counts(sys)
		d := after.sub(before)
		res.Statements = &d
	}
	recs, err := sys.Records(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read the records back: %w", err)
	}
	res.Check = Check{Jobs: len(ids), Found: len(recs)}
	return res, nil
}

func drain(ctx context.Context, sys System, p Params) (*Result, error) {
	ids, err := sys.InsertMany(ctx, p.Jobs)
	if err != nil {
		return nil, fmt.Errorf("store %d jobs before the drain: %w", p.Jobs, err)
	}
	tr := newTracker()
	before, counted := counts(sys)
	workCtx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	worked := make(chan error, 1)
	go func() { worked <- sys.Work(workCtx, p.Slots, tr.hooks()) }()
	last, err := tr.await(ctx, len(ids), p.Timeout, worked)
	if err != nil {
		return nil, fmt.Errorf("drain %d jobs: %w", len(ids), err)
	}
	after, _ := counts(sys)
	stop()
	if err := <-worked; err != nil {
		return nil, fmt.Errorf("stop the processor: %w", err)
	}
	took := last.Sub(start)
	res := &Result{Workload: Drain, Jobs: len(ids), Seconds: took.Seconds(), JobsPerS: float64(len(ids)) / took.Seconds()}
	if counted {
		d := after.sub(before)
		res.Statements = &d
	}
	if res.Check, _, err = tr.check(ctx, sys, ids, time.Time{}, time.Time{}); err != nil {
		return nil, err
	}
	return res, nil
}

func steady(ctx context.Context, sys System, p Params) (*Result, error) {
	tr := newTracker()
	workCtx, stop := context.WithCancel(ctx)
	defer stop()
	before, counted := counts(sys)
	worked := make(chan error, 1)
	go func() { worked <- sys.Work(workCtx, p.Slots, tr.hooks()) }()

	from := time.Now().Add(p.Warmup)
	to := from.Add(p.Duration)
	type insert struct {
		id string
		at time.Time
	}
	var (
		mu      sync.Mutex
		inserts []insert
		prodErr error
		wg      sync.WaitGroup
	)
	for range p.Producers {
		wg.Go(func() {
			for time.Now().Before(to) {
				id, err := sys.Insert(ctx)
				if err != nil {
					mu.Lock()
					prodErr = errors.Join(prodErr, err)
					mu.Unlock()
					return
				}
				at := time.Now()
				mu.Lock()
				inserts = append(inserts, insert{id, at})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if prodErr != nil {
		return nil, fmt.Errorf("insert one by one: %w", prodErr)
	}
	ids := make([]string, len(inserts))
	inWindow := 0
	for i, in := range inserts {
		ids[i] = in.id
		if !in.at.Before(from) && in.at.Before(to) {
			inWindow++
		}
	}
	if _, err := tr.await(ctx, len(ids), p.Timeout, worked); err != nil {
		return nil, fmt.Errorf("finish the %d jobs stored: %w", len(ids), err)
	}
	after, _ := counts(sys)
	stop()
	if err := <-worked; err != nil {
		return nil, fmt.Errorf("stop the processor: %w", err)
	}
	secs := p.Duration.Seconds()
	res := &Result{
		Workload: Steady, Jobs: len(ids), Seconds: secs,
		JobsPerS: float64(tr.finishedBetween(from, to)) / secs, InsertsPerS: float64(inWindow) / secs,
	}
	if counted {
		d := after.sub(before)
		res.Statements = &d
	}
	var err error
	if res.Check, res.Latency, err = tr.check(ctx, sys, ids, from, to); err != nil {
		return nil, err
	}
	return res, nil
}

// tracker follows the jobs through the hooks.
type tracker struct {
	mu        sync.Mutex
	handled   map[string]int
	succeeded int
	finished  []time.Time // when each success was reported
	changed   chan struct{}
}

func newTracker() *tracker {
	return &tracker{handled: map[string]int{}, changed: make(chan struct{}, 1)}
}

func (t *tracker) hooks() Hooks {
	return Hooks{
		Handled: func(id string) {
			t.mu.Lock()
			t.handled[id]++
			t.mu.Unlock()
		},
		Finished: func(succeeded bool) {
			if !succeeded {
				return
			}
			now := time.Now()
			t.mu.Lock()
			t.succeeded++
			t.finished = append(t.finished, now)
			t.mu.Unlock()
			select {
			case t.changed <- struct{}{}:
			default:
			}
		},
	}
}

// await waits until n jobs have succeeded and returns when the last did. It
// fails when the processor stops, ctx ends or timeout passes first.
func (t *tracker) await(ctx context.Context, n int, timeout time.Duration, worked <-chan error) (time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		t.mu.Lock()
		done, got := t.succeeded >= n, t.succeeded
		var last time.Time
		if done {
			last = slices.MaxFunc(t.finished, time.Time.Compare)
		}
		t.mu.Unlock()
		if done {
			return last, nil
		}
		select {
		case <-t.changed:
		case err := <-worked:
			return time.Time{}, fmt.Errorf("the processor stopped after %d of %d jobs: %v", got, n, err)
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("%d of %d jobs finished after %s", got, n, timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func (t *tracker) finishedBetween(from, to time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, at := range t.finished {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// check reads the records of ids and compares them with what the handler
// saw. With a window, it also returns the latency of the jobs created in it.
func (t *tracker) check(ctx context.Context, sys System, ids []string, from, to time.Time) (Check, *Latency, error) {
	recs, err := sys.Records(ctx, ids)
	if err != nil {
		return Check{}, nil, fmt.Errorf("read the records back: %w", err)
	}
	c := Check{Jobs: len(ids), Found: len(recs)}
	t.mu.Lock()
	for _, id := range ids {
		switch n := t.handled[id]; {
		case n > 1:
			c.HandledTwice++
			fallthrough
		case n == 1:
			c.Handled++
		}
	}
	t.mu.Unlock()
	var lat []time.Duration
	for _, r := range recs {
		if r.Succeeded && r.Attempts == 1 {
			c.Once++
		}
		if r.Succeeded && !from.IsZero() && !r.Created.Before(from) && r.Created.Before(to) {
			lat = append(lat, r.Finished.Sub(r.Created))
		}
	}
	if from.IsZero() {
		return c, nil, nil
	}
	return c, distribution(lat), nil
}

// distribution summarises durations by nearest rank; nil for none.
func distribution(d []time.Duration) *Latency {
	if len(d) == 0 {
		return nil
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q*float64(len(d))+0.999999) - 1
		return float64(d[min(max(i, 0), len(d)-1)].Microseconds()) / 1000
	}
	return &Latency{N: len(d), P50: at(0.50), P99: at(0.99), Max: at(1)}
}

// ReadRecords reads the records of ids with read, at most limit at once,
// and returns those found, in any order; read returns nil for a job it does
// not find. Drivers use it for [System.Records].
func ReadRecords(ctx context.Context, ids []string, limit int, read func(ctx context.Context, id string) (*Record, error)) ([]Record, error) {
	recs := make([]*Record, len(ids))
	err := ForEach(ctx, len(ids), limit, func(ctx context.Context, i int) error {
		r, err := read(ctx, ids[i])
		recs[i] = r
		return err
	})
	var out []Record
	for _, r := range recs {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, err
}

// ForEach calls fn for 0 ≤ i < n with at most limit calls at once, and
// returns the first error; it stops starting calls once one failed or ctx
// ended. Drivers use it to read records back.
func ForEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, max(limit, 1))
	var (
		once  sync.Once
		first error
		wg    sync.WaitGroup
	)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err })
				cancel()
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err() // the caller's context ended (ours is cancelled only on an error)
	}
	return first
}
