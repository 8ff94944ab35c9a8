// Package worker runs jobs: typed handlers over the job store ([repo.Store]),
// with claims, leases and heartbeats, retries with backoff, continuations,
// batches, recurring schedules and rescue of jobs whose processor died. It is
// what River's Client or Asynq's Server is to their stores.
//
// # Using it
//
// A job's arguments are a Go type that names its kind ([JobArgs], as in
// River), so the code that enqueues a job and the handler that runs it
// agree on the name and on the arguments by construction:
//
//	type EmailArgs struct{ To, Subject string }
//
//	func (EmailArgs) Kind() string { return "email.send" }
//
// Enqueue jobs anywhere that has a store; the arguments are JSON-encoded:
//
//	job, err := worker.Enqueue(ctx, store, EmailArgs{To: "ada@example.com"}, nil)
//
// Run a [Processor] in every process that should work the queue: register a
// handler per argument type, and Run until the context ends:
//
//	p, err := worker.New(store, &worker.Config{
//		Queues: map[string]worker.QueueConfig{"default": {MaxWorkers: 50}},
//	})
//	err = worker.Handle(p, func(ctx context.Context, job *worker.Job[EmailArgs]) error {
//		return send(ctx, job.Args.To, job.Args.Subject) // an error fails the attempt
//	}, nil)
//	err = p.Run(ctx) // until ctx ends; then it shuts down gracefully
//
// [HandleRaw] and [EnqueueRaw] are the untyped forms, for kinds known only
// at run time: a kind string and the stored bytes as they are. Argument
// types may encode themselves ([ArgsMarshaler], [ArgsUnmarshaler]). A
// pointer to the argument type works as the type does (&EmailArgs{…} is an
// email.send job, and a handler of *EmailArgs gets a non-nil pointer).
//
// # Running jobs
//
// Each queue's poll loop claims due jobs ([repo.Jobs.Claim]) in batches up to
// its free handler slots (QueueConfig.MaxWorkers). When claims find nothing
// due it backs off: the pause doubles from twice ClaimCooldown up to
// PollInterval (±10% jitter), so a steadily fed queue is polled again soon
// and an idle one every PollInterval. Each running job's lease is extended every
// HeartbeatInterval (default Lease/3).
//
// With Config.MaxWorkers the queues share that many slots instead, and one
// claim loop hands free slots to the queues by [Priority]: in proportion to
// their QueueConfig.Weight ([PriorityWeighted]) or to the highest weight with
// jobs due ([PriorityStrict]). Each queue keeps its own back-off, and
// QueueConfig.MaxWorkers still caps it.
//
// A handler's outcome:
//
//   - nil: the job is Succeeded (with [Job.SetResult]'s result), and its
//     continuations are scheduled.
//   - an error, a panic (recovered, with its stack as the trace), or a
//     timeout: the attempt failed. The job is Failed and runs again after a
//     backoff (exponential from 1s with ±25% jitter, or Config.Backoff),
//     until it has failed MaxRetries+1 times; then it is Abandoned.
//   - [JobSnooze](d): Scheduled again at now+d, with no attempt counted.
//   - [JobCancel](err): Cancelled for good, whatever retries are left.
//
// A handler's context is cancelled when the job is cancelled while it runs
// ([repo.Jobs.Cancel]; cause [ErrJobCancelled]), when its lease is lost
// (cause a [*repo.LeaseLostError]) or runs out because heartbeats failed
// (cause [ErrLeaseExpired]), when its timeout passes ([ErrJobTimeout]), and
// when the processor shuts down ([ErrShutdown]). Cancellation is seen at the
// next heartbeat, so within HeartbeatInterval.
//
// # Paused queues and the registry of processors
//
// A paused queue ([repo.Queues.Pause]) accepts jobs, but no processor claims
// from it until it is resumed. Each processor reads the paused flags of its
// own queues once per PollInterval (one read of their rows of the queue
// registry, whatever other queues it holds; not a statement per claim), so
// it stops claiming within one poll interval of a
// pause and claims again at once when it reads the resume; [Processor.Paused]
// says what it last read. Jobs already running go on to their end.
//
// Each processor keeps a row in the registry of running processors
// ([repo.Processors]): owner, host, pid, Config.Version, slots and running
// jobs per queue, start and last report. It rewrites the row every
// ReportInterval (10s: 6 writes a minute, whatever the load) with a TTL of
// ReportTTL (3 intervals), so the row of a process that died expires; Run
// deletes it when it returns.
//
// # Continuations and batches
//
// [EnqueueAfter] stores a job that waits until its parent succeeds; it is
// then scheduled exactly once (the release is a lightweight transaction from
// the waiting state). If the parent ends Cancelled or Abandoned, the
// continuation is cancelled. [EnqueueBatch] stores jobs as one batch;
// [EnqueueAfterBatch] stores a job that waits until every job of the batch
// has finished, whatever the outcome (JobSharp's AwaitingBatch).
// [repo.Batches.Status] says whether a batch has finished and whether every
// job succeeded; [WaitBatch] polls it until the batch has finished.
//
// # Recurring jobs
//
// [Schedule] stores a cron schedule (robfig/cron: five fields or descriptors
// such as "@every 90s"). Every processor runs the scheduler for the
// schedules of its queues, every ScheduleInterval; there is no leader. Each
// occurrence's job has an id derived from the schedule and the occurrence
// time and is created only if absent, so racing schedulers create one job
// per occurrence. Occurrences that passed while no processor ran follow
// Config.MissedOccurrences: repo.FireLatest (the default) creates one job for
// the latest, repo.FireAll one per occurrence (up to MaxCatchUp), and
// repo.SkipMissed none. [repo.Recurring.Pause] stops a schedule at the
// schedulers' next pass; [repo.Recurring.Resume] lets it fire again from its
// next occurrence (those passed while paused are skipped unless
// ResumeOpts.CatchUp hands them to MissedOccurrences);
// [repo.Recurring.Trigger] creates one job at once.
//
// # Unique jobs
//
// EnqueueOpts.Unique stores at most one job per unique key (kind plus any
// of arguments, queue and period) while one holds it; [EnqueueOne] says
// whether the job existed. See [repo.UniqueOpts].
//
// # Rescue
//
// A job whose processor died keeps its lease until the lease expires; then
// the next claim or the rescuer (every RescueInterval, in every processor)
// rescues it. As the store documents, a rescued job counts a failed attempt:
// it goes to Failed with a retry due after the backoff (or Abandoned when no
// retries are left), not straight back to Scheduled, so a job that kills its
// processor cannot loop forever.
//
// # Shutdown
//
// When Run's context ends, the processor stops claiming, releases jobs it
// claimed but had not started (Scheduled again, no attempt counted), and
// lets running handlers finish for up to ShutdownTimeout. Then it cancels
// their contexts (cause [ErrShutdown]) and releases the jobs whose handler
// then returns an error. Run returns once every handler has returned and its
// outcome is written, so after a graceful shutdown no job is left in
// Processing under this processor's name.
//
// # Guarantees
//
// A claim is exclusive: one lightweight transaction moves a job to
// Processing for one processor, under a lease whose token and the job's
// version fence every later write of that processor. Execution is
// at-least-once, not exactly-once: a job runs again when
//
//   - its processor dies, or is cut off from Cassandra, before writing the
//     outcome (the lease expires and the job is rescued);
//   - a handler outlives its lease while it still runs: heartbeats failed
//     for a whole Lease (the handler's context is then cancelled with
//     [ErrLeaseExpired]), or the process stalled (a long GC pause, a
//     suspended VM) or another process's clock ran ahead by more than the
//     store's Grace. The old processor's outcome is then refused
//     ([repo.ErrLeaseLost]), logged and counted as OutcomeLeaseLost, and
//     its handler's context is cancelled.
//
// An outcome write that times out is settled by a serial read in the store,
// and retried while the lease may still hold; a job whose lease stayed live
// never runs twice. A claim whose answer comes after its lease ran out (a
// slow lightweight transaction under a fault) has its lease confirmed by a
// heartbeat before the handler runs (a heartbeat that fails for a transient
// reason is tried again for up to two leases); when the job was rescued
// meanwhile, or no heartbeat gets through, the handler does not run here
// (counted as OutcomeLeaseLost) and the job runs once, from its next claim. Make
// handlers idempotent:
// key side effects on the job's ID (an upsert, a unique constraint, an
// idempotency key with the payment provider), or check whether the work is
// done before doing it.
//
// # Observability
//
// The processor logs through log/slog (Config.Logger): every line about a job
// carries job_id, job_type, queue and attempt. Failures are Warn, abandoned
// jobs and lost leases Error. [Metrics] receives claims with their queue
// latency (due → claimed), outcomes with their run time, rescues and
// recurring firings; the prommetrics package exports them to Prometheus.
package worker
