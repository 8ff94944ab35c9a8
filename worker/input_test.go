package worker_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// Argument types of TestInvalidInput's handlers.
type (
	badText   struct{}
	badPanic  struct{}
	longError struct{}
	badCancel struct{}
)

func (badText) Kind() string   { return "bad-text" }
func (badPanic) Kind() string  { return "bad-panic" }
func (longError) Kind() string { return "long-error" }
func (badCancel) Kind() string { return "bad-cancel" }

// latin1 is text in Latin-1, which is not valid UTF-8.
const latin1 = "caf\xe9 au lait"

// TestInvalidInput: the worker's functions refuse a nil store or processor
// and invalid text with repo.ErrInvalid, naming the field, and store
// nothing; a handler's error, panic value or cancel reason, whatever bytes
// and length it has, is recorded valid and bounded, so every outcome is
// written.
func TestInvalidInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := processor(t, b.store, b.config(t, 1))
		var nilStore *repo.Store
		var nilProcessor *worker.Processor
		id := gocql.MustRandomUUID()
		withErr := func(_ any, err error) error { return err }
		tests := []struct {
			name, field string
			run         func() error
		}{
			{"Enqueue/nil store", "store", func() error { return withErr(worker.Enqueue(ctx, nilStore, emailArgs{}, nil)) }},
			{"Enqueue/zero store", "store", func() error { return withErr(worker.Enqueue(ctx, &repo.Store{}, emailArgs{}, nil)) }},
			{"EnqueueOne/nil store", "store", func() error { return withErr(worker.EnqueueOne(ctx, nilStore, emailArgs{}, nil)) }},
			{"EnqueueOne/zero store", "store", func() error { return withErr(worker.EnqueueOne(ctx, &repo.Store{}, emailArgs{}, nil)) }},
			{"NewJobFor/nil args", "args", func() error { return withErr(worker.NewJobFor((*ptrArgs)(nil), nil)) }},
			{"NewJobFor/interface type", "argument type", func() error { return withErr(worker.NewJobFor[worker.JobArgs](emailArgs{}, nil)) }},
			{"EnqueueRaw/nil store", "store", func() error { return withErr(worker.EnqueueRaw(ctx, nilStore, "k", nil, nil)) }},
			{"EnqueueMany/nil store", "store", func() error { return withErr(worker.EnqueueMany(ctx, nilStore, []emailArgs{{}}, nil)) }},
			{"EnqueueBatch/nil store", "store", func() error {
				return withErr(worker.EnqueueBatch(ctx, nilStore, gocql.UUID{}, []emailArgs{{}}, nil))
			}},
			{"EnqueueAfter/nil store", "store", func() error { return withErr(worker.EnqueueAfter(ctx, nilStore, id, emailArgs{}, nil)) }},
			{"EnqueueAfterBatch/nil store", "store", func() error {
				return withErr(worker.EnqueueAfterBatch(ctx, nilStore, id, emailArgs{}, nil))
			}},
			{"Schedule/nil store", "store", func() error { return withErr(worker.Schedule(ctx, nilStore, "s", "@hourly", emailArgs{}, nil)) }},
			{"Wait/nil store", "store", func() error { return withErr(worker.Wait(ctx, nilStore, id, nil)) }},
			{"WaitBatch/nil store", "store", func() error { return withErr(worker.WaitBatch(ctx, nilStore, id, nil)) }},
			{"Handle/nil processor", "processor", func() error {
				return worker.Handle(nilProcessor, func(context.Context, *worker.Job[emailArgs]) error { return nil }, nil)
			}},
			{"HandleRaw/nil processor", "processor", func() error {
				return worker.HandleRaw(nilProcessor, "k", func(context.Context, *worker.Job[[]byte]) error { return nil }, nil)
			}},
			{"Run/nil processor", "processor", func() error { return nilProcessor.Run(ctx) }},
			{"HandleRaw/kind", "job type", func() error {
				return worker.HandleRaw(p, latin1, func(context.Context, *worker.Job[[]byte]) error { return nil }, nil)
			}},
			{"EnqueueRaw/kind", "type", func() error {
				return withErr(worker.EnqueueRaw(ctx, b.store, latin1, nil, &worker.EnqueueOpts{Queue: b.queue}))
			}},
			{"Enqueue/metadata", `metadata value of "k"`, func() error {
				return withErr(worker.Enqueue(ctx, b.store, emailArgs{}, &worker.EnqueueOpts{Queue: b.queue, Metadata: map[string]string{"k": latin1}}))
			}},
			{"EnqueueOne/metadata", `metadata value of "k"`, func() error {
				return withErr(worker.EnqueueOne(ctx, b.store, emailArgs{}, &worker.EnqueueOpts{Queue: b.queue, Metadata: map[string]string{"k": latin1}}))
			}},
			{"EnqueueOne/unique", "unique", func() error {
				return withErr(worker.EnqueueOne(ctx, b.store, emailArgs{}, &worker.EnqueueOpts{Queue: b.queue, Unique: &repo.UniqueOpts{ByPeriod: -time.Second}}))
			}},
			{"EnqueueMany/metadata", `metadata key`, func() error {
				return withErr(worker.EnqueueMany(ctx, b.store, []emailArgs{{}, {}}, &worker.EnqueueOpts{Queue: b.queue, Metadata: map[string]string{latin1: "v"}}))
			}},
			{"Schedule/id", "id", func() error { return withErr(worker.Schedule(ctx, b.store, latin1, "@hourly", emailArgs{}, nil)) }},
			{"Wait/zero id", "id", func() error { return withErr(worker.Wait(ctx, b.store, gocql.UUID{}, nil)) }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.run()
				var ve *repo.ValidationError
				if !errors.Is(err, repo.ErrInvalid) || !errors.As(err, &ve) {
					t.Fatalf("error = %v, want repo.ErrInvalid", err)
				}
				if ve.Field != tc.field {
					t.Errorf("error = %q names field %q, want %q", err, ve.Field, tc.field)
				}
			})
		}
		// worker.New refuses a nil or zero store as a bad argument
		// (ErrInvalid, naming the field) that is also a configuration error
		// (ErrInvalidConfig, as its other errors).
		for name, st := range map[string]*repo.Store{"nil": nilStore, "zero": {}} {
			_, err := worker.New(st, nil)
			var ve *repo.ValidationError
			if !errors.Is(err, repo.ErrInvalid) || !errors.Is(err, repo.ErrInvalidConfig) || !errors.As(err, &ve) || ve.Field != "store" {
				t.Errorf("New(%s store) error = %v, want repo.ErrInvalid and repo.ErrInvalidConfig naming the store", name, err)
			}
		}
		if _, err := worker.New(b.store, &worker.Config{Owner: latin1}); !errors.Is(err, repo.ErrInvalidConfig) || !strings.Contains(err.Error(), "Owner") {
			t.Errorf("New(Owner: Latin-1) error = %v, want repo.ErrInvalidConfig naming Owner", err)
		}
		if nilProcessor.Owner() != "" || nilProcessor.Queues() != nil || nilProcessor.Paused() != nil {
			t.Error("a nil processor's Owner, Queues and Paused are not empty")
		}
		// Every exported function of the package and method of Processor
		// has a case above (named "Func/what"), unless it takes no store,
		// processor or caller's text (noInput). A new one fails here.
		covered := map[string]bool{"New": true} // New's cases are just above
		for _, tc := range tests {
			name, _, _ := strings.Cut(tc.name, "/")
			covered[name] = true
		}
		for _, name := range exportedFuncs(t) {
			if !covered[name] && !noInput[name] {
				t.Errorf("%s has no case in TestInvalidInput: add its invalid inputs (or add it to noInput)", name)
			}
		}
		// Nothing of the refused enqueues was stored: the queue has no job.
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
	})

	t.Run("HandlerTextIsMadeValid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := processor(t, b.store, b.config(t, 4))
		handle(t, p, func(context.Context, *worker.Job[badText]) error { return errors.New(latin1) }, nil)
		handle(t, p, func(context.Context, *worker.Job[badPanic]) error { panic(latin1) }, nil)
		handle(t, p, func(context.Context, *worker.Job[longError]) error {
			return errors.New(strings.Repeat("é", 20_000)) // 40,000 bytes
		}, nil)
		handle(t, p, func(context.Context, *worker.Job[badCancel]) error { return worker.JobCancel(errors.New(latin1)) }, nil)
		start(t, p)

		once := &worker.EnqueueOpts{MaxRetries: -1}
		cases := []struct {
			name  string
			job   gocql.UUID
			state repo.State
			want  string // the recorded error; a prefix for the long one
		}{
			{"error", enqueue(ctx, t, b, badText{}, once).ID, repo.StateAbandoned, "caf\uFFFD au lait"},
			{"panic", enqueue(ctx, t, b, badPanic{}, once).ID, repo.StateAbandoned, "panic: caf\uFFFD au lait"},
			{"long error", enqueue(ctx, t, b, longError{}, once).ID, repo.StateAbandoned, "éééé"},
			{"cancel reason", enqueue(ctx, t, b, badCancel{}, once).ID, repo.StateCancelled, "jobsharp: job cancelled by its handler: caf\uFFFD au lait"},
		}
		for _, tc := range cases {
			done := wait(t, b.store, tc.job, 30*time.Second)
			if done.State != tc.state {
				t.Errorf("%s: job = %s (last error %q), want %s", tc.name, done.State, done.LastError, tc.state)
				continue
			}
			if !utf8.ValidString(done.LastError) || !strings.HasPrefix(done.LastError, tc.want) {
				t.Errorf("%s: last error %q, want %q", tc.name, trim(done.LastError), tc.want)
			}
			if len(done.LastError) > repo.MaxErrorBytes {
				t.Errorf("%s: last error of %d bytes, more than %d", tc.name, len(done.LastError), repo.MaxErrorBytes)
			}
			for _, e := range done.Errors {
				if !utf8.ValidString(e.Error) || !utf8.ValidString(e.Trace) {
					t.Errorf("%s: attempt %d recorded invalid UTF-8", tc.name, e.Attempt)
				}
			}
		}
		eventually(t, 10*time.Second, "every outcome recorded", func() bool {
			f := b.metrics.finished()
			return f[worker.OutcomeAbandoned] == 3 && f[worker.OutcomeCancelled] == 1
		})
		if f := b.metrics.finished(); f[worker.OutcomeUnrecorded] != 0 || f[worker.OutcomeLeaseLost] != 0 {
			t.Errorf("outcomes = %v, want none unrecorded or lost", f)
		}
	})
}

// noInput are the exported functions and Processor methods that take no
// store, processor or text of the caller to check.
var noInput = map[string]bool{
	"JobSnooze": true, // makes an error for a handler to return; any delay is valid
	"JobCancel": true, // makes an error; a nil cause is allowed
	"Owner":     true, // nil-safe accessors, checked on a nil processor above
	"Queues":    true,
	"Paused":    true,
}

// exportedFuncs lists the exported functions of package worker and the
// exported methods of Processor, from its source.
func exportedFuncs(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !fn.Name.IsExported() {
				continue
			}
			if fn.Recv != nil {
				star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
				if !ok {
					continue
				}
				if id, ok := star.X.(*ast.Ident); !ok || id.Name != "Processor" {
					continue
				}
			}
			out = append(out, fn.Name.Name)
		}
	}
	if len(out) < 15 {
		t.Fatalf("found %d exported functions in worker's source; the parse is broken", len(out))
	}
	return out
}

func trim(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%s… (%d bytes)", s[:60], len(s))
	}
	return s
}
