package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// controlLabels describe the variants in the table.
var controlLabels = map[string]string{
	ControlBaseline:  "baseline: plain inserts, no hooks, registry off",
	ControlUnique:    "unique by args (every key free)",
	ControlUniqueDup: "unique by args, every job inserted twice (half the inserts are duplicates)",
	ControlOTel:      "OpenTelemetry hooks (SDK, in-memory exporters)",
	ControlRegistry:  "processor registry on (row rewritten every report interval)",
}

// controlRuns returns the runs of a variant over every report, in order.
func controlRuns(reps []*Report, variant string) [][]*ControlsRun {
	out := make([][]*ControlsRun, 0, len(reps))
	for _, r := range reps {
		var runs []*ControlsRun
		if r.Controls != nil {
			for _, v := range r.Controls.Variants {
				if v.Variant == variant {
					runs = v.Runs
				}
			}
		}
		out = append(out, runs)
	}
	return out
}

// controlValues returns f of every run of a variant, over every report.
func controlValues(reps []*Report, variant string, f func(*ControlsRun) float64) []float64 {
	var vals []float64
	for _, runs := range controlRuns(reps, variant) {
		for _, r := range runs {
			vals = append(vals, f(r))
		}
	}
	return vals
}

// controlDeltas returns f of each run of a variant minus f of the baseline
// run of the same report and repetition.
func controlDeltas(reps []*Report, variant string, f func(*ControlsRun) float64) []float64 {
	var vals []float64
	base := controlRuns(reps, ControlBaseline)
	for i, runs := range controlRuns(reps, variant) {
		for j, r := range runs {
			if j < len(base[i]) {
				vals = append(vals, f(r)-f(base[i][j]))
			}
		}
	}
	return vals
}

// values formats a median and, when there are several, every value:
// "1.23 (1.20, 1.23, 1.30)".
func values(format string, vals []float64) string {
	var ok []float64
	for _, v := range vals {
		if !math.IsNaN(v) {
			ok = append(ok, v)
		}
	}
	if len(ok) == 0 {
		return "–"
	}
	s := fmt.Sprintf(format, median(slices.Sorted(slices.Values(ok))))
	if len(ok) > 1 {
		parts := make([]string, len(ok))
		for i, v := range ok {
			parts[i] = fmt.Sprintf(format, v)
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// spread formats the median of values and their range: "0.0008
// (0.0005–0.0025)".
func spread(format string, vals []float64) string {
	if len(vals) == 0 {
		return "–"
	}
	sorted := slices.Sorted(slices.Values(vals))
	return fmt.Sprintf(format+" ("+format+"–"+format+")", median(sorted), sorted[0], sorted[len(sorted)-1])
}

// list formats every value: "30, 31".
func list(format string, vals []float64) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprintf(format, v)
	}
	return strings.Join(parts, ", ")
}

func controlsTable(b *strings.Builder, reps []*Report) {
	c := reps[0].Controls
	fmt.Fprintf(b, "### Operator controls: statements per job (%d jobs enqueued one by one, then completed by one processor of %d slots with a no-op handler)\n\n", c.Jobs, c.Slots)
	b.WriteString("Statement and LWT counts come from the driver's observers and do not depend on the machine (the processing counts vary a little with how claims fall); jobs/s and CPU µs are noise on a shared machine. Per job: every statement of the run (inserts, claims, outcomes, settling, the registry row) divided by the jobs completed; the pause watcher's reads, which run in every variant, are in their own column. Count folding, the scheduler and the rescuer are off (their statements come with time, not jobs). Δ is the run's figure minus the baseline's of the same repetition. The inserts' figures are exact (one insert call at a time, each its own conditional batch); the processing figures vary from run to run with how claims and outcomes fall into batches, whatever the variant: a Δ of a few hundredths in the totals is that.\n\n")
	b.WriteString("| variant | statements / job | Δ | LWT / job | Δ | inserts: statements / job | Δ | LWT / job | Δ | processing: statements / job | LWT / job | registry writes / job | pause reads / job | client CPU µs / job | jobs/s (noise) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, v := range ControlVariants() {
		val := func(format string, f func(*ControlsRun) float64) string {
			return values(format, controlValues(reps, v, f))
		}
		delta := func(f func(*ControlsRun) float64) string {
			if v == ControlBaseline {
				return "–"
			}
			return values("%+.3f", controlDeltas(reps, v, f))
		}
		st, lwt := (*ControlsRun).Statements, (*ControlsRun).LWTs
		ist, ilwt := (*ControlsRun).InsertStatementsPerJob, (*ControlsRun).InsertLWTsPerJob
		fmt.Fprintf(b, "| %s | %s | **%s** | %s | **%s** | %s | **%s** | %s | **%s** | %s | %s | %s | %s | %s | %s |\n", controlLabels[v],
			val("%.3f", st), delta(st), val("%.3f", lwt), delta(lwt),
			val("%.3f", ist), delta(ist), val("%.3f", ilwt), delta(ilwt),
			val("%.3f", (*ControlsRun).ProcessStatements), val("%.3f", (*ControlsRun).ProcessLWTs),
			val("%.4f", (*ControlsRun).RegistryWritesPerJob), val("%.4f", (*ControlsRun).PauseReadsPerJob),
			val("%.0f", (*ControlsRun).CPUMicrosPerJob), val("%.0f", (*ControlsRun).JobsPerS))
	}
	b.WriteString("\n")
	if c.Timers == nil {
		return
	}
	t := c.Timers
	fmt.Fprintf(b, "### Operator controls on timers (%d idle processors for %s, each on a session of its own)\n\n", t.Processors, t.Window)
	b.WriteString("Per minute is (statements − 1) ÷ the time from a processor's first to its last, per processor (every processor's value in brackets); per job is that control's statements in the runs above divided by their jobs, which depends on how long the run took (the pause reads: median and range over every run of every variant).\n\n")
	b.WriteString("| control | interval | statements per processor in the window | per processor per minute | 60 s ÷ interval | per job in the runs above |\n|---|---|---|---|---|---|\n")
	ticks := func(f func(*ControlsTimers) []Ticks, g func(Ticks) float64) []float64 {
		var vals []float64
		for _, r := range reps {
			if r.Controls != nil && r.Controls.Timers != nil {
				for _, tk := range f(r.Controls.Timers) {
					vals = append(vals, g(tk))
				}
			}
		}
		return vals
	}
	n := func(tk Ticks) float64 { return float64(tk.N) }
	registry := func(t *ControlsTimers) []Ticks { return t.Registry }
	pauses := func(t *ControlsTimers) []Ticks { return t.Pauses }
	var pausePerJob []float64
	for _, v := range ControlVariants() {
		pausePerJob = append(pausePerJob, controlValues(reps, v, (*ControlsRun).PauseReadsPerJob)...)
	}
	fmt.Fprintf(b, "| processor registry: row rewritten (`INSERT … USING TTL`) | report %s | %s | **%s** | %.1f | %s (registry variant) |\n", t.ReportInterval,
		list("%.0f", ticks(registry, n)), values("%.2f", ticks(registry, Ticks.PerMinute)), time.Minute.Seconds()/t.ReportInterval.Seconds(),
		values("%.4f", controlValues(reps, ControlRegistry, (*ControlsRun).RegistryWritesPerJob)))
	fmt.Fprintf(b, "| paused-queue watcher: one read of the queue registry | poll %s | %s | **%s** | %.1f | %s (every variant) |\n", t.PollInterval,
		list("%.0f", ticks(pauses, n)), values("%.2f", ticks(pauses, Ticks.PerMinute)), time.Minute.Seconds()/t.PollInterval.Seconds(),
		spread("%.4f", pausePerJob))
	b.WriteString("\n")
}
