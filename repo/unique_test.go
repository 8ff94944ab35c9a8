package repo_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/jobsharp/cassandra/bench/cqlcount"
	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
)

func (b *testBundle) insertOne(ctx context.Context, t *testing.T, nj *repo.NewJob) *repo.InsertResult {
	t.Helper()
	if nj.Queue == "" {
		nj.Queue = b.queue
	}
	if nj.Type == "" {
		nj.Type = "unique.job"
	}
	r, err := b.store.Jobs.InsertOne(ctx, nj)
	if err != nil {
		t.Fatalf("InsertOne() error = %v", err)
	}
	return r
}

func TestUniqueJobs(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("RacingInsertsStoreOneAndReturnItToEveryCaller", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		const rounds, racers = 100, 8
		// The racers are spread over four stores with sessions of their own,
		// as in four processes: nothing in one process can order them.
		stores := []*repo.Store{b.store, b.sameStore(t, nil), b.sameStore(t, nil), b.sameStore(t, nil)}
		for round := range rounds {
			var (
				wg      sync.WaitGroup
				results [racers]*repo.InsertResult
				errs    [racers]error
			)
			for i := range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = stores[i%len(stores)].Jobs.InsertOne(ctx, &repo.NewJob{
						Queue: b.queue, Type: "report", Args: fmt.Appendf(nil, `{"round":%d}`, round),
						Unique: &repo.UniqueOpts{ByArgs: true, ByQueue: true},
					})
				}()
			}
			wg.Wait()
			fresh := 0
			for i := range racers {
				if errs[i] != nil {
					t.Fatalf("round %d: InsertOne() error = %v", round, errs[i])
				}
				if results[i].Job.ID != results[0].Job.ID {
					t.Fatalf("round %d: callers got jobs %s and %s, want one", round, results[0].Job.ID, results[i].Job.ID)
				}
				if !results[i].Existed {
					fresh++
				}
			}
			if fresh != 1 {
				t.Fatalf("round %d: %d callers were told they stored the job, want 1", round, fresh)
			}
		}
		jobs, err := b.store.Jobs.ListByState(ctx, &repo.ListParams{Queue: b.queue, State: repo.StateScheduled, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		perArgs := map[string]int{}
		for _, j := range jobs {
			perArgs[string(j.Args)]++
		}
		if len(jobs) != rounds || len(perArgs) != rounds {
			t.Errorf("%d jobs stored with %d distinct arguments, want %d: one per round", len(jobs), len(perArgs), rounds)
		}
	})

	t.Run("KeyWithoutPeriodGoesWithItsJob", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		session := b.store.Session().Session
		nj := func(args string) *repo.NewJob {
			return &repo.NewJob{Queue: b.queue, Type: "sync", Args: []byte(args), Unique: &repo.UniqueOpts{ByArgs: true}}
		}
		// ttls reads the TTLs of a key's cells; found is false when the
		// key has no row.
		ttls := func(args string) (holder gocql.UUID, jobTTL, claimTTL int, found bool) {
			t.Helper()
			key, err := repo.UniqueKey(ctx, b.store, nj(args))
			if err != nil {
				t.Fatal(err)
			}
			var jt, ct *int
			err = session.Query(`SELECT job_id, TTL(job_id), TTL(claimed_at) FROM unique_keys WHERE key = ?`, key).WithContext(ctx).Scan(&holder, &jt, &ct)
			if errors.Is(err, gocql.ErrNotFound) {
				return holder, 0, 0, false
			}
			if err != nil {
				t.Fatal(err)
			}
			if jt != nil {
				jobTTL = *jt
			}
			if ct != nil {
				claimTTL = *ct
			}
			return holder, jobTTL, claimTTL, true
		}
		job := b.insertOne(ctx, t, nj(`"a"`)).Job
		if holder, jt, ct, ok := ttls(`"a"`); !ok || holder != job.ID || jt != 0 || ct != 0 {
			t.Fatalf("new key: holder %s (found %v), TTLs %d and %d; want job %s without a TTL", holder, ok, jt, ct, job.ID)
		}

		// Finished: the key expires with the job's row.
		claimed := b.claim(ctx, t, 1)
		if len(claimed) != 1 {
			t.Fatalf("claimed %d jobs, want 1", len(claimed))
		}
		if _, err := b.store.Jobs.Complete(ctx, claimed[0], nil); err != nil {
			t.Fatal(err)
		}
		retention := int(repo.DefaultRetention / time.Second)
		if holder, jt, ct, ok := ttls(`"a"`); !ok || holder != job.ID || jt < retention-60 || jt > retention || ct < retention-60 || ct > retention {
			t.Errorf("finished job's key: holder %s (found %v), TTLs %d and %d; want job %s with the retention TTL %d", holder, ok, jt, ct, job.ID, retention)
		}
		// Every cell of the key has that TTL and the row has no marker (the
		// key is claimed by an UPDATE): once its cells are gone, so is the
		// row. Checked on a key of its own by deleting its cells.
		other := b.insertOne(ctx, t, nj(`"b"`)).Job
		key, err := repo.UniqueKey(ctx, b.store, nj(`"b"`))
		if err != nil {
			t.Fatal(err)
		}
		if err := session.Query(`DELETE job_id, claimed_at FROM unique_keys WHERE key = ?`, key).WithContext(ctx).Exec(); err != nil {
			t.Fatal(err)
		}
		if _, _, _, ok := ttls(`"b"`); ok {
			t.Errorf("the key of job %s has a row without cells: its claim left a row marker, which no TTL removes", other.ID)
		}

		// Requeued: the job runs again and holds its key for good again.
		if _, err := b.store.Jobs.Requeue(ctx, job.ID, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if holder, jt, ct, ok := ttls(`"a"`); !ok || holder != job.ID || jt != 0 || ct != 0 {
			t.Errorf("requeued job's key: holder %s (found %v), TTLs %d and %d; want job %s without a TTL", holder, ok, jt, ct, job.ID)
		}
		if r := b.insertOne(ctx, t, nj(`"a"`)); !r.Existed || r.Job.ID != job.ID {
			t.Errorf("insert after the requeue = %s (existed %v), want job %s", r.Job.ID, r.Existed, job.ID)
		}

		// Deleted: the key is given back.
		if err := b.store.Jobs.Delete(ctx, job.ID); err != nil {
			t.Fatal(err)
		}
		if holder, _, _, ok := ttls(`"a"`); ok {
			t.Errorf("deleted job's key still names %s", holder)
		}
		if r := b.insertOne(ctx, t, nj(`"a"`)); r.Existed || r.Job.ID == job.ID {
			t.Errorf("insert after the delete = %s (existed %v), want a new job", r.Job.ID, r.Existed)
		}
	})

	t.Run("KeyIsTheTypePlusWhatItNames", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		other := b.queue + "_b"
		byType := &repo.UniqueOpts{}
		first := b.insertOne(ctx, t, &repo.NewJob{Type: "sync." + b.queue, Args: []byte(`1`), Unique: byType})
		// By type alone: other arguments and another queue find the same job.
		if r := b.insertOne(ctx, t, &repo.NewJob{Type: "sync." + b.queue, Queue: other, Args: []byte(`2`), Unique: byType}); !r.Existed || r.Job.ID != first.Job.ID {
			t.Errorf("unique by type: second insert = %s existed %v; want job %s", r.Job.ID, r.Existed, first.Job.ID)
		}
		byQueue := &repo.UniqueOpts{ByQueue: true}
		a := b.insertOne(ctx, t, &repo.NewJob{Type: "q." + b.queue, Unique: byQueue})
		c := b.insertOne(ctx, t, &repo.NewJob{Type: "q." + b.queue, Queue: other, Unique: byQueue})
		if a.Existed || c.Existed || a.Job.ID == c.Job.ID {
			t.Errorf("unique by queue: two queues gave %v and %v; want two jobs", a, c)
		}
		byArgs := &repo.UniqueOpts{ByArgs: true}
		a = b.insertOne(ctx, t, &repo.NewJob{Type: "a." + b.queue, Args: []byte(`{"n":1}`), Unique: byArgs})
		c = b.insertOne(ctx, t, &repo.NewJob{Type: "a." + b.queue, Args: []byte(`{"n":2}`), Unique: byArgs})
		d := b.insertOne(ctx, t, &repo.NewJob{Type: "a." + b.queue, Args: []byte(`{"n":1}`), Unique: byArgs})
		if a.Existed || c.Existed || !d.Existed || d.Job.ID != a.Job.ID {
			t.Errorf("unique by args: got %v %v %v; want two jobs, the third insert finding the first", a, c, d)
		}
	})

	t.Run("PeriodIsTheBucketOfTheScheduledTime", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		hourly := &repo.UniqueOpts{ByPeriod: time.Hour}
		h := b.clock.Now().Truncate(time.Hour).Add(2 * time.Hour)
		a := b.insertOne(ctx, t, &repo.NewJob{ScheduledAt: h.Add(5 * time.Minute), Unique: hourly})
		c := b.insertOne(ctx, t, &repo.NewJob{ScheduledAt: h.Add(55 * time.Minute), Unique: hourly})
		d := b.insertOne(ctx, t, &repo.NewJob{ScheduledAt: h.Add(65 * time.Minute), Unique: hourly})
		if a.Existed || !c.Existed || c.Job.ID != a.Job.ID || d.Existed || d.Job.ID == a.Job.ID {
			t.Errorf("hourly: %s→%v, %s→%v, %s→%v; want one job for the first hour and one for the next", a.Job.ScheduledAt, a.Existed, c.Job.ScheduledAt, c.Existed, d.Job.ScheduledAt, d.Existed)
		}
	})

	t.Run("AJobHoldsItsKeyOnlyInItsStates", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		nj := func(states ...repo.State) *repo.NewJob {
			return &repo.NewJob{Queue: b.queue, Type: "s", Unique: &repo.UniqueOpts{ByQueue: true, ByState: states}}
		}
		first := b.insertOne(ctx, t, nj())
		claimed := b.claim(ctx, t, 1)
		if len(claimed) != 1 {
			t.Fatalf("claimed %d jobs, want 1", len(claimed))
		}
		if r := b.insertOne(ctx, t, nj()); !r.Existed || r.Job.ID != first.Job.ID || r.Job.State != repo.StateProcessing {
			t.Errorf("insert while the holder runs = %s %s existed %v; want the running holder", r.Job.ID, r.Job.State, r.Existed)
		}
		if _, err := b.store.Jobs.Complete(ctx, claimed[0], nil); err != nil {
			t.Fatal(err)
		}
		// Succeeded holds the key by default...
		if r := b.insertOne(ctx, t, nj()); !r.Existed || r.Job.ID != first.Job.ID {
			t.Errorf("insert after success (default states) = %s existed %v; want the holder", r.Job.ID, r.Existed)
		}
		// ...not when the states leave it out: the key is taken over.
		live := []repo.State{repo.StateScheduled, repo.StateProcessing, repo.StateFailed}
		second := b.insertOne(ctx, t, nj(live...))
		if second.Existed || second.Job.ID == first.Job.ID {
			t.Fatalf("insert after success (live states) = %s existed %v; want a new job", second.Job.ID, second.Existed)
		}
		if holder, err := repo.UniqueKeyHolder(ctx, b.store, nj()); err != nil || holder != second.Job.ID {
			t.Errorf("key holder = %s, %v; want %s", holder, err, second.Job.ID)
		}
		// A cancelled holder frees the key, even under the default states.
		if _, err := b.store.Jobs.Cancel(ctx, second.Job.ID); err != nil {
			t.Fatal(err)
		}
		if r := b.insertOne(ctx, t, nj()); r.Existed || r.Job.ID == second.Job.ID {
			t.Errorf("insert after cancel = %s existed %v; want a new job", r.Job.ID, r.Existed)
		}
	})

	t.Run("AFailedInsertLeavesNoKey", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		nj := &repo.NewJob{Queue: b.queue, Type: "f", Unique: &repo.UniqueOpts{ByQueue: true}}
		crash := errors.New("crash")
		repo.SetAfterHints(b.store, func(op string) error { return crash })
		if _, err := b.store.Jobs.InsertOne(ctx, nj); !errors.Is(err, crash) {
			t.Fatalf("InsertOne() error = %v, want the crash", err)
		}
		repo.SetAfterHints(b.store, nil)
		if holder, err := repo.UniqueKeyHolder(ctx, b.store, nj); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("after a failed insert the key is held by %s (%v), want no key", holder, err)
		}
		if r := b.insertOne(ctx, t, nj); r.Existed {
			t.Errorf("insert after the failure found job %s, want a new one", r.Job.ID)
		}
	})

	t.Run("AKeyWhoseJobNeverCameIsTakenOverAfterGrace", func(t *testing.T) {
		t.Parallel()

		b := setup(t, &repo.Options{Grace: 2 * time.Second})
		nj := &repo.NewJob{Queue: b.queue, Type: "d", Unique: &repo.UniqueOpts{ByQueue: true}}
		ghost := b.newID(ctx, t) // a process claimed the key, then died before inserting
		if err := repo.ClaimUniqueKey(ctx, b.store, nj, ghost, b.clock.Now()); err != nil {
			t.Fatal(err)
		}
		// While the claim is young the insert may be in flight: wait.
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if r, err := b.store.Jobs.InsertOne(wctx, nj); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("InsertOne() during the claim's grace = %v, %v; want it to wait", r, err)
		}
		b.clock.Advance(3 * time.Second)
		r := b.insertOne(ctx, t, nj)
		if r.Existed || r.Job.ID == ghost {
			t.Errorf("InsertOne() after grace = %s existed %v; want a new job", r.Job.ID, r.Existed)
		}
		if holder, err := repo.UniqueKeyHolder(ctx, b.store, nj); err != nil || holder != r.Job.ID {
			t.Errorf("key holder = %s, %v; want %s", holder, err, r.Job.ID)
		}
	})

	t.Run("MisuseIsRefused", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		for name, nj := range map[string]*repo.NewJob{
			"short period":     {Type: "x", Unique: &repo.UniqueOpts{ByPeriod: 500 * time.Millisecond}},
			"negative period":  {Type: "x", Unique: &repo.UniqueOpts{ByPeriod: -time.Hour}},
			"no Scheduled":     {Type: "x", Unique: &repo.UniqueOpts{ByState: []repo.State{repo.StateProcessing, repo.StateFailed}}},
			"held, no Created": {Type: "x", Hold: true, Unique: &repo.UniqueOpts{ByState: []repo.State{repo.StateScheduled, repo.StateProcessing, repo.StateFailed}}},
			"no state":         {Type: "x", Unique: &repo.UniqueOpts{ByState: []repo.State{repo.StateScheduled, repo.StateProcessing, repo.StateFailed, 42}}},
		} {
			nj.Queue = b.queue
			if _, err := b.store.Jobs.InsertOne(ctx, nj); !errors.Is(err, repo.ErrInvalid) {
				t.Errorf("%s: InsertOne() error = %v, want ErrInvalid", name, err)
			}
		}
		u := &repo.UniqueOpts{}
		if _, err := b.store.Jobs.InsertMany(ctx, []*repo.NewJob{{Queue: b.queue, Type: "x", Unique: u}}); !errors.Is(err, repo.ErrInvalid) {
			t.Errorf("InsertMany() of a unique job error = %v, want ErrInvalid", err)
		}
		if _, err := b.store.Batches.Insert(ctx, repo.NewBatchID(), []*repo.NewJob{{Queue: b.queue, Type: "x", Unique: u}}); !errors.Is(err, repo.ErrInvalid) {
			t.Errorf("Batches.Insert() of a unique job error = %v, want ErrInvalid", err)
		}
	})
}

// TestUniqueInsertCost counts, with the driver's observers, what a unique
// insert sends beside a plain one: the figures README.md quotes.
func TestUniqueInsertCost(t *testing.T) {
	ctx := context.Background()
	store, counter := countingStore(t)
	queue := cqltest.Queue(t)
	if _, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: queue, Type: "warm"}); err != nil { // registers the queue
		t.Fatal(err)
	}
	const n = 20
	measure := func(name string, insert func(i int) *repo.InsertResult) cqlcount.Counts {
		before := counter.Snapshot()
		for i := range n {
			insert(i)
		}
		after := counter.Snapshot()
		d := cqlcount.Counts{Queries: after.Queries - before.Queries, Batches: after.Batches - before.Batches, LWTs: after.LWTs - before.LWTs}
		t.Logf("%-28s per insert: %.2f statements alone, %.2f batches, %.2f LWTs", name, float64(d.Queries)/n, float64(d.Batches)/n, float64(d.LWTs)/n)
		return d
	}
	one := func(nj *repo.NewJob) *repo.InsertResult {
		r, err := store.Jobs.InsertOne(ctx, nj)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var ids []gocql.UUID
	plain := measure("plain", func(i int) *repo.InsertResult {
		return one(&repo.NewJob{Queue: queue, Type: "t", Args: fmt.Appendf(nil, "%d", i)})
	})
	unique := measure("unique, new key", func(i int) *repo.InsertResult {
		r := one(&repo.NewJob{Queue: queue, Type: "t", Args: fmt.Appendf(nil, "%d", i), Unique: &repo.UniqueOpts{ByArgs: true}})
		ids = append(ids, r.Job.ID)
		return r
	})
	dup := measure("unique, key held", func(i int) *repo.InsertResult {
		r := one(&repo.NewJob{Queue: queue, Type: "t", Args: fmt.Appendf(nil, "%d", i), Unique: &repo.UniqueOpts{ByArgs: true}})
		if !r.Existed || r.Job.ID != ids[i] {
			t.Fatalf("insert %d found %s (existed %v), want %s", i, r.Job.ID, r.Existed, ids[i])
		}
		return r
	})
	if got := unique.LWTs - plain.LWTs; got != n {
		t.Errorf("unique inserts sent %d LWTs more than plain ones for %d inserts, want one each", got, n)
	}
	if dup.LWTs != n || dup.Queries != 2*n || dup.Batches != 0 {
		t.Errorf("inserts of held keys sent %+v for %d inserts; want one LWT and one read each, no batch", dup, n)
	}

	// Finishing: a unique job's key gets the job's TTL, one LWT more.
	jobs, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: queue, Owner: "cost", Limit: 2*n + 1, Lease: time.Minute})
	if err != nil || len(jobs) != 2*n+1 {
		t.Fatalf("Claim() = %d jobs, %v; want %d", len(jobs), err, 2*n+1)
	}
	var plainJobs, uniqueJobs []*repo.Job
	for _, j := range jobs {
		if slices.Contains(ids, j.ID) {
			uniqueJobs = append(uniqueJobs, j)
		} else if j.Type == "t" {
			plainJobs = append(plainJobs, j)
		}
	}
	complete := func(name string, js []*repo.Job) cqlcount.Counts {
		return measure(name, func(i int) *repo.InsertResult {
			if _, err := store.Jobs.Complete(ctx, js[i], nil); err != nil {
				t.Fatal(err)
			}
			return nil
		})
	}
	plainDone := complete("complete plain", plainJobs)
	uniqueDone := complete("complete unique", uniqueJobs)
	if got := uniqueDone.LWTs - plainDone.LWTs; got != n {
		t.Errorf("completing unique jobs sent %d LWTs more than plain ones for %d jobs, want one each", got, n)
	}
}

// countingStore opens a store on a session of its own whose statements and
// batches counter counts (the driver's observers), with no count folding:
// it runs in the background and would be counted.
func countingStore(t *testing.T) (*repo.Store, *cqlcount.Counter) {
	t.Helper()
	counter := cqlcount.New()
	c := cqltest.Cluster()
	c.Keyspace = cqltest.Keyspace(t)
	c.QueryObserver, c.BatchObserver = counter, counter
	session, err := gocqlx.WrapSession(c.CreateSession())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(session.Close)
	store, err := repo.New(session, &repo.Options{FoldInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	return store, counter
}
