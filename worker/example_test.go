package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// exampleStore connects the way an application does: a gocql cluster on the
// keyspace that holds the schema.
func exampleStore() *repo.Store {
	store, err := repo.New(cqltest.ExampleSession(), nil)
	if err != nil {
		log.Fatal(err)
	}
	return store
}

// exampleProcessor is a processor on one queue that polls often and logs
// only errors, so the examples run quickly and print only what they mean to.
func exampleProcessor(store *repo.Store, queue string) *worker.Processor {
	p, err := worker.New(store, &worker.Config{
		Queues:       map[string]worker.QueueConfig{queue: {MaxWorkers: 4}},
		PollInterval: 50 * time.Millisecond,
		Backoff:      func(int) time.Duration { return 50 * time.Millisecond },
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		log.Fatal(err)
	}
	return p
}

// run runs p in the background; the returned function stops it gracefully.
func run(p *worker.Processor) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			log.Fatal(err)
		}
	}
}

func waitFor(store *repo.Store, id gocql.UUID) *repo.Job {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := worker.Wait(ctx, store, id, nil)
	if err != nil {
		log.Fatal(err)
	}
	return job
}

// EmailArgs are the arguments of a job of kind "email.send": Enqueue and
// Handle take the kind from the type, so they cannot disagree.
type EmailArgs struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

// Kind implements worker.JobArgs.
func (EmailArgs) Kind() string { return "email.send" }

// Enqueue a job with typed arguments, and run it with a typed handler.
func Example() {
	ctx := context.Background()
	store := exampleStore()

	p := exampleProcessor(store, "example-email")
	err := worker.Handle(p, func(ctx context.Context, job *worker.Job[EmailArgs]) error {
		fmt.Printf("sending %q to %s (attempt %d)\n", job.Args.Subject, job.Args.To, job.Attempt())
		job.SetResult([]byte("250 OK"))
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	stop := run(p)
	defer stop()

	job, err := worker.Enqueue(ctx, store, EmailArgs{To: "ada@example.com", Subject: "Welcome"}, &worker.EnqueueOpts{Queue: "example-email"})
	if err != nil {
		log.Fatal(err)
	}
	done := waitFor(store, job.ID)
	fmt.Println(done.State, string(done.Result))
	// Output:
	// sending "Welcome" to ada@example.com (attempt 1)
	// Succeeded 250 OK
}

// Charge is an amount to charge, in cents.
type Charge int

// Kind implements worker.JobArgs.
func (Charge) Kind() string { return "charge" }

// A failing handler is retried with backoff until MaxRetries, then the job
// is Abandoned; every attempt's error is kept.
func Example_retries() {
	ctx := context.Background()
	store := exampleStore()

	p := exampleProcessor(store, "example-retries")
	err := worker.Handle(p, func(ctx context.Context, job *worker.Job[Charge]) error {
		if job.Attempt() < 3 {
			return fmt.Errorf("gateway timeout on attempt %d", job.Attempt())
		}
		fmt.Println("charged", job.Args, "on attempt", job.Attempt())
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	stop := run(p)
	defer stop()

	job, err := worker.Enqueue(ctx, store, Charge(1200), &worker.EnqueueOpts{Queue: "example-retries", MaxRetries: 5})
	if err != nil {
		log.Fatal(err)
	}
	done := waitFor(store, job.ID)
	fmt.Println(done.State, "after", done.RetryCount, "failed attempts:")
	for _, e := range done.Errors {
		fmt.Println(" ", e.Attempt, e.Error)
	}
	// Output:
	// charged 1200 on attempt 3
	// Succeeded after 2 failed attempts:
	//   1 gateway timeout on attempt 1
	//   2 gateway timeout on attempt 2
}

// HandleRaw and EnqueueRaw are the untyped forms: the kind is a string and
// the handler gets the stored bytes, for kinds known only at run time.
func ExampleHandleRaw() {
	ctx := context.Background()
	store := exampleStore()

	p := exampleProcessor(store, "example-raw")
	for _, kind := range []string{"webhook.github", "webhook.stripe"} {
		err := worker.HandleRaw(p, kind, func(ctx context.Context, job *worker.Job[[]byte]) error {
			fmt.Printf("%s: %s\n", job.Type, job.Args)
			return nil
		}, nil)
		if err != nil {
			log.Fatal(err)
		}
	}
	stop := run(p)
	defer stop()

	job, err := worker.EnqueueRaw(ctx, store, "webhook.stripe", []byte(`{"event":"charge.succeeded"}`), &worker.EnqueueOpts{Queue: "example-raw"})
	if err != nil {
		log.Fatal(err)
	}
	waitFor(store, job.ID)
	// Output:
	// webhook.stripe: {"event":"charge.succeeded"}
}

// Step is a step of a pipeline.
type Step string

// Kind implements worker.JobArgs.
func (Step) Kind() string { return "step" }

// A continuation runs after its parent succeeded, exactly once.
func ExampleEnqueueAfter() {
	ctx := context.Background()
	store := exampleStore()

	p := exampleProcessor(store, "example-continuation")
	err := worker.Handle(p, func(ctx context.Context, job *worker.Job[Step]) error {
		fmt.Println("running", job.Args)
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}

	opts := &worker.EnqueueOpts{Queue: "example-continuation"}
	resize, err := worker.Enqueue(ctx, store, Step("resize image"), opts)
	if err != nil {
		log.Fatal(err)
	}
	notify, err := worker.EnqueueAfter(ctx, store, resize.ID, Step("notify owner"), opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("continuation is", notify.State)

	stop := run(p)
	defer stop()
	waitFor(store, notify.ID)
	// Output:
	// continuation is AwaitingContinuation
	// running resize image
	// running notify owner
}

// ImportRow is a row of a file to import, and ImportReport the job that
// reports on the import.
type (
	ImportRow    int
	ImportReport string
)

// Kind implements worker.JobArgs.
func (ImportRow) Kind() string { return "import.row" }

// Kind implements worker.JobArgs.
func (ImportReport) Kind() string { return "import.report" }

// A batch's continuation runs once every job of the batch has finished,
// whatever the outcome; the batch's status says how it went.
func ExampleEnqueueAfterBatch() {
	ctx := context.Background()
	store := exampleStore()

	p := exampleProcessor(store, "example-batch")
	err := worker.Handle(p, func(ctx context.Context, job *worker.Job[ImportRow]) error {
		if job.Args == 3 {
			return worker.JobCancel(errors.New("row 3 is malformed"))
		}
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	err = worker.Handle(p, func(ctx context.Context, job *worker.Job[ImportReport]) error {
		st, err := store.Batches.Status(ctx, job.ParentID)
		if err != nil {
			return err
		}
		fmt.Printf("%s: finished=%t succeeded=%t, %d succeeded, %d cancelled\n", job.Args, st.Finished, st.Succeeded,
			st.States[repo.StateSucceeded], st.States[repo.StateCancelled])
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}

	opts := &worker.EnqueueOpts{Queue: "example-batch"}
	rows, err := worker.EnqueueBatch(ctx, store, gocql.UUID{}, []ImportRow{1, 2, 3, 4}, opts)
	if err != nil {
		log.Fatal(err)
	}
	report, err := worker.EnqueueAfterBatch(ctx, store, rows[0].BatchID, ImportReport("import of rows.csv"), opts)
	if err != nil {
		log.Fatal(err)
	}

	stop := run(p)
	defer stop()
	waitFor(store, report.ID)
	// Output:
	// import of rows.csv: finished=true succeeded=false, 3 succeeded, 1 cancelled
}

// NewJobFor makes a repo.NewJob of T's kind from typed arguments, for the
// store's own calls: here one batch that holds jobs of two kinds.
func ExampleNewJobFor() {
	ctx := context.Background()
	store := exampleStore()

	opts := &worker.EnqueueOpts{Queue: "example-newjobfor"}
	charge, err := worker.NewJobFor(Charge(1200), opts)
	if err != nil {
		log.Fatal(err)
	}
	receipt, err := worker.NewJobFor(EmailArgs{To: "ada@example.com", Subject: "Receipt"}, opts)
	if err != nil {
		log.Fatal(err)
	}
	jobs, err := store.Batches.Insert(ctx, gocql.UUID{}, []*repo.NewJob{charge, receipt})
	if err != nil {
		log.Fatal(err)
	}
	for _, j := range jobs {
		fmt.Printf("%s %s\n", j.Type, j.Args)
	}

	p := exampleProcessor(store, "example-newjobfor")
	if err := worker.Handle(p, func(ctx context.Context, job *worker.Job[Charge]) error { return nil }, nil); err != nil {
		log.Fatal(err)
	}
	if err := worker.Handle(p, func(ctx context.Context, job *worker.Job[EmailArgs]) error { return nil }, nil); err != nil {
		log.Fatal(err)
	}
	stop := run(p)
	defer stop()
	st, err := worker.WaitBatch(ctx, store, jobs[0].BatchID, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("finished:", st.Finished, "succeeded:", st.Succeeded, "jobs:", st.Size)
	// Output:
	// charge 1200
	// email.send {"to":"ada@example.com","subject":"Receipt"}
	// finished: true succeeded: true jobs: 2
}

// DailyReport names a report built every day.
type DailyReport string

// Kind implements worker.JobArgs.
func (DailyReport) Kind() string { return "report.daily" }

// Every processor runs the scheduler; each occurrence becomes one job.
func ExampleSchedule() {
	ctx := context.Background()
	store := exampleStore()

	ran := make(chan string, 10)
	p := exampleProcessor(store, "example-recurring")
	err := worker.Handle(p, func(ctx context.Context, job *worker.Job[DailyReport]) error {
		ran <- string(job.Args) + " from schedule " + job.RecurringID
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	rj, err := worker.Schedule(ctx, store, "nightly-report", "@every 1s", DailyReport("sales report"),
		&worker.ScheduleOpts{Queue: "example-recurring"})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = store.Recurring.Remove(ctx, rj.ID) }()
	fmt.Println("next run within a second:", time.Until(rj.NextRunAt) <= time.Second)

	stop := run(p)
	defer stop()
	fmt.Println(<-ran)
	// Output:
	// next run within a second: true
	// sales report from schedule nightly-report
}

// ExportPoll names an export to download once it is ready.
type ExportPoll string

// Kind implements worker.JobArgs.
func (ExportPoll) Kind() string { return "poll.export" }

// A handler that is not ready yet snoozes the job: it runs again later, with
// no attempt counted.
func ExampleJobSnooze() {
	ctx := context.Background()
	store := exampleStore()

	var calls atomic.Int32
	p := exampleProcessor(store, "example-snooze")
	err := worker.Handle(p, func(ctx context.Context, job *worker.Job[ExportPoll]) error {
		if calls.Add(1) == 1 {
			fmt.Println("export not ready; snoozing")
			return worker.JobSnooze(100 * time.Millisecond)
		}
		fmt.Println("downloaded", job.Args)
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	stop := run(p)
	defer stop()

	job, err := worker.Enqueue(ctx, store, ExportPoll("export-42"), &worker.EnqueueOpts{Queue: "example-snooze", MaxRetries: -1})
	if err != nil {
		log.Fatal(err)
	}
	done := waitFor(store, job.ID)
	fmt.Println(done.State, "with", done.RetryCount, "failed attempts")
	// Output:
	// export not ready; snoozing
	// downloaded export-42
	// Succeeded with 0 failed attempts
}

// Pause a queue: it still accepts jobs, but no processor claims them until
// it is resumed. Every processor notices within one poll interval, and jobs
// already running go on to their end.
func ExampleProcessor_Paused() {
	ctx := context.Background()
	store := exampleStore()
	const queue = "example-pause"

	p := exampleProcessor(store, queue)
	err := worker.Handle(p, func(ctx context.Context, job *worker.Job[EmailArgs]) error {
		fmt.Println("sent", job.Args.Subject)
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	stop := run(p)
	defer stop()
	opts := &worker.EnqueueOpts{Queue: queue}
	first, err := worker.Enqueue(ctx, store, EmailArgs{To: "ada@example.com", Subject: "first"}, opts)
	if err != nil {
		log.Fatal(err)
	}
	waitFor(store, first.ID)

	if err := store.Queues.Pause(ctx, queue); err != nil {
		log.Fatal(err)
	}
	for !slices.Contains(p.Paused(), queue) { // within one PollInterval (50ms here)
		time.Sleep(10 * time.Millisecond)
	}
	held, err := worker.Enqueue(ctx, store, EmailArgs{To: "ada@example.com", Subject: "second"}, opts)
	if err != nil {
		log.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond) // five poll intervals
	job, err := store.Jobs.Get(ctx, held.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("while paused:", job.State)

	if err := store.Queues.Resume(ctx, queue); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after the resume:", waitFor(store, held.ID).State)
	// Output:
	// sent first
	// while paused: Scheduled
	// sent second
	// after the resume: Succeeded
}

// Every running processor keeps a row in the registry of processors,
// rewritten every ReportInterval with a TTL; Run deletes it when it
// returns, and the row of a process that died expires.
func ExampleProcessor_Run_processors() {
	ctx := context.Background()
	store := exampleStore()
	p, err := worker.New(store, &worker.Config{
		Owner:          "example-reporter",
		Queues:         map[string]worker.QueueConfig{"example-report": {MaxWorkers: 4}},
		Version:        "v1.0.0",
		ReportInterval: 100 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		log.Fatal(err)
	}
	find := func() *repo.ProcessorInfo {
		list, err := store.Processors.List(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, pi := range list {
			if pi.Owner == p.Owner() {
				return &pi
			}
		}
		return nil
	}
	stop := run(p)
	var me *repo.ProcessorInfo
	for me = find(); me == nil; me = find() {
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println(me.Owner, me.Version, me.Queues, me.TotalRunning(), me.ExpiresAt.Sub(me.LastSeen))
	stop()
	fmt.Println("listed after Run returned:", find() != nil)
	// Output:
	// example-reporter v1.0.0 map[example-report:4] 0 1s
	// listed after Run returned: false
}

// Queues that share slots (Config.MaxWorkers) claim by priority: with
// strict priority every job of the queue of the highest weight starts
// before any job of a lower one, whatever was enqueued first.
func ExamplePriority() {
	ctx := context.Background()
	store := exampleStore()
	defer store.Close()
	const critical, bulk = "example-critical", "example-bulk"
	for _, queue := range []string{bulk, critical} {
		for n := range 3 {
			if _, err := worker.Enqueue(ctx, store, EmailArgs{Subject: fmt.Sprint(n)}, &worker.EnqueueOpts{Queue: queue}); err != nil {
				log.Fatal(err)
			}
		}
	}
	p, err := worker.New(store, &worker.Config{
		MaxWorkers:   1, // one handler at a time over both queues
		Priority:     worker.PriorityStrict,
		Queues:       map[string]worker.QueueConfig{critical: {Weight: 10}, bulk: {Weight: 1}},
		PollInterval: 50 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		log.Fatal(err)
	}
	started := make(chan string, 6)
	err = worker.Handle(p, func(ctx context.Context, job *worker.Job[EmailArgs]) error {
		started <- job.Queue
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	stop := run(p)
	defer stop()
	for range 6 {
		select {
		case queue := <-started:
			fmt.Println(queue)
		case <-time.After(time.Minute):
			log.Fatal("the jobs did not all start within a minute")
		}
	}
	// Output:
	// example-critical
	// example-critical
	// example-critical
	// example-bulk
	// example-bulk
	// example-bulk
}
