package plot_test

import (
	"path/filepath"
	"testing"

	"github.com/jobsharp/cassandra/bench"
	"github.com/jobsharp/cassandra/bench/plot"
	"github.com/jobsharp/cassandra/bench/workload"
)

func TestThroughputWritesAPNG(t *testing.T) {
	t.Parallel()

	stat := func(v float64) *bench.Stat { return &bench.Stat{Samples: []float64{v}, Median: v, Min: v, Max: v} }
	rep := &bench.Report{Mode: bench.Quick, Config: bench.Defaults(bench.Quick), Throughput: &bench.ThroughputReport{
		Contenders: []string{bench.Ours, bench.RawGocql, bench.Previous, bench.RiverPG}, PreviousCommit: "e4a9c95811c5264bfc6155d1a745702aead41147",
		River: "v0.51.2", PostgreSQL: "15.18 (Debian)",
	}}
	for i, w := range []string{workload.Drain, workload.Steady, workload.Bulk} {
		rep.Throughput.Workloads = append(rep.Throughput.Workloads, &bench.ThroughputResult{Workload: w, JobsPerS: map[string]*bench.Stat{
			bench.Ours: stat(500 * float64(i+1)), bench.RawGocql: stat(700 * float64(i+1)), bench.Previous: stat(480 * float64(i+1)), bench.RiverPG: stat(1000 * float64(i+1)),
		}})
	}
	path := filepath.Join(t.TempDir(), "throughput.png")
	if err := plot.Throughput([]*bench.Report{rep, rep}, path); err != nil {
		t.Fatalf("Throughput() error = %v", err)
	}
	checkPNG(t, path)
	if err := plot.Throughput([]*bench.Report{{}}, path); err == nil {
		t.Error("Throughput() of a report without throughput figures: no error")
	}
}
