package repo_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/schema"
)

// ownKeyspace is setup on a keyspace of the test's own, for a test that
// scans whole tables: in the package's keyspace they hold the tombstones of
// every other test, and a scan can fail with READ_TOO_MANY_TOMBSTONES.
func ownKeyspace(ctx context.Context, t *testing.T) *testBundle {
	t.Helper()
	admin := cqltest.AdminSession(t)
	ks := cqltest.UniqueKeyspace(t)
	cqltest.DropKeyspaceAtEnd(t, admin, ks)
	if _, err := schema.Apply(ctx, admin, ks, &schema.Replication{Class: schema.SimpleStrategy, Factor: 1}); err != nil {
		t.Fatalf("schema.Apply(%s) error = %v", ks, err)
	}
	c := cqltest.Cluster()
	c.Keyspace = ks
	session, err := gocqlx.WrapSession(c.CreateSession())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(session.Close)
	clock := newClock()
	// No background folding: its count rows, landing while a refused call
	// runs, would count as that call's writes.
	store, err := repo.New(session, &repo.Options{Now: clock.Now, Logger: cqltest.Logger(t, slog.LevelDebug), FoldInterval: -1})
	if err != nil {
		t.Fatalf("repo.New() error = %v", err)
	}
	t.Cleanup(store.Close)
	return &testBundle{store: store, clock: clock, queue: cqltest.Queue(t)}
}

// queueTables are the tables with rows per queue, and their queue column.
var queueTables = [][2]string{
	{"jobs", "queue"}, {"home_buckets", "queue"}, {"scheduled_jobs", "queue"}, {"scheduled_buckets", "queue"},
	{"jobs_by_state", "queue"}, {"state_buckets", "queue"}, {"count_cells", "queue"}, {"count_hours", "queue"},
	{"queues", "name"},
}

// queueRows counts the rows of queue in every table that holds rows per
// queue: what a refused call must not have written.
func queueRows(ctx context.Context, t *testing.T, s *repo.Store, queue string) int {
	t.Helper()
	n := 0
	for _, tc := range queueTables {
		var c int
		q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s = ? ALLOW FILTERING", tc[0], tc[1])
		if err := s.Session().Session.Query(q, queue).WithContext(ctx).Scan(&c); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		n += c
	}
	return n
}

// TestInvalidInput calls every public function of repo with each kind of
// bad input: text that is not valid UTF-8 (Cassandra's text type takes
// nothing else), a queue name it does not accept, a time past the year
// 9999, nil arguments, receivers and contexts. Each call fails with
// ErrInvalid, a *ValidationError naming the field, and leaves nothing
// written: no row of its queue in any table (not even the queue's
// registration), and no change of the job it was given. Each case is named
// "Handle.Method/what", and EveryMethodInTheTable fails when an exported
// method of the store's handles has no case.
func TestInvalidInput(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := ownKeyspace(ctx, t)
	s := b.store
	const bad = "caf\xe9 au lait" // Latin-1, not UTF-8
	past9999 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

	// A job held by a worker, for the lease operations; its queue is the
	// bundle's.
	b.insert(ctx, t, &repo.NewJob{Type: "held"})
	claimed := b.claim(ctx, t, 1)
	if len(claimed) != 1 {
		t.Fatalf("claimed %d jobs, want 1", len(claimed))
	}
	held := claimed[0]
	// A batch, for the batch continuations.
	batch := gocql.MustRandomUUID()
	if _, err := s.Batches.Insert(ctx, batch, []*repo.NewJob{{Queue: b.queue, Type: "batched", Hold: true}}); err != nil {
		t.Fatal(err)
	}
	// fresh is a queue no call has used: a refused call must not register it.
	n := 0
	fresh := func() string { n++; return fmt.Sprintf("%s_%d", b.queue[:min(len(b.queue), 58)], n) }
	var nilCtx context.Context

	type call struct {
		name  string
		field string // the ValidationError's Field
		queue string // whose rows the call must not change
		run   func() error
	}
	var tests []call
	add := func(name, field, queue string, run func() error) {
		tests = append(tests, call{name, field, queue, run})
	}
	withErr := func(_ any, err error) error { return err }

	// Inserts: every field of a new job, in every insert path.
	for _, tc := range []struct {
		name, field string
		nj          func(q string) *repo.NewJob
	}{
		{"type", "type", func(q string) *repo.NewJob { return &repo.NewJob{Queue: q, Type: bad} }},
		{"metadata key", "metadata key", func(q string) *repo.NewJob {
			return &repo.NewJob{Queue: q, Type: "t", Metadata: map[string]string{bad: "v"}}
		}},
		{"metadata value", `metadata value of "k"`, func(q string) *repo.NewJob {
			return &repo.NewJob{Queue: q, Type: "t", Metadata: map[string]string{"k": bad}}
		}},
		{"queue", "queue", func(string) *repo.NewJob { return &repo.NewJob{Queue: "caf\xe9", Type: "t"} }},
		{"scheduled after 9999", "scheduled at", func(q string) *repo.NewJob {
			return &repo.NewJob{Queue: q, Type: "t", ScheduledAt: past9999}
		}},
		{"nil job", "job", func(string) *repo.NewJob { return nil }},
	} {
		q := fresh()
		add("Jobs.Insert/"+tc.name, tc.field, q, func() error { return withErr(s.Jobs.Insert(ctx, tc.nj(q))) })
		// In a list, the bad job comes second: the first, valid, must not
		// have registered its queue either.
		q = fresh()
		add("Jobs.InsertMany/"+tc.name, tc.field, q, func() error {
			return withErr(s.Jobs.InsertMany(ctx, []*repo.NewJob{{Queue: q, Type: "t"}, tc.nj(q)}))
		})
		q = fresh()
		add("Batches.Insert/"+tc.name, tc.field, q, func() error {
			return withErr(s.Batches.Insert(ctx, gocql.UUID{}, []*repo.NewJob{{Queue: q, Type: "t"}, tc.nj(q)}))
		})
		q = fresh()
		add("Jobs.InsertContinuation/"+tc.name, tc.field, q, func() error {
			return withErr(s.Jobs.InsertContinuation(ctx, held.ID, tc.nj(q)))
		})
		q = fresh()
		add("Jobs.InsertOne/"+tc.name, tc.field, q, func() error { return withErr(s.Jobs.InsertOne(ctx, tc.nj(q))) })
		// The unique path checks the job before it claims the key.
		q = fresh()
		add("Jobs.InsertOne/unique, "+tc.name, tc.field, q, func() error {
			nj := tc.nj(q)
			if nj != nil {
				nj.Unique = &repo.UniqueOpts{ByArgs: true}
			}
			return withErr(s.Jobs.InsertOne(ctx, nj))
		})
		q = fresh()
		add("Batches.InsertContinuation/"+tc.name, tc.field, q, func() error {
			return withErr(s.Batches.InsertContinuation(ctx, batch, tc.nj(q)))
		})
	}
	q := fresh()
	add("Jobs.InsertOne/unique period", "unique", q, func() error {
		return withErr(s.Jobs.InsertOne(ctx, &repo.NewJob{Queue: q, Type: "t", Unique: &repo.UniqueOpts{ByPeriod: -time.Hour}}))
	})
	add("Jobs.Get/zero id", "id", "", func() error { return withErr(s.Jobs.Get(ctx, gocql.UUID{})) })
	add("Jobs.Continuations/zero id", "parent id", "", func() error { return withErr(s.Jobs.Continuations(ctx, gocql.UUID{})) })
	add("Jobs.InsertContinuation/zero parent", "parent id", "", func() error {
		return withErr(s.Jobs.InsertContinuation(ctx, gocql.UUID{}, &repo.NewJob{Queue: b.queue, Type: "t"}))
	})
	add("Batches.Jobs/zero id", "batch id", "", func() error { return withErr(s.Batches.Jobs(ctx, gocql.UUID{})) })
	add("Batches.Status/zero id", "batch id", "", func() error { return withErr(s.Batches.Status(ctx, gocql.UUID{})) })
	add("Batches.Progress/zero id", "batch id", "", func() error { return withErr(s.Batches.Progress(ctx, gocql.UUID{})) })
	add("Batches.InsertContinuation/zero id", "batch id", "", func() error {
		return withErr(s.Batches.InsertContinuation(ctx, gocql.UUID{}, &repo.NewJob{Queue: b.queue, Type: "t"}))
	})
	q = fresh()
	add("Jobs.NewIDs/n", "n", q, func() error { return withErr(s.Jobs.NewIDs(ctx, q, time.Time{}, -1)) })
	q = fresh()
	add("Jobs.NewIDs/after 9999", "run at", q, func() error { return withErr(s.Jobs.NewIDs(ctx, q, past9999, 2)) })
	q = fresh()
	add("Jobs.NewID/after 9999", "run at", q, func() error { return withErr(s.Jobs.NewID(ctx, q, past9999)) })

	// Claims, and reads by queue.
	q = fresh()
	add("Jobs.Claim/owner", "owner", q, func() error {
		return withErr(s.Jobs.Claim(ctx, &repo.ClaimParams{Queue: q, Owner: bad, Limit: 1}))
	})
	add("Jobs.Claim/queue", "queue", "", func() error {
		return withErr(s.Jobs.Claim(ctx, &repo.ClaimParams{Queue: "no spaces", Limit: 1}))
	})
	add("Jobs.Claim/nil", "claim params", "", func() error { return withErr(s.Jobs.Claim(ctx, nil)) })
	add("Jobs.ListPage/nil", "list page params", "", func() error { return withErr(s.Jobs.ListPage(ctx, nil)) })
	add("Jobs.ListPage/limit", "limit", "", func() error {
		return withErr(s.Jobs.ListPage(ctx, &repo.ListPageParams{Queue: b.queue, State: repo.StateSucceeded, Limit: 1001}))
	})
	for _, badQueue := range []string{"caf\xe9", "no spaces", strings.Repeat("q", 65)} {
		add(fmt.Sprintf("Jobs.Count/%q", badQueue), "queue", "", func() error { return withErr(s.Jobs.Count(ctx, badQueue, repo.StateScheduled)) })
		add(fmt.Sprintf("Jobs.Counts/%q", badQueue), "queue", "", func() error { return withErr(s.Jobs.Counts(ctx, badQueue)) })
		add(fmt.Sprintf("Jobs.ListByState/%q", badQueue), "queue", "", func() error {
			return withErr(s.Jobs.ListByState(ctx, &repo.ListParams{Queue: badQueue, State: repo.StateScheduled, Limit: 10}))
		})
		add(fmt.Sprintf("Jobs.ListPage/%q", badQueue), "queue", "", func() error {
			return withErr(s.Jobs.ListPage(ctx, &repo.ListPageParams{Queue: badQueue, State: repo.StateSucceeded, Limit: 10}))
		})
		add(fmt.Sprintf("Jobs.Stats/%q", badQueue), "queue", "", func() error { return withErr(s.Jobs.Stats(ctx, badQueue)) })
		add(fmt.Sprintf("Jobs.ListDue/%q", badQueue), "queue", "", func() error { return withErr(s.Jobs.ListDue(ctx, badQueue, 10)) })
		add(fmt.Sprintf("Jobs.Rescue/%q", badQueue), "queue", "", func() error { return withErr(s.Jobs.Rescue(ctx, badQueue)) })
		add(fmt.Sprintf("Jobs.Purge/%q", badQueue), "queue", "", func() error {
			return withErr(s.Jobs.Purge(ctx, &repo.PurgeParams{Queue: badQueue, State: repo.StateSucceeded}))
		})
		add(fmt.Sprintf("Jobs.NewID/%q", badQueue), "queue", "", func() error { return withErr(s.Jobs.NewID(ctx, badQueue, time.Time{})) })
		add(fmt.Sprintf("Store.SweepCounts/%q", badQueue), "queue", "", func() error { return s.SweepCounts(ctx, badQueue) })
		add(fmt.Sprintf("Jobs.NewIDs/%q", badQueue), "queue", "", func() error { return withErr(s.Jobs.NewIDs(ctx, badQueue, time.Time{}, 2)) })
		add(fmt.Sprintf("Queues.Pause/%q", badQueue), "queue", "", func() error { return s.Queues.Pause(ctx, badQueue) })
		add(fmt.Sprintf("Queues.Resume/%q", badQueue), "queue", "", func() error { return s.Queues.Resume(ctx, badQueue) })
		add(fmt.Sprintf("Queues.Paused/%q", badQueue), "queue", "", func() error { return withErr(s.Queues.Paused(ctx, b.queue, badQueue)) })
	}

	// Lease operations on the held job: it must stay as it is.
	add("Jobs.Fail/error", "error", b.queue, func() error { return withErr(s.Jobs.Fail(ctx, held, &repo.FailParams{Error: bad})) })
	add("Jobs.Fail/trace", "trace", b.queue, func() error {
		return withErr(s.Jobs.Fail(ctx, held, &repo.FailParams{Error: "e", Trace: bad}))
	})
	add("Jobs.Fail/retry after 9999", "retry at", b.queue, func() error {
		return withErr(s.Jobs.Fail(ctx, held, &repo.FailParams{Error: "e", RetryAt: past9999}))
	})
	add("Jobs.Fail/nil params", "error", b.queue, func() error { return withErr(s.Jobs.Fail(ctx, held, nil)) })
	add("Jobs.CancelHeld/reason", "reason", b.queue, func() error { return withErr(s.Jobs.CancelHeld(ctx, held, bad)) })
	add("Jobs.Heartbeat/nil job", "job", b.queue, func() error { return withErr(s.Jobs.Heartbeat(ctx, nil, time.Minute)) })
	add("Jobs.Complete/nil job", "job", b.queue, func() error { return withErr(s.Jobs.Complete(ctx, nil, nil)) })
	add("Jobs.Release/nil job", "job", b.queue, func() error { return withErr(s.Jobs.Release(ctx, nil)) })
	add("Jobs.Snooze/nil job", "job", b.queue, func() error { return withErr(s.Jobs.Snooze(ctx, nil, time.Second)) })
	add("Jobs.Requeue/after 9999", "at", b.queue, func() error { return withErr(s.Jobs.Requeue(ctx, held.ID, past9999)) })
	add("Jobs.Cancel/zero id", "id", b.queue, func() error { return withErr(s.Jobs.Cancel(ctx, gocql.UUID{})) })
	add("Jobs.Delete/zero id", "id", b.queue, func() error { return s.Jobs.Delete(ctx, gocql.UUID{}) })
	for _, tc := range []struct {
		name, field string
		change      func(j *repo.Job)
	}{
		{"type", "type", func(j *repo.Job) { j.Type = bad }},
		{"last error", "last error", func(j *repo.Job) { j.LastError = bad }},
		{"lease owner", "lease owner", func(j *repo.Job) { j.Lease.Owner = bad }},
		{"recurring id", "recurring id", func(j *repo.Job) { j.RecurringID = bad }},
		{"error of an attempt", "errors[0].error", func(j *repo.Job) { j.Errors = []repo.AttemptError{{Attempt: 1, Error: bad}} }},
		{"metadata value", `metadata value of "k"`, func(j *repo.Job) { j.Metadata = map[string]string{"k": bad} }},
		{"scheduled after 9999", "scheduled at", func(j *repo.Job) { j.ScheduledAt = past9999 }},
	} {
		add("Jobs.Update/"+tc.name, tc.field, b.queue, func() error {
			j := *held
			tc.change(&j)
			return withErr(s.Jobs.Update(ctx, &j))
		})
	}

	// Schedules.
	q = fresh()
	add("Recurring.Upsert/id", "id", q, func() error {
		return withErr(s.Recurring.Upsert(ctx, &repo.RecurringJob{ID: bad, Cron: "@hourly", Queue: q, Type: "t"}))
	})
	add("Recurring.Upsert/type", "type", q, func() error {
		return withErr(s.Recurring.Upsert(ctx, &repo.RecurringJob{ID: "r", Cron: "@hourly", Queue: q, Type: bad}))
	})
	add("Recurring.Upsert/metadata", `metadata value of "k"`, q, func() error {
		return withErr(s.Recurring.Upsert(ctx, &repo.RecurringJob{ID: "r", Cron: "@hourly", Queue: q, Type: "t", Metadata: map[string]string{"k": bad}}))
	})
	add("Recurring.Upsert/nil", "recurring job", q, func() error { return withErr(s.Recurring.Upsert(ctx, nil)) })
	add("Recurring.Get/id", "id", "", func() error { return withErr(s.Recurring.Get(ctx, bad)) })
	add("Recurring.Remove/id", "id", "", func() error { return s.Recurring.Remove(ctx, bad) })
	add("Recurring.Pause/id", "id", "", func() error { return withErr(s.Recurring.Pause(ctx, bad)) })
	add("Recurring.Resume/id", "id", "", func() error { return withErr(s.Recurring.Resume(ctx, bad, nil)) })
	add("Recurring.Trigger/id", "id", "", func() error { return withErr(s.Recurring.Trigger(ctx, bad)) })
	add("Recurring.Get/empty id", "id", "", func() error { return withErr(s.Recurring.Get(ctx, "")) })
	add("Recurring.Fire/queue", "queue", "", func() error {
		return withErr(s.Recurring.Fire(ctx, &repo.FireParams{Queues: []string{"caf\xe9"}}))
	})

	// Nil receivers (a Store not made by the constructors) and contexts.
	var nilStore *repo.Store
	add("Jobs.Get/nil receiver", "store", "", func() error { return withErr((*repo.Jobs)(nil).Get(ctx, held.ID)) })
	q = fresh()
	add("Jobs.Insert/zero receiver", "store", q, func() error { return withErr(new(repo.Jobs).Insert(ctx, &repo.NewJob{Queue: q, Type: "t"})) })
	add("Batches.Status/nil receiver", "store", "", func() error { return withErr((*repo.Batches)(nil).Status(ctx, held.ID)) })
	add("Batches.Progress/nil receiver", "store", "", func() error { return withErr((*repo.Batches)(nil).Progress(ctx, held.ID)) })
	add("Recurring.List/nil receiver", "store", "", func() error { return withErr((*repo.Recurring)(nil).List(ctx)) })
	add("Queues.Pause/nil receiver", "store", "", func() error { return (*repo.Queues)(nil).Pause(ctx, b.queue) })
	add("Processors.List/nil receiver", "store", "", func() error { return withErr((*repo.Processors)(nil).List(ctx)) })
	add("Processors.Report/host", "host", "", func() error {
		return s.Processors.Report(ctx, &repo.ProcessorInfo{Owner: "o", Host: bad}, time.Minute)
	})
	add("Processors.Report/nil", "processor info", "", func() error { return s.Processors.Report(ctx, nil, time.Minute) })
	add("Processors.Report/ttl", "ttl", "", func() error {
		return s.Processors.Report(ctx, &repo.ProcessorInfo{Owner: "o"}, time.Millisecond)
	})
	add("Processors.Remove/owner", "owner", "", func() error { return s.Processors.Remove(ctx, bad) })
	add("Queues.List/nil context", "context", "", func() error { return withErr(s.Queues.List(nilCtx)) })
	add("Store.SweepCounts/nil receiver", "store", "", func() error { return nilStore.SweepCounts(ctx, b.queue) })
	add("Store.Check/nil receiver", "store", "", func() error { return nilStore.Check(ctx) })
	add("Jobs.Get/nil context", "context", "", func() error { return withErr(s.Jobs.Get(nilCtx, held.ID)) })
	q = fresh()
	add("Jobs.Insert/nil context", "context", q, func() error { return withErr(s.Jobs.Insert(nilCtx, &repo.NewJob{Queue: q, Type: "t"})) })

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := 0
			if tc.queue != "" {
				before = queueRows(ctx, t, s, tc.queue)
			}
			err := tc.run()
			var ve *repo.ValidationError
			if !errors.Is(err, repo.ErrInvalid) || !errors.As(err, &ve) {
				t.Fatalf("error = %v, want ErrInvalid", err)
			}
			if ve.Field != tc.field || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error = %q (field %q), want it to name the field %q", err, ve.Field, tc.field)
			}
			if strings.Contains(err.Error(), "didn't validate") {
				t.Errorf("error = %q: Cassandra's refusal, not the store's", err)
			}
			if tc.queue != "" {
				if after := queueRows(ctx, t, s, tc.queue); after != before {
					t.Errorf("queue %s has %d rows after the refused call, %d before", tc.queue, after, before)
				}
			}
			cur, err := s.Jobs.Get(ctx, held.ID)
			if err != nil || cur.Version != held.Version || cur.State != repo.StateProcessing {
				t.Errorf("held job = %v (err %v), want it unchanged at version %d", cur, err, held.Version)
			}
		})
	}
	// Closing a nil store is a no-op, as closing twice is.
	nilStore.Close()

	// Every exported method of the store's handles is in the table, by the
	// name before the case's "/", unless it takes no input of the caller
	// but its context (checked for every method by
	// TestNilReceiversAndContexts). A new method fails here until it has
	// cases.
	t.Run("EveryMethodInTheTable", func(t *testing.T) {
		covered := map[string]bool{}
		for _, tc := range tests {
			method, _, _ := strings.Cut(tc.name, "/")
			covered[method] = true
		}
		for _, m := range handleMethods(t, s) {
			if !covered[m.name] && !noInput[m.name] {
				t.Errorf("%s is not in TestInvalidInput's table: add its invalid inputs (or, if it takes none but its context, add it to noInput)", m.name)
			}
		}
	})

	// The constructors refuse nil arguments as invalid (ErrInvalid) and as
	// a configuration error (ErrInvalidConfig, as their other errors).
	for name, run := range map[string]func() error{
		"New":            func() error { return withErr(repo.New(gocqlx.Session{}, nil)) },
		"ConnectCluster": func() error { return withErr(repo.ConnectCluster(ctx, nil, "ks", nil)) },
	} {
		err := run()
		var ve *repo.ValidationError
		if !errors.Is(err, repo.ErrInvalid) || !errors.Is(err, repo.ErrInvalidConfig) || !errors.As(err, &ve) {
			t.Errorf("%s(nil) error = %v, want ErrInvalid and ErrInvalidConfig", name, err)
		}
	}
}

// noInput are the methods of the store's handles that take no input of the
// caller but their context and receiver, so TestInvalidInput's table has no
// case for them; TestNilReceiversAndContexts calls them all the same.
var noInput = map[string]bool{
	"Store.Check":     true, // reads the schema
	"Store.Close":     true, // nil-safe, no error (TestInvalidInput closes a nil store)
	"Store.Session":   true, // an accessor, nil-safe
	"Jobs.Queues":     true, // lists
	"Queues.List":     true,
	"Recurring.List":  true,
	"Processors.List": true,
}

// handleMethod is an exported method of a handle of the store, with a live
// receiver.
type handleMethod struct {
	name string        // "Jobs.Insert"
	recv reflect.Value // the store's own handle
	typ  reflect.Type  // the handle's pointer type
	m    reflect.Method
}

// handleMethods lists the exported methods of the Store and of every handle
// it holds in an exported field (Jobs, Batches, …), found by reflection so
// that a new handle or method is included without a change here.
func handleMethods(t *testing.T, s *repo.Store) []handleMethod {
	t.Helper()
	var out []handleMethod
	add := func(v reflect.Value) {
		typ := v.Type()
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			out = append(out, handleMethod{name: typ.Elem().Name() + "." + m.Name, recv: v, typ: typ, m: m})
		}
	}
	sv := reflect.ValueOf(s)
	add(sv)
	for i := range sv.Elem().NumField() {
		f := sv.Elem().Type().Field(i)
		if f.IsExported() && f.Type.Kind() == reflect.Pointer && f.Type.NumMethod() > 0 {
			add(sv.Elem().Field(i))
		}
	}
	if len(out) < 40 {
		t.Fatalf("found %d methods on the store's handles; the reflection is broken", len(out))
	}
	return out
}

// TestNilReceiversAndContexts calls every exported method of the store's
// handles with a nil receiver, with the zero value of its type (a handle not
// made by the constructors), and on the store's own handle with a nil
// context, every other argument zero. Each returns ErrInvalid naming the
// store or the context, and none panics.
func TestNilReceiversAndContexts(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctxType := reflect.TypeFor[context.Context]()
	errType := reflect.TypeFor[error]()
	for _, hm := range handleMethods(t, b.store) {
		ft := hm.m.Type // the receiver is its first parameter
		last := ft.NumOut() - 1
		if last < 0 || ft.Out(last) != errType || ft.NumIn() < 2 || ft.In(1) != ctxType {
			if !noInput[hm.name] {
				t.Errorf("%s takes no context or returns no error: check it by hand and add it to noInput", hm.name)
			}
			continue
		}
		for _, tc := range []struct {
			name, field string
			recv        reflect.Value
			ctx         context.Context
		}{
			{"nil receiver", "store", reflect.Zero(hm.typ), context.Background()},
			{"zero receiver", "store", reflect.New(hm.typ.Elem()), context.Background()},
			{"nil context", "context", hm.recv, nil},
		} {
			t.Run(hm.name+"/"+tc.name, func(t *testing.T) {
				args := []reflect.Value{tc.recv, reflect.Zero(ctxType)}
				if tc.ctx != nil {
					args[1] = reflect.ValueOf(tc.ctx)
				}
				for i := 2; i < ft.NumIn(); i++ {
					args = append(args, reflect.Zero(ft.In(i)))
				}
				var out []reflect.Value
				func() {
					defer func() {
						if v := recover(); v != nil {
							t.Fatalf("panic: %v", v)
						}
					}()
					if ft.IsVariadic() { // the last zero argument is the whole slice
						out = hm.m.Func.CallSlice(args)
					} else {
						out = hm.m.Func.Call(args)
					}
				}()
				err, _ := out[last].Interface().(error)
				var ve *repo.ValidationError
				if !errors.Is(err, repo.ErrInvalid) || !errors.As(err, &ve) || ve.Field != tc.field {
					t.Errorf("error = %v, want ErrInvalid naming the %s", err, tc.field)
				}
			})
		}
	}
}

// TestListingReachesEveryCountedJob stores a job due at the latest time the
// store accepts (the end of the year 9999): it is counted, listed, and
// found among the Scheduled jobs; a minute later is refused.
func TestListingReachesEveryCountedJob(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t, nil)
	last := time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
	job := b.insert(ctx, t, &repo.NewJob{Type: "far", ScheduledAt: last})
	soon := b.insert(ctx, t, &repo.NewJob{Type: "soon", ScheduledAt: b.clock.Now().Add(time.Hour)})
	if _, err := b.store.Jobs.Insert(ctx, &repo.NewJob{Queue: b.queue, Type: "later", ScheduledAt: last.Add(time.Millisecond)}); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("Insert() due after the year 9999: error = %v, want ErrInvalid", err)
	}
	if n := b.count(ctx, t, repo.StateScheduled); n != 2 {
		t.Errorf("Count(Scheduled) = %d, want 2", n)
	}
	listed, err := b.store.Jobs.ListByState(ctx, &repo.ListParams{Queue: b.queue, State: repo.StateScheduled, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []gocql.UUID
	for _, j := range listed {
		ids = append(ids, j.ID)
	}
	if len(ids) != 2 || ids[0] != soon.ID || ids[1] != job.ID {
		t.Errorf("ListByState(Scheduled) = %v, want [%s %s] (soonest first)", ids, soon.ID, job.ID)
	}
}
