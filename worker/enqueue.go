package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
)

// EnqueueOpts tune the jobs [Enqueue] and its relatives store. nil means the
// defaults.
type EnqueueOpts struct {
	// ID is the job's id. Zero: a new time-ordered id. Enqueueing again with
	// the same id, type and arguments returns the stored job: a retried
	// enqueue creates nothing twice. Only for single jobs.
	ID gocql.UUID
	// Queue defaults to "default".
	Queue string
	// ScheduledAt is when the job may run; zero or past means now.
	ScheduledAt time.Time
	// MaxRetries is the number of retries after a failed first attempt;
	// then the job is Abandoned. Zero: the store's default (10); negative:
	// none.
	MaxRetries int
	// Hold stores the job in Created: it does not run until it is updated
	// to Scheduled.
	Hold bool
	// Metadata is free-form data kept with the job.
	Metadata map[string]string
	// Unique makes the enqueue unique, as River's UniqueOpts: while a job
	// of the same kind (and, as it says, arguments, queue, period) is in
	// one of its states, enqueueing returns that job and stores nothing
	// ([EnqueueOne] says which happened). See [repo.UniqueOpts] for the
	// guarantee and its cost. Only for single jobs.
	Unique *repo.UniqueOpts
}

// NewJobFor encodes typed arguments into a [repo.NewJob] of T's kind, for
// the store's own calls (a batch of several kinds, say). Arguments are
// JSON-encoded, except types that implement [ArgsMarshaler].
func NewJobFor[T JobArgs](args T, opts *EnqueueOpts) (*repo.NewJob, error) {
	kind, err := kindOfArgs(args)
	if err != nil {
		return nil, err
	}
	return newJob(kind, args, opts)
}

func newJob[T any](kind string, args T, opts *EnqueueOpts) (*repo.NewJob, error) {
	data, err := encodeArgs(args)
	if err != nil {
		return nil, fmt.Errorf("encode arguments of %s job: %w", kind, err)
	}
	var o EnqueueOpts
	if opts != nil {
		o = *opts
	}
	return &repo.NewJob{
		ID: o.ID, Queue: o.Queue, Type: kind, Args: data, ScheduledAt: o.ScheduledAt,
		MaxRetries: o.MaxRetries, Hold: o.Hold, Metadata: maps.Clone(o.Metadata), Unique: o.Unique,
	}, nil
}

// typed returns the stored job with the arguments it was enqueued with.
func typed[T any](job *repo.Job, args T) *Job[T] { return &Job[T]{Job: job, Args: args} }

// Enqueue stores a job of T's kind with typed arguments (River's Insert).
// The processor's [Handle] for T decodes them into the same T. Returns
// [repo.ErrInvalid] for bad input (nothing stored) and [repo.ErrExists] if
// opts.ID belongs to another job. With opts.Unique, it returns the job that
// holds the unique key, if any, instead of storing another ([EnqueueOne]
// says which happened).
func Enqueue[T JobArgs](ctx context.Context, store *repo.Store, args T, opts *EnqueueOpts) (*Job[T], error) {
	r, err := EnqueueOne(ctx, store, args, opts)
	if err != nil {
		return nil, err
	}
	return r.Job, nil
}

// EnqueueResult is what [EnqueueOne] stored, or found.
type EnqueueResult[T any] struct {
	// Job is the job stored, or the one that was there already (with its
	// own arguments, which a unique key that leaves them out may not
	// share).
	Job *Job[T]
	// Existed says that nothing was stored: a job held the unique key, or
	// the enqueue was a retry with the same id.
	Existed bool
}

// EnqueueOne is [Enqueue] that also says whether the job existed already:
// with opts.Unique, whether another job held the unique key (River's
// UniqueSkippedAsDuplicate).
func EnqueueOne[T JobArgs](ctx context.Context, store *repo.Store, args T, opts *EnqueueOpts) (*EnqueueResult[T], error) {
	if err := checkStore(store); err != nil {
		return nil, err
	}
	kind, err := kindOfArgs(args)
	if err != nil {
		return nil, err
	}
	return enqueueOne(ctx, store, kind, args, opts)
}

func enqueueOne[T any](ctx context.Context, store *repo.Store, kind string, args T, opts *EnqueueOpts) (*EnqueueResult[T], error) {
	if err := checkStore(store); err != nil {
		return nil, err
	}
	nj, err := newJob(kind, args, opts)
	if err != nil {
		return nil, err
	}
	r, err := store.Jobs.InsertOne(ctx, nj)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s job: %w", kind, err)
	}
	if !r.Existed || bytes.Equal(r.Job.Args, nj.Args) {
		return &EnqueueResult[T]{Job: typed(r.Job, args), Existed: r.Existed}, nil
	}
	// A unique key that leaves the arguments out found a job with others.
	stored, err := decodeArgs[T](r.Job.Args)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s job: decode the arguments of job %s, which holds the unique key: %w", kind, r.Job.ID, err)
	}
	return &EnqueueResult[T]{Job: typed(r.Job, stored), Existed: true}, nil
}

// EnqueueRaw stores a job of kind with arguments stored as they are,
// untyped: for kinds known only at run time, handled by [HandleRaw] (or by
// a [Handle] whose type decodes these bytes). Prefer [Enqueue], which takes
// the kind from the argument type. Errors are those of Enqueue.
func EnqueueRaw(ctx context.Context, store *repo.Store, kind string, args []byte, opts *EnqueueOpts) (*Job[[]byte], error) {
	r, err := enqueueOne(ctx, store, kind, args, opts)
	if err != nil {
		return nil, err
	}
	return r.Job, nil
}

// EnqueueMany stores one job of T's kind per element of args, with the
// same options, in parallel ([repo.Jobs.InsertMany]). opts.ID must be zero.
// When some jobs fail to store, the stored ones are returned with the error.
func EnqueueMany[T JobArgs](ctx context.Context, store *repo.Store, args []T, opts *EnqueueOpts) ([]*Job[T], error) {
	kind, njs, err := newJobs(ctx, store, args, opts)
	if err != nil {
		return nil, err
	}
	jobs, err := store.Jobs.InsertMany(ctx, njs)
	if err != nil {
		err = fmt.Errorf("enqueue %s jobs: %w", kind, err)
	}
	return typedMany(jobs, njs, args), err
}

// EnqueueBatch stores one job of T's kind per element of args as one batch
// (JobSharp's StoreBatch): follow it with [EnqueueAfterBatch], and ask how it
// stands with [repo.Batches.Status] or [WaitBatch]. A zero batchID makes a
// new one; the jobs' BatchID holds it. Retrying with the same batch id is
// safe only with explicit job ids; use [NewJobFor] and
// [repo.Batches.Insert] for that, or for batches of several kinds.
func EnqueueBatch[T JobArgs](ctx context.Context, store *repo.Store, batchID gocql.UUID, args []T, opts *EnqueueOpts) ([]*Job[T], error) {
	kind, njs, err := newJobs(ctx, store, args, opts)
	if err != nil {
		return nil, err
	}
	jobs, err := store.Batches.Insert(ctx, batchID, njs)
	if err != nil {
		err = fmt.Errorf("enqueue batch of %s jobs: %w", kind, err)
	}
	return typedMany(jobs, njs, args), err
}

// EnqueueAfter stores a continuation (JobSharp's StoreContinuation): a job
// of T's kind that waits in AwaitingContinuation until the job parentID
// succeeds, and is then scheduled, exactly once. If the parent ends
// Cancelled or Abandoned, the continuation is cancelled and never runs. A
// parent that has already succeeded schedules it at once. Returns
// [repo.ErrNotFound] if the parent does not exist.
func EnqueueAfter[T JobArgs](ctx context.Context, store *repo.Store, parentID gocql.UUID, args T, opts *EnqueueOpts) (*Job[T], error) {
	if err := checkStore(store); err != nil {
		return nil, err
	}
	kind, err := kindOfArgs(args)
	if err != nil {
		return nil, err
	}
	nj, err := newJob(kind, args, opts)
	if err != nil {
		return nil, err
	}
	job, err := store.Jobs.InsertContinuation(ctx, parentID, nj)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s job after %s: %w", kind, parentID, err)
	}
	return typed(job, args), nil
}

// EnqueueAfterBatch stores a job of T's kind that waits in AwaitingBatch
// until every job of the batch has finished, whatever their outcome
// (JobSharp's batch continuation), and is then scheduled, exactly once. Its
// handler can ask [repo.Batches.Status] how the batch went (its job's
// ParentID is the batch id). Returns [repo.ErrNotFound] for an unknown batch.
func EnqueueAfterBatch[T JobArgs](ctx context.Context, store *repo.Store, batchID gocql.UUID, args T, opts *EnqueueOpts) (*Job[T], error) {
	if err := checkStore(store); err != nil {
		return nil, err
	}
	kind, err := kindOfArgs(args)
	if err != nil {
		return nil, err
	}
	nj, err := newJob(kind, args, opts)
	if err != nil {
		return nil, err
	}
	job, err := store.Batches.InsertContinuation(ctx, batchID, nj)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s job after batch %s: %w", kind, batchID, err)
	}
	return typed(job, args), nil
}

// newJobs makes the new jobs of EnqueueMany and EnqueueBatch, one per
// element of args, with ids minted up front.
func newJobs[T JobArgs](ctx context.Context, store *repo.Store, args []T, opts *EnqueueOpts) (string, []*repo.NewJob, error) {
	if err := checkStore(store); err != nil {
		return "", nil, err
	}
	kind, err := kindOf[T]()
	if err != nil {
		return "", nil, err
	}
	if opts != nil && opts.ID != (gocql.UUID{}) {
		return "", nil, &repo.ValidationError{Field: "EnqueueOpts.ID", Problem: "set for several jobs; ids must differ, leave it zero"}
	}
	if len(args) == 0 {
		return "", nil, &repo.ValidationError{Field: "args", Problem: "no jobs"}
	}
	njs := make([]*repo.NewJob, len(args))
	for i, a := range args {
		if err := checkArgs(kind, a); err != nil {
			return "", nil, fmt.Errorf("job %d: %w", i, err)
		}
		nj, err := newJob(kind, a, opts)
		if err != nil {
			return "", nil, fmt.Errorf("job %d: %w", i, err)
		}
		njs[i] = nj
	}
	// Ids up front, so that stored jobs can be matched to their arguments.
	ids, err := store.Jobs.NewIDs(ctx, njs[0].Queue, njs[0].ScheduledAt, len(njs))
	if err != nil {
		return "", nil, err
	}
	for i, nj := range njs {
		nj.ID = ids[i]
	}
	return kind, njs, nil
}

func typedMany[T any](jobs []*repo.Job, njs []*repo.NewJob, args []T) []*Job[T] {
	byID := make(map[gocql.UUID]int, len(njs))
	for i, nj := range njs {
		byID[nj.ID] = i
	}
	out := make([]*Job[T], 0, len(jobs))
	for _, j := range jobs {
		out = append(out, typed(j, args[byID[j.ID]]))
	}
	return out
}

// ScheduleOpts tune [Schedule]. nil means the defaults.
type ScheduleOpts struct {
	// Timezone the cron expression is read in (IANA name); default UTC.
	Timezone string
	// Queue, MaxRetries and Metadata are those of every job the schedule
	// creates (see [EnqueueOpts]).
	Queue      string
	MaxRetries int
	Metadata   map[string]string
}

// Schedule stores (or replaces) the recurring schedule id: at every
// occurrence of cronExpr a job of T's kind with args is created, exactly once
// however many processors run, by the schedulers of the processors that work
// its queue. cronExpr is a five-field expression ("*/5 * * * *") or a
// descriptor ("@hourly", "@every 90s"); parsing uses robfig/cron. A
// replaced schedule keeps its last run, so it does not fire an occurrence
// twice. Remove it with [repo.Recurring.Remove]. Returns [repo.ErrInvalid]
// for a bad expression or time zone.
func Schedule[T JobArgs](ctx context.Context, store *repo.Store, id, cronExpr string, args T, opts *ScheduleOpts) (*repo.RecurringJob, error) {
	if err := checkStore(store); err != nil {
		return nil, err
	}
	jobType, err := kindOfArgs(args)
	if err != nil {
		return nil, err
	}
	data, err := encodeArgs(args)
	if err != nil {
		return nil, fmt.Errorf("encode arguments of %s job: %w", jobType, err)
	}
	var o ScheduleOpts
	if opts != nil {
		o = *opts
	}
	rj, err := store.Recurring.Upsert(ctx, &repo.RecurringJob{
		ID: id, Cron: cronExpr, Timezone: o.Timezone, Queue: o.Queue, Type: jobType, Args: data,
		MaxRetries: o.MaxRetries, Metadata: maps.Clone(o.Metadata),
	})
	if err != nil {
		return nil, fmt.Errorf("schedule %s: %w", id, err)
	}
	return rj, nil
}

// WaitOpts tune [Wait] and [WaitBatch]. nil means the defaults.
type WaitOpts struct {
	// PollInterval is the pause between reads; default 100ms.
	PollInterval time.Duration
}

func (o *WaitOpts) poll() time.Duration {
	if o == nil || o.PollInterval <= 0 {
		return 100 * time.Millisecond
	}
	return o.PollInterval
}

// Wait polls a job until it is finished (Succeeded, Cancelled or Abandoned)
// and returns it, or returns ctx's error with the job as last read. It is
// meant for tests, scripts and request handlers that need a result soon; it
// costs one partition read per poll.
func Wait(ctx context.Context, store *repo.Store, id gocql.UUID, opts *WaitOpts) (*repo.Job, error) {
	if err := checkStore(store); err != nil {
		return nil, err
	}
	var last *repo.Job
	for {
		job, err := store.Jobs.Get(ctx, id)
		switch {
		case err == nil:
			last = job
			if job.State.Final() {
				return job, nil
			}
		case !repo.IsRetryable(err) || errors.Is(err, repo.ErrNotFound):
			return nil, err
		}
		if !sleep(ctx, opts.poll()) {
			return last, fmt.Errorf("wait for job %s: %w", id, ctx.Err())
		}
	}
}

// WaitBatch polls a batch until every job of it has finished and returns
// its status: Finished is then true, and Succeeded says whether every job
// succeeded; States counts the jobs per final state. On ctx's end it returns
// ctx's error with the status as last read. Returns [repo.ErrNotFound] for
// an unknown batch.
func WaitBatch(ctx context.Context, store *repo.Store, batchID gocql.UUID, opts *WaitOpts) (*repo.BatchStatus, error) {
	if err := checkStore(store); err != nil {
		return nil, err
	}
	var last *repo.BatchStatus
	for {
		st, err := store.Batches.Status(ctx, batchID)
		switch {
		case err == nil:
			last = st
			if st.Finished {
				return st, nil
			}
		case !repo.IsRetryable(err) || errors.Is(err, repo.ErrNotFound):
			return nil, err
		}
		if !sleep(ctx, opts.poll()) {
			return last, fmt.Errorf("wait for batch %s: %w", batchID, ctx.Err())
		}
	}
}

// checkStore refuses a nil store (or one not made by repo's constructors)
// with repo.ErrInvalid.
func checkStore(store *repo.Store) error {
	if store == nil || store.Jobs == nil {
		return &repo.ValidationError{Field: "store", Problem: storeProblem}
	}
	return nil
}

const storeProblem = "nil (make one with repo.Connect, repo.ConnectCluster or repo.New)"
