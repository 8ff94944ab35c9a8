package repo_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
)

// exampleStore connects the way an application does: a gocql cluster on the
// keyspace that holds the schema, one session shared by the examples.
func exampleStore() *repo.Store {
	store, err := repo.New(cqltest.ExampleSession(), nil)
	if err != nil {
		log.Fatal(err)
	}
	return store
}

// A worker's life by hand: store a job, claim it under a lease, complete it.
func Example() {
	ctx := context.Background()
	store := exampleStore()
	defer store.Close()

	_, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: "example", Type: "email.send", Args: []byte(`{"to":"ada@example.com"}`)})
	if err != nil {
		log.Fatal(err)
	}
	jobs, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: "example", Owner: "worker-1", Limit: 10, Lease: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	job := jobs[0]
	fmt.Println(len(jobs), job.Type, job.State, job.Lease.Owner)

	done, err := store.Jobs.Complete(ctx, job, []byte("sent"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(done.State, string(done.Result))
	// Output:
	// 1 email.send Processing worker-1
	// Succeeded sent
}

// A failed attempt is retried after a backoff until MaxRetries, then the job
// is Abandoned.
func ExampleJobs_Fail() {
	ctx := context.Background()
	store := exampleStore()
	defer store.Close()

	if _, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: "example-fail", Type: "flaky", MaxRetries: -1}); err != nil {
		log.Fatal(err)
	}
	jobs, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: "example-fail", Owner: "w", Limit: 1})
	if err != nil {
		log.Fatal(err)
	}
	failed, err := store.Jobs.Fail(ctx, jobs[0], &repo.FailParams{Error: "connection refused"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(failed.State, failed.RetryCount, failed.LastError)
	// Output:
	// Abandoned 1 connection refused
}

// A continuation waits for its parent and runs once the parent succeeded.
func ExampleJobs_InsertContinuation() {
	ctx := context.Background()
	store := exampleStore()
	defer store.Close()

	parent, _ := store.Jobs.Insert(ctx, &repo.NewJob{Queue: "example-cont", Type: "render"})
	child, err := store.Jobs.InsertContinuation(ctx, parent.ID, &repo.NewJob{Queue: "example-cont", Type: "publish"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(child.State)

	jobs, _ := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: "example-cont", Owner: "w", Limit: 10})
	fmt.Println(len(jobs), jobs[0].Type)
	if _, err := store.Jobs.Complete(ctx, jobs[0], nil); err != nil {
		log.Fatal(err)
	}
	released, _ := store.Jobs.Get(ctx, child.ID)
	fmt.Println(released.State)
	// Output:
	// AwaitingContinuation
	// 1 render
	// Scheduled
}

// A batch's jobs are found without a secondary index, its status says
// whether it finished and how, and its progress costs one read.
func ExampleBatches() {
	ctx := context.Background()
	store := exampleStore()
	defer store.Close()

	jobs, err := store.Batches.Insert(ctx, gocql.UUID{}, []*repo.NewJob{
		{Queue: "example-batch", Type: "resize", Args: []byte("a.png")},
		{Queue: "example-batch", Type: "resize", Args: []byte("b.png")},
	})
	if err != nil {
		log.Fatal(err)
	}
	batch := jobs[0].BatchID
	claimed, _ := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: "example-batch", Owner: "w", Limit: 10})
	for _, j := range claimed {
		if _, err := store.Jobs.Complete(ctx, j, nil); err != nil {
			log.Fatal(err)
		}
	}
	st, err := store.Batches.Status(ctx, batch)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Size, st.Finished, st.Succeeded, st.States[repo.StateSucceeded])
	// Progress reads the batch's own partition only (for lists of batches).
	p, err := store.Batches.Progress(ctx, batch)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d of %d finished, %d succeeded\n", p.Finished, p.Size, p.Succeeded)
	// Output:
	// 2 true true 2
	// 2 of 2 finished, 2 succeeded
}

// Every scheduler may fire at once: each occurrence becomes one job.
func ExampleRecurring_Fire() {
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 9, 0, 30, 0, time.UTC)
	clock := func() time.Time { return now }
	store, _ := repo.New(exampleStore().Session(), &repo.Options{Now: clock})
	other, _ := repo.New(exampleStore().Session(), &repo.Options{Now: clock})

	_, err := store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: "report", Cron: "*/5 * * * *", Queue: "example-cron", Type: "report.build"})
	if err != nil {
		log.Fatal(err)
	}
	now = now.Add(10 * time.Minute) // 09:10:30: occurrences at 09:05 and 09:10
	a, _ := store.Recurring.Fire(ctx, &repo.FireParams{Queues: []string{"example-cron"}, Missed: repo.FireAll})
	b, _ := other.Recurring.Fire(ctx, &repo.FireParams{Queues: []string{"example-cron"}, Missed: repo.FireAll})
	fmt.Println(len(a)+len(b), "jobs")
	for _, j := range append(a, b...) {
		fmt.Println(j.ScheduledAt.Format("15:04"), j.Type)
	}
	// Output:
	// 2 jobs
	// 09:05 report.build
	// 09:10 report.build
}

// Counts are counters per queue and state; listing reads the index of the
// state and checks every hint against the job.
func ExampleJobs_Count() {
	ctx := context.Background()
	store := exampleStore()
	defer store.Close()

	for i := 0; i < 3; i++ {
		if _, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: "example-count", Type: "t", Hold: true}); err != nil {
			log.Fatal(err)
		}
	}
	// Counts lag the jobs by about a second (each store folds what it
	// changed every FoldInterval); SweepCounts folds a queue's counts at once.
	if err := store.SweepCounts(ctx, "example-count"); err != nil {
		log.Fatal(err)
	}
	n, _ := store.Jobs.Count(ctx, "example-count", repo.StateCreated)
	held, _ := store.Jobs.ListByState(ctx, &repo.ListParams{Queue: "example-count", State: repo.StateCreated, Limit: 10})
	fmt.Println(n, len(held))
	// Output:
	// 3 3
}

// Page through a list by cursor: each page starts strictly after the last
// job of the one before, so a deep page costs what the first does. A cursor
// that ListPage did not make for this list is refused.
func ExampleJobs_ListPage() {
	ctx := context.Background()
	store := exampleStore()
	defer store.Close()
	queue := "example-page-" + gocql.TimeUUID().String()[:8]
	var njs []*repo.NewJob
	for i := range 5 {
		njs = append(njs, &repo.NewJob{Queue: queue, Type: "t", Args: fmt.Appendf(nil, "%d", i), Hold: true})
	}
	if _, err := store.Jobs.InsertMany(ctx, njs); err != nil {
		log.Fatal(err)
	}
	p := &repo.ListPageParams{Queue: queue, State: repo.StateCreated, Limit: 2}
	for page := 1; ; page++ {
		res, err := store.Jobs.ListPage(ctx, p)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("page", page, "jobs:", len(res.Jobs))
		if res.Next == "" {
			break
		}
		p.Cursor = res.Next
	}
	p.Cursor = "not-a-cursor"
	_, err := store.Jobs.ListPage(ctx, p)
	var ce *repo.CursorError
	fmt.Println(errors.As(err, &ce), errors.Is(err, repo.ErrInvalid))
	// Output:
	// page 1 jobs: 2
	// page 2 jobs: 2
	// page 3 jobs: 1
	// true true
}

// Pause a schedule, let occurrences pass, resume it: what passed while it
// was paused is skipped. Trigger creates one job at once, paused or not.
func ExampleRecurring_Pause() {
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 9, 0, 30, 0, time.UTC)
	store, _ := repo.New(exampleStore().Session(), &repo.Options{Now: func() time.Time { return now }})
	queue := "example-pause-" + gocql.TimeUUID().String()[:8]
	fire := func() int {
		jobs, _ := store.Recurring.Fire(ctx, &repo.FireParams{Queues: []string{queue}, Missed: repo.FireAll})
		return len(jobs)
	}

	_, err := store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: queue, Cron: "*/5 * * * *", Queue: queue, Type: "report.build"})
	if err != nil {
		log.Fatal(err)
	}
	rj, _ := store.Recurring.Pause(ctx, queue)
	fmt.Println("paused:", rj.Paused)
	now = now.Add(20 * time.Minute) // 09:20:30: four occurrences passed
	fmt.Println("fired while paused:", fire())

	job, _ := store.Recurring.Trigger(ctx, queue)
	fmt.Println("triggered:", job.Type, job.State, job.RecurringID == queue)

	rj, _ = store.Recurring.Resume(ctx, queue, nil)
	fmt.Println("fired at resume:", fire(), "next:", rj.NextRunAt.Format("15:04"))
	now = now.Add(5 * time.Minute) // 09:25:30
	fmt.Println("fired at 09:25:", fire())
	all, _ := store.Recurring.List(ctx)
	for _, rj := range all {
		if rj.ID == queue {
			fmt.Println("last:", rj.LastRunAt.Format("15:04"), "next:", rj.NextRunAt.Format("15:04"))
		}
	}
	// Output:
	// paused: true
	// fired while paused: 0
	// triggered: report.build Scheduled true
	// fired at resume: 0 next: 09:25
	// fired at 09:25: 1
	// last: 09:25 next: 09:30
}

// Unique jobs: while the first is stored, the same unique job is not
// stored again; every caller gets the first back.
func ExampleJobs_InsertOne() {
	ctx := context.Background()
	store := exampleStore()
	defer store.Close()

	queue := "example-unique-" + gocql.TimeUUID().String()[:8]
	hourly := &repo.UniqueOpts{ByArgs: true, ByQueue: true, ByPeriod: time.Hour}
	first, err := store.Jobs.InsertOne(ctx, &repo.NewJob{Queue: queue, Type: "digest.send", Args: []byte(`{"user":42}`), Unique: hourly})
	if err != nil {
		log.Fatal(err)
	}
	again, _ := store.Jobs.InsertOne(ctx, &repo.NewJob{Queue: queue, Type: "digest.send", Args: []byte(`{"user":42}`), Unique: hourly})
	other, _ := store.Jobs.InsertOne(ctx, &repo.NewJob{Queue: queue, Type: "digest.send", Args: []byte(`{"user":7}`), Unique: hourly})
	fmt.Println(first.Existed, again.Existed, again.Job.ID == first.Job.ID)
	fmt.Println(other.Existed, other.Job.ID == first.Job.ID)
	// Output:
	// false true true
	// false false
}
