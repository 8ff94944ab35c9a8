// Command demo shows the job store and its processors at work on a real
// Cassandra, using only the public API (packages repo and worker).
//
// It enqueues fire-and-forget, delayed, batch, continuation and recurring
// jobs, runs several processors (each with its own session, as separate
// processes would) that claim, run and complete them (some fail and are
// retried, one is abandoned), shows progress while it works, and ends with a
// table of this run's jobs per state and the measured throughput. The
// keyspace stays for `jobsharp stats` to inspect.
//
//	make demo                       # starts Cassandra, applies the schema, runs this
//	go run ./examples/demo --keyspace jobsharp_demo [--jobs 1000] [--processors 3] [--short]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	"github.com/olekukonko/tablewriter"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// The demo's job arguments; each type names its kind (worker.JobArgs), so
// enqueueing and handling cannot disagree.
type (
	Email        struct{ To, Subject string }
	Report       struct{ Name string }
	Image        struct{ File string }
	Album        struct{ Name string }
	Invoice      struct{ Number int }
	InvoiceEmail Invoice
	Sync         struct{ Account string }
	Reconcile    Sync
	Tick         struct{}
)

func (Email) Kind() string        { return "email.send" }
func (Report) Kind() string       { return "report.build" }
func (Image) Kind() string        { return "image.resize" }
func (Album) Kind() string        { return "album.publish" }
func (Invoice) Kind() string      { return "invoice.render" }
func (InvoiceEmail) Kind() string { return "invoice.email" }
func (Sync) Kind() string         { return "account.sync" }
func (Reconcile) Kind() string    { return "ledger.reconcile" }
func (Tick) Kind() string         { return "clock.tick" }

type options struct {
	hosts, keyspace, queue string
	jobs, processors       int
	short                  bool
	timeout                time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.hosts, "hosts", envOr("JOBSHARP_HOSTS", "127.0.0.1"), "Cassandra contact points, comma separated (env JOBSHARP_HOSTS)")
	fs.StringVar(&o.keyspace, "keyspace", envOr("JOBSHARP_KEYSPACE", "jobsharp_demo"), "keyspace holding the schema (env JOBSHARP_KEYSPACE)")
	fs.StringVar(&o.queue, "queue", "demo", "queue the demo's jobs go to")
	fs.IntVar(&o.jobs, "jobs", 1000, "fire-and-forget jobs to enqueue (the other kinds come on top)")
	fs.IntVar(&o.processors, "processors", 3, "processors to run, each with its own session")
	fs.BoolVar(&o.short, "short", false, "a smaller run (100 jobs, 2 processors), as CI runs it")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.short {
		o.jobs, o.processors = 100, 2
	}
	if o.jobs < 1 || o.processors < 1 || o.processors > 16 {
		fmt.Fprintln(stderr, "demo: --jobs must be at least 1 and --processors 1 to 16")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := demo(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		if errors.Is(err, repo.ErrKeyspaceNotFound) || errors.Is(err, repo.ErrTableNotFound) {
			fmt.Fprintf(stderr, "create the schema first: go run ./cmd/jobsharp schema apply --keyspace %s --replication SimpleStrategy:1\n", o.keyspace)
		}
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// expectation is the state each of this run's jobs must end in.
type expectation struct {
	mu   sync.Mutex
	want map[gocql.UUID]repo.State
}

func (e *expectation) add(id gocql.UUID, s repo.State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.want[id] = s
}

func (e *expectation) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.want)
}

func demo(ctx context.Context, o options, out io.Writer) error {
	cfg := repo.Config{Hosts: strings.Split(o.hosts, ","), Keyspace: o.keyspace}
	client, err := repo.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	fmt.Fprintf(out, "connected to %s, keyspace %s; queue %q\n", o.hosts, o.keyspace, o.queue)

	// The processors: each with its own session, as separate processes.
	tally := newTally()
	var procs []*worker.Processor
	for i := 0; i < o.processors; i++ {
		store, err := repo.Connect(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		p, err := worker.New(store, &worker.Config{
			Queues:       map[string]worker.QueueConfig{o.queue: {MaxWorkers: 16}},
			Owner:        fmt.Sprintf("demo-processor-%d", i+1),
			PollInterval: 100 * time.Millisecond,
			Lease:        10 * time.Second,
			// Quick retries, so the demo shows them within seconds.
			Backoff: func(retry int) time.Duration { return time.Duration(retry) * 200 * time.Millisecond },
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			Metrics: tally,
		})
		if err != nil {
			return err
		}
		if err := register(p); err != nil {
			return err
		}
		procs = append(procs, p)
	}

	// Enqueue every kind of job.
	exp := &expectation{want: map[gocql.UUID]repo.State{}}
	began := time.Now()
	if err := enqueue(ctx, client, o, exp, out); err != nil {
		return err
	}

	// Run the processors until every job of this run has finished.
	runCtx, stopProcessors := context.WithCancel(ctx)
	defer stopProcessors()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.Run(runCtx)
		}()
	}
	progress := newProgress(out, exp.len())
	recurringStop := time.Now().Add(3 * time.Second)
	for {
		if time.Now().After(recurringStop) && recurringStop.Unix() > 0 {
			// Enough occurrences: stop the schedule so the run can end.
			if err := client.Recurring.Remove(ctx, o.queue+"-tick"); err != nil {
				return err
			}
			recurringStop = time.Unix(0, 0)
		}
		fired := int(tally.fired.Load())
		done := tally.finished()
		progress.update(done, exp.len()+fired, tally)
		if done >= exp.len()+fired && recurringStop.Unix() == 0 {
			break
		}
		select {
		case <-ctx.Done():
			stopProcessors()
			wg.Wait()
			return fmt.Errorf("gave up after %s with %d of %d jobs finished: %w", o.timeout, done, exp.len()+fired, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	elapsed := time.Since(began)
	stopProcessors()
	wg.Wait()
	progress.finish()

	return report(ctx, client, o, exp, tally, elapsed, out)
}

// register adds the demo's handlers to a processor.
func register(p *worker.Processor) error {
	pause := func(ctx context.Context, min, max time.Duration) error {
		select {
		case <-time.After(min + rand.N(max-min)):
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return errors.Join(
		worker.Handle(p, func(ctx context.Context, job *worker.Job[Email]) error {
			return pause(ctx, 2*time.Millisecond, 10*time.Millisecond)
		}, nil),
		worker.Handle(p, func(ctx context.Context, job *worker.Job[Report]) error {
			return pause(ctx, 20*time.Millisecond, 50*time.Millisecond)
		}, nil),
		worker.Handle(p, func(ctx context.Context, job *worker.Job[Image]) error {
			return pause(ctx, 5*time.Millisecond, 20*time.Millisecond)
		}, nil),
		worker.Handle(p, func(ctx context.Context, job *worker.Job[Album]) error {
			return nil
		}, nil),
		worker.Handle(p, func(ctx context.Context, job *worker.Job[Invoice]) error {
			return pause(ctx, 5*time.Millisecond, 15*time.Millisecond)
		}, nil),
		worker.Handle(p, func(ctx context.Context, job *worker.Job[InvoiceEmail]) error {
			return nil
		}, nil),
		// Fails twice, then succeeds: retried with backoff.
		worker.Handle(p, func(ctx context.Context, job *worker.Job[Sync]) error {
			if job.Attempt() <= 2 {
				return fmt.Errorf("upstream busy (attempt %d)", job.Attempt())
			}
			return nil
		}, nil),
		// Always fails: abandoned after its retries.
		worker.Handle(p, func(ctx context.Context, job *worker.Job[Reconcile]) error {
			return errors.New("ledger is locked")
		}, nil),
		worker.Handle(p, func(ctx context.Context, job *worker.Job[Tick]) error {
			return nil
		}, nil),
	)
}

// enqueue stores the run's jobs: fire-and-forget, delayed, a batch with a
// continuation, parents with continuations, flaky and doomed jobs, and a
// recurring schedule.
func enqueue(ctx context.Context, store *repo.Store, o options, exp *expectation, out io.Writer) error {
	opts := &worker.EnqueueOpts{Queue: o.queue}

	emails := make([]Email, o.jobs)
	for i := range emails {
		emails[i] = Email{To: fmt.Sprintf("user%d@example.com", i), Subject: "welcome"}
	}
	sent, err := worker.EnqueueMany(ctx, store, emails, opts)
	if err != nil {
		return err
	}
	for _, j := range sent {
		exp.add(j.ID, repo.StateSucceeded)
	}

	delayed := &worker.EnqueueOpts{Queue: o.queue, ScheduledAt: time.Now().Add(2 * time.Second)}
	for i := 0; i < 5; i++ {
		j, err := worker.Enqueue(ctx, store, Report{Name: fmt.Sprintf("daily-%d", i)}, delayed)
		if err != nil {
			return err
		}
		exp.add(j.ID, repo.StateSucceeded)
	}

	images := make([]Image, 20)
	for i := range images {
		images[i] = Image{File: fmt.Sprintf("photo-%02d.jpg", i)}
	}
	batch, err := worker.EnqueueBatch(ctx, store, gocql.UUID{}, images, opts)
	if err != nil {
		return err
	}
	for _, j := range batch {
		exp.add(j.ID, repo.StateSucceeded)
	}
	album, err := worker.EnqueueAfterBatch(ctx, store, batch[0].BatchID, Album{Name: "holidays"}, opts)
	if err != nil {
		return err
	}
	exp.add(album.ID, repo.StateSucceeded)

	for i := 0; i < 5; i++ {
		parent, err := worker.Enqueue(ctx, store, Invoice{Number: 1000 + i}, opts)
		if err != nil {
			return err
		}
		child, err := worker.EnqueueAfter(ctx, store, parent.ID, InvoiceEmail{Number: 1000 + i}, opts)
		if err != nil {
			return err
		}
		exp.add(parent.ID, repo.StateSucceeded)
		exp.add(child.ID, repo.StateSucceeded)
	}

	for i := 0; i < 3; i++ {
		j, err := worker.Enqueue(ctx, store, Sync{Account: fmt.Sprintf("acct-%d", i)}, &worker.EnqueueOpts{Queue: o.queue, MaxRetries: 3})
		if err != nil {
			return err
		}
		exp.add(j.ID, repo.StateSucceeded)
	}
	doomed, err := worker.Enqueue(ctx, store, Reconcile{Account: "main"}, &worker.EnqueueOpts{Queue: o.queue, MaxRetries: 2})
	if err != nil {
		return err
	}
	exp.add(doomed.ID, repo.StateAbandoned)

	if _, err := worker.Schedule(ctx, store, o.queue+"-tick", "@every 1s", Tick{}, &worker.ScheduleOpts{Queue: o.queue}); err != nil {
		return err
	}
	fmt.Fprintf(out, "enqueued %d jobs: %d emails, 5 delayed reports, a batch of 20 images with a continuation, 5 invoices with continuations, 3 flaky syncs, 1 doomed job; and a recurring tick every second\n",
		exp.len(), o.jobs)
	return nil
}

// tally counts the processors' outcomes for the progress display.
type tally struct {
	mu       sync.Mutex
	outcomes map[worker.Outcome]int
	fired    atomic.Int64
	latency  []time.Duration
}

func newTally() *tally { return &tally{outcomes: map[worker.Outcome]int{}} }

func (t *tally) JobClaimed(_, _ string, latency time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latency = append(t.latency, latency)
}

func (t *tally) JobFinished(_, _ string, outcome worker.Outcome, _ time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.outcomes[outcome]++
}

func (t *tally) JobsRescued(string, int) {}

func (t *tally) RecurringFired(string, string) { t.fired.Add(1) }

// finished is the number of jobs that reached a final state.
func (t *tally) finished() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.outcomes[worker.OutcomeSucceeded] + t.outcomes[worker.OutcomeAbandoned] + t.outcomes[worker.OutcomeCancelled]
}

func (t *tally) count(o worker.Outcome) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.outcomes[o]
}

// progress shows how far the run is: a bar on a terminal, a line a second
// otherwise.
type progress struct {
	out  io.Writer
	bar  *progressbar.ProgressBar
	last time.Time
}

func newProgress(out io.Writer, total int) *progress {
	p := &progress{out: out}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(out), progressbar.OptionSetDescription("running"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("jobs"), progressbar.OptionSetWidth(30))
	}
	return p
}

func (p *progress) update(done, total int, t *tally) {
	desc := fmt.Sprintf("running (retried %d, abandoned %d)", t.count(worker.OutcomeRetried), t.count(worker.OutcomeAbandoned))
	if p.bar != nil {
		p.bar.ChangeMax(total)
		p.bar.Describe(desc)
		_ = p.bar.Set(done)
		return
	}
	if time.Since(p.last) >= time.Second {
		p.last = time.Now()
		fmt.Fprintf(p.out, "%d/%d jobs finished; retried %d, abandoned %d\n", done, total, t.count(worker.OutcomeRetried), t.count(worker.OutcomeAbandoned))
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
	}
}

// report reads every job of the run back, prints them per state with the
// throughput, and fails if any job is not in the state it should reach.
func report(ctx context.Context, store *repo.Store, o options, exp *expectation, t *tally, elapsed time.Duration, out io.Writer) error {
	exp.mu.Lock()
	ids := make([]gocql.UUID, 0, len(exp.want))
	for id := range exp.want {
		ids = append(ids, id)
	}
	exp.mu.Unlock()
	states := map[repo.State]int{}
	var wrong []string
	for _, id := range ids {
		job, err := store.Jobs.Get(ctx, id)
		if err != nil {
			return err
		}
		states[job.State]++
		if want := exp.want[id]; job.State != want {
			wrong = append(wrong, fmt.Sprintf("%s (%s) is %s, want %s", job.ID, job.Type, job.State, want))
		}
	}
	total := len(ids) + int(t.fired.Load())

	table := tablewriter.NewTable(out)
	table.Header("state", "jobs")
	for _, s := range repo.States() {
		if n := states[s]; n > 0 {
			if err := table.Append(s.String(), n); err != nil {
				return err
			}
		}
	}
	if err := table.Append("recurring ticks fired", t.fired.Load()); err != nil {
		return err
	}
	if err := table.Render(); err != nil {
		return err
	}
	lat := slices.Clone(t.latency)
	slices.Sort(lat)
	fmt.Fprintf(out, "%d jobs in %s: %.0f jobs/s with %d processors; attempts retried %d, abandoned %d\n",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), o.processors,
		t.count(worker.OutcomeRetried), t.count(worker.OutcomeAbandoned))
	if len(lat) > 0 {
		fmt.Fprintf(out, "queue latency (due to claimed): p50 %s, p99 %s\n", lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond))
	}
	fmt.Fprintf(out, "inspect the keyspace: go run ./cmd/jobsharp stats --keyspace %s\n", o.keyspace)
	if len(wrong) > 0 {
		return fmt.Errorf("%d jobs did not end as they should: %s", len(wrong), strings.Join(wrong[:min(5, len(wrong))], "; "))
	}
	return nil
}
