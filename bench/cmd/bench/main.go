// Command bench measures the job store against raw gocql and the original
// JobSharp.Cassandra strategy on a Cassandra node, and its throughput
// against the previous design and River, and writes the report.
//
//	go run ./bench/cmd/bench -mode quick -out docs/bench             # a few minutes
//	go run ./bench/cmd/bench -mode full -out docs/bench -png docs/due-scan.png
//	go run ./bench/cmd/bench -summarize docs/bench/quick-*.json      # one table over several runs
//	go run ./bench/cmd/bench -scenarios controls -out docs/bench     # statements per job of each control; under 2 minutes
//	scripts/bench-setup && go run ./bench/cmd/bench -mode full -scenarios throughput -out docs/bench -throughput-png docs/throughput.png
//
// It writes <out>/<mode>-<time>.json (every sample) and .md (the tables),
// and prints the tables. -png draws the due-scan plot of the run (or of the
// last report given to -summarize); -throughput-png the throughput bar chart
// (of the run, or of every report given to -summarize). The throughput
// scenario needs PostgreSQL for River: scripts/bench-setup starts one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/jobsharp/cassandra/bench"
	"github.com/jobsharp/cassandra/bench/plot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		mode       = fs.String("mode", "quick", "quick (a few minutes), full (the issues' figures; long) or smoke")
		hosts      = fs.String("hosts", envOr("JOBSHARP_TEST_HOSTS", "127.0.0.1"), "Cassandra contact points, comma separated")
		port       = fs.Int("port", 9042, "CQL port")
		scenarios  = fs.String("scenarios", "", "scenarios to run, comma separated ("+strings.Join(bench.Scenarios(), ",")+"); default all")
		out        = fs.String("out", "", "directory for the JSON and Markdown reports; empty writes none")
		png        = fs.String("png", "", "draw the due-scan plot into this PNG file")
		cpuprofile = fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
		keep       = fs.Bool("keep", false, "keep the benchmark keyspaces")
		summarize  = fs.Bool("summarize", false, "run nothing: print one table over the JSON reports given as arguments")
		contenders = fs.String("contenders", "", "throughput contenders, comma separated ("+strings.Join(bench.ThroughputContenders(), ",")+"); default all")
		previous   = fs.String("previous", bench.DefaultPreviousCommit, "the commit whose store is the throughput scenario's previous design")
		pgDSN      = fs.String("pg-dsn", envOr("JOBSHARP_BENCH_PG", bench.DefaultPostgresDSN), "River's PostgreSQL (scripts/bench-setup starts one)")
		tpPNG      = fs.String("throughput-png", "", "draw the throughput bar chart into this PNG file")
		tpReps     = fs.Int("throughput-reps", 0, "repetitions of each throughput workload per contender (0: the mode's)")
		tpFirst    = fs.Int("throughput-first", 0, "place in the rotation of the contenders' order of the first repetition (runs of one repetition: pass 0, 1, 2, … in turn)")
		drainJobs  = fs.Int("drain-jobs", 0, "jobs of the throughput drain (0: the mode's)")
		bulkJobs   = fs.Int("bulk-jobs", 0, "jobs of the throughput bulk insert (0: the mode's)")
		slots      = fs.Int("slots", 0, "handler slots of the throughput processor (0: 100)")
		producers  = fs.Int("producers", 0, "producers of the throughput steady workload (0: 8)")
		steadyFor  = fs.Duration("steady-duration", 0, "measured window of the steady workload (0: the mode's)")
		ctlJobs    = fs.Int("controls-jobs", 0, "jobs of each run of the controls scenario (0: the mode's)")
		ctlReps    = fs.Int("controls-reps", 0, "runs of each variant of the controls scenario (0: the mode's)")
		ctlWindow  = fs.Duration("controls-window", 0, "how long the controls scenario's idle processors run (0: the mode's)")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *summarize {
		return summarizeReports(fs.Args(), *png, *tpPNG, stdout, stderr)
	}
	cfg := bench.Config{
		Mode: bench.Mode(*mode), Port: *port, Keep: *keep, Log: stderr, PreviousCommit: *previous, PostgresDSN: *pgDSN,
		ThroughputReps: *tpReps, ThroughputFirst: *tpFirst, DrainJobs: *drainJobs, BulkJobs: *bulkJobs, Slots: *slots, SteadyProducers: *producers, SteadyDuration: *steadyFor,
		ControlsJobs: *ctlJobs, ControlsReps: *ctlReps, ControlsWindow: *ctlWindow,
	}
	if *contenders != "" {
		cfg.Contenders = strings.Split(*contenders, ",")
	}
	for h := range strings.SplitSeq(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.Hosts = append(cfg.Hosts, h)
		}
	}
	if *scenarios != "" {
		cfg.Scenarios = strings.Split(*scenarios, ",")
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	md := bench.Markdown(rep)
	fmt.Fprint(stdout, md)
	if *out != "" {
		if err := save(*out, rep, md); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	if *png != "" && len(rep.DueScan) > 0 {
		if err := plot.DueScan(rep, *png); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	if *tpPNG != "" && rep.Throughput != nil {
		if err := plot.Throughput([]*bench.Report{rep}, *tpPNG); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	return 0
}

func save(dir string, rep *bench.Report, md string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%s", rep.Mode, rep.Started.Format("20060102-150405")))
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".md", []byte(md), 0o644)
}

func summarizeReports(paths []string, png, tpPNG string, stdout, stderr io.Writer) int {
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "bench: -summarize needs JSON reports as arguments")
		return 2
	}
	var reps []*bench.Report
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil {
			var r bench.Report
			if err = json.Unmarshal(b, &r); err == nil {
				reps = append(reps, &r)
				continue
			}
		}
		fmt.Fprintf(stderr, "bench: read %s: %v\n", p, err)
		return 1
	}
	for _, r := range reps[1:] {
		if r.Mode != reps[0].Mode {
			fmt.Fprintln(stderr, "bench:", errors.New("-summarize takes reports of one mode"))
			return 2
		}
	}
	fmt.Fprint(stdout, bench.Markdown(reps...))
	if png != "" {
		if err := plot.DueScan(reps[len(reps)-1], png); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	if tpPNG != "" {
		if err := plot.Throughput(reps, tpPNG); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
