package workload

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDistributionTakesNearestRanks(t *testing.T) {
	t.Parallel()

	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	want := &Latency{N: 100, P50: 50, P99: 99, Max: 100}
	if diff := cmp.Diff(want, distribution(d)); diff != "" {
		t.Errorf("distribution() (-want +got):\n%s", diff)
	}
	if got := distribution([]time.Duration{3 * time.Millisecond}); got.P50 != 3 || got.P99 != 3 {
		t.Errorf("distribution() of one value = %+v, want it everywhere", got)
	}
	if got := distribution(nil); got != nil {
		t.Errorf("distribution(nil) = %+v, want nil", got)
	}
}

func TestCheckOK(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		workload string
		check    Check
		want     bool
	}{
		"BulkAllFound":     {Bulk, Check{Jobs: 5, Found: 5}, true},
		"BulkOneMissing":   {Bulk, Check{Jobs: 5, Found: 4}, false},
		"DrainAllOnce":     {Drain, Check{Jobs: 5, Found: 5, Handled: 5, Once: 5}, true},
		"DrainRunTwice":    {Drain, Check{Jobs: 5, Found: 5, Handled: 5, HandledTwice: 1, Once: 5}, false},
		"SteadyNotHandled": {Steady, Check{Jobs: 5, Found: 5, Handled: 4, Once: 4}, false},
		"SteadyRetried":    {Steady, Check{Jobs: 5, Found: 5, Handled: 5, Once: 4}, false},
	}
	for name, tt := range tests {
		if got := tt.check.OK(tt.workload); got != tt.want {
			t.Errorf("%s: %+v.OK(%s) = %v, want %v", name, tt.check, tt.workload, got, tt.want)
		}
	}
}

func TestForEachBoundsAndStops(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	var running, peak, calls atomic.Int64
	err := ForEach(ctx, 200, 8, func(ctx context.Context, i int) error {
		calls.Add(1)
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		return nil
	})
	if err != nil || calls.Load() != 200 || peak.Load() > 8 {
		t.Errorf("ForEach() = %v after %d calls, at most %d at once; want nil, 200, ≤ 8", err, calls.Load(), peak.Load())
	}

	boom := errors.New("boom")
	calls.Store(0)
	err = ForEach(ctx, 10_000, 4, func(ctx context.Context, i int) error {
		calls.Add(1)
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls.Load() > 100 {
		t.Errorf("ForEach() = %v after %d calls; want boom, soon after call 10", err, calls.Load())
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := ForEach(cancelled, 10, 2, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("ForEach() with an ended context = %v, want context.Canceled", err)
	}
}

func TestRunRejectsBadParams(t *testing.T) {
	t.Parallel()

	for name, p := range map[string]Params{
		"NoSlots":      {Workload: Drain, Jobs: 1},
		"NoJobs":       {Workload: Bulk, Slots: 1},
		"NoProducers":  {Workload: Steady, Slots: 1, Duration: time.Second},
		"UnknownKind":  {Workload: "sprint", Slots: 1},
		"NoDuration":   {Workload: Steady, Slots: 1, Producers: 1},
		"NegativeWarm": {Workload: Steady, Slots: 1, Producers: 1, Duration: time.Second, Warmup: -time.Second},
	} {
		if _, err := Run(context.Background(), nil, p); err == nil {
			t.Errorf("%s: Run(%+v) = nil error", name, p)
		}
	}
}

func TestReadRecordsLeavesOutJobsNotFound(t *testing.T) {
	t.Parallel()

	ids := []string{"a", "b", "c", "d"}
	got, err := ReadRecords(context.Background(), ids, 2, func(_ context.Context, id string) (*Record, error) {
		if id == "b" || id == "d" {
			return nil, nil
		}
		return &Record{ID: id, Succeeded: true, Attempts: 1}, nil
	})
	want := []Record{{ID: "a", Succeeded: true, Attempts: 1}, {ID: "c", Succeeded: true, Attempts: 1}}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("ReadRecords() = %+v, %v; want %+v, nil", got, err, want)
	}
	boom := errors.New("boom")
	if _, err := ReadRecords(context.Background(), ids, 2, func(context.Context, string) (*Record, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("ReadRecords() with a failing read: error = %v, want %v", err, boom)
	}
}
