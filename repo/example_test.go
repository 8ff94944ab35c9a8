package repo_test

import (
	"context"
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

// A batch's jobs are found without a secondary index, and its status says
// whether it finished and how.
func ExampleBatches() {
	ctx := context.Background()
	store := exampleStore()

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
	// Output:
	// 2 true true 2
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

	for i := 0; i < 3; i++ {
		if _, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: "example-count", Type: "t", Hold: true}); err != nil {
			log.Fatal(err)
		}
	}
	n, _ := store.Jobs.Count(ctx, "example-count", repo.StateCreated)
	held, _ := store.Jobs.ListByState(ctx, &repo.ListParams{Queue: "example-count", State: repo.StateCreated, Limit: 10})
	fmt.Println(n, len(held))
	// Output:
	// 3 3
}
