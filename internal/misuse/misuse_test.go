package misuse

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// prelude is the program every snippet is compiled in: it declares what the
// snippets use, so that the control case (the right way) compiles.
const prelude = `package main

import (
	"context"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

type EmailArgs struct{ To string }

func (EmailArgs) Kind() string { return "email.send" }

type SMSArgs struct{ Phone string }

func (SMSArgs) Kind() string { return "sms.send" }

var (
	ctx              = context.Background()
	db               = queries.New(nil)
	store            *repo.Store
	p                *worker.Processor
	id               gocql.UUID
	home, bucket     time.Time
	from, to         time.Time
	shard, limit     int32
	_                models.JobsRow
)

func main() {
	%s
}
`

// Cases are the misuses the compiler rejects and the message it gives. The
// README's "What the compiler checks" shows the same table, a row per case
// in this order: readme, then want (TestREADMEShowsTheCases).
var cases = []struct {
	name, readme, code, want string
}{
	{
		name:   "ColumnConvertedToAnotherTable",
		readme: "a column converted to another table's column type: `queries.QueuesColumn[string](queries.JobsColumns.LeaseOwner)`",
		code:   `_ = queries.QueuesColumn[string](queries.JobsColumns.LeaseOwner)`,
		want:   "cannot convert queries.JobsColumns.LeaseOwner (variable of struct type queries.JobsColumn[string]) to type queries.QueuesColumn[string]",
	},
	{
		name:   "ColumnConvertedAsInTheIssue",
		readme: "the same, as the issue wrote it: `queries.Queues.Get(queries.QueuesColumn(queries.JobsColumns.LeaseOwner))`",
		code:   `_, _ = queries.Queues.Get(queries.QueuesColumn(queries.JobsColumns.LeaseOwner))`,
		want:   "cannot use generic type queries.QueuesColumn without instantiation",
	},
	{
		name:   "ColumnOfAnotherTable",
		readme: "a column of another table: `queries.Queues.Get(queries.JobsColumns.LeaseOwner)`",
		code:   `_, _ = queries.Queues.Get(queries.JobsColumns.LeaseOwner)`,
		want:   "cannot use queries.JobsColumns.LeaseOwner (variable of struct type queries.JobsColumn[string]) as queries.ColumnOf[queries.QueuesBuilder] value in argument to queries.Queues.Get",
	},
	{
		name:   "MisspeltColumn",
		readme: "a misspelt column: `queries.JobsColumns.LeaseOwnr`",
		code:   `_, _ = queries.Jobs.Get(queries.JobsColumns.LeaseOwnr)`,
		want:   "queries.JobsColumns.LeaseOwnr undefined",
	},
	{
		name:   "ForgedColumn",
		readme: "a forged column: `queries.JobsColumn[string]{name: \"lease_owner\"}`",
		code:   `_, _ = queries.Jobs.Get(queries.JobsColumn[string]{name: "lease_owner"})`,
		want:   "cannot refer to unexported field name in struct literal of type queries.JobsColumn[string]",
	},
	{
		name:   "ColumnValueOfTheWrongType",
		readme: "a column value of the wrong type: `queries.JobsColumns.State.Value(\"Scheduled\")`",
		code:   `_ = queries.JobsColumns.State.Value("Scheduled")`,
		want:   `cannot use "Scheduled" (untyped string constant) as int32 value in argument to queries.JobsColumns.State.Value`,
	},
	{
		name:   "BindOfTheWrongType",
		readme: "a bind of the wrong type: `db.JobsGet(ctx, home, shard, \"6ba7b810-9dad-11d1-80b4-00c04fd430c8\")`",
		code:   `_ = db.JobsGet(ctx, home, shard, "6ba7b810-9dad-11d1-80b4-00c04fd430c8")`,
		want:   `cannot use "6ba7b810-9dad-11d1-80b4-00c04fd430c8" (untyped string constant) as gocql.UUID value in argument to db.JobsGet`,
	},
	{
		name:   "MissingParameters",
		readme: "missing parameters: `db.JobsGet(ctx)`",
		code:   `_ = db.JobsGet(ctx)`,
		want:   "not enough arguments in call to db.JobsGet",
	},
	{
		name:   "MissingRequiredParameter",
		readme: "a missing required parameter (`to` and `limit`): `db.DueScan(ctx, \"default\", bucket, shard, from)`",
		code:   `_ = db.DueScan(ctx, "default", bucket, shard, from)`,
		want:   "not enough arguments in call to db.DueScan",
	},
	{
		name:   "ExtraParameter",
		readme: "an extra parameter: `db.JobsGet(ctx, home, shard, id, 1)`",
		code:   `_ = db.JobsGet(ctx, home, shard, id, 1)`,
		want:   "too many arguments in call to db.JobsGet",
	},
	{
		name:   "ParametersSwappedAcrossTypes",
		readme: "parameters swapped across types (the queue where the bucket goes): `db.DueScan(ctx, bucket, \"default\", shard, from, to, limit)`",
		code:   `_ = db.DueScan(ctx, bucket, "default", shard, from, to, limit)`,
		want:   `cannot use "default" (untyped string constant) as "time".Time value in argument to db.DueScan`,
	},
	{
		name:   "RowOfAnotherTable",
		readme: "another table's row for a statement that writes a whole row: `db.JobsWrite(ctx, models.QueuesRow{}, 0, 1)`",
		code:   `_ = db.JobsWrite(ctx, models.QueuesRow{}, 0, 1)`,
		want:   "cannot use models.QueuesRow{} (value of struct type models.QueuesRow) as models.JobsRow value in argument to db.JobsWrite",
	},
	{
		name:   "ResultIntoAnotherTablesRow",
		readme: "a result read into another table's row: `var row models.QueuesRow; row, _ = db.JobsGet(ctx, home, shard, id).One()`",
		code: `var row models.QueuesRow
	row, _ = db.JobsGet(ctx, home, shard, id).One()
	_ = row`,
		want: "cannot use db.JobsGet(ctx, home, shard, id).One() (value of struct type models.JobsRow) as models.QueuesRow value in assignment",
	},
	{
		name:   "ConditionInAPlainBatch",
		readme: "a conditional statement in a plain batch: `db.NewBatch(ctx, gocql.LoggedBatch).JobsDelete(home, shard, id, 1)`",
		code:   `db.NewBatch(ctx, gocql.LoggedBatch).JobsDelete(home, shard, id, 1)`,
		want:   "db.NewBatch(ctx, gocql.LoggedBatch).JobsDelete undefined (type *queries.Batch has no field or method JobsDelete)",
	},
	{
		name:   "HandlerForOtherArguments",
		readme: "a handler for other arguments: `worker.Handle[EmailArgs](p, func(ctx context.Context, job *worker.Job[SMSArgs]) error {…}, nil)`",
		code:   `_ = worker.Handle[EmailArgs](p, func(ctx context.Context, job *worker.Job[SMSArgs]) error { return nil }, nil)`,
		want:   "cannot use func(ctx context.Context, job *worker.Job[SMSArgs]) error {…} (value of type func(ctx context.Context, job *worker.Job[SMSArgs]) error) as func(ctx context.Context, job *worker.Job[EmailArgs]) error value in argument to worker.Handle[EmailArgs]",
	},
	{
		name:   "EnqueuedAsAnotherKind",
		readme: "arguments of one kind enqueued as another's, so that `Enqueue` and `Handle` would disagree: `worker.Enqueue[EmailArgs](ctx, store, SMSArgs{…}, nil)`",
		code:   `_, _ = worker.Enqueue[EmailArgs](ctx, store, SMSArgs{Phone: "+15550100"}, nil)`,
		want:   "cannot use SMSArgs{…} (value of struct type SMSArgs) as EmailArgs value in argument to worker.Enqueue[EmailArgs]",
	},
	{
		name:   "TypedHandlerOnTheUntypedPath",
		readme: "a typed handler registered by a kind string: `worker.HandleRaw(p, \"email.send\", func(ctx context.Context, job *worker.Job[EmailArgs]) error {…}, nil)`",
		code:   `_ = worker.HandleRaw(p, "email.send", func(ctx context.Context, job *worker.Job[EmailArgs]) error { return nil }, nil)`,
		want:   "cannot use func(ctx context.Context, job *worker.Job[EmailArgs]) error {…} (value of type func(ctx context.Context, job *worker.Job[EmailArgs]) error) as func(ctx context.Context, job *worker.Job[[]byte]) error value in argument to worker.HandleRaw",
	},
	{
		name:   "ArgumentsWithoutAKind",
		readme: "arguments without a kind: `worker.Enqueue(ctx, store, struct{ To string }{…}, nil)`",
		code:   `_, _ = worker.Enqueue(ctx, store, struct{ To string }{"ada@example.com"}, nil)`,
		want:   "in call to worker.Enqueue, T (type struct{To string}) does not satisfy worker.JobArgs (missing method Kind)",
	},
	{
		name:   "KindGivenAsAString",
		readme: "a kind given as a string: `worker.Enqueue(ctx, store, \"email.send\", EmailArgs{…}, nil)`",
		code:   `_, _ = worker.Enqueue(ctx, store, "email.send", EmailArgs{To: "ada@example.com"}, nil)`,
		want:   "too many arguments in call to worker.Enqueue",
	},
	{
		name:   "PointerToPointerArguments",
		readme: "arguments behind two pointers: `worker.Enqueue(ctx, store, &ptr, nil)` with `ptr := &EmailArgs{…}`",
		code: `ptr := &EmailArgs{To: "ada@example.com"}
	_, _ = worker.Enqueue(ctx, store, &ptr, nil)`,
		want: "in call to worker.Enqueue, T (type **EmailArgs) does not satisfy worker.JobArgs (missing method Kind)",
	},
}

// TestREADMEShowsTheCases checks that the README's "What the compiler
// checks" table is the table of cases: a row per case, in order, with its
// description and its message.
func TestREADMEShowsTheCases(t *testing.T) {
	t.Parallel()

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### What the compiler checks\n")
	if !ok {
		t.Fatal(`README.md has no section "### What the compiler checks"`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	var got []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| misuse |") {
			got = append(got, line)
		}
	}
	var want []string
	for _, c := range cases {
		want = append(want, "| "+c.readme+" | `"+c.want+"` |")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("README.md's table differs from the cases (-want +got):\n%s\nThe table the cases give:\n%s", diff, strings.Join(want, "\n"))
	}
}

// TestMisuseDoesNotCompile compiles each case in a module of its own that
// requires this one, and checks the compiler's message.
func TestMisuseDoesNotCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles programs with the go tool")
	}
	t.Parallel()

	dir := module(t)
	// The control: the right way compiles, so the prelude is sound and the
	// dependencies are built once before the cases run in parallel.
	control := `_ = db.JobsGet(ctx, home, shard, id)
	_ = db.DueScan(ctx, "default", bucket, shard, from, to, limit)
	_ = db.JobsWrite(ctx, models.JobsRow{}, 0, 1)
	db.NewJobsBatch(ctx, gocql.LoggedBatch).JobsDelete(home, shard, id, 1)
	_, _ = queries.Jobs.Get(queries.JobsColumns.LeaseOwner, queries.JobsColumns.State)
	_ = worker.Handle(p, func(ctx context.Context, job *worker.Job[EmailArgs]) error { return nil }, nil)
	_, _ = worker.Enqueue(ctx, store, EmailArgs{To: "ada@example.com"}, nil)
	_ = worker.Handle(p, func(ctx context.Context, job *worker.Job[*EmailArgs]) error { return nil }, nil)
	_, _ = worker.Enqueue(ctx, store, &EmailArgs{To: "ada@example.com"}, nil)
	_, _ = worker.Enqueue[EmailArgs](ctx, store, EmailArgs{To: "ada@example.com"}, nil)
	_ = worker.HandleRaw(p, "email.send", func(ctx context.Context, job *worker.Job[[]byte]) error { return nil }, nil)`
	if out, err := build(t, dir, "control", control); err != nil {
		t.Fatalf("the control program does not compile: %v\n%s", err, out)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, err := build(t, dir, strings.ToLower(c.name), c.code)
			if err == nil {
				t.Fatalf("go build succeeded, want a compile error containing %q", c.want)
			}
			if !strings.Contains(out, c.want) {
				t.Fatalf("go build error does not contain %q:\n%s", c.want, out)
			}
		})
	}
}

// module writes a module that requires this one (by a replace directive to
// its directory) and returns its directory.
func module(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/misuse\n\ngo 1.26\n\nrequire github.com/jobsharp/cassandra v0.0.0\n\nreplace github.com/jobsharp/cassandra => " + root + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// build compiles code in package name of the module and returns the go
// tool's output. It runs offline, from the module cache.
func build(t *testing.T, dir, name, code string) (string, error) {
	t.Helper()
	pkg := filepath.Join(dir, name)
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(prelude, "%s", code, 1)
	if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", os.DevNull, "./"+name)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
