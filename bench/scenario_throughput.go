package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobsharp/cassandra/bench/workload"
)

// Contenders of the throughput scenario, besides [Ours].
const (
	// RawGocql is the statements this commit's store sends for a job's
	// life, sent through raw gocql with none of the store's guarantees
	// around them (bench/driver/raw.go says what it leaves out): ours / raw
	// is what those guarantees cost.
	RawGocql = "raw"
	// Previous is the previous design: the store and processor of
	// Config.PreviousCommit, built from git.
	Previous = "previous"
	// RiverPG is River on PostgreSQL, the reference users compare with.
	RiverPG = "River"
)

// DefaultPreviousCommit is the commit whose store is the previous design:
// main before issue #13's redesign for throughput.
const DefaultPreviousCommit = "e4a9c95"

// DefaultPostgresDSN is the PostgreSQL that scripts/bench-setup starts.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:55432/jobsharp_bench?sslmode=disable"

// ThroughputContenders lists the throughput scenario's contenders in the
// order of the report. Each has a driver program that runs one workload and
// prints a [workload.Result]; see the drivers map in runThroughput.
func ThroughputContenders() []string { return []string{Ours, RawGocql, Previous, RiverPG} }

// ThroughputReport is the throughput scenario's results.
type ThroughputReport struct {
	// Contenders are those that ran, in report order.
	Contenders []string `json:"contenders"`
	// PreviousCommit is the full hash of the previous design's commit.
	PreviousCommit string `json:"previous_commit,omitempty"`
	// River and PostgreSQL are the versions River ran with.
	River      string `json:"river,omitempty"`
	PostgreSQL string `json:"postgresql,omitempty"`
	// BuildTime is the time taken to build the drivers.
	BuildTime time.Duration `json:"build_time_ns"`
	// Load is the machine's 1-minute load average after each workload run.
	Load []float64 `json:"load"`
	// Orders are the contenders' order in each repetition (the same for
	// every workload of a repetition).
	Orders [][]string `json:"orders,omitempty"`
	// Failures are the workload runs whose driver failed (the first line of
	// its error); their figures are missing from the medians.
	Failures  []string            `json:"failures,omitempty"`
	Workloads []*ThroughputResult `json:"workloads"`
}

// ThroughputResult is one workload's figures per contender: a Stat over the
// repetitions for each figure, and every repetition's full result.
type ThroughputResult struct {
	// Workload is workload.Drain, workload.Steady or workload.Bulk.
	Workload string `json:"workload"`
	// Jobs per repetition (drain and bulk).
	Jobs int `json:"jobs,omitempty"`
	// Producers and Duration shape the steady workload.
	Producers int           `json:"producers,omitempty"`
	Duration  time.Duration `json:"duration_ns,omitempty"`

	// JobsPerS: drain, jobs finished per second; steady, jobs finished
	// during the window per second; bulk, jobs stored per second.
	JobsPerS map[string]*Stat `json:"jobs_per_s"`
	// Seconds: drain, from the processor's start to the last finished job;
	// bulk, the insert.
	Seconds map[string]*Stat `json:"seconds"`
	// InsertsPerS, P50MS and P99MS are the steady workload's jobs stored
	// per second and enqueue → finish latency.
	InsertsPerS map[string]*Stat `json:"inserts_per_s,omitempty"`
	P50MS       map[string]*Stat `json:"p50_ms,omitempty"`
	P99MS       map[string]*Stat `json:"p99_ms,omitempty"`
	// StatementsPerJob, LWTsPerJob and BatchStatementsPerJob are the round
	// trips, lightweight transactions and statements inside batches per job
	// stored (contenders whose driver counts them).
	StatementsPerJob      map[string]*Stat `json:"statements_per_job,omitempty"`
	LWTsPerJob            map[string]*Stat `json:"lwts_per_job,omitempty"`
	BatchStatementsPerJob map[string]*Stat `json:"batch_statements_per_job,omitempty"`
	// Runs are every repetition's results, per contender.
	Runs map[string][]*workload.Result `json:"runs"`
}

func newThroughputResult(w string, cfg Config) *ThroughputResult {
	r := &ThroughputResult{Workload: w, Runs: map[string][]*workload.Result{}}
	switch w {
	case workload.Drain:
		r.Jobs = cfg.DrainJobs
	case workload.Bulk:
		r.Jobs = cfg.BulkJobs
	case workload.Steady:
		r.Producers, r.Duration = cfg.SteadyProducers, cfg.SteadyDuration
	}
	for _, m := range []*map[string]*Stat{&r.JobsPerS, &r.Seconds, &r.InsertsPerS, &r.P50MS, &r.P99MS, &r.StatementsPerJob, &r.LWTsPerJob, &r.BatchStatementsPerJob} {
		*m = map[string]*Stat{}
	}
	return r
}

func addTo(m map[string]*Stat, c string, v float64) {
	if m[c] == nil {
		m[c] = &Stat{}
	}
	m[c].add(v)
}

func (r *ThroughputResult) add(c string, res *workload.Result) {
	r.Runs[c] = append(r.Runs[c], res)
	addTo(r.JobsPerS, c, res.JobsPerS)
	if res.Workload != workload.Steady {
		addTo(r.Seconds, c, res.Seconds)
	} else {
		addTo(r.InsertsPerS, c, res.InsertsPerS)
		if l := res.Latency; l != nil {
			addTo(r.P50MS, c, l.P50)
			addTo(r.P99MS, c, l.P99)
		}
	}
	if s := res.Statements; s != nil && res.Jobs > 0 {
		n := float64(res.Jobs)
		addTo(r.StatementsPerJob, c, float64(s.RoundTrips)/n)
		addTo(r.LWTsPerJob, c, float64(s.LWTs)/n)
		addTo(r.BatchStatementsPerJob, c, float64(s.BatchStatements)/n)
	}
}

// throughputContenders resolves the contenders of a run: the configured
// ones, or every one; in smoke mode River only when PostgreSQL answers.
func throughputContenders(cfg Config) ([]string, error) {
	if len(cfg.Contenders) > 0 {
		var out []string
		for _, c := range ThroughputContenders() { // report order
			if slices.Contains(cfg.Contenders, c) {
				out = append(out, c)
			}
		}
		if slices.Contains(out, RiverPG) && !postgresAnswers(cfg.PostgresDSN) {
			return nil, fmt.Errorf("PostgreSQL does not answer at %s: start it with scripts/bench-setup, or leave River out of the contenders", redactDSN(cfg.PostgresDSN))
		}
		return out, nil
	}
	if postgresAnswers(cfg.PostgresDSN) {
		return ThroughputContenders(), nil
	}
	if cfg.Mode == Smoke {
		return []string{Ours, RawGocql, Previous}, nil
	}
	return nil, fmt.Errorf("PostgreSQL does not answer at %s for River: start it with scripts/bench-setup, or run without River (-contenders ours,raw,previous)", redactDSN(cfg.PostgresDSN))
}

// runThroughput builds every contender's driver, gives each a keyspace or
// schema of its own, and runs the workloads Reps times, the contenders in
// a rotating order within each workload.
func runThroughput(ctx context.Context, cfg Config, logf func(string, ...any)) (*ThroughputReport, error) {
	contenders, err := throughputContenders(cfg)
	if err != nil {
		return nil, err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tp := &ThroughputReport{Contenders: contenders}
	if slices.Contains(contenders, Previous) {
		if tp.PreviousCommit, err = resolveCommit(ctx, root, cfg.PreviousCommit); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "jobsharp-bench-throughput-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	tag := randomHex(3)
	cassandra := func(keyspace string) []string {
		return []string{"-hosts", strings.Join(cfg.Hosts, ","), "-port", strconv.Itoa(cfg.Port), "-keyspace", keyspace}
	}
	// Each contender's driver: how to build it and the flags naming its
	// store.
	builds := map[string]struct {
		build func() (string, error)
		conn  []string
	}{
		Ours:     {func() (string, error) { return buildOurs(ctx, root, dir) }, cassandra("bench_tp_ours_" + tag)},
		RawGocql: {func() (string, error) { return buildRaw(ctx, root, dir) }, cassandra("bench_tp_raw_" + tag)},
		Previous: {func() (string, error) { return buildPrevious(ctx, root, dir, tp.PreviousCommit) },
			cassandra("bench_tp_prev_" + tag)},
		RiverPG: {func() (string, error) { return buildRiver(ctx, root, dir) },
			[]string{"-dsn", cfg.PostgresDSN, "-schema", "bench_tp_" + tag}},
	}
	began := time.Now()
	drivers := map[string]*driver{}
	for _, c := range contenders {
		b := builds[c]
		logf("throughput: build the %s driver", c)
		bin, err := b.build()
		if err != nil {
			return nil, err
		}
		drivers[c] = &driver{name: c, bin: bin, conn: b.conn}
	}
	tp.BuildTime = time.Since(began)
	for _, c := range contenders {
		if _, _, err := drivers[c].run(ctx, "-setup"); err != nil {
			return nil, err
		}
		if !cfg.Keep {
			defer func() {
				if _, _, err := drivers[c].run(context.WithoutCancel(ctx), "-teardown"); err != nil {
					logf("throughput: %v", err)
				}
			}()
		}
	}
	if d := drivers[RiverPG]; d != nil {
		out, _, err := d.run(ctx, "-version")
		if err != nil {
			return nil, err
		}
		var v struct{ River, PostgreSQL string }
		if err := json.Unmarshal(out, &v); err != nil {
			return nil, fmt.Errorf("decode the river driver's -version: %w", err)
		}
		tp.River, tp.PostgreSQL = v.River, v.PostgreSQL
	}

	workloads := []struct {
		name string
		args []string
	}{
		{workload.Bulk, []string{"-jobs", strconv.Itoa(cfg.BulkJobs)}},
		{workload.Drain, []string{"-jobs", strconv.Itoa(cfg.DrainJobs)}},
		{workload.Steady, []string{"-producers", strconv.Itoa(cfg.SteadyProducers), "-warmup", cfg.SteadyWarmup.String(), "-duration", cfg.SteadyDuration.String()}},
	}
	results := make([]*ThroughputResult, len(workloads))
	for i, w := range workloads {
		results[i] = newThroughputResult(w.name, cfg)
	}
	for r := 0; r < cfg.ThroughputReps; r++ {
		order := balanced(contenders, r+cfg.ThroughputFirst)
		tp.Orders = append(tp.Orders, order)
		for i, w := range workloads {
			for _, c := range order {
				args := append([]string{"-workload", w.name, "-queue", fmt.Sprintf("%s_%d", w.name, r+1), "-slots", strconv.Itoa(cfg.Slots)}, w.args...)
				res, stderr, err := drivers[c].workload(ctx, args...)
				if ctx.Err() != nil {
					return tp, ctx.Err()
				}
				if err != nil {
					// A shared node under load times out now and then: keep
					// the run, and report the repetition that failed.
					first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
					tp.Failures = append(tp.Failures, fmt.Sprintf("repetition %d, %s, %s: %s", r+1, w.name, c, first))
					logf("throughput: rep %d/%d %s %s FAILED: %v", r+1, cfg.ThroughputReps, w.name, c, err)
					continue
				}
				results[i].add(c, res)
				tp.Load = append(tp.Load, loadAverage()[0])
				logf("throughput: rep %d/%d %s %s: %s", r+1, cfg.ThroughputReps, w.name, c, summarizeResult(res, stderr))
			}
		}
	}
	tp.Workloads = results
	return tp, nil
}

func summarizeResult(res *workload.Result, stderr string) string {
	s := fmt.Sprintf("%.0f jobs/s", res.JobsPerS)
	if res.Workload == workload.Steady {
		s += fmt.Sprintf(", %.0f inserts/s", res.InsertsPerS)
	}
	if st := res.Statements; st != nil && res.Jobs > 0 {
		s += fmt.Sprintf(", %.2f statements and %.2f LWTs per job", float64(st.RoundTrips)/float64(res.Jobs), float64(st.LWTs)/float64(res.Jobs))
	}
	if !res.Check.OK(res.Workload) {
		s += fmt.Sprintf("; CHECK FAILED: %+v", res.Check)
	}
	if lines := strings.Count(stderr, "\n"); lines > 0 {
		s += fmt.Sprintf("; %d lines on stderr, the first: %s", lines, strings.SplitN(stderr, "\n", 2)[0])
	}
	return s
}
