package faults_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/faults"
	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// scenario runs one fault scenario: processors in their own processes, a
// producer in the test process, and the faults; then it checks the store
// against the processors' records.
type scenario struct {
	t     *testing.T
	f     *cqltest.FaultCluster
	ks    string
	queue string
	dir   string // records and logs, kept when the test fails or keep is set
	keep  bool   // a rerun the processors' logs do not explain
	store *repo.Store
	began time.Time
	lease time.Duration

	mu          sync.Mutex
	procs       []*proc
	killed      map[string]time.Time
	jobs        map[gocql.UUID]*faults.JobState
	acked       []gocql.UUID              // in the order their enqueues returned
	parentOf    map[gocql.UUID]gocql.UUID // continuation → the job it waits for
	enqueueErrs map[string]int
	timeline    []string
	seq         int
	// drained is how long the first drain took: the figure reported (the
	// claim race drains before its node comes back).
	drained time.Duration
}

// proc is one processor process.
type proc struct {
	owner, record, log string
	cmd                *exec.Cmd
	exited             chan struct{}
}

func newScenario(t *testing.T, f *cqltest.FaultCluster, ks, name string) *scenario {
	t.Helper()
	dir, err := os.MkdirTemp("", "jobsharp-faults-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{
		t: t, f: f, ks: ks, queue: strings.ReplaceAll(name, "-", "_") + "_" + fmt.Sprint(time.Now().Unix()%100000),
		dir: dir, lease: 10 * time.Second, killed: map[string]time.Time{}, jobs: map[gocql.UUID]*faults.JobState{},
		enqueueErrs: map[string]int{}, parentOf: map[gocql.UUID]gocql.UUID{},
	}
	logf, err := os.Create(filepath.Join(dir, "producer.log"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := repo.Connect(context.Background(), repo.Config{
		Hosts: f.Hosts(), Keyspace: ks, DriverLogger: quietLog{},
		Options: repo.Options{Logger: slog.New(slog.NewJSONHandler(logf, nil))},
	})
	if err != nil {
		t.Fatalf("connect the producer: %v", err)
	}
	s.store = store
	t.Cleanup(func() {
		for _, p := range s.procs {
			p.kill()
		}
		store.Close()
		_ = logf.Close()
		if t.Failed() || s.keep {
			t.Logf("records and logs kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	s.began = time.Now()
	s.note("scenario %s on queue %s (load average %s)", name, s.queue, loadAverage())
	return s
}

// loadAverage is the machine's load average over the last minute: the
// suite's timings depend on it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

type quietLog struct{}

func (quietLog) Print(...any)          {}
func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

// note adds a line to the scenario's timeline.
func (s *scenario) note(format string, args ...any) {
	line := fmt.Sprintf("%6.1fs ", time.Since(s.began).Seconds()) + fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.timeline = append(s.timeline, line)
	s.mu.Unlock()
	s.t.Log(line)
}

type procOpts struct {
	workers int
	// proxies, when set, carry the processor's traffic to each node (by
	// node number): its contact points are the proxies and it translates
	// every node's address to its proxy.
	proxies map[int]*cqltest.Proxy
}

// startProcessor starts a processor process and waits until it is
// connected (its record's first line is written after Connect).
func (s *scenario) startProcessor(o procOpts) *proc {
	s.t.Helper()
	return s.startProcessors(1, o)[0]
}

// startProcessors starts n processors at once and waits until each is
// connected.
func (s *scenario) startProcessors(n int, o procOpts) []*proc {
	s.t.Helper()
	var started []*proc
	for range n {
		started = append(started, s.launch(o))
	}
	for _, p := range started {
		s.waitConnected(p)
	}
	return started
}

func (s *scenario) launch(o procOpts) *proc {
	s.t.Helper()
	s.mu.Lock()
	owner := fmt.Sprintf("p%d", len(s.procs)+1)
	p := &proc{owner: owner, record: filepath.Join(s.dir, owner+".jsonl"), log: filepath.Join(s.dir, owner+".log"), exited: make(chan struct{})}
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	hosts := s.f.Hosts()
	var via []string
	if o.proxies != nil {
		hosts = nil
		for i := 1; i <= cqltest.FaultNodes; i++ {
			hosts = append(hosts, o.proxies[i].Addr())
			via = append(via, s.f.Addr(i)+"="+o.proxies[i].Addr())
		}
	}
	args := []string{"-hosts", strings.Join(hosts, ","), "-keyspace", s.ks, "-queue", s.queue, "-owner", owner, "-record", p.record,
		"-workers", fmt.Sprint(o.workers), "-lease", s.lease.String()}
	if via != nil {
		args = append(args, "-via", strings.Join(via, ","))
	}
	logf, err := os.Create(p.log)
	if err != nil {
		s.t.Fatal(err)
	}
	p.cmd = exec.Command(processorBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		s.t.Fatalf("start processor %s: %v", owner, err)
	}
	go func() { _ = p.cmd.Wait(); _ = logf.Close(); close(p.exited) }()
	return p
}

func (s *scenario) waitConnected(p *proc) {
	s.t.Helper()
	deadline := time.After(time.Minute)
	for {
		if b, err := os.ReadFile(p.record); err == nil && len(b) > 0 {
			s.note("processor %s started (pid %d)", p.owner, p.cmd.Process.Pid)
			return
		}
		select {
		case <-p.exited:
			log, _ := os.ReadFile(p.log)
			s.t.Fatalf("processor %s exited at start:\n%s", p.owner, log)
		case <-deadline:
			s.t.Fatalf("processor %s did not connect within a minute", p.owner)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// openExecutions is the number of executions p has begun and not ended.
func (p *proc) openExecutions() int {
	evs, _, err := faults.ReadRecord(p.record)
	if err != nil {
		return 0
	}
	open := map[gocql.UUID]bool{}
	for _, ev := range evs {
		switch ev.Ev {
		case faults.EventBegin:
			open[ev.Token] = true
		case faults.EventEnd:
			delete(open, ev.Token)
		}
	}
	return len(open)
}

// killProcessor kills p with SIGKILL once it runs at least one job.
func (s *scenario) killProcessor(p *proc) {
	s.t.Helper()
	for range 100 {
		if p.openExecutions() > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	open := p.openExecutions()
	s.mu.Lock()
	s.killed[p.owner] = time.Now()
	s.mu.Unlock()
	p.kill()
	s.note("processor %s killed (SIGKILL) with %d jobs running", p.owner, open)
}

// stopProcessors stops every running processor gracefully (SIGTERM).
func (s *scenario) stopProcessors() {
	for _, p := range s.procs {
		select {
		case <-p.exited:
			continue
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			s.t.Errorf("processor %s did not stop within 30s of SIGTERM; killing it", p.owner)
			p.kill()
		}
	}
}

// produce enqueues jobs at rate per second for d, each with up to three
// tries under the same id (as an application would retry).
func (s *scenario) produce(ctx context.Context, rate float64, d time.Duration, mix faults.Mix) {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	end := time.After(d)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-end:
			wg.Wait()
			return
		case <-tick.C:
		}
		s.mu.Lock()
		s.seq++
		args := mix.Args(s.seq, r)
		var parent gocql.UUID
		if n := len(s.acked); n > 0 && r.Float64() < mix.ContinueShare {
			parent = s.acked[n-1-r.IntN(min(n, 10))]
		}
		s.mu.Unlock()
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.enqueue(ctx, args, time.Time{}, parent)
		})
	}
}

// enqueue stores one job, trying three times under the same id: a
// continuation of parent when parent is not zero.
func (s *scenario) enqueue(ctx context.Context, args faults.WorkArgs, at time.Time, parent gocql.UUID) {
	// Minting reads the queue's number (cached after the first), and is
	// tried three times too; a job whose id could not be minted was never
	// acknowledged.
	var id gocql.UUID
	var err error
	for try := 1; try <= 3; try++ {
		if id, err = s.store.Jobs.NewID(ctx, s.queue, at); err == nil {
			break
		}
		s.mu.Lock()
		s.enqueueErrs["mint id: "+errorClass(err)]++
		s.mu.Unlock()
		if !repo.IsRetryable(err) || try == 3 {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	js := &faults.JobState{}
	s.mu.Lock()
	s.jobs[id] = js
	if parent != (gocql.UUID{}) {
		s.parentOf[id] = parent
	}
	s.mu.Unlock()
	for try := 1; try <= 3; try++ {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		opts := &worker.EnqueueOpts{ID: id, Queue: s.queue, ScheduledAt: at, MaxRetries: 50}
		var err error
		if parent == (gocql.UUID{}) {
			_, err = worker.Enqueue(cctx, s.store, args, opts)
		} else {
			_, err = worker.EnqueueAfter(cctx, s.store, parent, args, opts)
		}
		cancel()
		s.mu.Lock()
		if err == nil {
			js.Acked = true
			s.acked = append(s.acked, id)
			s.mu.Unlock()
			return
		}
		s.enqueueErrs[errorClass(err)]++
		s.mu.Unlock()
		time.Sleep(time.Duration(try) * 200 * time.Millisecond)
	}
}

// errorClass shortens an error to its kind for the report: the message
// without ids and numbers.
func errorClass(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && len(msg)-i < 120 {
		msg = msg[i+2:]
	}
	return msg
}

// refresh reads every job that is not known to be finished.
func (s *scenario) refresh(ctx context.Context) (pending int, err error) {
	s.mu.Lock()
	ids := slices.Collect(maps.Keys(s.jobs))
	s.mu.Unlock()
	var errs []error
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, id := range ids {
		s.mu.Lock()
		js := s.jobs[id]
		done := js.Found && js.State.Final()
		s.mu.Unlock()
		if done {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			job, err := s.store.Jobs.Get(ctx, id)
			s.mu.Lock()
			defer s.mu.Unlock()
			switch {
			case errors.Is(err, repo.ErrNotFound):
				js.Found = false
				if js.Acked {
					pending++
				}
			case err != nil:
				errs = append(errs, err)
				pending++
			default:
				js.Found, js.State, js.Errors = true, job.State, job.Errors
				if !job.State.Final() {
					pending++
				}
			}
		})
	}
	wg.Wait()
	return pending, errors.Join(errs...)
}

// drain waits until every job is finished (or, for a job whose enqueue
// failed, absent) and returns how long it took. It gives up when no job
// finished for m.stall, or after m.drainCap.
func (s *scenario) drain(m mode) (time.Duration, bool) {
	began := time.Now()
	progress, last := began, -1
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		pending, err := s.refresh(ctx)
		cancel()
		if err == nil && pending == 0 {
			if s.drained == 0 {
				s.drained = time.Since(began)
			}
			return time.Since(began), true
		}
		if last < 0 || pending < last {
			progress, last = time.Now(), pending
		}
		if time.Since(progress) > m.stall || time.Since(began) > m.drainCap {
			s.note("%d jobs not finished %s after the faults ended, none finished in the last %s (last read error: %v)",
				pending, time.Since(began).Round(time.Second), time.Since(progress).Round(time.Second), err)
			return time.Since(began), false
		}
		time.Sleep(time.Second)
	}
}

// countCheck is how the counts came to equal the truth after every job
// finished.
type countCheck struct {
	// err is the last difference from the truth (none once converged).
	err map[repo.State]int64
	// converged: Stats reported the truth, settled. took is how long after
	// the jobs finished (and the processors stopped) it did.
	converged bool
	took      time.Duration
	// exact is how long after the jobs finished the counts first equalled
	// the truth (settled or not); -1 if never.
	exact time.Duration
	// swept: the stores' own folds had not converged within the bound, and
	// the counts converged after a SweepCounts (what the sweeper does every
	// SweepInterval); beforeSweep is the difference then.
	swept       bool
	beforeSweep map[repo.State]int64
}

// counts waits until Stats reports the truth and says it is settled: first
// as the stores fold on their own, for at most bound; then, if they have not
// converged, after a forced sweep (SweepCounts), for at most bound again.
func (s *scenario) counts(truth map[repo.State]int64, bound time.Duration) countCheck {
	began := time.Now()
	c := countCheck{exact: -1}
	poll := func() bool {
		until := time.Now().Add(bound)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			st, err := s.store.Jobs.Stats(ctx, s.queue)
			cancel()
			if err == nil && len(st) == 1 {
				c.err = faults.CountError(st[0].Counts, truth)
				if len(c.err) == 0 && c.exact < 0 {
					c.exact = time.Since(began)
				}
				if len(c.err) == 0 && st[0].Settled {
					return true
				}
			}
			if time.Now().After(until) {
				return false
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	if c.converged = poll(); !c.converged {
		c.swept, c.beforeSweep = true, c.err
		for try := 0; try < 3; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := s.store.SweepCounts(ctx, s.queue)
			cancel()
			if err == nil {
				break
			}
			s.note("SweepCounts failed: %v", err)
		}
		c.converged = poll()
	}
	c.took = time.Since(began)
	return c
}

// result is a scenario's figures.
type result struct {
	name          string
	report        *faults.Report
	drain, total  time.Duration
	drained       bool
	counts        countCheck
	countWarnings int
}

// finish waits for the jobs to finish, stops the processors, and checks.
func (s *scenario) finish(name string, m mode) *result {
	t := s.t
	t.Helper()
	res := &result{name: name}
	res.drain, res.drained = s.drain(m)
	if res.drained {
		res.drain = s.drained
		s.note("every job finished %s after the faults ended", res.drain.Round(100*time.Millisecond))
	}
	s.stopProcessors()

	var events []faults.Event
	for _, p := range s.procs {
		evs, torn, err := faults.ReadRecord(p.record)
		if err != nil {
			t.Fatalf("read the record of %s: %v", p.owner, err)
		}
		if torn {
			s.note("the record of %s ends in a torn line (dropped)", p.owner)
		}
		events = append(events, evs...)
		res.countWarnings += countLogLines(p.log, "could not update a job count")
	}
	res.countWarnings += countLogLines(filepath.Join(s.dir, "producer.log"), "could not update a job count")
	execs, err := faults.Executions(events)
	if err != nil {
		t.Fatalf("records contradict each other: %v", err)
	}
	s.mu.Lock()
	rep := faults.Check(execs, s.jobs, s.killed)
	early := faults.ContinuationsBeforeParent(execs, s.parentOf)
	continuations := len(s.parentOf)
	s.mu.Unlock()
	s.note("%d of the jobs were continuations of a job stored a moment before", continuations)
	for _, e := range early {
		t.Errorf("continuation %s began at %s, before its parent %s succeeded", e.Job, e.Start.Format(time.RFC3339Nano), s.parentOf[e.Job])
	}
	res.report = rep
	res.counts = s.counts(rep.Truth, m.countBound)
	res.total = time.Since(s.began)

	s.logResult(res)
	for _, id := range rep.Lost {
		t.Errorf("lost: job %s was acknowledged and is not in the store", id)
	}
	for _, id := range rep.Stuck {
		t.Errorf("stuck: job %s is %s %s after the faults ended%s", id, s.jobs[id].State, res.drain.Round(time.Second), s.parentNote(id))
	}
	for _, id := range rep.NotSucceeded {
		t.Errorf("job %s ended %s; every job of the suite succeeds in the end (errors: %v)", id, s.jobs[id].State, s.jobs[id].Errors)
	}
	for _, v := range rep.Violations {
		t.Errorf("job %s: %s", v.Job, v.What)
	}
	for _, x := range rep.Reruns {
		if !x.Explained {
			t.Errorf("job %s ran again without an expired lease: %s; earlier run %+v, rerun %+v", x.Job, x.Cause, *x.Prev, *x.Next)
		}
	}
	for _, x := range rep.Reclaims {
		if !x.Explained {
			t.Errorf("job %s was claimed again before the lease of %s's lost claim (attempt %d) expired: rescued at %s, lease until %s",
				x.Job, x.Owner, x.Attempt, x.Rescued.Format(time.RFC3339Nano), x.Until.Format(time.RFC3339Nano))
		}
	}
	if !res.counts.converged {
		t.Errorf("counts differ from the truth after every job finished, %s of folds and %s after a forced sweep: %s (before the sweep: %s)",
			m.countBound, m.countBound, faults.FormatCounts(res.counts.err), faults.FormatCounts(res.counts.beforeSweep))
	}
	return res
}

// parentNote describes the parent of a stuck continuation as the store
// holds it now (state, version, mark, when it changed, its lookup rows),
// to tell a parent that never finished from one settled without its child.
func (s *scenario) parentNote(id gocql.UUID) string {
	s.mu.Lock()
	parent, ok := s.parentOf[id]
	s.mu.Unlock()
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := s.store.Jobs.Get(ctx, parent)
	if err != nil {
		return fmt.Sprintf("; its parent %s: %v", parent, err)
	}
	var children []string
	if cs, err := s.store.Jobs.Continuations(ctx, parent); err == nil {
		for _, c := range cs {
			children = append(children, c.ID.String()+" "+c.State.String())
		}
	}
	return fmt.Sprintf("; its parent %s is %s at version %d, marked %v, changed %s, finished %s, runs %d; continuations %v",
		parent, p.State, p.Version, p.HasContinuations, p.StateChangedAt.Format(time.RFC3339Nano), p.FinishedAt.Format(time.RFC3339Nano), p.RetryCount+1, children)
}

// outcomeErrors maps "owner job" to the error a processor logged when it
// could not write a job's outcome.
func (s *scenario) outcomeErrors() map[string]string {
	out := map[string]string{}
	for _, p := range s.procs {
		f, err := os.Open(p.log)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg   string `json:"msg"`
				JobID string `json:"job_id"`
				Err   string `json:"err"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.JobID == "" || !strings.Contains(line.Msg, "outcome") {
				continue
			}
			out[p.owner+" "+line.JobID] = line.Msg + ": " + line.Err
		}
		_ = f.Close()
	}
	return out
}

// countLogLines counts the lines of a processor log that contain msg.
func countLogLines(path, msg string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), msg) {
			n++
		}
	}
	return n
}

func (s *scenario) logResult(r *result) {
	rep := r.report
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s:\n", r.name)
	fmt.Fprintf(&b, "  jobs acknowledged %d; enqueues that failed all three tries %d (%d of them stored)\n", rep.Acked, rep.Unacked, rep.UnackedStored)
	if len(s.enqueueErrs) > 0 {
		fmt.Fprintf(&b, "  enqueue errors (tries): %v\n", s.enqueueErrs)
	}
	fmt.Fprintf(&b, "  executions %d; planned retries %d\n", rep.Executions, rep.Retries)
	fmt.Fprintf(&b, "  lost %d, stuck %d, not succeeded %d, violations %d\n", len(rep.Lost), len(rep.Stuck), len(rep.NotSucceeded), len(rep.Violations))
	fmt.Fprintf(&b, "  run twice %d jobs (%d reruns): %v\n", rep.RunTwice(), len(rep.Reruns), rep.RerunCauses())
	details := s.outcomeErrors()
	for i, x := range rep.Reruns {
		if i == 10 {
			fmt.Fprintf(&b, "    … %d more\n", len(rep.Reruns)-i)
			break
		}
		fmt.Fprintf(&b, "    job %s: %s", x.Job, x.Cause)
		if d := details[x.Prev.Owner+" "+x.Job.String()]; d != "" {
			fmt.Fprintf(&b, " (%s logged: %s)", x.Prev.Owner, d)
		}
		if x.Cause == "outcome not written; lease expired" {
			s.keep = true // an outcome that did not reach the store: keep the processors' logs
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  claimed again without running twice %d: %v\n", len(rep.Reclaims), rep.ReclaimCauses())
	var longest time.Duration
	for _, o := range rep.Overlaps {
		longest = max(longest, o.By)
	}
	fmt.Fprintf(&b, "  reruns that began while the earlier handler still ran past its lease: %d (longest %s)\n", len(rep.Overlaps), longest.Round(time.Millisecond))
	fmt.Fprintf(&b, "  drained in %s after the faults ended\n", r.drain.Round(100*time.Millisecond))
	c := r.counts
	conv := fmt.Sprintf("exact %s and settled %s after every job finished", round(c.exact), round(c.took))
	if c.swept {
		conv = fmt.Sprintf("exact %s after every job finished, settled after a forced sweep %s after (the folds alone left %s, not settled)",
			round(c.exact), round(c.took), faults.FormatCounts(c.beforeSweep))
	}
	if !c.converged {
		conv = fmt.Sprintf("NOT converged after %s, with a forced sweep", c.took.Round(time.Second))
	}
	fmt.Fprintf(&b, "  count error %s (%s; failed count updates logged: %d)\n", faults.FormatCounts(c.err), conv, r.countWarnings)
	fmt.Fprintf(&b, "  scenario time %s (load average at the end %s)\n", r.total.Round(time.Second), loadAverage())
	s.t.Log(b.String())
	if path := os.Getenv("JOBSHARP_FAULTS_REPORT"); path != "" {
		appendJSON(path, map[string]any{
			"scenario": r.name, "long": longMode(), "acked": rep.Acked, "unacked": rep.Unacked, "unacked_stored": rep.UnackedStored,
			"executions": rep.Executions, "retries": rep.Retries, "lost": len(rep.Lost), "stuck": len(rep.Stuck),
			"not_succeeded": len(rep.NotSucceeded), "violations": len(rep.Violations), "run_twice": rep.RunTwice(),
			"reruns": len(rep.Reruns), "rerun_causes": rep.RerunCauses(), "reclaims": len(rep.Reclaims), "reclaim_causes": rep.ReclaimCauses(), "overlaps": len(rep.Overlaps), "drain_s": r.drain.Seconds(),
			"count_error": faults.FormatCounts(c.err), "converged": c.converged, "converge_s": c.took.Seconds(),
			"swept": c.swept, "count_error_before_sweep": faults.FormatCounts(c.beforeSweep), "exact_s": c.exact.Seconds(),
			"count_update_failures": r.countWarnings, "load_average": loadAverage(), "enqueue_errors": s.enqueueErrs, "scenario_s": r.total.Seconds(),
			"timeline": s.timeline,
		})
	}
}

func appendJSON(path string, v any) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	b, _ := json.Marshal(v)
	_, _ = f.Write(append(b, '\n'))
}
