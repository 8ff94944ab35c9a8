// Package repo is the job store: JobSharp's storage contract on Cassandra or
// ScyllaDB, with the claims, leases, retries and scale the original lacked.
//
// # Using it
//
// Make one [Store] per process on a keyspace that holds the schema
// (`jobsharp schema apply`), and share it:
//
//	store, err := repo.New(session, nil) // a gocqlx.Session on the keyspace
//	job, err := store.Jobs.Insert(ctx, &repo.NewJob{Type: "email.send", Args: payload})
//	jobs, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: "default", Owner: host, Limit: 10})
//	for _, j := range jobs {
//		// run it, heartbeating with store.Jobs.Heartbeat for long runs …
//		_, err = store.Jobs.Complete(ctx, j, nil) // or store.Jobs.Fail(ctx, j, &repo.FailParams{Error: msg})
//	}
//
// The worker package runs handlers on top of this; most applications use it
// rather than claiming by hand.
//
// # Connecting
//
// The original's four configuration forms:
//
//	store, err := repo.Connect(ctx, repo.Config{Hosts: []string{"10.0.0.1"}, Keyspace: "jobsharp"})
//	store, err := repo.Connect(ctx, repo.Config{Hosts: hosts, Port: 19042, Keyspace: "jobsharp"})
//	store, err := repo.Connect(ctx, repo.Config{Hosts: hosts, Keyspace: "jobsharp", Username: u, Password: p,
//		TLS: tlsConfig, LocalDC: "dc1", Consistency: gocql.LocalQuorum, Timeout: 10 * time.Second})
//	store, err := repo.ConnectCluster(ctx, cluster, "jobsharp", nil) // a *gocql.ClusterConfig you built
//	store, err := repo.New(session, nil)                            // a gocqlx.Session from your factory
//
// Connect and ConnectCluster check the schema before returning ([Store.Check])
// and own their session ([Store.Close]). Their failures say what to do:
// [ErrKeyspaceNotFound], [ErrTableNotFound], [ErrSchemaMismatch],
// [ErrNoHosts], [ErrAuth], [ErrTLS], [ErrInvalidConfig].
//
// # JobSharp's operations
//
//	StoreJob              Jobs.Insert, Jobs.InsertMany
//	UpdateJob             Jobs.Update (conditioned on Job.Version)
//	GetJob                Jobs.Get
//	DeleteJob             Jobs.Delete
//	GetScheduledJobs(n)   Jobs.ListDue (read-only) and Jobs.Claim (takes them)
//	GetJobsByState(s, n)  Jobs.ListByState, Jobs.ListPage (by cursor, page after page)
//	GetJobCount(s)        Jobs.Count
//	StoreBatch / GetBatchJobs                 Batches.Insert / Batches.Jobs (and Batches.Status, Batches.Progress)
//	StoreContinuation / GetContinuations      Jobs.InsertContinuation / Jobs.Continuations
//	StoreRecurringJob / GetRecurringJobs / RemoveRecurringJob
//	                      Recurring.Upsert / Recurring.List / Recurring.Remove (and Recurring.Fire)
//
// # Guarantees
//
// The jobs row is the truth and changes only by lightweight transaction on
// its version, so concurrent changes never overwrite each other: the loser
// gets [ErrConflict]. A claim is exclusive: a job moves to Processing for one
// worker only, under a lease whose token fences every later write of that
// worker. Execution is at-least-once: when a lease expires (the worker died,
// stalled, or did not heartbeat), the job is rescued and runs again, and the
// old worker's Complete or Fail fails with [ErrLeaseLost]. Handlers should
// therefore be idempotent.
//
// Every other table is a hint: index rows are written before the change that
// makes them true and checked against the jobs row when read, so a crash at
// any point leaves at most a stray hint, never a lost job. Stray hints are
// skipped and removed by whoever meets them.
//
// Counts ([Jobs.Count]) are counters updated after each change; they are
// exact unless a process dies between a change and its count update.
//
// # Cost
//
// No partition grows with history: index partitions are keyed by a time
// bucket and a shard, and old buckets are dropped whole. A due scan reads
// from a watermark that trails now, so its cost follows what is due, not
// what was ever stored. Finished jobs expire after [Options.Retention].
//
// # Errors
//
// Methods wrap errors with the operation and job id; test them with
// errors.Is against the sentinels ([ErrNotFound], [ErrConflict],
// [ErrLeaseLost], [ErrInvalid], [ErrTimeout], …) and errors.As for the
// typed errors that carry details.
package repo
