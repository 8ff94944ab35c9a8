package prommetrics_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
	"github.com/jobsharp/cassandra/worker/prommetrics"
)

func TestMain(m *testing.M) { cqltest.Main(m, queries.CreateStatements()...) }

// TestProcessorMetrics runs a processor with the adapter through jobs that
// succeed, fail and are abandoned, and reads the registry.
func TestProcessorMetrics(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	reg := prometheus.NewPedanticRegistry()
	m, err := prommetrics.New(reg, nil)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	store, err := repo.New(cqltest.Session(t), nil)
	if err != nil {
		t.Fatalf("repo.New() error = %v", err)
	}
	queue := cqltest.Name(t)
	p, err := worker.New(store, &worker.Config{
		Queues:       map[string]worker.QueueConfig{queue: {MaxWorkers: 4}},
		Lease:        3 * time.Second,
		PollInterval: 50 * time.Millisecond,
		Backoff:      func(int) time.Duration { return 10 * time.Millisecond },
		Metrics:      m,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("worker.New() error = %v", err)
	}
	err = worker.Handle(p, func(ctx context.Context, job *worker.Job[mJob]) error {
		if job.Args == "fail" {
			return errors.New("planned")
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("Handle() error = %v", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	stopped := false
	defer func() {
		if !stopped {
			stop()
			<-done
		}
	}()

	var ids []*worker.Job[mJob]
	for _, a := range []mJob{"ok", "ok", "ok", "fail"} {
		j, err := worker.Enqueue(ctx, store, a, &worker.EnqueueOpts{Queue: queue, MaxRetries: 1})
		if err != nil {
			t.Fatalf("Enqueue() error = %v", err)
		}
		ids = append(ids, j)
	}
	for _, j := range ids {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		if _, err := worker.Wait(wctx, store, j.ID, nil); err != nil {
			t.Fatalf("Wait() error = %v", err)
		}
		cancel()
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run() error = %v", err)
	}
	stopped = true

	for _, tc := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"claimed", counter(t, reg, "jobsharp_jobs_claimed_total", queue, "m.job", ""), 5},
		{"succeeded", counter(t, reg, "jobsharp_jobs_finished_total", queue, "m.job", "succeeded"), 3},
		{"retried", counter(t, reg, "jobsharp_jobs_finished_total", queue, "m.job", "retried"), 1},
		{"abandoned", counter(t, reg, "jobsharp_jobs_finished_total", queue, "m.job", "abandoned"), 1},
		{"failed", counter(t, reg, "jobsharp_jobs_failed_total", queue, "m.job", ""), 2},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "jobsharp_job_queue_latency_seconds", "jobsharp_job_run_seconds"); err != nil || n != 4 {
		t.Errorf("histogram series = %d, %v; want 1 latency + 3 run time (one per outcome)", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP jobsharp_jobs_failed_total Failed attempts: handler errors, panics and timeouts, whether retried or abandoned.
# TYPE jobsharp_jobs_failed_total counter
jobsharp_jobs_failed_total{queue="`+queue+`",type="m.job"} 2
`), "jobsharp_jobs_failed_total"); err != nil {
		t.Errorf("exposition: %v", err)
	}
}

// counter returns a collector for one series, read through the registry.
func counter(t *testing.T, reg *prometheus.Registry, name, queue, jobType, outcome string) prometheus.Collector {
	t.Helper()
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("Gather() error = %v", err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["queue"] == queue && labels["type"] == jobType && labels["outcome"] == outcome {
					ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "", nil, nil), prometheus.CounterValue, m.GetCounter().GetValue())
				}
			}
		}
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(f, ch) }
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func TestNewRejectsASecondRegistration(t *testing.T) {
	t.Parallel()

	reg := prometheus.NewRegistry()
	if _, err := prommetrics.New(reg, nil); err != nil {
		t.Fatalf("New() error = %v", err)
	}
	if _, err := prommetrics.New(reg, nil); err == nil || !strings.Contains(err.Error(), "register jobsharp metrics") {
		t.Errorf("second New() on one registry: error = %v, want a registration error", err)
	}
	if _, err := prommetrics.New(reg, &prommetrics.Opts{Namespace: "other"}); err != nil {
		t.Errorf("New() with another namespace: error = %v", err)
	}
}

// mJob is a job that fails when it is "fail".
type mJob string

func (mJob) Kind() string { return "m.job" }
