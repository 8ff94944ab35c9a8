// Package bench measures the job store side by side with its two
// references, in one run on the same Cassandra node:
//
//   - raw gocql issuing the same statements as the store, with positional
//     binds and no generated layer: the physical limit of our data model;
//   - the original JobSharp.Cassandra strategy, reimplemented in Go on its
//     own schema in its own keyspace (see [Original]): ten time-hashed
//     scheduled buckets scanned from the beginning of time, N+1 reads,
//     separate unbatched writes, no claims.
//
// Absolute times on a shared two-core machine are noise, so every figure
// is a median over repetitions and every comparison a ratio of figures
// measured in the same run, with the contenders interleaved (A, B, B, A, …)
// so that a change of load hits both.
//
// # Scenarios
//
//   - store: jobs stored per second, one by one and in batches of 1,000;
//     ours (repo), raw gocql (the same statements), original.
//   - layer: the same reads and writes through the generated models/queries
//     and through hand-written gocql: latency, client CPU and allocations
//     per operation.
//   - hints: the hint rows of 1,000 jobs written as one unlogged
//     multi-partition batch, as one unlogged batch per partition (each under
//     Cassandra's 5 KiB warn threshold) with bounded parallelism, or as
//     single statements with bounded parallelism (invariant 7).
//   - claim: claims per second with 1, 4 and 8 workers on a backlog, and
//     the jobs claimed by more than one worker.
//   - duescan: the latency of fetching 100 due jobs as the history of
//     processed jobs grows, spread over simulated time by Options.Now (the
//     original gets the same clock).
//   - throughput: issue #13's workloads (drain a backlog, producers
//     inserting one by one while a processor works, a bulk insert) with one
//     processor of 100 slots and a no-op handler, for ours, raw gocql
//     (ours' statements sent by hand, without the store's guarantees), the
//     previous design (the store of Config.PreviousCommit, built from git)
//     and River on PostgreSQL. Each contender runs in a driver process of its own
//     over the same workload code (package workload); see
//     [ThroughputContenders].
//   - controls: what each operator control costs (issue #16). The same
//     workload (jobs enqueued one by one through the worker package, then
//     completed by one processor with a no-op handler) runs with no control,
//     with unique inserts (every key free; every job inserted twice), with
//     the OpenTelemetry hooks on the SDK, and with the processor registry
//     on; statements and LWTs per job, with the difference from the
//     baseline. The timer-driven controls (the registry's row, the pause
//     watcher's read) are also measured per processor per minute on idle
//     processors. See [ControlVariants].
//
// Each scenario also counts the statements (client round trips) each
// contender sends per operation, with gocql's query and batch observers
// (package cqlcount); the throughput scenario also counts lightweight
// transactions.
//
// # Running
//
// [Run] is the entry point; bench/cmd/bench is a small command around it
// that writes the report as JSON and Markdown and draws the plots:
//
//	go run ./bench/cmd/bench -mode quick -out docs/bench
//
// The throughput scenario needs PostgreSQL for River (scripts/bench-setup
// starts one); in Smoke mode it runs without River when none answers.
package bench
