package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/bench/cqlcount"
	"github.com/jobsharp/cassandra/bench/rawcql"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
)

// TestRawIDsAreStoreIDs checks that raw gocql lays out job ids as the
// store does: the store reads the partition raw gocql wrote each job to
// from its id.
func TestRawIDsAreStoreIDs(t *testing.T) {
	t.Parallel()

	r := &rawStore{now: time.Now, number: 0xabcde, salt: 42}
	seen := map[homePart]bool{}
	for _, n := range []int{1, 7, 100, 1000} {
		for _, j := range r.newJobs(jobType, nil, n) {
			home, shard, err := repo.Partition(j.id)
			if err != nil {
				t.Fatalf("repo.Partition(%s) error = %v", j.id, err)
			}
			if !home.Equal(j.home) || shard != j.shard {
				t.Fatalf("job %s: raw writes it to (%s, %d), the store reads (%s, %d)", j.id, j.home, j.shard, home, shard)
			}
			if j.shard>>8 != r.number || !j.home.Equal(rawcql.BucketStart(j.at, homeWidth)) {
				t.Fatalf("job %s: partition (%s, %d), want queue %d and the home bucket of %s", j.id, j.home, j.shard, r.number, j.at)
			}
			seen[homePart{j.home, j.shard}] = true
		}
	}
	if len(seen) < homeShards {
		t.Errorf("1,108 jobs went to %d partitions, want every sub-shard of their bucket (%d)", len(seen), homeShards)
	}
}

func TestOrigBucketHashesDotNetTicks(t *testing.T) {
	t.Parallel()

	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// Expected values computed from .NET's definition:
	// Math.Abs((int)ticks ^ (int)(ticks >> 32)) % 10.
	tests := map[string]struct {
		at     time.Time
		ticks  int64
		bucket int
	}{
		"Second":            {base, 638396640000000000, 2},
		"Ticks":             {base.Add(123456700), 638396640001234567, 9},
		"SameInstantInMs":   {base.Add(123000000), 638396640001230000, 6},
		"LastTickOfASecond": {base.Add(999999900), 638396640009999999, 5},
	}
	for name, tt := range tests {
		if got := dotnetTicks(tt.at); got != tt.ticks {
			t.Errorf("%s: dotnetTicks() = %d, want %d", name, got, tt.ticks)
		}
		if got := origBucket(tt.at); got != tt.bucket {
			t.Errorf("%s: origBucket() = %d, want %d", name, got, tt.bucket)
		}
	}
}

// The original's index deletes miss because the bucket of a time read back
// from Cassandra (milliseconds) is not the bucket it was stored under.
func TestOrigBucketMissesAfterRoundTrip(t *testing.T) {
	t.Parallel()

	r := rand.New(rand.NewPCG(1, 2))
	misses := 0
	const n = 10_000
	for i := 0; i < n; i++ {
		at := time.Unix(1_700_000_000+int64(r.IntN(1e8)), int64(r.IntN(1e7))*100)
		if origBucket(at) != origBucket(at.Truncate(time.Millisecond)) {
			misses++
		}
	}
	if frac := float64(misses) / n; frac < 0.85 || frac > 0.95 {
		t.Errorf("index deletes miss %.2f of the time, want about 0.9", frac)
	}
}

func TestPlanKeepsBatchesUnderTheTarget(t *testing.T) {
	t.Parallel()

	for _, set := range []string{"due", "state"} {
		rows := hintRows(set, "q", 1000, time.Now())
		for _, strategy := range []string{HintSingle, HintPerPartition, HintMixedChunks, HintOneBatch} {
			stmts := plan(strategy, rows)
			seen := 0
			for _, g := range stmts {
				seen += len(g)
				if strategy != HintOneBatch && len(g) > 1 && batchBytes(g) > batchTarget {
					t.Errorf("%s %s: a batch of %d bytes, more than %d", set, strategy, batchBytes(g), batchTarget)
				}
				if strategy == HintPerPartition {
					for _, r := range g {
						if r.part != g[0].part {
							t.Errorf("%s: a per-partition batch spans partitions %s and %s", set, g[0].part, r.part)
						}
					}
				}
			}
			if seen != len(rows) {
				t.Errorf("%s %s: %d rows planned, want %d", set, strategy, seen, len(rows))
			}
		}
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	t.Parallel()

	c, err := Config{}.withDefaults()
	if err != nil || c.Mode != Quick || c.Reps != 3 || c.Histories[len(c.Histories)-1] != 10_000 {
		t.Errorf("Config{}.withDefaults() = %+v, %v; want the quick defaults", c, err)
	}
	_, err = Config{Mode: "slow", Scenarios: []string{"nope"}, Histories: []int{5, 1}}.withDefaults()
	for _, want := range []string{`Mode must be quick, full or smoke, got "slow"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("withDefaults() error = %v, want it to contain %q", err, want)
		}
	}
	_, err = Config{Scenarios: []string{"nope"}, Histories: []int{5, 1}, ControlsWindow: 15 * time.Second, ThroughputFirst: -1}.withDefaults()
	for _, want := range []string{`unknown scenario "nope"`, "Histories must ascend from 0", "ThroughputFirst must not be negative, got -1", "ControlsWindow must be at least two report and poll intervals (10s and 1s), got 15s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("withDefaults() error = %v, want it to contain %q", err, want)
		}
	}
}

// TestRunSmoke runs every scenario on tiny inputs against the real node and
// checks what must hold whatever the timing: our claims are exclusive, our
// due scan finds every due job, every throughput job is finished exactly
// once, and the report renders. The throughput scenario runs ours, raw
// gocql and the previous design (built from git); River joins when
// PostgreSQL answers at the default DSN (scripts/bench-setup), and is never
// required.
func TestRunSmoke(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	var log strings.Builder
	// The controls scenario has a test of its own (TestControlsSmoke).
	// ThroughputFirst 1: the second contender goes first.
	cfg := Config{Mode: Smoke, Log: &log, ThroughputFirst: 1, Scenarios: slices.DeleteFunc(Scenarios(), func(s string) bool { return s == ScenarioControls })}
	if h := os.Getenv("JOBSHARP_TEST_HOSTS"); h != "" {
		cfg.Hosts = strings.Split(h, ",")
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run() error = %v\n(start a local node with: scripts/cassandra start)\n%s", err, log.String())
	}
	if len(rep.Store) != 2 || len(rep.Layer) != 4 || len(rep.Hints) == 0 || len(rep.Claim) != 2 || len(rep.DueScan) != 2 {
		t.Fatalf("Run() report has %d store, %d layer, %d hint, %d claim, %d due-scan results", len(rep.Store), len(rep.Layer), len(rep.Hints), len(rep.Claim), len(rep.DueScan))
	}
	for _, c := range rep.Claim {
		if d := c.DoubleClaims[Ours]; d.Max != 0 {
			t.Errorf("%d workers: ours claimed %v jobs twice, want 0", c.Workers, d.Samples)
		}
		if l := c.Unclaimed[Ours]; l.Max != 0 {
			t.Errorf("%d workers: ours left %v jobs unclaimed, want 0", c.Workers, l.Samples)
		}
	}
	for _, d := range rep.DueScan {
		if f := d.Found[Ours]; f.Min != float64(rep.Config.DueFetch) {
			t.Errorf("history %d: ours found %v due jobs, want %d", d.History, f.Samples, rep.Config.DueFetch)
		}
	}
	checkThroughput(t, rep)
	md := Markdown(rep)
	for _, want := range []string{"### Store throughput", "### Generated layer", "### Hint rows", "### Claims", "### Due scan", "### Throughput", "#### Statements per job"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown() lacks %q", want)
		}
	}
}

// checkThroughput checks the throughput scenario's report: every contender
// ran every workload, every job was stored, and in the drain and the steady
// run handled once and recorded as succeeded on its first attempt; the
// Cassandra contenders counted statements and lightweight transactions.
func checkThroughput(t *testing.T, rep *Report) {
	t.Helper()
	tp := rep.Throughput
	if tp == nil || len(tp.Workloads) != 3 {
		t.Fatalf("Run() throughput report = %+v, want three workloads", tp)
	}
	for _, c := range []string{Ours, RawGocql, Previous} {
		if !slices.Contains(tp.Contenders, c) {
			t.Errorf("throughput contenders = %v, want %s among them", tp.Contenders, c)
		}
	}
	if len(tp.Failures) > 0 {
		t.Errorf("throughput workloads failed: %q", tp.Failures)
	}
	if want := rep.Config.ThroughputReps; len(tp.Orders) != want {
		t.Errorf("throughput orders = %q, want one per repetition (%d)", tp.Orders, want)
	}
	for r, order := range tp.Orders {
		if want := balanced(tp.Contenders, r+rep.Config.ThroughputFirst); !slices.Equal(order, want) {
			t.Errorf("repetition %d ran the contenders in the order %q, want %q (ThroughputFirst %d)", r+1, order, want, rep.Config.ThroughputFirst)
		}
	}
	if len(tp.PreviousCommit) != 40 || !strings.HasPrefix(tp.PreviousCommit, DefaultPreviousCommit) {
		t.Errorf("previous commit = %q, want the full hash of %s", tp.PreviousCommit, DefaultPreviousCommit)
	}
	for _, w := range tp.Workloads {
		for _, c := range tp.Contenders {
			runs := w.Runs[c]
			if len(runs) != rep.Config.ThroughputReps {
				t.Errorf("%s %s: %d repetitions, want %d", w.Workload, c, len(runs), rep.Config.ThroughputReps)
				continue
			}
			for _, res := range runs {
				if !res.Check.OK(w.Workload) || res.Jobs == 0 || res.JobsPerS <= 0 {
					t.Errorf("%s %s: %d jobs at %.0f/s, check %+v: want every job found, and run once where processed", w.Workload, c, res.Jobs, res.JobsPerS, res.Check)
				}
				if c == RiverPG {
					continue
				}
				if s := res.Statements; s == nil || s.RoundTrips == 0 || s.LWTs == 0 {
					t.Errorf("%s %s: statements counted = %+v, want round trips and LWTs", w.Workload, c, s)
				}
			}
		}
	}
}

// TestControlsSmoke runs the controls scenario on tiny inputs against the
// real node (smoke intervals: a report every second, a poll every 250 ms)
// and checks its counts (checkControls) and its tables.
func TestControlsSmoke(t *testing.T) {
	t.Parallel()

	var log strings.Builder
	cfg := Config{Mode: Smoke, Log: &log, Scenarios: []string{ScenarioControls}}
	if h := os.Getenv("JOBSHARP_TEST_HOSTS"); h != "" {
		cfg.Hosts = strings.Split(h, ",")
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run() error = %v\n(start a local node with: scripts/cassandra start)\n%s", err, log.String())
	}
	checkControls(t, rep)
	md := Markdown(rep)
	for _, want := range []string{"### Operator controls: statements per job", "### Operator controls on timers", "| baseline: plain inserts"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown() lacks %q", want)
		}
	}
}

// checkControls checks the controls scenario's report against what the
// README promises: an insert is one conditional batch; a unique insert adds
// one claim of its key (an LWT), and a duplicate one claim and one read of
// the holder, and stores nothing; the OpenTelemetry hooks export a span
// per insert and per attempt and add no statement to the inserts; only the
// registry variant writes a registry row, and deletes it when it stops;
// the idle processors' timers run at the configured intervals.
func checkControls(t *testing.T, rep *Report) {
	t.Helper()
	c := rep.Controls
	if c == nil || len(c.Variants) != len(ControlVariants()) {
		t.Fatalf("Run() controls report = %+v, want every variant", c)
	}
	cfg := rep.Config
	for _, v := range c.Variants {
		if len(v.Runs) != cfg.ControlsReps {
			t.Errorf("%s: %d runs, want %d", v.Variant, len(v.Runs), cfg.ControlsReps)
		}
		for _, r := range v.Runs {
			kinds := r.Insert.ByKind
			wantInserts, wantClaims, wantReads := cfg.ControlsJobs, 0, 0
			switch v.Variant {
			case ControlUnique:
				wantClaims = cfg.ControlsJobs
			case ControlUniqueDup:
				wantInserts, wantClaims, wantReads = 2*cfg.ControlsJobs, 2*cfg.ControlsJobs, cfg.ControlsJobs
			}
			if r.Jobs != cfg.ControlsJobs || r.Inserts != wantInserts || r.Existed != wantInserts-cfg.ControlsJobs {
				t.Errorf("%s: %d jobs, %d inserts, %d existed; want %d, %d, %d", v.Variant, r.Jobs, r.Inserts, r.Existed, cfg.ControlsJobs, wantInserts, wantInserts-cfg.ControlsJobs)
			}
			if kinds["BATCH of UPDATE jobs IF"] != int64(r.Jobs) || kinds["UPDATE unique_keys IF"] != int64(wantClaims) || kinds["SELECT jobs"] != int64(wantReads) {
				t.Errorf("%s: inserts sent %v; want a conditional batch per job, %d key claims and %d holder reads", v.Variant, kinds, wantClaims, wantReads)
			}
			if r.Process.LWTs == 0 || r.Pauses.RoundTrips() == 0 {
				t.Errorf("%s: processing sent %d LWTs and %d pause reads, want some of each", v.Variant, r.Process.LWTs, r.Pauses.RoundTrips())
			}
			reg := r.Registry.ByKind
			if v.Variant == ControlRegistry {
				if reg["INSERT processors"] < 1 || reg["DELETE processors"] != 1 {
					t.Errorf("registry: the processor's row statements = %v, want writes and one delete", reg)
				}
			} else if r.Registry.RoundTrips() != 0 {
				t.Errorf("%s: registry statements %v with the registry off", v.Variant, reg)
			}
			if want := map[bool]int{true: r.Inserts + r.Jobs}[v.Variant == ControlOTel]; r.Spans != want {
				t.Errorf("%s: %d spans exported, want %d", v.Variant, r.Spans, want)
			}
		}
	}
	tm := c.Timers
	if tm == nil || len(tm.Registry) != cfg.ControlsProcessors || len(tm.Pauses) != cfg.ControlsProcessors {
		t.Fatalf("controls timers = %+v, want %d processors", tm, cfg.ControlsProcessors)
	}
	for i := range tm.Registry {
		for _, x := range []struct {
			what     string
			ticks    Ticks
			interval time.Duration
		}{{"registry writes", tm.Registry[i], tm.ReportInterval}, {"pause reads", tm.Pauses[i], tm.PollInterval}} {
			// A ticker drops a tick only when a statement outlasts its
			// interval: allow for a slow one, not for a wrong count.
			want := time.Minute.Seconds() / x.interval.Seconds()
			if got := x.ticks.PerMinute(); !(got >= 0.75*want && got <= 1.05*want) {
				t.Errorf("processor %d: %s %+v = %.2f a minute, want about %.1f", i, x.what, x.ticks, got, want)
			}
		}
	}
}

func TestBalancedOrder(t *testing.T) {
	t.Parallel()

	xs := []string{"a", "b", "c"}
	first := map[string]int{}
	follows := map[[2]string]int{}
	prev := ""
	for r := 0; r < 6; r++ {
		order := balanced(xs, r)
		first[order[0]]++
		for _, x := range order {
			if prev != "" {
				follows[[2]string{prev, x}]++
			}
			prev = x
		}
	}
	for _, x := range xs {
		if first[x] != 2 {
			t.Errorf("%s comes first %d times in 6 repetitions, want 2", x, first[x])
		}
		for _, y := range xs {
			if n := follows[[2]string{y, x}]; x != y && (n < 2 || n > 4) {
				t.Errorf("%s follows %s %d times in 6 repetitions, want about 3", x, y, n)
			}
		}
	}
}

// TestControlsCounterSplitsStatements checks that the controls scenario
// counts the processor registry's statements and the pause watcher's reads
// apart from the job path by their text: another read of the queue
// registry (a queue's number, the queue list) is the job path's.
func TestControlsCounterSplitsStatements(t *testing.T) {
	t.Parallel()

	c := newControlsCounter()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	q := func(stmt string, at time.Time) { c.ObserveQuery(ctx, gocql.ObservedQuery{Statement: stmt, Start: at}) }
	for i := range 4 {
		q(queries.ProcessorReportCQL, t0.Add(time.Duration(i)*10*time.Second))
	}
	q(queries.ProcessorDeleteCQL, t0.Add(35*time.Second))
	for i := range 31 {
		q(queries.QueuesPausedAmongCQL, t0.Add(time.Duration(i)*time.Second))
	}
	q(queries.QueueGetCQL, t0)
	q(queries.QueuesListCQL, t0)
	q(queries.QueueSetPausedCQL, t0)
	c.ObserveBatch(ctx, gocql.ObservedBatch{Statements: []string{"UPDATE jobs SET state = ? WHERE home = ? IF version = ?"}})

	s := c.snapshot()
	if got := s.registry.ByKind; got["INSERT processors"] != 4 || got["DELETE processors"] != 1 || s.registry.RoundTrips() != 5 {
		t.Errorf("registry counts = %v, want 4 writes and 1 delete", got)
	}
	if got := s.pauses.ByKind; got["SELECT queues"] != 31 || s.pauses.RoundTrips() != 31 {
		t.Errorf("pause counts = %v, want 31 reads", got)
	}
	if got := s.jobs; got.Queries != 3 || got.Batches != 1 || got.LWTs != 2 || got.ByKind["SELECT queues"] != 2 {
		t.Errorf("job-path counts = %+v, want the queue read, the list, the pause (an LWT) and the batch (an LWT)", got)
	}
	reg, pauses := c.ticks()
	if reg != (Ticks{N: 4, Span: 30 * time.Second}) || pauses != (Ticks{N: 31, Span: 30 * time.Second}) {
		t.Errorf("ticks = %+v and %+v, want 4 over 30s and 31 over 30s (the delete is no tick)", reg, pauses)
	}
	if got := reg.PerMinute(); got != 6 {
		t.Errorf("registry PerMinute() = %g, want 6", got)
	}
	if got := pauses.PerMinute(); got != 60 {
		t.Errorf("pause PerMinute() = %g, want 60", got)
	}
	if got := (Ticks{N: 1}).PerMinute(); !math.IsNaN(got) {
		t.Errorf("PerMinute() of one tick = %g, want NaN", got)
	}
}

// TestControlsRunPerJob checks the per-job figures of a run and the Δ
// against the baseline of the same repetition.
func TestControlsRunPerJob(t *testing.T) {
	t.Parallel()

	counts := func(queries, batches, lwts int64) cqlcount.Counts {
		return cqlcount.Counts{Queries: queries, Batches: batches, LWTs: lwts}
	}
	base := &ControlsRun{Jobs: 100, Inserts: 100, Insert: counts(4, 100, 102), Process: counts(20, 10, 10),
		Registry: counts(0, 0, 0), Pauses: counts(3, 0, 0), ProcessSeconds: 2, CPUSeconds: 0.05}
	dup := &ControlsRun{Jobs: 100, Inserts: 200, Existed: 100, Insert: counts(404, 100, 302), Process: counts(22, 10, 10),
		Registry: counts(2, 0, 0), Pauses: counts(5, 0, 0), ProcessSeconds: 4}
	for _, tt := range []struct {
		name      string
		got, want float64
	}{
		{"baseline Statements", base.Statements(), 1.34},
		{"baseline LWTs", base.LWTs(), 1.12},
		{"baseline InsertStatements", base.InsertStatements(), 1.04},
		{"baseline ProcessStatements", base.ProcessStatements(), 0.3},
		{"baseline PauseReadsPerJob", base.PauseReadsPerJob(), 0.03},
		{"baseline JobsPerS", base.JobsPerS(), 50},
		{"baseline CPUMicrosPerJob", base.CPUMicrosPerJob(), 500},
		{"dup Statements (registry in, pauses out)", dup.Statements(), 5.38},
		{"dup LWTs", dup.LWTs(), 3.12},
		{"dup InsertStatements per call", dup.InsertStatements(), 2.52},
		{"dup InsertLWTs per call", dup.InsertLWTs(), 1.51},
		{"dup RegistryWritesPerJob", dup.RegistryWritesPerJob(), 0.02},
		{"dup InsertStatementsPerJob", dup.InsertStatementsPerJob(), 5.04},
		{"dup InsertLWTsPerJob", dup.InsertLWTsPerJob(), 3.02},
		{"dup ProcessLWTs", dup.ProcessLWTs(), 0.1},
	} {
		if math.Abs(tt.got-tt.want) > 1e-9 {
			t.Errorf("%s = %g, want %g", tt.name, tt.got, tt.want)
		}
	}

	// Two reports, the second with two repetitions: each Δ pairs a run with
	// the baseline of its report and repetition.
	report := func(pairs ...[2]*ControlsRun) *Report {
		c := &ControlsReport{Variants: []*ControlsVariant{{Variant: ControlBaseline}, {Variant: ControlUniqueDup}}}
		for _, p := range pairs {
			c.Variants[0].Runs = append(c.Variants[0].Runs, p[0])
			c.Variants[1].Runs = append(c.Variants[1].Runs, p[1])
		}
		return &Report{Controls: c}
	}
	other := &ControlsRun{Jobs: 100, Inserts: 100, Insert: counts(4, 100, 100), Process: counts(10, 10, 10)}
	reps := []*Report{report([2]*ControlsRun{base, dup}), report([2]*ControlsRun{other, dup}, [2]*ControlsRun{base, base})}
	got := controlDeltas(reps, ControlUniqueDup, (*ControlsRun).Statements)
	want := []float64{5.38 - 1.34, 5.38 - 1.24, 0}
	if len(got) != len(want) {
		t.Fatalf("controlDeltas() = %v, want %v", got, want)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("controlDeltas()[%d] = %g, want %g", i, got[i], want[i])
		}
	}
	if s := values("%.2f", got); s != "4.04 (4.04, 4.14, 0.00)" {
		t.Errorf("values() = %q, want the median and every value", s)
	}
}
