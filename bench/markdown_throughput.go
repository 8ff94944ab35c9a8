package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/jobsharp/cassandra/bench/workload"
)

// contenderLabel names a throughput contender in a table heading.
func contenderLabel(tp *ThroughputReport, c string) string {
	switch c {
	case Previous:
		if len(tp.PreviousCommit) >= 7 {
			return "previous (" + tp.PreviousCommit[:7] + ")"
		}
	case RiverPG:
		if tp.River != "" {
			return "River " + tp.River
		}
	}
	return c
}

// workloadResult returns run r's result of workload w, or nil.
func workloadResult(r *Report, w string) *ThroughputResult {
	if r.Throughput == nil {
		return nil
	}
	for _, x := range r.Throughput.Workloads {
		if x.Workload == w {
			return x
		}
	}
	return nil
}

func throughputTable(b *strings.Builder, reps []*Report) {
	tp := reps[0].Throughput
	c0 := reps[0].Config
	cs := tp.Contenders
	fmt.Fprintf(b, "### Throughput: one processor of %d slots, no-op handler\n\n", c0.Slots)
	var about []string
	for _, c := range cs {
		switch c {
		case Ours:
			about = append(about, "**ours**: this commit's repo and worker")
		case RawGocql:
			about = append(about, "**raw**: the statements ours sends for a job's life (conditional batches per home partition: inserts `IF version = NULL`, "+
				"claims after a page read of the partition and completions `IF version = ?`, each partition's batches group-committed), sent through raw gocql "+
				"with the worker's pacing; it leaves out the queue registry, the home directory, the count logs, the due and state indexes, "+
				"retries, settling, heartbeats, rescue and any recovery from a failed or unknown batch, so ours / raw is the cost of the store's guarantees over the bare statements")
		case Previous:
			about = append(about, fmt.Sprintf("**previous**: the repo and worker of commit %s, built from git", tp.PreviousCommit))
		case RiverPG:
			about = append(about, fmt.Sprintf("**River** %s on PostgreSQL %s, with its defaults", tp.River, tp.PostgreSQL))
		}
	}
	b.WriteString("Contenders: " + strings.Join(about, "; ") + ". Each runs in a process of its own, on a keyspace (River: a schema) of its own; the order of the contenders rotates every repetition.\n\n")
	for i, r := range reps {
		if r.Throughput == nil || len(r.Throughput.Load) == 0 {
			continue
		}
		l := slices.Sorted(slices.Values(r.Throughput.Load))
		order := ""
		if len(r.Throughput.Orders) > 0 {
			var parts []string
			for _, o := range r.Throughput.Orders {
				parts = append(parts, strings.Join(o, ", "))
			}
			order = "; contenders' order: " + strings.Join(parts, " / ")
		}
		fmt.Fprintf(b, "Run %d: load average (1 min) %.1f to %.1f, median %.1f, over the %d workload runs; drivers built in %s%s.\n", i+1, l[0], l[len(l)-1], median(l), len(l), r.Throughput.BuildTime.Round(1e9), order)
	}
	b.WriteString("\n")

	b.WriteString("| workload | " + strings.Join(mapLabels(tp, cs), " | ") + " |")
	ratios := []string{}
	for _, c := range cs[1:] {
		if cs[0] == Ours {
			ratios = append(ratios, c)
			b.WriteString(" ours / " + c + " |")
		}
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(cs)+len(ratios)) + "\n")
	type row struct {
		label, format string
		w             string
		f             func(*ThroughputResult) map[string]*Stat
	}
	rows := []row{
		{fmt.Sprintf("drain %d jobs: jobs/s", c0.DrainJobs), "%.0f", workload.Drain, func(t *ThroughputResult) map[string]*Stat { return t.JobsPerS }},
		{"drain: seconds to the last finished job", "%.1f", workload.Drain, func(t *ThroughputResult) map[string]*Stat { return t.Seconds }},
		{fmt.Sprintf("steady, %d producers one by one, %s: jobs finished/s", c0.SteadyProducers, c0.SteadyDuration), "%.0f", workload.Steady, func(t *ThroughputResult) map[string]*Stat { return t.JobsPerS }},
		{"steady: jobs stored/s", "%.0f", workload.Steady, func(t *ThroughputResult) map[string]*Stat { return t.InsertsPerS }},
		{"steady: enqueue → finish p50, ms", "%.0f", workload.Steady, func(t *ThroughputResult) map[string]*Stat { return t.P50MS }},
		{"steady: enqueue → finish p99, ms", "%.0f", workload.Steady, func(t *ThroughputResult) map[string]*Stat { return t.P99MS }},
		{fmt.Sprintf("bulk insert %d jobs: jobs/s", c0.BulkJobs), "%.0f", workload.Bulk, func(t *ThroughputResult) map[string]*Stat { return t.JobsPerS }},
	}
	for _, rw := range rows {
		at := func(c string) func(*Report) float64 {
			return func(r *Report) float64 {
				t := workloadResult(r, rw.w)
				if t == nil {
					return math.NaN()
				}
				return med(rw.f(t)[c])
			}
		}
		fmt.Fprintf(b, "| %s |", rw.label)
		for _, c := range cs {
			fmt.Fprintf(b, " %s |", cell(rw.format, reps, at(c)))
		}
		for _, c := range ratios {
			fmt.Fprintf(b, " %s |", cell("%.2f", reps, func(r *Report) float64 { return ratio(at(Ours)(r), at(c)(r)) }))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nEach figure is the median over a run's repetitions")
	if len(reps) > 1 {
		b.WriteString("; with several runs, the median of the runs' medians, then each run's in brackets")
	}
	b.WriteString(". Ratios are taken within each run: above 1, ours is faster, except in the rows of seconds and latencies, where above 1 means slower. " +
		"The steady latency is from the job's creation to its finished outcome, by the records; when the producers store jobs faster than the processor finishes them, it is mostly the time spent waiting in a growing queue.\n\n")

	counted := slices.DeleteFunc(slices.Clone(cs), func(c string) bool {
		t := workloadResult(reps[0], workload.Drain)
		return t == nil || t.StatementsPerJob[c] == nil
	})
	if len(counted) > 0 {
		statementsTable(b, reps, counted)
	}
	checksLine(b, reps, cs)
	for i, r := range reps {
		for _, f := range r.Throughput.Failures {
			fmt.Fprintf(b, "- Run %d: failed, left out of the figures: %s\n", i+1, f)
		}
	}
	b.WriteString("\n")
}

func mapLabels(tp *ThroughputReport, cs []string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = contenderLabel(tp, c)
	}
	return out
}

func statementsTable(b *strings.Builder, reps []*Report, cs []string) {
	b.WriteString("#### Statements per job (gocql observer)\n\n")
	b.WriteString("Round trips (a batch counts once), lightweight transactions (a conditional batch counts once) and statements inside batches, per job stored; the drain counts from the processor's start to the last finished job, the steady run from the first insert to the last finished job, so it is a job's whole life.\n\n")
	b.WriteString("| workload |")
	for _, kind := range []string{"round trips", "LWTs", "in batches"} {
		for _, c := range cs {
			fmt.Fprintf(b, " %s: %s |", kind, c)
		}
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", 3*len(cs)) + "\n")
	for _, w := range []string{workload.Bulk, workload.Drain, workload.Steady} {
		fmt.Fprintf(b, "| %s |", w)
		for _, f := range []func(*ThroughputResult) map[string]*Stat{
			func(t *ThroughputResult) map[string]*Stat { return t.StatementsPerJob },
			func(t *ThroughputResult) map[string]*Stat { return t.LWTsPerJob },
			func(t *ThroughputResult) map[string]*Stat { return t.BatchStatementsPerJob },
		} {
			for _, c := range cs {
				fmt.Fprintf(b, " %s |", cell("%.2f", reps, func(r *Report) float64 {
					t := workloadResult(r, w)
					if t == nil {
						return math.NaN()
					}
					return med(f(t)[c])
				}))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\nBy kind, per job (the first run's last repetition):\n\n")
	b.WriteString("| statement |")
	ws := []string{workload.Bulk, workload.Drain, workload.Steady}
	for _, w := range ws {
		for _, c := range cs {
			fmt.Fprintf(b, " %s: %s |", w, c)
		}
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(ws)*len(cs)) + "\n")
	perKind := map[string]map[string]float64{} // kind → "workload/contender" → per job
	for _, w := range ws {
		t := workloadResult(reps[0], w)
		if t == nil {
			continue
		}
		for _, c := range cs {
			runs := t.Runs[c]
			if len(runs) == 0 || runs[len(runs)-1].Statements == nil {
				continue
			}
			last := runs[len(runs)-1]
			for k, v := range last.Statements.ByKind {
				if perKind[k] == nil {
					perKind[k] = map[string]float64{}
				}
				perKind[k][w+"/"+c] = float64(v) / float64(last.Jobs)
			}
		}
	}
	kinds := slices.Sorted(func(yield func(string) bool) {
		for k := range perKind {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range kinds {
		fmt.Fprintf(b, "| %s |", k)
		for _, w := range ws {
			for _, c := range cs {
				if v, ok := perKind[k][w+"/"+c]; ok {
					fmt.Fprintf(b, " %.3f |", v)
				} else {
					b.WriteString(" |")
				}
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// checksLine says whether every job was stored, and run exactly once, in
// every repetition.
func checksLine(b *strings.Builder, reps []*Report, cs []string) {
	var parts []string
	for _, c := range cs {
		total, ok := 0, 0
		var bad []string
		for _, r := range reps {
			if r.Throughput == nil {
				continue
			}
			for _, t := range r.Throughput.Workloads {
				for i, res := range t.Runs[c] {
					total++
					if res.Check.OK(t.Workload) {
						ok++
					} else {
						bad = append(bad, fmt.Sprintf("%s repetition %d: %+v", t.Workload, i+1, res.Check))
					}
				}
			}
		}
		s := fmt.Sprintf("%s %d of %d", c, ok, total)
		if len(bad) > 0 {
			s += " (failed: " + strings.Join(bad, "; ") + ")"
		}
		parts = append(parts, s)
	}
	b.WriteString("Checked after every repetition, by the handler's calls and the records read back: every job stored was found; in the drain and the steady run, every job's handler ran once and its record says it succeeded on its first attempt. Repetitions that passed: " + strings.Join(parts, ", ") + ".\n\n")
}
