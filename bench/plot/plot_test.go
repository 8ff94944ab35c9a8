package plot_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/jobsharp/cassandra/bench"
	"github.com/jobsharp/cassandra/bench/plot"
)

func TestDueScanWritesAPNG(t *testing.T) {
	t.Parallel()

	stat := func(v ...float64) *bench.Stat {
		return &bench.Stat{Samples: v, Median: v[0], Min: v[0], Max: v[len(v)-1]}
	}
	rep := &bench.Report{Mode: bench.Quick, Config: bench.Config{DueFetch: 100}}
	for i, h := range []int{0, 2000, 10000} {
		rep.DueScan = append(rep.DueScan, &bench.DueScanResult{History: h,
			LatencyMS: map[string]*bench.Stat{bench.Ours: stat(20, 25), bench.Orig: stat(float64(150*(i+1)), float64(160*(i+1)))},
			Found:     map[string]*bench.Stat{bench.Ours: stat(100), bench.Orig: stat(float64(100 - 50*i))},
		})
	}
	path := filepath.Join(t.TempDir(), "due.png")
	if err := plot.DueScan(rep, path); err != nil {
		t.Fatalf("DueScan() error = %v", err)
	}
	checkPNG(t, path)
	if err := plot.DueScan(&bench.Report{}, path); err == nil {
		t.Error("DueScan() of a report without due-scan figures: no error")
	}
}

// checkPNG fails unless path holds a PNG of some size.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10_000 {
		t.Errorf("%s: %d bytes that are not a PNG", path, len(b))
	}
}
