package bench

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/bench/rawcql"
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
	_, err = Config{Scenarios: []string{"nope"}, Histories: []int{5, 1}}.withDefaults()
	for _, want := range []string{`unknown scenario "nope"`, "Histories must ascend from 0"} {
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
	cfg := Config{Mode: Smoke, Log: &log}
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
