// Package oteljobs traces and measures jobs with OpenTelemetry, following its
// messaging semantic conventions: a producer span per insert, a consumer span
// per attempt, and the trace context carried from one to the other in the
// job's metadata.
//
//	tel, err := oteljobs.New(nil) // the global tracer and meter providers
//	store, err := repo.New(session, &repo.Options{InsertHook: tel})
//	p, err := worker.New(store, &worker.Config{AttemptHook: tel})
//
// # Spans
//
// Every insert call (Enqueue, EnqueueMany, EnqueueBatch, a continuation, an
// occurrence of a recurring schedule) is one span "send {queue}" of kind
// producer; an insert of several jobs is one span with
// messaging.batch.message_count. Its trace context is written into each
// job's metadata (keys "traceparent" and "tracestate" with the default W3C
// propagator), in the same statements that store the job: tracing costs no
// statement.
//
// Every attempt is one span "process {queue}" of kind consumer. By default
// it is a child of the insert's span, so one trace shows the enqueue and
// every attempt after it (a retry is a second child of the same span). With
// [Opts.NewTrace] each attempt starts a trace of its own, linked to the
// insert's span: better when jobs run long after they were enqueued.
//
// Attributes: messaging.system ("jobsharp"), messaging.destination.name (the
// queue), messaging.operation.name and messaging.operation.type ("send" or
// "process"), messaging.message.id (the job id), messaging.batch.message_count
// (inserts of several jobs), messaging.message.body.size (the arguments),
// error.type (see below), and jobsharp.job.type, jobsharp.job.attempt,
// jobsharp.job.outcome (a [worker.Outcome]).
//
// error.type is, for an insert, "invalid", "exists", "timeout",
// "unavailable" or "_OTHER"; for an attempt, "panic", "timeout", "no_handler",
// the Go type of the handler's error when it has a type of its own (say
// "*url.Error"), "_OTHER", or the outcome "lease_lost" or "unrecorded".
// Snoozed, cancelled and released attempts are not errors.
//
// # Metrics
//
//	messaging.client.operation.duration  histogram (s): insert calls
//	messaging.client.sent.messages       counter: jobs inserted (with error.type when they failed)
//	messaging.client.consumed.messages   counter: attempts started
//	messaging.process.duration           histogram (s): attempts, from the handler's start to the
//	                                     outcome written
package oteljobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/messagingconv"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// System is the value of messaging.system.
const System = "jobsharp"

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/jobsharp/cassandra/worker/oteljobs"

// Attribute keys of this package's own attributes.
const (
	JobTypeKey    = attribute.Key("jobsharp.job.type")
	JobAttemptKey = attribute.Key("jobsharp.job.attempt")
	JobOutcomeKey = attribute.Key("jobsharp.job.outcome")
)

// durationBuckets are the semantic conventions' advice for messaging
// durations, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Opts tune the telemetry. nil means the defaults.
type Opts struct {
	// TracerProvider makes the tracer; default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the meter; default otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Propagator writes the trace context into the jobs' metadata and
	// reads it back. Default propagation.TraceContext (W3C), not the global
	// propagator, which is a no-op unless an application sets one.
	Propagator propagation.TextMapPropagator
	// NewTrace starts a trace per attempt, linked to the span of the
	// insert, instead of continuing the insert's trace.
	NewTrace bool
}

// Telemetry is both a [repo.InsertHook] and a [worker.AttemptHook].
type Telemetry struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	newTrace bool

	opDuration      messagingconv.ClientOperationDuration
	sent            messagingconv.ClientSentMessages
	consumed        messagingconv.ClientConsumedMessages
	processDuration messagingconv.ProcessDuration
}

var (
	_ repo.InsertHook    = (*Telemetry)(nil)
	_ worker.AttemptHook = (*Telemetry)(nil)
)

// New makes the tracer and the instruments. It returns the meter's error
// if an instrument cannot be made.
func New(opts *Opts) (*Telemetry, error) {
	var o Opts
	if opts != nil {
		o = *opts
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.Propagator == nil {
		o.Propagator = propagation.TraceContext{}
	}
	t := &Telemetry{
		tracer:   o.TracerProvider.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		prop:     o.Propagator,
		newTrace: o.NewTrace,
	}
	meter := o.MeterProvider.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	var errs []error
	var err error
	t.opDuration, err = messagingconv.NewClientOperationDuration(meter, metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	t.sent, err = messagingconv.NewClientSentMessages(meter)
	errs = append(errs, err)
	t.consumed, err = messagingconv.NewClientConsumedMessages(meter)
	errs = append(errs, err)
	t.processDuration, err = messagingconv.NewProcessDuration(meter, metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("oteljobs: make instruments: %w", err)
	}
	return t, nil
}

// metadataCarrier lets a propagator read and write a job's metadata.
type metadataCarrier map[string]string

func (c metadataCarrier) Get(key string) string { return c[key] }
func (c metadataCarrier) Set(key, value string) { c[key] = value }
func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

const (
	opSend    = "send"
	opProcess = "process"
)

// BeforeInsert implements [repo.InsertHook]: it starts the producer span of
// the insert and writes its context into every job's metadata.
func (t *Telemetry) BeforeInsert(ctx context.Context, jobs []*repo.Job) (context.Context, func([]*repo.Job, error)) {
	queue, jobType := "", ""
	if len(jobs) > 0 {
		queue, jobType = jobs[0].Queue, jobs[0].Type
	}
	for _, j := range jobs {
		if j.Queue != queue {
			queue = ""
		}
		if j.Type != jobType {
			jobType = ""
		}
	}
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKey.String(System),
		semconv.MessagingOperationName(opSend),
		semconv.MessagingOperationTypeSend,
	}
	if queue != "" {
		attrs = append(attrs, semconv.MessagingDestinationName(queue))
	}
	if jobType != "" {
		attrs = append(attrs, JobTypeKey.String(jobType))
	}
	if len(jobs) == 1 {
		attrs = append(attrs, semconv.MessagingMessageID(jobs[0].ID.String()), semconv.MessagingMessageBodySize(len(jobs[0].Args)))
	} else {
		attrs = append(attrs, semconv.MessagingBatchMessageCount(len(jobs)))
	}
	start := time.Now()
	ctx, span := t.tracer.Start(ctx, spanName(opSend, queue), trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...), trace.WithTimestamp(start))
	for _, j := range jobs {
		if j.Metadata == nil {
			j.Metadata = map[string]string{}
		}
		t.prop.Inject(ctx, metadataCarrier(j.Metadata))
	}
	return ctx, func(stored []*repo.Job, err error) {
		errType := ""
		if err != nil {
			errType = insertErrorType(err)
			span.SetAttributes(semconv.ErrorTypeKey.String(errType))
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		base := []attribute.KeyValue{semconv.MessagingOperationTypeSend}
		if queue != "" {
			base = append(base, semconv.MessagingDestinationName(queue))
		}
		if errType != "" {
			base = append(base, semconv.ErrorTypeKey.String(errType))
		}
		t.opDuration.Record(ctx, time.Since(start).Seconds(), opSend, System, base...)
		// Jobs per queue, those stored and those that failed apart.
		total, ok := map[string]int64{}, map[string]int64{}
		for _, j := range jobs {
			total[j.Queue]++
		}
		for _, j := range stored {
			ok[j.Queue]++
		}
		for q, n := range total {
			dest := semconv.MessagingDestinationName(q)
			if ok[q] > 0 {
				t.sent.Add(ctx, ok[q], opSend, System, dest)
			}
			if failed := n - ok[q]; failed > 0 {
				t.sent.Add(ctx, failed, opSend, System, dest, semconv.ErrorTypeKey.String(cmp.Or(errType, "_OTHER")))
			}
		}
	}
}

// StartAttempt implements [worker.AttemptHook]: it reads the insert's trace
// context from the job's metadata and starts the attempt's consumer span as
// its child (or, with Opts.NewTrace, in a new trace linked to it).
func (t *Telemetry) StartAttempt(ctx context.Context, job *repo.Job) (context.Context, func(worker.AttemptEnd)) {
	start := time.Now()
	sent := trace.SpanContextFromContext(t.prop.Extract(context.Background(), metadataCarrier(job.Metadata)))
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithTimestamp(start),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String(System),
			semconv.MessagingOperationName(opProcess),
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingDestinationName(job.Queue),
			semconv.MessagingMessageID(job.ID.String()),
			semconv.MessagingMessageBodySize(len(job.Args)),
			JobTypeKey.String(job.Type),
			JobAttemptKey.Int(job.RetryCount+1),
		),
	}
	switch {
	case sent.IsValid() && !t.newTrace:
		ctx = trace.ContextWithRemoteSpanContext(ctx, sent)
	case sent.IsValid():
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: sent}))
	default:
		opts = append(opts, trace.WithNewRoot())
	}
	ctx, span := t.tracer.Start(ctx, spanName(opProcess, job.Queue), opts...)
	dest := semconv.MessagingDestinationName(job.Queue)
	t.consumed.Add(ctx, 1, opProcess, System, dest)
	return ctx, func(end worker.AttemptEnd) {
		span.SetAttributes(JobOutcomeKey.String(string(end.Outcome)))
		attrs := []attribute.KeyValue{semconv.MessagingOperationTypeProcess, dest}
		if errType := attemptErrorType(end); errType != "" {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
			span.SetAttributes(semconv.ErrorTypeKey.String(errType))
			if end.Err != nil {
				span.RecordError(end.Err)
				span.SetStatus(codes.Error, end.Err.Error())
			} else {
				span.SetStatus(codes.Error, string(end.Outcome))
			}
		}
		span.End()
		t.processDuration.Record(ctx, time.Since(start).Seconds(), opProcess, System, attrs...)
	}
}

// spanName is "{operation} {queue}", or the operation alone for several
// queues.
func spanName(op, queue string) string {
	if queue == "" {
		return op
	}
	return op + " " + queue
}

// insertErrorType classifies an insert's error.
func insertErrorType(err error) string {
	switch {
	case errors.Is(err, repo.ErrInvalid):
		return "invalid"
	case errors.Is(err, repo.ErrExists):
		return "exists"
	case errors.Is(err, repo.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, repo.ErrNoHosts):
		return "unavailable"
	}
	return "_OTHER"
}

// attemptErrorType classifies an attempt that failed, or "" for one that did
// not (succeeded, snoozed, cancelled, released).
func attemptErrorType(end worker.AttemptEnd) string {
	switch end.Outcome {
	case worker.OutcomeLeaseLost, worker.OutcomeUnrecorded:
		return string(end.Outcome)
	case worker.OutcomeRetried, worker.OutcomeAbandoned:
	default:
		return ""
	}
	err := end.Err
	if _, ok := errors.AsType[*worker.PanicError](err); ok {
		return "panic"
	}
	switch {
	case err == nil:
		return "_OTHER" // the result could not be stored
	case errors.Is(err, worker.ErrJobTimeout):
		return "timeout"
	case errors.Is(err, worker.ErrNoHandler):
		return "no_handler"
	}
	// The innermost error with a type of its own names the class; the
	// standard library's anonymous wrappers name nothing.
	name := ""
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch n := fmt.Sprintf("%T", e); n {
		case "*errors.errorString", "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		default:
			name = n
		}
	}
	return cmp.Or(name, "_OTHER")
}
