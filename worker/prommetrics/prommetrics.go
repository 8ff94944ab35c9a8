// Package prommetrics exports a processor's metrics ([worker.Metrics]) to
// Prometheus:
//
//	m, err := prommetrics.New(prometheus.DefaultRegisterer, nil)
//	p, err := worker.New(store, &worker.Config{Metrics: m})
//
// # Metrics
//
// With the default namespace "jobsharp" (labels in braces):
//
//	jobsharp_jobs_claimed_total{queue, type}            jobs claimed
//	jobsharp_jobs_finished_total{queue, type, outcome}  attempts ended, by worker.Outcome
//	                                                    (succeeded, retried, abandoned, cancelled,
//	                                                    snoozed, released, lease_lost, unrecorded)
//	jobsharp_jobs_failed_total{queue, type}             failed attempts (retried + abandoned)
//	jobsharp_job_queue_latency_seconds{queue, type}     histogram: due → claimed
//	jobsharp_job_run_seconds{queue, type, outcome}      histogram: handler run time
//	jobsharp_jobs_rescued_total{queue}                  jobs whose expired lease was rescued
//	jobsharp_recurring_fired_total{queue, type}         jobs created by recurring schedules
//
// The type label is the job type: keep the number of job types bounded.
package prommetrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobsharp/cassandra/worker"
)

// Opts tune the metrics. nil means the defaults.
type Opts struct {
	// Namespace prefixes every metric name; default "jobsharp".
	Namespace string
	// LatencyBuckets are the histogram buckets of queue latency, in
	// seconds; default 5ms to 1h.
	LatencyBuckets []float64
	// RunTimeBuckets are the histogram buckets of run time, in seconds;
	// default 1ms to 1h.
	RunTimeBuckets []float64
}

// Metrics is a [worker.Metrics] that updates Prometheus collectors.
type Metrics struct {
	claimed  *prometheus.CounterVec
	finished *prometheus.CounterVec
	failed   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	runTime  *prometheus.HistogramVec
	rescued  *prometheus.CounterVec
	fired    *prometheus.CounterVec
}

var _ worker.Metrics = (*Metrics)(nil)

// New makes the collectors and registers them with reg. Returns the
// registry's error if a collector of the same name is registered already
// (use another Namespace, or a registry of its own, for a second set).
func New(reg prometheus.Registerer, opts *Opts) (*Metrics, error) {
	var o Opts
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = "jobsharp"
	}
	if o.LatencyBuckets == nil {
		o.LatencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}
	}
	if o.RunTimeBuckets == nil {
		o.RunTimeBuckets = []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}
	}
	m := &Metrics{
		claimed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "jobs_claimed_total",
			Help: "Jobs claimed by processors."}, []string{"queue", "type"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "jobs_finished_total",
			Help: "Attempts ended, by outcome (succeeded, retried, abandoned, cancelled, snoozed, released, lease_lost, unrecorded)."}, []string{"queue", "type", "outcome"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "jobs_failed_total",
			Help: "Failed attempts: handler errors, panics and timeouts, whether retried or abandoned."}, []string{"queue", "type"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "job_queue_latency_seconds",
			Help: "Time from when a job was due to its claim.", Buckets: o.LatencyBuckets}, []string{"queue", "type"}),
		runTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "job_run_seconds",
			Help: "Time handlers ran, by outcome.", Buckets: o.RunTimeBuckets}, []string{"queue", "type", "outcome"}),
		rescued: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "jobs_rescued_total",
			Help: "Jobs whose lease expired and that the rescuer returned to Failed or Abandoned."}, []string{"queue"}),
		fired: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "recurring_fired_total",
			Help: "Jobs created from occurrences of recurring schedules."}, []string{"queue", "type"}),
	}
	for _, c := range []prometheus.Collector{m.claimed, m.finished, m.failed, m.latency, m.runTime, m.rescued, m.fired} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register jobsharp metrics: %w", err)
		}
	}
	return m, nil
}

// JobClaimed implements [worker.Metrics].
func (m *Metrics) JobClaimed(queue, jobType string, latency time.Duration) {
	m.claimed.WithLabelValues(queue, jobType).Inc()
	m.latency.WithLabelValues(queue, jobType).Observe(max(latency, 0).Seconds())
}

// JobFinished implements [worker.Metrics].
func (m *Metrics) JobFinished(queue, jobType string, outcome worker.Outcome, runTime time.Duration) {
	m.finished.WithLabelValues(queue, jobType, string(outcome)).Inc()
	if outcome.Failed() {
		m.failed.WithLabelValues(queue, jobType).Inc()
	}
	m.runTime.WithLabelValues(queue, jobType, string(outcome)).Observe(runTime.Seconds())
}

// JobsRescued implements [worker.Metrics].
func (m *Metrics) JobsRescued(queue string, n int) { m.rescued.WithLabelValues(queue).Add(float64(n)) }

// RecurringFired implements [worker.Metrics].
func (m *Metrics) RecurringFired(queue, jobType string) {
	m.fired.WithLabelValues(queue, jobType).Inc()
}
