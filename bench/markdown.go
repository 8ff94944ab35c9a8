package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Markdown renders reports as Markdown tables. With several reports (runs
// of the same mode), each figure is the median of the runs' medians, and
// the runs' own values follow in brackets; every ratio is taken within a
// run first, then the median of those ratios is shown.
func Markdown(reps ...*Report) string {
	if len(reps) == 0 {
		return ""
	}
	var b strings.Builder
	m := reps[0].Machine
	fmt.Fprintf(&b, "Mode %s, %d run(s). Machine: %s/%s, %d CPUs (%s), %.0f GiB, %s, Cassandra %s.\n", reps[0].Mode, len(reps), m.OS, m.Arch, m.CPUs, m.CPUModel, m.MemoryGiB, m.Go, m.Cassandra)
	for i, r := range reps {
		fmt.Fprintf(&b, "Run %d: started %s, took %s, load average %.2f/%.2f/%.2f before, %.2f/%.2f/%.2f after.\n", i+1, r.Started.Format("2006-01-02 15:04 MST"), r.Duration.Round(1e9),
			r.Machine.LoadBefore[0], r.Machine.LoadBefore[1], r.Machine.LoadBefore[2], r.Machine.LoadAfter[0], r.Machine.LoadAfter[1], r.Machine.LoadAfter[2])
	}
	b.WriteString("\n")
	if reps[0].Store != nil {
		storeTable(&b, reps)
	}
	if reps[0].Layer != nil {
		layerTable(&b, reps)
	}
	if reps[0].Hints != nil {
		hintTable(&b, reps)
	}
	if reps[0].Claim != nil {
		claimTable(&b, reps)
	}
	if reps[0].DueScan != nil {
		dueTable(&b, reps)
	}
	if reps[0].Throughput != nil {
		throughputTable(&b, reps)
	}
	if reps[0].Controls != nil {
		controlsTable(&b, reps)
	}
	return b.String()
}

// across returns the median over runs of f(run), and the runs' values.
func across(reps []*Report, f func(*Report) float64) (float64, []float64) {
	vals := make([]float64, 0, len(reps))
	for _, r := range reps {
		if v := f(r); !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	return median(slices.Sorted(slices.Values(vals))), vals
}

// cell formats a figure across runs: "123 (120, 123, 130)".
func cell(format string, reps []*Report, f func(*Report) float64) string {
	med, vals := across(reps, f)
	if math.IsNaN(med) {
		return "–"
	}
	s := fmt.Sprintf(format, med)
	if len(vals) > 1 {
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprintf(format, v)
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func med(s *Stat) float64 {
	if s == nil || len(s.Samples) == 0 {
		return math.NaN()
	}
	return s.Median
}

func storeTable(b *strings.Builder, reps []*Report) {
	b.WriteString("### Store throughput (jobs stored per second)\n\n")
	b.WriteString("| how | ours | raw gocql | original | ours / raw gocql | ours / original | statements per job: ours, raw, original |\n|---|---|---|---|---|---|---|\n")
	for i, s := range reps[0].Store {
		at := func(c string) func(*Report) float64 {
			return func(r *Report) float64 { return med(r.Store[i].JobsPerS[c]) }
		}
		rt := func(c string) float64 { return s.PerJobRTs[c].PerOp }
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %.2f, %.2f, %.2f |\n", s.Mode,
			cell("%.0f", reps, at(Ours)), cell("%.0f", reps, at(Raw)), cell("%.0f", reps, at(Orig)),
			cell("%.2f", reps, func(r *Report) float64 { return ratio(at(Ours)(r), at(Raw)(r)) }),
			cell("%.2f", reps, func(r *Report) float64 { return ratio(at(Ours)(r), at(Orig)(r)) }),
			rt(Ours), rt(Raw), rt(Orig))
	}
	b.WriteString("\n")
}

func layerTable(b *strings.Builder, reps []*Report) {
	b.WriteString("### Generated layer vs hand-written gocql (per operation)\n\n")
	b.WriteString("| operation | latency µs: generated | hand-written | ratio | client CPU µs: generated | hand-written | ratio | allocations: generated | hand-written |\n|---|---|---|---|---|---|---|---|---|\n")
	for i, l := range reps[0].Layer {
		f := func(kind, c string) func(*Report) float64 {
			return func(r *Report) float64 {
				x := r.Layer[i]
				return med(map[string]map[string]*Stat{"lat": x.LatencyUS, "cpu": x.CPUUS, "alloc": x.Allocs}[kind][c])
			}
		}
		rat := func(kind string) func(*Report) float64 {
			return func(r *Report) float64 { return ratio(f(kind, Generated)(r), f(kind, HandGocql)(r)) }
		}
		fmt.Fprintf(b, "| %s | %s | %s | **%s** | %s | %s | %s | %s | %s |\n", l.Op,
			cell("%.0f", reps, f("lat", Generated)), cell("%.0f", reps, f("lat", HandGocql)), cell("%.2f", reps, rat("lat")),
			cell("%.0f", reps, f("cpu", Generated)), cell("%.0f", reps, f("cpu", HandGocql)), cell("%.2f", reps, rat("cpu")),
			cell("%.0f", reps, f("alloc", Generated)), cell("%.0f", reps, f("alloc", HandGocql)))
	}
	b.WriteString("\n")
}

func hintTable(b *strings.Builder, reps []*Report) {
	fmt.Fprintf(b, "### Hint rows of %d jobs: batch or parallel (invariant 7)\n\n", reps[0].Config.HintJobs)
	b.WriteString("Time to write every row; the baseline is one statement per row, 32 in flight (what repo did before this measurement; it now writes one unlogged batch per partition, ≤ 50 rows).\n\n")
	b.WriteString("| rows | strategy | in flight | statements | largest batch (est. bytes) | batch warnings | ms | baseline / this |\n|---|---|---|---|---|---|---|---|\n")
	baseline := func(r *Report, set string) float64 {
		for _, h := range r.Hints {
			if h.Set == set && h.Strategy == HintSingle && h.Parallelism == writeConcurrency {
				return med(h.MS)
			}
		}
		return math.NaN()
	}
	for i, h := range reps[0].Hints {
		ms := func(r *Report) float64 { return med(r.Hints[i].MS) }
		inflight := fmt.Sprint(h.Parallelism)
		if h.Strategy == HintOneBatch {
			inflight = "1"
		}
		warn := fmt.Sprint(h.Warnings)
		if h.Warnings < 0 {
			warn = "?"
		}
		msCell, ratioCell := cell("%.1f", reps, ms), cell("%.1f×", reps, func(r *Report) float64 { return ratio(baseline(r, h.Set), ms(r)) })
		if h.Err != "" {
			msCell, ratioCell = "fails: "+h.Err, "–"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d | %d | %s | %s | %s |\n", h.Set, h.Strategy, inflight, h.Statements, h.LargestBatchBytes, warn, msCell, ratioCell)
	}
	b.WriteString("\n")
}

func claimTable(b *strings.Builder, reps []*Report) {
	c0 := reps[0].Config
	fmt.Fprintf(b, "### Claims (backlog %d due jobs, %d per claim call)\n\n", c0.ClaimBacklog, c0.ClaimLimit)
	b.WriteString("| workers | ours claims/s | original claims/s | ours / original | jobs claimed twice: ours | original | left unclaimed: ours | original | statements per claimed job: ours | original |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for i, c := range reps[0].Claim {
		f := func(kind, who string) func(*Report) float64 {
			return func(r *Report) float64 {
				x := r.Claim[i]
				return med(map[string]map[string]*Stat{"rate": x.ClaimsPerS, "double": x.DoubleClaims, "left": x.Unclaimed}[kind][who])
			}
		}
		rts := func(who string) func(*Report) float64 {
			return func(r *Report) float64 { return r.Claim[i].RTs[who].PerOp }
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | **%s** | %s | %s | %s | %s | %s |\n", c.Workers,
			cell("%.0f", reps, f("rate", Ours)), cell("%.0f", reps, f("rate", Orig)),
			cell("%.1f", reps, func(r *Report) float64 { return ratio(f("rate", Ours)(r), f("rate", Orig)(r)) }),
			cell("%.0f", reps, maxOf(func(r *Report) *Stat { return r.Claim[i].DoubleClaims[Ours] })), cell("%.0f", reps, f("double", Orig)),
			cell("%.0f", reps, f("left", Ours)), cell("%.0f", reps, f("left", Orig)),
			cell("%.1f", reps, rts(Ours)), cell("%.1f", reps, rts(Orig)))
	}
	b.WriteString("\nJobs claimed twice by ours is the maximum over repetitions (it must be 0); the other figures are medians.\n\n")
}

func maxOf(f func(*Report) *Stat) func(*Report) float64 {
	return func(r *Report) float64 {
		s := f(r)
		if s == nil || len(s.Samples) == 0 {
			return math.NaN()
		}
		return s.Max
	}
}

func dueTable(b *strings.Builder, reps []*Report) {
	c0 := reps[0].Config
	fmt.Fprintf(b, "### Due scan: fetch %d due jobs as history grows\n\n", c0.DueFetch)
	b.WriteString("\"× empty\" is the median, over repetitions, of the latency divided by that of the same scan of an empty history made right after it (ours: a fresh queue; the original: a keyspace of its own).\n\n")
	b.WriteString("| processed jobs | simulated span | ours ms | × empty | original ms | × empty | original / ours | due jobs found: ours | original | statements per scan: ours | original | rows read to find them (live + tombstones): ours | original |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, d := range reps[0].DueScan {
		f := func(kind, who string) func(*Report) float64 {
			return func(r *Report) float64 {
				if i >= len(r.DueScan) {
					return math.NaN()
				}
				x := r.DueScan[i]
				return med(map[string]map[string]*Stat{"ms": x.LatencyMS, "found": x.Found}[kind][who])
			}
		}
		vsEmpty := func(who string) func(*Report) float64 {
			return func(r *Report) float64 {
				if i >= len(r.DueScan) {
					return math.NaN()
				}
				x := r.DueScan[i]
				if x.VsEmpty == nil {
					return math.NaN()
				}
				return med(x.VsEmpty[who])
			}
		}
		read := func(who string) string {
			c := d.Read[who]
			return fmt.Sprintf("%d + %d", c.LiveRows, c.Tombstones)
		}
		fmt.Fprintf(b, "| %d | %s | %s | **%s** | %s | %s | %s | %s | %s | %.0f | %.0f | %s | %s |\n", d.History, d.SimulatedSpan.Round(60e9),
			cell("%.1f", reps, f("ms", Ours)), cell("%.2f", reps, vsEmpty(Ours)),
			cell("%.0f", reps, f("ms", Orig)), cell("%.1f", reps, vsEmpty(Orig)),
			cell("%.0f", reps, func(r *Report) float64 { return ratio(f("ms", Orig)(r), f("ms", Ours)(r)) }),
			cell("%.0f", reps, f("found", Ours)), cell("%.0f", reps, f("found", Orig)),
			d.RTs[Ours].PerOp, d.RTs[Orig].PerOp, read(Ours), read(Orig))
	}
	b.WriteString("\nStatement counts and rows read are those of the first run shown. Rows read to find the due jobs: ours, the directories, the due index and the home partitions from the watermark (new jobs are found where they live); the original, its scheduled index.\n\n")
	b.WriteString("Our scan split in two (the same reads, made apart; medians): the index reads (watermark, directories, due index), then the job reads (home partitions from the watermark, jobs of due entries by id).\n\n| processed jobs | index reads ms | × at history 0 | job reads ms | × at history 0 |\n|---|---|---|---|---|\n")
	for i, d := range reps[0].DueScan {
		f := func(which string) func(*Report) float64 {
			return func(r *Report) float64 {
				if i >= len(r.DueScan) {
					return math.NaN()
				}
				x := r.DueScan[i]
				return med(map[string]*Stat{"index": x.IndexMS, "jobs": x.JobsMS}[which])
			}
		}
		vsEmpty := func(which string) func(*Report) float64 {
			return func(r *Report) float64 {
				x := r.DueScan[0]
				return ratio(f(which)(r), med(map[string]*Stat{"index": x.IndexMS, "jobs": x.JobsMS}[which]))
			}
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s |\n", d.History, cell("%.1f", reps, f("index")), cell("%.2f", reps, vsEmpty("index")), cell("%.1f", reps, f("jobs")), cell("%.2f", reps, vsEmpty("jobs")))
	}
	b.WriteString("\n")
}
