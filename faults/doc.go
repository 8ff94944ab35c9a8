// Package faults is the fault suite: it runs processors in their own OS
// processes against a three-node Cassandra cluster (replication 3, the
// store's default consistency), kills and restarts nodes, kills processors
// mid-job, races claims while a node is down and cuts the network between
// processors and a node, and then checks the store against an independent
// record of every execution that the processors' handlers keep.
//
//	go test ./faults                       # the short run (make test runs it)
//	go test ./faults -long                 # the long run (or JOBSHARP_FAULTS_LONG=1)
//	go test ./faults -run TestFaults/NodeKill -v
//
// The cluster is cqltest's fault cluster (127.0.0.21–23, started by
// scripts/cassandra when absent, left running). The processor program is
// faults/processor; it uses only the public API of repo and worker. The
// fault cluster itself is checked too: the node-kill scenario checks that a
// node killed with SIGKILL comes back with its schema and data, and
// TestPausedNodeIsNoticedAndResumes that a paused node is noticed down and
// comes back up.
//
// # What is checked
//
//   - No acknowledged job is lost: every job whose Enqueue returned success
//     is in the store at the end, and finished.
//   - None is stuck: every job finishes within a bound after the faults end.
//   - No job is claimed twice while its lease holds: no claim of a job
//     starts before the lease of an earlier claim of it ended (see
//     [Check] for how the end of a lease is bounded from the records).
//   - Every rerun is explained by a lease that really expired: the earlier
//     processor died, or its lease deadline had passed when the job was
//     claimed again.
//   - A job the store holds as Succeeded had a handler that returned
//     success.
//   - Counts ([repo.Jobs.Stats]) equal the truth, and say they are settled,
//     after every job finished: within a bound as the stores fold on their
//     own, or else within the bound after a forced sweep
//     ([repo.Store.SweepCounts], what the sweeper does every SweepInterval).
//     The suite reports which, the error before the sweep, and the time.
//
// The records are JSON lines ([Event]), one file per processor, one write
// per line: a processor killed with SIGKILL loses at most the line it was
// writing, and [ReadRecord] drops a torn last line. Set
// JOBSHARP_FAULTS_REPORT to a file to get each scenario's figures as JSON.
package faults
