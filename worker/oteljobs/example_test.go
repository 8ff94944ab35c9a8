package oteljobs_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
	"github.com/jobsharp/cassandra/worker/oteljobs"
)

// Trace jobs: hand the telemetry to the store (inserts) and to the
// processor (attempts). Here the spans go to an in-memory recorder; an
// application sets its own providers (or the global ones, the default).
func ExampleNew() {
	ctx := context.Background()
	session := cqltest.ExampleSession() // an application's gocqlx session

	spans := tracetest.NewSpanRecorder()
	tel, err := oteljobs.New(&oteljobs.Opts{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))})
	if err != nil {
		log.Fatal(err)
	}
	store, err := repo.New(session, &repo.Options{InsertHook: tel})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	p, err := worker.New(store, &worker.Config{
		Queues:       map[string]worker.QueueConfig{"example-otel": {MaxWorkers: 2}},
		PollInterval: 50 * time.Millisecond,
		AttemptHook:  tel,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := worker.Handle(p, func(context.Context, *worker.Job[Ping]) error { return nil }, nil); err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- p.Run(runCtx) }()

	job, err := worker.Enqueue(ctx, store, Ping{}, &worker.EnqueueOpts{Queue: "example-otel"})
	if err != nil {
		log.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := worker.Wait(waitCtx, store, job.ID, nil); err != nil {
		log.Fatal(err)
	}
	stop() // Run returns once the attempt's span has ended
	if err := <-done; err != nil {
		log.Fatal(err)
	}

	ended := spans.Ended()
	for _, s := range ended {
		fmt.Println(s.SpanKind(), s.Name(), "same trace:", s.SpanContext().TraceID() == ended[0].SpanContext().TraceID())
	}
	// Output:
	// producer send example-otel same trace: true
	// consumer process example-otel same trace: true
}

// Ping is a job that does nothing.
type Ping struct{}

// Kind implements worker.JobArgs.
func (Ping) Kind() string { return "ping" }
