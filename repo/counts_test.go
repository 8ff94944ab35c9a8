package repo_test

import (
	"context"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
)

// TestSweeperRepairsADeadWritersCounts: a writer that changed jobs and
// never folded them (as one killed before its fold) leaves counts that are
// wrong and say so (not settled). Another store, which changes jobs of its
// own queue, sweeps every queue of the registry on its own within about
// SweepInterval: the dead writer's counts become exact and settled, with no
// call to SweepCounts.
func TestSweeperRepairsADeadWritersCounts(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	// A keyspace of its own: the sweeper sweeps every queue it finds, and
	// the package keyspace holds the queues of every other test.
	ks := newKeyspace(ctx, t)
	queue := cqltest.Queue(t)
	writer, err := repo.New(keyspaceSession(t, ks), &repo.Options{FoldInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(writer.Close)
	want := countedJobs(ctx, t, writer, queue)
	exact := func(c repo.Counts) bool {
		for _, st := range repo.States() {
			if c.Jobs[st] != want[st] {
				return false
			}
		}
		return true
	}
	c, err := writer.Jobs.Counts(ctx, queue)
	if err != nil {
		t.Fatal(err)
	}
	if exact(c) || c.Settled {
		t.Fatalf("Counts() before any fold = %+v; want them behind the jobs, and saying so (not settled)", c)
	}

	// The sweeper's store runs (it changes jobs of another queue, as a
	// processor does) and is never asked to sweep.
	const sweepInterval = time.Second
	sweeper, err := repo.New(keyspaceSession(t, ks), &repo.Options{FoldInterval: 100 * time.Millisecond, SweepInterval: sweepInterval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sweeper.Close)
	began := time.Now()
	if _, err := sweeper.Jobs.Insert(ctx, &repo.NewJob{Queue: "other", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	deadline := began.Add(30 * time.Second)
	for {
		c, err = writer.Jobs.Counts(ctx, queue)
		if err == nil && exact(c) && c.Settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Counts() %s after the sweeper started = %+v, %v; want %v, settled", time.Since(began).Round(time.Millisecond), c, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("exact and settled %s after the sweeper's store started (SweepInterval %s)", time.Since(began).Round(time.Millisecond), sweepInterval)
}

// countedJobs stores five jobs of queue through store, claims two and
// completes one, and returns the counts that makes.
func countedJobs(ctx context.Context, t *testing.T, store *repo.Store, queue string) map[repo.State]int64 {
	t.Helper()
	var nj []*repo.NewJob
	for range 5 {
		nj = append(nj, &repo.NewJob{Queue: queue, Type: "t"})
	}
	if _, err := store.Jobs.InsertMany(ctx, nj); err != nil {
		t.Fatal(err)
	}
	held, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: queue, Owner: "test", Limit: 2, Lease: time.Minute})
	if err != nil || len(held) != 2 {
		t.Fatalf("Claim() = %d jobs, %v; want 2", len(held), err)
	}
	if _, err := store.Jobs.Complete(ctx, held[0], nil); err != nil {
		t.Fatal(err)
	}
	return map[repo.State]int64{repo.StateScheduled: 3, repo.StateProcessing: 1, repo.StateSucceeded: 1}
}

// TestCountsAddAnOlderVersionsFinalLog: before the finish log, changes of
// final states went to a static map of the partition (final_log). A
// keyspace an older version wrote still holds such entries until they
// expire, and its counts include them: a fold adds them to the finish log.
func TestCountsAddAnOlderVersionsFinalLog(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t, nil)
	b.insert(ctx, t, &repo.NewJob{})
	done := b.claim(ctx, t, 1)
	if _, err := b.store.Jobs.Complete(ctx, done[0], nil); err != nil {
		t.Fatal(err)
	}
	if c := b.count(ctx, t, repo.StateSucceeded); c != 1 {
		t.Fatalf("Count(Succeeded) = %d, want 1", c)
	}
	home, shard, err := repo.HomeOf(done[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// What an older version wrote for two jobs it finished there.
	err = cqltest.Session(t).Query("UPDATE jobs USING TTL 3600 SET final_log[?] = ? WHERE home = ? AND shard = ?", nil).
		Bind(gocql.TimeUUID(), map[int32]int32{int32(repo.StateSucceeded): 2}, home, shard).ExecRelease()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.SweepCounts(ctx, b.queue); err != nil {
		t.Fatal(err)
	}
	if c := b.count(ctx, t, repo.StateSucceeded); c != 3 {
		t.Errorf("Count(Succeeded) after an older version's final_log entry = %d, want 3", c)
	}
}
