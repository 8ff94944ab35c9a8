package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// Argument types used through pointers.
type (
	// ptrArgs has a value-receiver Kind, which a nil *ptrArgs cannot call.
	ptrArgs struct {
		N int    `json:"n"`
		S string `json:"s"`
	}
	// ptrKind has a pointer-receiver Kind that reads its receiver.
	ptrKind struct{ N int }
	// ptrCodec encodes itself, with pointer receivers.
	ptrCodec struct{ N int }
)

func (ptrArgs) Kind() string { return "ptr-args" }

func (a *ptrKind) Kind() string {
	_ = a.N // panics on a nil receiver, as a real Kind might
	return "ptr-kind"
}

func (c *ptrCodec) Kind() string                    { return "ptr-codec" }
func (c *ptrCodec) MarshalJobArgs() ([]byte, error) { return []byte("n=" + strconv.Itoa(c.N)), nil }
func (c *ptrCodec) UnmarshalJobArgs(data []byte) error {
	n, ok := strings.CutPrefix(string(data), "n=")
	if !ok {
		return fmt.Errorf("not a ptrCodec: %q", data)
	}
	var err error
	c.N, err = strconv.Atoi(n)
	return err
}

// Argument types whose kind cannot be had.
type (
	panicKind struct{}
	varKind   struct{ K string }
)

func (panicKind) Kind() string { panic("no kind here") }

func (v varKind) Kind() string {
	if v.K == "" {
		return "var-kind"
	}
	return v.K
}

// TestPointerArgs: pointer argument types work end to end on the real node.
// Jobs enqueued with a pointer (by Enqueue, EnqueueMany, EnqueueBatch,
// EnqueueAfter, Schedule and NewJobFor) are stored under the struct's kind
// and reach a handler of the pointer type as a non-nil pointer to the
// decoded value, with a value- or pointer-receiver Kind and with a codec of
// the pointer's own.
func TestPointerArgs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	p := processor(t, b.store, b.config(t, 4))
	got := make(chan string, 64)
	handle(t, p, func(_ context.Context, job *worker.Job[*ptrArgs]) error {
		if job.Args == nil {
			return errors.New("nil args")
		}
		got <- fmt.Sprintf("%s %d %s", job.ID, job.Args.N, job.Args.S)
		return nil
	}, nil)
	handle(t, p, func(_ context.Context, job *worker.Job[*ptrKind]) error {
		got <- fmt.Sprintf("%s %d", job.ID, job.Args.N)
		return nil
	}, nil)
	handle(t, p, func(_ context.Context, job *worker.Job[*ptrCodec]) error {
		got <- fmt.Sprintf("%s %d", job.ID, job.Args.N)
		return nil
	}, nil)
	// A handler of the struct type has the same kind as the pointer's.
	if err := worker.Handle(p, func(context.Context, *worker.Job[ptrArgs]) error { return nil }, nil); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("Handle[ptrArgs] after Handle[*ptrArgs]: error = %v, want ErrInvalid (the kind has a handler)", err)
	}
	start(t, p)

	want := map[gocql.UUID]string{} // job → what its handler must see
	expect := func(id gocql.UUID, wantType, seen string) {
		t.Helper()
		job, err := b.store.Jobs.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if job.Type != wantType {
			t.Errorf("job %s has type %q, want %q", id, job.Type, wantType)
		}
		want[id] = fmt.Sprintf("%s %s", id, seen)
	}
	opts := &worker.EnqueueOpts{Queue: b.queue}

	j1, err := worker.Enqueue(ctx, b.store, &ptrArgs{N: 1, S: "one"}, opts)
	if err != nil {
		t.Fatalf("Enqueue(&ptrArgs) error = %v", err)
	}
	if j1.Args.N != 1 {
		t.Errorf("Enqueue returned args %+v", j1.Args)
	}
	expect(j1.ID, "ptr-args", "1 one")
	// The struct enqueued by value reaches the pointer's handler too.
	j2 := enqueue(ctx, t, b, ptrArgs{N: 2, S: "two"}, nil)
	expect(j2.ID, "ptr-args", "2 two")
	j3 := enqueue(ctx, t, b, &ptrKind{N: 3}, nil)
	expect(j3.ID, "ptr-kind", "3")
	j4 := enqueue(ctx, t, b, &ptrCodec{N: 4}, nil)
	expect(j4.ID, "ptr-codec", "4")
	if stored, err := b.store.Jobs.Get(ctx, j4.ID); err != nil || string(stored.Args) != "n=4" {
		t.Errorf("ptrCodec job stored args %q (err %v), want its own encoding %q", stored.Args, err, "n=4")
	}
	many, err := worker.EnqueueMany(ctx, b.store, []*ptrArgs{{N: 5, S: "five"}, {N: 6, S: "six"}}, opts)
	if err != nil || len(many) != 2 {
		t.Fatalf("EnqueueMany([]*ptrArgs) = %d jobs, error %v", len(many), err)
	}
	for _, j := range many {
		expect(j.ID, "ptr-args", fmt.Sprintf("%d %s", j.Args.N, j.Args.S))
	}
	batch, err := worker.EnqueueBatch(ctx, b.store, gocql.UUID{}, []*ptrKind{{N: 7}}, opts)
	if err != nil || len(batch) != 1 {
		t.Fatalf("EnqueueBatch([]*ptrKind) = %d jobs, error %v", len(batch), err)
	}
	expect(batch[0].ID, "ptr-kind", "7")
	then, err := worker.EnqueueAfter(ctx, b.store, j1.ID, &ptrCodec{N: 8}, opts)
	if err != nil {
		t.Fatalf("EnqueueAfter(&ptrCodec) error = %v", err)
	}
	expect(then.ID, "ptr-codec", "8")
	nj, err := worker.NewJobFor(&ptrArgs{N: 9, S: "nine"}, opts)
	if err != nil {
		t.Fatalf("NewJobFor(&ptrArgs) error = %v", err)
	}
	j9, err := b.store.Jobs.Insert(ctx, nj)
	if err != nil {
		t.Fatal(err)
	}
	expect(j9.ID, "ptr-args", "9 nine")
	if _, err := worker.Schedule(ctx, b.store, b.queue, "@yearly", &ptrKind{N: 10}, &worker.ScheduleOpts{Queue: b.queue}); err != nil {
		t.Fatalf("Schedule(&ptrKind) error = %v", err)
	}
	j10, err := b.store.Recurring.Trigger(ctx, b.queue)
	if err != nil {
		t.Fatal(err)
	}
	expect(j10.ID, "ptr-kind", "10")

	for id := range want {
		if done := wait(t, b.store, id, 30*time.Second); done.State != repo.StateSucceeded {
			t.Errorf("job %s (%s) = %s, last error %q; want Succeeded", id, done.Type, done.State, done.LastError)
		}
	}
	seen := map[string]bool{}
	for range want {
		select {
		case s := <-got:
			seen[s] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("handlers saw %d of %d jobs", len(seen), len(want))
		}
	}
	for id, w := range want {
		if !seen[w] {
			t.Errorf("job %s: no handler saw %q; seen %v", id, w, seen)
		}
	}
}

// TestArgsWithoutKind: a T whose kind cannot be had (an interface type, a
// Kind that panics), a nil pointer as arguments and a Kind that differs from
// the type's are refused by every function that takes T, with ErrInvalid
// naming the problem, never a panic; nothing is stored.
func TestArgsWithoutKind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	p := processor(t, b.store, b.config(t, 1))
	opts := &worker.EnqueueOpts{Queue: b.queue}
	var iface worker.JobArgs = emailArgs{To: "ada@example.com"}
	var nilPtr *ptrArgs
	var nilKind *ptrKind
	id := gocql.MustRandomUUID()
	noop := func(context.Context, *worker.Job[worker.JobArgs]) error { return nil }
	withErr := func(_ any, err error) error { return err }

	tests := []struct {
		name, field, problem string
		run                  func() error
	}{
		{"Handle/interface", "argument type", "worker.JobArgs is an interface type", func() error { return worker.Handle(p, noop, nil) }},
		{"Handle/Kind panics", "argument type", "worker_test.panicKind.Kind() panicked: no kind here", func() error {
			return worker.Handle(p, func(context.Context, *worker.Job[panicKind]) error { return nil }, nil)
		}},
		{"Enqueue/interface", "argument type", "interface type", func() error { return withErr(worker.Enqueue(ctx, b.store, iface, opts)) }},
		{"EnqueueOne/interface", "argument type", "interface type", func() error { return withErr(worker.EnqueueOne(ctx, b.store, iface, opts)) }},
		{"EnqueueMany/interface", "argument type", "interface type", func() error {
			return withErr(worker.EnqueueMany(ctx, b.store, []worker.JobArgs{iface}, opts))
		}},
		{"EnqueueBatch/interface", "argument type", "interface type", func() error {
			return withErr(worker.EnqueueBatch(ctx, b.store, gocql.UUID{}, []worker.JobArgs{iface}, opts))
		}},
		{"EnqueueAfter/interface", "argument type", "interface type", func() error {
			return withErr(worker.EnqueueAfter(ctx, b.store, id, iface, opts))
		}},
		{"EnqueueAfterBatch/interface", "argument type", "interface type", func() error {
			return withErr(worker.EnqueueAfterBatch(ctx, b.store, id, iface, opts))
		}},
		{"Schedule/interface", "argument type", "interface type", func() error {
			return withErr(worker.Schedule(ctx, b.store, b.queue, "@hourly", iface, &worker.ScheduleOpts{Queue: b.queue}))
		}},
		{"NewJobFor/interface", "argument type", "interface type", func() error { return withErr(worker.NewJobFor(iface, opts)) }},
		{"Enqueue/Kind panics", "argument type", "Kind() panicked", func() error { return withErr(worker.Enqueue(ctx, b.store, panicKind{}, opts)) }},
		{"Enqueue/nil pointer", "args", "nil *worker_test.ptrArgs", func() error { return withErr(worker.Enqueue(ctx, b.store, nilPtr, opts)) }},
		{"Enqueue/nil pointer, pointer-receiver Kind", "args", "nil *worker_test.ptrKind", func() error {
			return withErr(worker.Enqueue(ctx, b.store, nilKind, opts))
		}},
		{"EnqueueOne/nil pointer", "args", "nil", func() error { return withErr(worker.EnqueueOne(ctx, b.store, nilPtr, opts)) }},
		{"EnqueueMany/nil pointer", "args", "nil", func() error {
			return withErr(worker.EnqueueMany(ctx, b.store, []*ptrArgs{{N: 1}, nil}, opts))
		}},
		{"EnqueueBatch/nil pointer", "args", "nil", func() error {
			return withErr(worker.EnqueueBatch(ctx, b.store, gocql.UUID{}, []*ptrKind{nil}, opts))
		}},
		{"EnqueueAfter/nil pointer", "args", "nil", func() error { return withErr(worker.EnqueueAfter(ctx, b.store, id, nilPtr, opts)) }},
		{"EnqueueAfterBatch/nil pointer", "args", "nil", func() error {
			return withErr(worker.EnqueueAfterBatch(ctx, b.store, id, nilKind, opts))
		}},
		{"Schedule/nil pointer", "args", "nil", func() error {
			return withErr(worker.Schedule(ctx, b.store, b.queue, "@hourly", nilPtr, &worker.ScheduleOpts{Queue: b.queue}))
		}},
		{"NewJobFor/nil pointer", "args", "nil", func() error { return withErr(worker.NewJobFor(nilKind, opts)) }},
		{"Enqueue/Kind differs", "args", `Kind() of these worker_test.varKind arguments is "other", of the type's zero value "var-kind"`, func() error {
			return withErr(worker.Enqueue(ctx, b.store, varKind{K: "other"}, opts))
		}},
		{"EnqueueMany/Kind differs", "args", "Kind must return one constant per type", func() error {
			return withErr(worker.EnqueueMany(ctx, b.store, []varKind{{}, {K: "other"}}, opts))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("panic: %v", v)
					}
				}()
				err = tc.run()
			}()
			var ve *repo.ValidationError
			if !errors.Is(err, repo.ErrInvalid) || !errors.As(err, &ve) {
				t.Fatalf("error = %v, want repo.ErrInvalid", err)
			}
			if ve.Field != tc.field || !strings.Contains(ve.Problem, tc.problem) {
				t.Errorf("error = %q, want field %q and a problem containing %q", err, tc.field, tc.problem)
			}
		})
	}
	// Nothing was stored, and no schedule.
	if err := b.store.SweepCounts(ctx, b.queue); err != nil {
		t.Fatal(err)
	}
	st, err := b.store.Jobs.Stats(ctx, b.queue)
	if err != nil {
		t.Fatal(err)
	}
	for state, n := range st[0].Counts {
		if n != 0 {
			t.Errorf("%d %s jobs in the queue after refused enqueues", n, state)
		}
	}
	var nf *repo.ScheduleNotFoundError
	if _, err := b.store.Recurring.Get(ctx, b.queue); !errors.As(err, &nf) {
		t.Errorf("Recurring.Get() error = %v, want ScheduleNotFoundError: a refused Schedule stored it", err)
	}
}
