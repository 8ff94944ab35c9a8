package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/jobsharp/cassandra/worker"
)

// Mode selects the size of a run.
type Mode string

const (
	// Quick runs every scenario small enough to finish in a few minutes on
	// a two-core machine: histories 0, 2,000 and 10,000; throughput with
	// 2,000 jobs, twice.
	Quick Mode = "quick"
	// Full runs the figures the issues ask for: histories up to 100,000
	// processed jobs; throughput with 20,000 jobs, three times; more
	// repetitions. It takes a long time.
	Full Mode = "full"
	// Smoke runs every scenario once on tiny inputs: for tests.
	Smoke Mode = "smoke"
)

// Scenario names, for Config.Scenarios.
const (
	ScenarioStore      = "store"
	ScenarioLayer      = "layer"
	ScenarioHints      = "hints"
	ScenarioClaim      = "claim"
	ScenarioDueScan    = "duescan"
	ScenarioThroughput = "throughput"
	ScenarioControls   = "controls"
)

// Scenarios lists every scenario in the order Run runs them.
func Scenarios() []string {
	return []string{ScenarioStore, ScenarioLayer, ScenarioHints, ScenarioClaim, ScenarioDueScan, ScenarioThroughput, ScenarioControls}
}

// Config says where and how much to measure. The zero value of every size
// field means the Mode's default (see [Defaults]).
type Config struct {
	// Hosts are the Cassandra contact points; default 127.0.0.1.
	Hosts []string
	// Port is the CQL port; default 9042.
	Port int
	// Mode selects the defaults below; default Quick.
	Mode Mode
	// Scenarios to run, by name (see [Scenarios]); empty runs all.
	Scenarios []string

	// Reps is the number of repetitions of each measurement; figures are
	// medians over them.
	Reps int

	// StoreOneByOne is the number of jobs each contender stores one by one
	// in a repetition.
	StoreOneByOne int
	// StoreBatch is the size of a batch of jobs; StoreBatches the number of
	// batches each contender stores in a repetition.
	StoreBatch, StoreBatches int

	// LayerOps is the number of operations of each kind in one block of the
	// generated-layer comparison.
	LayerOps int

	// HintJobs is the number of jobs whose hint rows are written at once;
	// HintParallelism the bounds on statements in flight to compare.
	HintJobs        int
	HintParallelism []int

	// ClaimWorkers are the worker counts to measure; ClaimReps the
	// repetitions of each; ClaimBacklog the due jobs each run starts with; ClaimLimit the jobs one claim call asks for
	// (JobSharp's GetScheduledJobs batch size); ClaimWindow bounds a run.
	ClaimWorkers []int
	ClaimReps    int
	ClaimBacklog int
	ClaimLimit   int
	ClaimWindow  time.Duration

	// Histories are the numbers of processed jobs at which the due scan is
	// measured, ascending, starting at 0. DueFetch is the number of due
	// jobs fetched; DueReps the scans per contender and history.
	Histories []int
	DueFetch  int
	DueReps   int
	// HistoryRate is the simulated rate at which history was processed,
	// jobs per second of simulated time: 100,000 jobs at 10/s span 2.8
	// hours. Both strategies get the same clock.
	HistoryRate float64

	// Contenders are the throughput scenario's contenders (see
	// [ThroughputContenders]). Empty means every one; in Smoke mode, River
	// only when PostgreSQL answers at PostgresDSN, so that go test ./bench
	// needs no PostgreSQL.
	Contenders []string
	// PreviousCommit is the commit (any git revision) whose store is the
	// previous design; default [DefaultPreviousCommit].
	PreviousCommit string
	// PostgresDSN is River's PostgreSQL, a postgres:// URL; default
	// [DefaultPostgresDSN], which scripts/bench-setup starts.
	PostgresDSN string
	// ThroughputReps is the repetitions of each throughput workload per
	// contender.
	ThroughputReps int
	// ThroughputFirst is the place in the rotation of the contenders' order
	// of the first repetition: repetition r runs in the order of rotation
	// r+ThroughputFirst. Runs of one repetition each should pass 0, 1, 2,
	// … in turn, or the same contender goes first in every run.
	ThroughputFirst int
	// DrainJobs is the jobs stored before a drain, BulkJobs those of a bulk
	// insert; Slots the handler slots of the one processor.
	DrainJobs, BulkJobs, Slots int
	// SteadyProducers insert one by one for SteadyWarmup, then for the
	// measured SteadyDuration.
	SteadyProducers              int
	SteadyWarmup, SteadyDuration time.Duration

	// ControlsJobs is the jobs of each run of the controls scenario;
	// ControlsReps the runs of each variant (see [ControlVariants]).
	ControlsJobs, ControlsReps int
	// ControlsReportInterval and ControlsPollInterval are the processors'
	// ReportInterval and PollInterval in the controls scenario; default
	// the worker's defaults (10s and 1s).
	ControlsReportInterval, ControlsPollInterval time.Duration
	// ControlsProcessors idle processors run for ControlsWindow to measure
	// the registry's writes and the pause watcher's reads per minute.
	ControlsProcessors int
	ControlsWindow     time.Duration

	// ServerLog is the path of the node's system.log, read to count batch
	// size warnings; empty skips the count. Default: the log of the node
	// scripts/cassandra runs, when it exists.
	ServerLog string

	// Keep leaves the benchmark keyspaces in place after the run.
	Keep bool
	// Log receives progress lines; nil discards them.
	Log io.Writer `json:"-"`
}

// Defaults returns the configuration of a mode with every field set.
func Defaults(m Mode) Config {
	c := Config{
		Hosts: []string{"127.0.0.1"}, Port: 9042, Mode: m,
		StoreBatch: 1000, HintJobs: 1000, HintParallelism: []int{8, 32, 64},
		ClaimWorkers: []int{1, 4, 8}, ClaimLimit: 100, DueFetch: 100, HistoryRate: 10,
		PreviousCommit: DefaultPreviousCommit, PostgresDSN: DefaultPostgresDSN,
		Slots: 100, SteadyProducers: 8, SteadyWarmup: 2 * time.Second,
		ControlsReportInterval: worker.DefaultReportInterval, ControlsPollInterval: worker.DefaultPollInterval, ControlsProcessors: 2,
	}
	switch m {
	case Full:
		c.Reps = 7
		c.StoreOneByOne, c.StoreBatches = 500, 2
		c.LayerOps = 400
		c.ClaimReps, c.ClaimBacklog, c.ClaimWindow = 3, 2000, 30*time.Second
		c.Histories = []int{0, 2_000, 10_000, 30_000, 100_000}
		c.DueReps = 15
		c.ThroughputReps, c.DrainJobs, c.BulkJobs, c.SteadyDuration = 3, 20_000, 20_000, 20*time.Second
		c.ControlsJobs, c.ControlsReps, c.ControlsWindow = 5000, 3, 2*time.Minute
	case Smoke:
		c.Reps = 1
		c.StoreOneByOne, c.StoreBatch, c.StoreBatches = 20, 100, 1
		c.LayerOps = 20
		c.HintJobs, c.HintParallelism = 200, []int{8}
		c.ClaimWorkers, c.ClaimReps, c.ClaimBacklog, c.ClaimLimit, c.ClaimWindow = []int{1, 4}, 1, 100, 20, 5*time.Second
		c.Histories, c.DueFetch, c.DueReps = []int{0, 300}, 20, 2
		c.ThroughputReps, c.DrainJobs, c.BulkJobs = 1, 100, 100
		c.SteadyWarmup, c.SteadyDuration = 250*time.Millisecond, time.Second
		c.ControlsJobs, c.ControlsReps, c.ControlsWindow = 40, 1, 3*time.Second
		c.ControlsReportInterval, c.ControlsPollInterval = time.Second, 250*time.Millisecond
	default:
		c.Mode = Quick
		c.Reps = 3
		c.StoreOneByOne, c.StoreBatches = 200, 1
		c.LayerOps = 160
		c.ClaimReps, c.ClaimBacklog, c.ClaimWindow = 3, 200, 6*time.Second
		c.Histories = []int{0, 2_000, 10_000}
		c.DueReps = 5
		c.ThroughputReps, c.DrainJobs, c.BulkJobs, c.SteadyDuration = 2, 2000, 2000, 5*time.Second
		c.ControlsJobs, c.ControlsReps, c.ControlsWindow = 2000, 1, 30*time.Second
	}
	return c
}

// withDefaults fills the zero fields from the mode's defaults and checks
// the result.
func (c Config) withDefaults() (Config, error) {
	if c.Mode == "" {
		c.Mode = Quick
	}
	if c.Mode != Quick && c.Mode != Full && c.Mode != Smoke {
		return c, fmt.Errorf("bench: Mode must be quick, full or smoke, got %q", c.Mode)
	}
	d := Defaults(c.Mode)
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	if len(c.Hosts) == 0 {
		c.Hosts = d.Hosts
	}
	fill(&c.Port, d.Port)
	fill(&c.Reps, d.Reps)
	fill(&c.StoreOneByOne, d.StoreOneByOne)
	fill(&c.StoreBatch, d.StoreBatch)
	fill(&c.StoreBatches, d.StoreBatches)
	fill(&c.LayerOps, d.LayerOps)
	fill(&c.HintJobs, d.HintJobs)
	fill(&c.ClaimReps, d.ClaimReps)
	fill(&c.ClaimBacklog, d.ClaimBacklog)
	fill(&c.ClaimLimit, d.ClaimLimit)
	fill(&c.DueFetch, d.DueFetch)
	fill(&c.DueReps, d.DueReps)
	if len(c.HintParallelism) == 0 {
		c.HintParallelism = d.HintParallelism
	}
	if len(c.ClaimWorkers) == 0 {
		c.ClaimWorkers = d.ClaimWorkers
	}
	if len(c.Histories) == 0 {
		c.Histories = d.Histories
	}
	if c.ClaimWindow == 0 {
		c.ClaimWindow = d.ClaimWindow
	}
	fill(&c.ThroughputReps, d.ThroughputReps)
	fill(&c.DrainJobs, d.DrainJobs)
	fill(&c.BulkJobs, d.BulkJobs)
	fill(&c.Slots, d.Slots)
	fill(&c.SteadyProducers, d.SteadyProducers)
	if c.SteadyWarmup == 0 {
		c.SteadyWarmup = d.SteadyWarmup
	}
	if c.SteadyDuration == 0 {
		c.SteadyDuration = d.SteadyDuration
	}
	fill(&c.ControlsJobs, d.ControlsJobs)
	fill(&c.ControlsReps, d.ControlsReps)
	fill(&c.ControlsProcessors, d.ControlsProcessors)
	for _, f := range []struct{ v, def *time.Duration }{{&c.ControlsReportInterval, &d.ControlsReportInterval}, {&c.ControlsPollInterval, &d.ControlsPollInterval}, {&c.ControlsWindow, &d.ControlsWindow}} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if c.PreviousCommit == "" {
		c.PreviousCommit = d.PreviousCommit
	}
	if c.PostgresDSN == "" {
		c.PostgresDSN = d.PostgresDSN
	}
	if c.HistoryRate == 0 {
		c.HistoryRate = d.HistoryRate
	}
	if c.ServerLog == "" {
		if _, err := os.Stat(DefaultServerLog()); err == nil {
			c.ServerLog = DefaultServerLog()
		}
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = Scenarios()
	}
	var errs []error
	for _, s := range c.Scenarios {
		if !slices.Contains(Scenarios(), s) {
			errs = append(errs, fmt.Errorf("bench: unknown scenario %q (want one of %v)", s, Scenarios()))
		}
	}
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("bench: "+format, args...))
		}
	}
	for _, x := range c.Contenders {
		if !slices.Contains(ThroughputContenders(), x) {
			errs = append(errs, fmt.Errorf("bench: unknown contender %q (want some of %v)", x, ThroughputContenders()))
		}
	}
	check(c.Reps >= 1, "Reps must be at least 1, got %d", c.Reps)
	check(c.ThroughputReps >= 1, "ThroughputReps must be at least 1, got %d", c.ThroughputReps)
	check(c.ThroughputFirst >= 0, "ThroughputFirst must not be negative, got %d", c.ThroughputFirst)
	check(c.DrainJobs >= 1 && c.BulkJobs >= 1, "DrainJobs and BulkJobs must be at least 1, got %d and %d", c.DrainJobs, c.BulkJobs)
	check(c.Slots >= 1 && c.Slots <= 10_000, "Slots must be between 1 and 10,000, got %d", c.Slots)
	check(c.SteadyProducers >= 1 && c.SteadyProducers <= 1000, "SteadyProducers must be between 1 and 1,000, got %d", c.SteadyProducers)
	check(c.SteadyWarmup >= 0 && c.SteadyDuration > 0, "SteadyWarmup must not be negative and SteadyDuration must be positive, got %s and %s", c.SteadyWarmup, c.SteadyDuration)
	check(c.StoreBatch >= 1 && c.StoreBatch <= 10_000, "StoreBatch must be between 1 and 10,000, got %d", c.StoreBatch)
	check(c.ClaimLimit >= 1 && c.ClaimLimit <= 1000, "ClaimLimit must be between 1 and 1,000, got %d", c.ClaimLimit)
	check(c.DueFetch >= 1 && c.DueFetch <= 1000, "DueFetch must be between 1 and 1,000, got %d", c.DueFetch)
	check(c.ControlsJobs >= 1 && c.ControlsJobs <= 1_000_000, "ControlsJobs must be between 1 and 1,000,000, got %d", c.ControlsJobs)
	check(c.ControlsReps >= 1, "ControlsReps must be at least 1, got %d", c.ControlsReps)
	check(c.ControlsProcessors >= 1 && c.ControlsProcessors <= 64, "ControlsProcessors must be between 1 and 64, got %d", c.ControlsProcessors)
	check(c.ControlsReportInterval >= 100*time.Millisecond && c.ControlsReportInterval <= 10*time.Minute, "ControlsReportInterval must be between 100ms and 10m (the worker's ReportInterval), got %s", c.ControlsReportInterval)
	check(c.ControlsPollInterval >= 10*time.Millisecond && c.ControlsPollInterval <= time.Hour, "ControlsPollInterval must be between 10ms and 1h (the worker's PollInterval), got %s", c.ControlsPollInterval)
	check(c.ControlsWindow >= 2*max(c.ControlsReportInterval, c.ControlsPollInterval), "ControlsWindow must be at least two report and poll intervals (%s and %s), got %s", c.ControlsReportInterval, c.ControlsPollInterval, c.ControlsWindow)
	check(c.HistoryRate > 0, "HistoryRate must be positive, got %g", c.HistoryRate)
	check(slices.IsSorted(c.Histories) && c.Histories[0] == 0, "Histories must ascend from 0, got %v", c.Histories)
	for _, w := range c.ClaimWorkers {
		check(w >= 1 && w <= 64, "ClaimWorkers must be between 1 and 64, got %d", w)
	}
	for _, p := range c.HintParallelism {
		check(p >= 1 && p <= 1024, "HintParallelism must be between 1 and 1024, got %d", p)
	}
	return c, errors.Join(errs...)
}

func (c Config) runs(scenario string) bool { return slices.Contains(c.Scenarios, scenario) }
