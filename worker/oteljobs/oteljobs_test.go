package oteljobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobsharp/cassandra/bench/cqlcount"
	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
	"github.com/jobsharp/cassandra/worker/oteljobs"
)

func TestMain(m *testing.M) { cqltest.Main(m, queries.CreateStatements()...) }

// telemetry is a Telemetry on in-memory exporters: a span recorder and a
// manual metric reader.
type telemetry struct {
	tel    *oteljobs.Telemetry
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
}

func newTelemetry(t *testing.T, opts *oteljobs.Opts) *telemetry {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	var o oteljobs.Opts
	if opts != nil {
		o = *opts
	}
	o.TracerProvider, o.MeterProvider = tp, mp
	tel, err := oteljobs.New(&o)
	if err != nil {
		t.Fatalf("oteljobs.New() error = %v", err)
	}
	return &telemetry{tel: tel, spans: rec, tp: tp, reader: reader}
}

// ended returns the ended spans named name.
func (tt *telemetry) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range tt.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// metric returns the data of the metric named name.
func (tt *telemetry) metric(t *testing.T, name string) metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tt.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect() error = %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	t.Fatalf("no metric %s recorded", name)
	return nil
}

// points sums a counter's or counts a histogram's data points per
// attribute set, keyed by the attributes rendered as text.
func (tt *telemetry) points(t *testing.T, name string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	switch d := tt.metric(t, name).(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out[attrs(p.Attributes)] += p.Value
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out[attrs(p.Attributes)] += int64(p.Count)
		}
	default:
		t.Fatalf("metric %s is a %T", name, d)
	}
	return out
}

func attrs(set attribute.Set) string {
	var s string
	for _, kv := range set.ToSlice() {
		s += fmt.Sprintf("%s=%s ", kv.Key, kv.Value.String())
	}
	return s
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// wantAttrs checks that span s has every attribute of want.
func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want ...attribute.KeyValue) {
	t.Helper()
	for _, kv := range want {
		got, ok := attr(s, kv.Key)
		if !ok || got != kv.Value {
			t.Errorf("span %s: %s = %v (set %v), want %v", s.Name(), kv.Key, got.String(), ok, kv.Value.String())
		}
	}
}

// messaging is the semantic conventions' attributes of an operation on a
// job.
func messaging(op, queue string, id gocql.UUID) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("messaging.system", "jobsharp"),
		attribute.String("messaging.destination.name", queue),
		attribute.String("messaging.operation.name", op),
		attribute.String("messaging.operation.type", op),
		attribute.String("messaging.message.id", id.String()),
	}
}

// flakyError is a failure with a type of its own: error.type names it.
type flakyError struct{ attempt int }

func (e *flakyError) Error() string { return fmt.Sprintf("attempt %d fails", e.attempt) }

// flaky fails its first attempt.
type flaky struct{ N int }

func (flaky) Kind() string { return "otel.flaky" }

// run starts a processor on store for queue with the telemetry's hook and a
// handler of flaky jobs that fails first attempts, and returns the
// attempts' handler contexts' span contexts.
func run(t *testing.T, store *repo.Store, queue string, tt *telemetry) *spansSeen {
	t.Helper()
	p, err := worker.New(store, &worker.Config{
		Queues:        map[string]worker.QueueConfig{queue: {MaxWorkers: 4}},
		Lease:         3 * time.Second,
		PollInterval:  50 * time.Millisecond,
		ClaimCooldown: 10 * time.Millisecond,
		Backoff:       func(int) time.Duration { return 20 * time.Millisecond },
		Logger:        cqltest.Logger(t, slog.LevelWarn),
		AttemptHook:   tt.tel,
	})
	if err != nil {
		t.Fatalf("worker.New() error = %v", err)
	}
	seen := &spansSeen{}
	err = worker.Handle(p, func(ctx context.Context, job *worker.Job[flaky]) error {
		seen.add(trace.SpanContextFromContext(ctx))
		if job.Attempt() == 1 {
			return fmt.Errorf("flaky job %d: %w", job.Args.N, &flakyError{attempt: 1})
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("Handle() error = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() error = %v", err)
		}
	})
	return seen
}

type spansSeen struct {
	mu sync.Mutex
	sc []trace.SpanContext
}

func (s *spansSeen) add(sc trace.SpanContext) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sc = append(s.sc, sc)
}

func (s *spansSeen) all() []trace.SpanContext {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sc)
}

func newStore(t *testing.T, session gocqlx.Session, hook repo.InsertHook) *repo.Store {
	t.Helper()
	store, err := repo.New(session, &repo.Options{Logger: cqltest.Logger(t, slog.LevelWarn), InsertHook: hook})
	if err != nil {
		t.Fatalf("repo.New() error = %v", err)
	}
	t.Cleanup(store.Close)
	return store
}

func wait(t *testing.T, store *repo.Store, id gocql.UUID) *repo.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := worker.Wait(ctx, store, id, &worker.WaitOpts{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("Wait(%s) error = %v", id, err)
	}
	return job
}

// eventually waits until cond holds, for the spans that end after the
// outcome is written (Wait may see the job finished a moment before).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A job enqueued inside a request's span is sent in a producer span, child
// of the request; its first attempt fails and its retry succeeds, and both
// attempts are consumer spans, children of the producer span: one trace
// links enqueue → attempt → retry. The metrics count one send, two
// deliveries and two processings, one failed.
func TestTraceLinksEnqueueAttemptAndRetry(t *testing.T) {
	t.Parallel()

	tt := newTelemetry(t, nil)
	store := newStore(t, cqltest.NewSession(t), tt.tel)
	queue := cqltest.Queue(t)

	ctx, request := tt.tp.Tracer("test").Start(context.Background(), "request")
	job, err := worker.Enqueue(ctx, store, flaky{N: 1}, &worker.EnqueueOpts{Queue: queue})
	request.End()
	if err != nil {
		t.Fatalf("Enqueue() error = %v", err)
	}
	seen := run(t, store, queue, tt)
	if got := wait(t, store, job.ID); got.State != repo.StateSucceeded || got.RetryCount != 1 {
		t.Fatalf("job ended %s after %d retries, want Succeeded after 1", got.State, got.RetryCount)
	}
	eventually(t, "two process spans", func() bool { return len(tt.ended("process "+queue)) == 2 })

	sends := tt.ended("send " + queue)
	if len(sends) != 1 {
		t.Fatalf("send spans = %d, want 1", len(sends))
	}
	send := sends[0]
	if send.SpanKind() != trace.SpanKindProducer {
		t.Errorf("send span kind = %s, want producer", send.SpanKind())
	}
	if send.Parent().SpanID() != request.SpanContext().SpanID() || send.SpanContext().TraceID() != request.SpanContext().TraceID() {
		t.Errorf("send span's parent = %s, want the request span %s", send.Parent().SpanID(), request.SpanContext().SpanID())
	}
	wantAttrs(t, send, append(messaging("send", queue, job.ID), attribute.String("jobsharp.job.type", "otel.flaky"))...)
	if _, ok := attr(send, "messaging.batch.message_count"); ok {
		t.Errorf("a single job's send span has messaging.batch.message_count")
	}
	if tp := job.Metadata["traceparent"]; tp != fmt.Sprintf("00-%s-%s-01", send.SpanContext().TraceID(), send.SpanContext().SpanID()) {
		t.Errorf("job metadata traceparent = %q, want the send span's context", tp)
	}

	procs := tt.ended("process " + queue)
	slices.SortFunc(procs, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	for i, p := range procs {
		if p.SpanKind() != trace.SpanKindConsumer {
			t.Errorf("attempt %d: span kind = %s, want consumer", i+1, p.SpanKind())
		}
		if p.Parent().SpanID() != send.SpanContext().SpanID() || p.SpanContext().TraceID() != send.SpanContext().TraceID() || !p.Parent().IsRemote() {
			t.Errorf("attempt %d: parent %s in trace %s, want the send span %s of trace %s", i+1, p.Parent().SpanID(), p.SpanContext().TraceID(), send.SpanContext().SpanID(), send.SpanContext().TraceID())
		}
		wantAttrs(t, p, append(messaging("process", queue, job.ID), attribute.Int("jobsharp.job.attempt", i+1))...)
	}
	wantAttrs(t, procs[0], attribute.String("error.type", "*oteljobs_test.flakyError"), attribute.String("jobsharp.job.outcome", "retried"))
	if procs[0].Status().Code != codes.Error || len(procs[0].Events()) == 0 {
		t.Errorf("failed attempt: status %v with %d events, want Error with the error recorded", procs[0].Status(), len(procs[0].Events()))
	}
	wantAttrs(t, procs[1], attribute.String("jobsharp.job.outcome", "succeeded"))
	if _, ok := attr(procs[1], "error.type"); ok || procs[1].Status().Code == codes.Error {
		t.Errorf("succeeded attempt has error.type or an error status")
	}
	// The handlers ran inside the attempts' spans.
	handlerSpans := seen.all()
	if len(handlerSpans) != 2 || handlerSpans[0].SpanID() != procs[0].SpanContext().SpanID() || handlerSpans[1].SpanID() != procs[1].SpanContext().SpanID() {
		t.Errorf("handler contexts carry spans %v, want the two process spans", handlerSpans)
	}

	base := "messaging.destination.name=" + queue + " "
	for name, want := range map[string]map[string]int64{
		"messaging.client.operation.duration": {base + "messaging.operation.name=send messaging.operation.type=send messaging.system=jobsharp ": 1},
		"messaging.client.sent.messages":      {base + "messaging.operation.name=send messaging.system=jobsharp ": 1},
		"messaging.client.consumed.messages":  {base + "messaging.operation.name=process messaging.system=jobsharp ": 2},
		"messaging.process.duration": {
			base + "messaging.operation.name=process messaging.operation.type=process messaging.system=jobsharp ":                                           1,
			"error.type=*oteljobs_test.flakyError " + base + "messaging.operation.name=process messaging.operation.type=process messaging.system=jobsharp ": 1,
		},
	} {
		got := tt.points(t, name)
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s{%s} = %d, want %d (all: %v)", name, k, got[k], n, got)
			}
		}
	}
}

// EnqueueMany is one send span with messaging.batch.message_count; every
// job carries its context, and every attempt is its child.
func TestBatchInsertIsOneSpan(t *testing.T) {
	t.Parallel()

	tt := newTelemetry(t, nil)
	store := newStore(t, cqltest.NewSession(t), tt.tel)
	queue := cqltest.Queue(t)
	const n = 5
	args := make([]flaky, n)
	for i := range args {
		args[i] = flaky{N: i}
	}
	jobs, err := worker.EnqueueMany(context.Background(), store, args, &worker.EnqueueOpts{Queue: queue, MaxRetries: -1})
	if err != nil {
		t.Fatalf("EnqueueMany() error = %v", err)
	}
	sends := tt.ended("send " + queue)
	if len(sends) != 1 {
		t.Fatalf("send spans = %d, want 1", len(sends))
	}
	send := sends[0]
	wantAttrs(t, send, attribute.Int("messaging.batch.message_count", n), attribute.String("messaging.operation.type", "send"))
	if _, ok := attr(send, "messaging.message.id"); ok {
		t.Errorf("a batch's send span has messaging.message.id")
	}
	run(t, store, queue, tt)
	for _, j := range jobs {
		// MaxRetries -1: the failing first attempt abandons the job.
		if got := wait(t, store, j.ID); got.State != repo.StateAbandoned {
			t.Errorf("job %d ended %s, want Abandoned", j.Args.N, got.State)
		}
	}
	eventually(t, "a process span per job", func() bool { return len(tt.ended("process "+queue)) == n })
	for _, p := range tt.ended("process " + queue) {
		if p.Parent().SpanID() != send.SpanContext().SpanID() {
			t.Errorf("process span of %v: parent %s, want the batch's send span %s", p.Attributes(), p.Parent().SpanID(), send.SpanContext().SpanID())
		}
		wantAttrs(t, p, attribute.String("jobsharp.job.outcome", "abandoned"), attribute.String("error.type", "*oteljobs_test.flakyError"))
	}
	if got := tt.points(t, "messaging.client.sent.messages"); got["messaging.destination.name="+queue+" messaging.operation.name=send messaging.system=jobsharp "] != n {
		t.Errorf("sent messages = %v, want %d for the queue", got, n)
	}
}

// With NewTrace, each attempt is the root of a trace of its own, linked to
// the send span.
func TestNewTraceLinksAttempts(t *testing.T) {
	t.Parallel()

	tt := newTelemetry(t, &oteljobs.Opts{NewTrace: true})
	store := newStore(t, cqltest.NewSession(t), tt.tel)
	queue := cqltest.Queue(t)
	job, err := worker.Enqueue(context.Background(), store, flaky{N: 1}, &worker.EnqueueOpts{Queue: queue})
	if err != nil {
		t.Fatalf("Enqueue() error = %v", err)
	}
	run(t, store, queue, tt)
	wait(t, store, job.ID)
	eventually(t, "two process spans", func() bool { return len(tt.ended("process "+queue)) == 2 })
	send := tt.ended("send " + queue)[0].SpanContext()
	traces := map[trace.TraceID]bool{}
	for _, p := range tt.ended("process " + queue) {
		traces[p.SpanContext().TraceID()] = true
		if p.Parent().IsValid() {
			t.Errorf("attempt span has parent %s, want a root", p.Parent().SpanID())
		}
		if l := p.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != send.SpanID() || l[0].SpanContext.TraceID() != send.TraceID() {
			t.Errorf("attempt span links = %v, want the send span %s", l, send.SpanID())
		}
	}
	if len(traces) != 2 || traces[send.TraceID()] {
		t.Errorf("attempt traces = %v, want two new ones apart from the send's %s", traces, send.TraceID())
	}
}

// A failed insert (the id belongs to another job) ends its span with
// error.type and counts the job as not sent.
func TestFailedInsert(t *testing.T) {
	t.Parallel()

	tt := newTelemetry(t, nil)
	store := newStore(t, cqltest.NewSession(t), tt.tel)
	queue := cqltest.Queue(t)
	ctx := context.Background()
	first, err := worker.Enqueue(ctx, store, flaky{N: 1}, &worker.EnqueueOpts{Queue: queue})
	if err != nil {
		t.Fatalf("Enqueue() error = %v", err)
	}
	_, err = worker.Enqueue(ctx, store, flaky{N: 2}, &worker.EnqueueOpts{Queue: queue, ID: first.ID})
	if !errors.Is(err, repo.ErrExists) {
		t.Fatalf("Enqueue() with a taken id: error = %v, want ErrExists", err)
	}
	sends := tt.ended("send " + queue)
	if len(sends) != 2 {
		t.Fatalf("send spans = %d, want 2", len(sends))
	}
	wantAttrs(t, sends[1], attribute.String("error.type", "exists"))
	if sends[1].Status().Code != codes.Error {
		t.Errorf("failed send: status %v, want Error", sends[1].Status())
	}
	got := tt.points(t, "messaging.client.sent.messages")
	dest := "messaging.destination.name=" + queue + " "
	if got[dest+"messaging.operation.name=send messaging.system=jobsharp "] != 1 || got["error.type=exists "+dest+"messaging.operation.name=send messaging.system=jobsharp "] != 1 {
		t.Errorf("sent messages = %v, want one sent and one failed with error.type=exists", got)
	}
}

// The trace context travels in the statements that store the job: inserts
// with the hook send the same statements as inserts without it.
func TestNoExtraStatements(t *testing.T) {
	t.Parallel()

	clock := cqltest.NewClock(time.Now())
	count := func(hook repo.InsertHook, queue string) cqlcount.Counts {
		c := cqlcount.New()
		session := cqltest.ObservedSession(t, c)
		// One still clock for both stores: they write the same buckets'
		// directory rows, whatever the time the test runs at.
		// No folding or sweeping of counts in the background, whose
		// statements come when the timers say.
		store, err := repo.New(session, &repo.Options{Logger: cqltest.Logger(t, slog.LevelWarn), InsertHook: hook, Now: clock.Now,
			FoldInterval: -1, SweepInterval: 7 * 24 * time.Hour})
		if err != nil {
			t.Fatalf("repo.New() error = %v", err)
		}
		defer store.Close()
		ctx := context.Background()
		for i := range 20 {
			if _, err := worker.Enqueue(ctx, store, flaky{N: i}, &worker.EnqueueOpts{Queue: queue}); err != nil {
				t.Fatalf("Enqueue() error = %v", err)
			}
		}
		args := make([]flaky, 50)
		if _, err := worker.EnqueueMany(ctx, store, args, &worker.EnqueueOpts{Queue: queue}); err != nil {
			t.Fatalf("EnqueueMany() error = %v", err)
		}
		return c.Snapshot()
	}
	tt := newTelemetry(t, nil)
	plain := count(nil, cqltest.Queue(t)+"_plain")
	traced := count(tt.tel, cqltest.Queue(t)+"_traced")
	t.Logf("70 jobs (20 single inserts, one of 50): without hook %d queries, %d batches, %d LWTs; with hook %d queries, %d batches, %d LWTs",
		plain.Queries, plain.Batches, plain.LWTs, traced.Queries, traced.Batches, traced.LWTs)
	if plain.Queries != traced.Queries || plain.Batches != traced.Batches || plain.BatchStatements != traced.BatchStatements || plain.LWTs != traced.LWTs {
		t.Errorf("statements with the hook differ: without %+v, with %+v", plain, traced)
	}
	if n := len(tt.spans.Ended()); n != 21 {
		t.Errorf("send spans = %d, want 21", n)
	}
}

// BenchmarkStatementsPerJob counts the statements per job with and
// without the telemetry, end to end: b.N jobs enqueued one by one, then
// processed (claims, heartbeats, outcomes) by a processor of four slots.
// The inserts send the same statements either way (TestNoExtraStatements);
// processing differs only by how claims fall, which the telemetry does not
// touch.
//
//	go test ./worker/oteljobs -run '^$' -bench StatementsPerJob -benchtime 300x -count 3
func BenchmarkStatementsPerJob(b *testing.B) {
	for _, traced := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "traced"}[traced], func(b *testing.B) {
			c := cqlcount.New()
			var hook repo.InsertHook
			var attempts worker.AttemptHook
			if traced {
				tel, err := oteljobs.New(&oteljobs.Opts{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))})
				if err != nil {
					b.Fatal(err)
				}
				hook, attempts = tel, tel
			}
			// Count folding off: its statements come with time, not jobs.
			store, err := repo.New(cqltest.ObservedSession(b, c), &repo.Options{Logger: slog.New(slog.DiscardHandler), InsertHook: hook,
				FoldInterval: -1, SweepInterval: 7 * 24 * time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(store.Close)
			queue := fmt.Sprintf("bench_traced_%t_%d", traced, time.Now().UnixNano())
			ctx := context.Background()
			b.ResetTimer()
			ids := make([]gocql.UUID, b.N)
			for i := range b.N {
				job, err := worker.Enqueue(ctx, store, ping{}, &worker.EnqueueOpts{Queue: queue})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = job.ID
			}
			inserted := c.Snapshot()
			p, err := worker.New(store, &worker.Config{Queues: map[string]worker.QueueConfig{queue: {MaxWorkers: 4}}, AttemptHook: attempts, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if err := worker.Handle(p, func(context.Context, *worker.Job[ping]) error { return nil }, nil); err != nil {
				b.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- p.Run(runCtx) }()
			for _, id := range ids {
				if _, err := worker.Wait(ctx, store, id, &worker.WaitOpts{PollInterval: 20 * time.Millisecond}); err != nil {
					b.Fatal(err)
				}
			}
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			all := c.Snapshot()
			// Wait reads jobs through the same session: its reads are not
			// the store's cost.
			waits := all.ByKind["SELECT jobs"] - inserted.ByKind["SELECT jobs"]
			jobs := float64(b.N)
			b.ReportMetric(float64(inserted.Queries+inserted.Batches)/jobs, "insert-statements/job")
			b.ReportMetric(float64(all.Queries+all.Batches-inserted.Queries-inserted.Batches-waits)/jobs, "process-statements/job")
			b.ReportMetric(float64(all.LWTs)/jobs, "LWTs/job")
		})
	}
}

// ping is a job that does nothing.
type ping struct{}

func (ping) Kind() string { return "otel.ping" }
