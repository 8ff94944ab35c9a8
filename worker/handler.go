package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/jobsharp/cassandra/repo"
)

// JobArgs is implemented by the argument types of jobs. Kind names the job
// type: [Enqueue] stores jobs of T under T's kind and [Handle] registers the
// handler of T for it, so the two cannot disagree on the name or on the
// arguments. Kind must return the same constant for every value of the type
// (River's JobArgs); it is called on the zero value of T, or, when T is a
// pointer type, on a pointer to a zero value:
//
//	type EmailArgs struct{ To, Subject string }
//
//	func (EmailArgs) Kind() string { return "email.send" }
//
// T may be the struct or a pointer to it: Enqueue(ctx, store, &EmailArgs{…},
// nil) stores a job of the same kind as Enqueue(ctx, store, EmailArgs{…},
// nil), and Handle for *EmailArgs gets a non-nil pointer to the decoded
// arguments. An interface type has no kind: the functions that take T
// return an error matching [repo.ErrInvalid] for it, as they do for a nil
// pointer as arguments and for a Kind that panics or differs from the type's.
//
// The kind is stored as the job's Type: 1 to 255 bytes. Renaming a kind
// leaves stored jobs under the old name, with no handler.
type JobArgs interface {
	Kind() string
}

// kindOf is the kind of T: its zero value's, or for a pointer type, that of
// a pointer to a zero value (a value-receiver Kind called through a nil
// pointer panics). It refuses an interface type, whose zero value is nil,
// and a Kind that panics, with a *repo.ValidationError.
func kindOf[T JobArgs]() (string, error) {
	t := reflect.TypeFor[T]()
	var zero T
	switch t.Kind() {
	case reflect.Interface:
		return "", &repo.ValidationError{Field: "argument type", Problem: fmt.Sprintf(
			"%s is an interface type, which has no kind: enqueue and handle the concrete argument type", t)}
	case reflect.Pointer:
		zero = newPointee[T](t)
	}
	return callKind(t, zero)
}

// kindOfArgs is the kind of T, checked against args by checkArgs.
func kindOfArgs[T JobArgs](args T) (string, error) {
	kind, err := kindOf[T]()
	if err != nil {
		return "", err
	}
	return kind, checkArgs(kind, args)
}

// checkArgs refuses arguments of T's kind that are a nil pointer (nothing to
// encode, and a handler of T would get nil) or whose Kind differs from the
// type's.
func checkArgs[T JobArgs](kind string, args T) error {
	t := reflect.TypeFor[T]()
	if t.Kind() == reflect.Pointer && reflect.ValueOf(args).IsNil() {
		return &repo.ValidationError{Field: "args", Problem: fmt.Sprintf("nil %s (pass a pointer to the arguments)", t)}
	}
	own, err := callKind(t, args)
	if err != nil {
		return err
	}
	if own != kind {
		return &repo.ValidationError{Field: "args", Problem: fmt.Sprintf(
			"Kind() of these %s arguments is %q, of the type's zero value %q: Kind must return one constant per type", t, own, kind)}
	}
	return nil
}

// newPointee returns a pointer to a new zero value for t, a pointer type T.
func newPointee[T any](t reflect.Type) T {
	return reflect.New(t.Elem()).Convert(t).Interface().(T)
}

// callKind calls a.Kind(), turning a panic into an error.
func callKind[T JobArgs](t reflect.Type, a T) (kind string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &repo.ValidationError{Field: "argument type", Problem: fmt.Sprintf("%s.Kind() panicked: %v", t, v)}
		}
	}()
	return a.Kind(), nil
}

// Job is a job as its handler sees it: the stored job with its arguments
// decoded into Args. The embedded [repo.Job] is a snapshot taken when the job
// was claimed (its Version moves on with each heartbeat); its raw arguments
// are Job.Job.Args.
type Job[T any] struct {
	*repo.Job
	// Args are the job's arguments, decoded.
	Args T

	result []byte
}

// Attempt is the number of this attempt: 1 for the first run, RetryCount+1
// after failures.
func (j *Job[T]) Attempt() int { return j.RetryCount + 1 }

// SetResult sets what is stored as the job's result ([repo.Job.Result]) if
// the handler succeeds. It must be at most the store's MaxArgsBytes.
func (j *Job[T]) SetResult(result []byte) { j.result = slices.Clone(result) }

// HandleOpts tune the handler of one job type. nil means the defaults.
type HandleOpts struct {
	// Timeout bounds each attempt (cause [ErrJobTimeout]); the attempt
	// fails when it runs out. Zero: Config.JobTimeout; negative: none.
	Timeout time.Duration
	// Backoff is the delay before retry n (1 for the first) of a failed
	// job of this type. Default Config.Backoff.
	Backoff func(retry int) time.Duration
}

// handler runs one job type: it decodes the arguments and calls the user's
// function.
type handler struct {
	run     func(ctx context.Context, job *repo.Job) (result []byte, err error)
	timeout time.Duration
	backoff func(int) time.Duration
}

// Handle registers fn as the handler of the jobs of T's kind ([JobArgs]) on
// p: the processor decodes each job's arguments into a T (JSON by default;
// see [ArgsUnmarshaler]) and calls fn. A decoding failure fails the attempt,
// like an error from fn.
//
// fn returns nil for success, an error to fail the attempt (retried with
// backoff, then Abandoned), or [JobSnooze] / [JobCancel]. A panic is
// recovered and fails the attempt with its stack as the trace. fn must honour
// ctx: it is cancelled when the job is cancelled, its lease is lost, its
// timeout runs out, or the processor shuts down (see context.Cause).
//
// [HandleRaw] is the untyped form, for kinds known only at run time.
//
// Register before Run or while it runs. Returns an error matching
// [repo.ErrInvalid] for an empty or over-long kind, a T without a kind (see
// [JobArgs]), a nil fn, or a kind that already has a handler.
func Handle[T JobArgs](p *Processor, fn func(ctx context.Context, job *Job[T]) error, opts *HandleOpts) error {
	kind, err := kindOf[T]()
	if err != nil {
		return err
	}
	return handle(p, kind, fn, opts)
}

// HandleRaw registers fn as the handler of the jobs of kind, untyped: Args
// are the stored bytes, as they are, for handlers that decode by themselves
// or serve kinds known only at run time (enqueued with [EnqueueRaw], or by
// other programs). Prefer [Handle], which takes the kind from the argument
// type. Errors are those of Handle.
func HandleRaw(p *Processor, kind string, fn func(ctx context.Context, job *Job[[]byte]) error, opts *HandleOpts) error {
	return handle(p, kind, fn, opts)
}

func handle[T any](p *Processor, jobType string, fn func(ctx context.Context, job *Job[T]) error, opts *HandleOpts) error {
	if p == nil || p.store == nil {
		return &repo.ValidationError{Field: "processor", Problem: "nil (make one with New)"}
	}
	if fn == nil {
		return &repo.ValidationError{Field: "handler", Problem: fmt.Sprintf("nil function for job type %q", jobType)}
	}
	run := func(ctx context.Context, rj *repo.Job) ([]byte, error) {
		args, err := decodeArgs[T](rj.Args)
		if err != nil {
			return nil, fmt.Errorf("decode arguments of %s job into %T: %w", rj.Type, args, err)
		}
		job := &Job[T]{Job: rj, Args: args}
		err = fn(ctx, job)
		return job.result, err
	}
	return p.register(jobType, run, opts)
}

// ArgsMarshaler is implemented by argument types that encode themselves
// instead of being JSON-encoded (protobuf, a compact binary form). The
// type's [ArgsUnmarshaler] must read what it writes.
type ArgsMarshaler interface {
	MarshalJobArgs() ([]byte, error)
}

// ArgsUnmarshaler is implemented by (pointers to) argument types that decode
// themselves; see [ArgsMarshaler].
type ArgsUnmarshaler interface {
	UnmarshalJobArgs(data []byte) error
}

// encodeArgs encodes job arguments: []byte as it is, an ArgsMarshaler by
// itself, anything else as JSON.
func encodeArgs[T any](args T) ([]byte, error) {
	switch a := any(args).(type) {
	case []byte:
		return slices.Clone(a), nil
	case ArgsMarshaler:
		return a.MarshalJobArgs()
	}
	if m, ok := any(&args).(ArgsMarshaler); ok {
		return m.MarshalJobArgs()
	}
	return json.Marshal(args)
}

// decodeArgs is the inverse of encodeArgs. For a pointer type it returns a
// new value, never nil, decoded by the pointer's ArgsUnmarshaler if it has
// one.
func decodeArgs[T any](data []byte) (T, error) {
	var args T
	if t := reflect.TypeFor[T](); t.Kind() == reflect.Pointer {
		args = newPointee[T](t)
		if u, ok := any(args).(ArgsUnmarshaler); ok {
			return args, u.UnmarshalJobArgs(data)
		}
		if len(data) == 0 {
			return args, nil // a job stored without arguments
		}
		return args, json.Unmarshal(data, args)
	}
	switch a := any(&args).(type) {
	case *[]byte:
		*a = slices.Clone(data)
		return args, nil
	case ArgsUnmarshaler:
		return args, a.UnmarshalJobArgs(data)
	}
	if len(data) == 0 {
		return args, nil // a job stored without arguments
	}
	return args, json.Unmarshal(data, &args)
}
