package prommetrics_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/gocql/gocql"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/scylladb/gocqlx/v2"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
	"github.com/jobsharp/cassandra/worker/prommetrics"
)

// Export a processor's metrics: register them, hand them to the processor,
// and serve the registry (promhttp.HandlerFor) as usual.
func ExampleNew() {
	ctx := context.Background()
	cluster := gocql.NewCluster(cqltest.Hosts()...)
	cluster.Keyspace = cqltest.PackageKeyspace()
	session, err := gocqlx.WrapSession(cluster.CreateSession())
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()
	store, err := repo.New(session, nil)
	if err != nil {
		log.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	metrics, err := prommetrics.New(reg, nil)
	if err != nil {
		log.Fatal(err)
	}
	p, err := worker.New(store, &worker.Config{
		Queues:       map[string]worker.QueueConfig{"example-metrics": {MaxWorkers: 2}},
		PollInterval: 50 * time.Millisecond,
		Metrics:      metrics,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := worker.Handle(p, func(context.Context, *worker.Job[Noop]) error { return nil }, nil); err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- p.Run(runCtx) }()

	job, err := worker.Enqueue(ctx, store, Noop{}, &worker.EnqueueOpts{Queue: "example-metrics"})
	if err != nil {
		log.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := worker.Wait(waitCtx, store, job.ID, nil); err != nil {
		log.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		log.Fatal(err)
	}

	families, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "jobsharp_jobs_finished_total" {
			for _, m := range f.GetMetric() {
				fmt.Println(f.GetName(), labels(m.GetLabel()), m.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// jobsharp_jobs_finished_total outcome=succeeded queue=example-metrics type=noop 1
}

func labels(ls []*dto.LabelPair) string {
	out := ""
	for i, l := range ls {
		if i > 0 {
			out += " "
		}
		out += l.GetName() + "=" + l.GetValue()
	}
	return out
}

// Noop is a job that does nothing.
type Noop struct{}

// Kind implements worker.JobArgs.
func (Noop) Kind() string { return "noop" }
