package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// goldenModule copies the golden models and queries packages of every
// successful case into a new module that requires this module's
// dependencies (offline, from the module cache) and returns its directory.
func goldenModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var req []string
	inBlock := false
	for _, line := range strings.Split(string(gomod), "\n") {
		switch {
		case strings.HasPrefix(line, "require ("):
			inBlock = true
		case inBlock && strings.TrimSpace(line) == ")":
			inBlock = false
		case inBlock:
			req = append(req, strings.TrimSpace(line))
		case strings.HasPrefix(line, "require "):
			req = append(req, strings.TrimPrefix(line, "require "))
		}
	}
	// Only what generated code imports (and their dependencies), so the
	// scratch module does not depend on this module's tools.
	var needed []string
	for _, r := range req {
		for _, m := range []string{"github.com/gocql/gocql ", "github.com/scylladb/", "gopkg.in/inf.v0 ", "github.com/golang/snappy ", "github.com/hailocab/go-hostpool "} {
			if strings.HasPrefix(r, m) {
				needed = append(needed, strings.TrimSuffix(r, " // indirect"))
			}
		}
	}
	mod := "module example.com/golden\n\ngo 1.26\n\nrequire (\n\t" + strings.Join(needed, "\n\t") + "\n)\n"
	writeFile(t, filepath.Join(dir, "go.mod"), mod)
	sum, err := os.ReadFile("../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "go.sum"), string(sum))
	for _, c := range goldenCases(t) {
		files, wantErr := readGolden(t, c.dir)
		if wantErr != "" {
			continue
		}
		for key, data := range files {
			// The queries import their models by this module's path.
			src := strings.ReplaceAll(string(data), `"github.com/jobsharp/cassandra/gen/testdata/`, `"example.com/golden/`)
			writeFile(t, filepath.Join(dir, c.name, filepath.FromSlash(key)), src)
		}
	}
	return dir
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// goCmd runs the go tool offline in dir and returns its combined output.
func goCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestGoldenBuilds compiles and vets every golden package, checks that
// misuse of the typed columns does not compile, and runs the builders.
func TestGoldenBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the golden packages with the go tool")
	}
	t.Parallel()

	dir := goldenModule(t)
	if out, err := goCmd(t, dir, "vet", "./..."); err != nil {
		t.Fatalf("go vet of the golden packages failed: %v\n%s", err, out)
	}

	t.Run("MisuseDoesNotCompile", func(t *testing.T) {
		tests := map[string]struct {
			code string
			want string
		}{
			"ColumnOfAnotherTable": {
				code: `_, _ = queries.AllTypes.Select(queries.CountersColumns.Hits)`,
				want: "cannot use queries.CountersColumns.Hits (variable of struct type queries.CountersColumn[int64]) as queries.ColumnOf[queries.AllTypesBuilder] value in argument to queries.AllTypes.Select",
			},
			"ConvertedColumn": {
				code: `_ = queries.AllTypesColumn[int64](queries.CountersColumns.Hits)`,
				want: "cannot convert queries.CountersColumns.Hits (variable of struct type queries.CountersColumn[int64]) to type queries.AllTypesColumn[int64]",
			},
			"MisspeltColumn": {
				code: `_, _ = queries.AllTypes.Select(queries.AllTypesColumns.CTxet)`,
				want: "AllTypesColumns.CTxet undefined",
			},
			"StringAsColumn": {
				code: `_, _ = queries.AllTypes.Select("c_text")`,
				want: `cannot use "c_text" (constant of type string) as queries.ColumnOf[queries.AllTypesBuilder] value`,
			},
			"ForgedColumn": {
				code: `_, _ = queries.AllTypes.Select(queries.AllTypesColumn[string]{name: "c_text"})`,
				want: "cannot refer to unexported field name in struct literal",
			},
			"WrongTypedValue": {
				code: `_ = queries.AllTypesColumns.CInt.Value("1")`,
				want: `cannot use "1" (untyped string constant) as int32 value in argument to queries.AllTypesColumns.CInt.Value`,
			},
			"WrongTypedParam": {
				code: `_ = db.AllTypesGet(ctx, id, "1", at, id)`,
				want: `cannot use "1" (untyped string constant) as int32 value in argument to db.AllTypesGet`,
			},
			"MissingParams": {
				code: `_ = db.AllTypesGet(ctx)`,
				want: "not enough arguments in call to db.AllTypesGet",
			},
			"MissingRequiredParam": {
				code: `_ = db.AllTypesRange(ctx, id, 1, at, at)`,
				want: "not enough arguments in call to db.AllTypesRange",
			},
			"ExtraParam": {
				code: `_ = db.AllTypesGet(ctx, id, 1, at, id, 2)`,
				want: "too many arguments in call to db.AllTypesGet",
			},
			"ParamsSwappedAcrossTypes": {
				code: `_ = db.AllTypesGet(ctx, 1, id, at, id)`,
				want: "cannot use 1 (untyped int constant) as gocql.UUID value in argument to db.AllTypesGet",
			},
			"RowOfAnotherTable": {
				code: `var row models.SimpleRow
	row, _ = db.AllTypesGet(ctx, id, 1, at, id).One()
	_ = row`,
				want: "cannot use db.AllTypesGet(ctx, id, 1, at, id).One() (value of struct type models.AllTypesRow) as models.SimpleRow value in assignment",
			},
			"SelectInBatch": {
				code: `db.NewBatch(ctx, 0).AllTypesGet(id, 1, at, id)`,
				want: "db.NewBatch(ctx, 0).AllTypesGet undefined",
			},
			"ConditionInPlainBatch": {
				code: `db.NewBatch(ctx, 0).AllTypesSetGroup("g", id, 1)`,
				want: "db.NewBatch(ctx, 0).AllTypesSetGroup undefined",
			},
			"WriteToView": {
				code: `_, _ = queries.OrdersByCustomer.Insert()`,
				want: "queries.OrdersByCustomer.Insert undefined",
			},
		}
		// The control: the right calls compile in the prelude.
		writeFile(t, filepath.Join(dir, "misuse", "control", "main.go"), strings.Replace(misusePrelude, "%s",
			"_ = db.AllTypesGet(ctx, id, 1, at, id)\n\t_ = db.AllTypesRange(ctx, id, 1, at, at, 10)\n\tdb.NewAllTypesBatch(ctx, 0).AllTypesSetGroup(\"g\", id, 1)", 1))
		if out, err := goCmd(t, dir, "build", "./misuse/control"); err != nil {
			t.Fatalf("the control program does not compile: %v\n%s", err, out)
		}
		for name, tt := range tests {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				src := misusePrelude
				if strings.Contains(tt.code, "OrdersByCustomer") {
					src = "package main\n\nimport \"example.com/golden/views/queries\"\n\nfunc main() {\n\t%s\n}\n"
				}
				pkg := filepath.Join("misuse", strings.ToLower(name))
				writeFile(t, filepath.Join(dir, pkg, "main.go"), strings.Replace(src, "%s", tt.code, 1))
				out, err := goCmd(t, dir, "build", "./"+filepath.ToSlash(pkg))
				if err == nil {
					t.Fatalf("go build succeeded, want a compile error containing %q", tt.want)
				}
				if !strings.Contains(out, tt.want) {
					t.Fatalf("go build error does not contain %q:\n%s", tt.want, out)
				}
			})
		}
	})

	t.Run("Builders", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "builders", "main.go"), buildersProgram)
		out, err := goCmd(t, dir, "run", "./builders")
		if err != nil {
			t.Fatalf("go run failed: %v\n%s", err, out)
		}
		if diff := cmp.Diff(buildersOutput, out); diff != "" {
			t.Errorf("builder output mismatch (-want +got):\n%s", diff)
		}
	})
}

// misusePrelude is the program the misuse cases of the types fixture are
// compiled in, at %s.
const misusePrelude = `package main

import (
	"context"
	"time"

	"github.com/gocql/gocql"

	"example.com/golden/types/models"
	"example.com/golden/types/queries"
)

var (
	ctx = context.Background()
	db  = queries.New(nil)
	id  gocql.UUID
	at  time.Time
	_   models.SimpleRow
)

func main() {
	%s
}
`

const buildersProgram = `package main

import (
	"errors"
	"fmt"

	quoted "example.com/golden/quoted/queries"
	"example.com/golden/types/queries"
	"github.com/scylladb/gocqlx/v2/qb"
)

type builder interface{ ToCql() (string, []string) }

func show(b builder, err error) {
	if err != nil {
		fmt.Println("error:", err, errors.Is(err, queries.ErrZeroColumn))
		return
	}
	stmt, names := b.ToCql()
	fmt.Println(stmt, names)
}

func main() {
	c := queries.AllTypesColumns
	show(queries.AllTypes.Get(c.CText, c.Home))
	show(queries.AllTypes.Select(c.CText))
	show(queries.AllTypes.Insert(c.ID, c.Bucket, c.CreatedAt, c.Seq, c.CText))
	show(queries.AllTypes.Update(c.CText, c.ListInt))
	show(queries.AllTypes.Delete(c.MapTextInt))
	show(queries.Counters.Update(queries.CountersColumns.Hits))
	show(queries.AllTypes.Select(c.CText, queries.AllTypesColumn[string]{}))
	show(queries.AllTypes.Update(queries.AllTypesColumn[int32]{}))
	sel, _ := queries.AllTypes.Select(c.CText)
	show(sel.Where(c.CreatedAt.GtOrEq(), c.CreatedAt.LtNamed("to"), queries.AllTypesColumn[string]{}.Eq()), nil)
	show(qb.Select("all_types").Where(c.SetText.Contains(), c.MapTextInt.ContainsKey(), c.Bucket.In()), nil)
	q := quoted.WeirdTableColumns
	show(quoted.WeirdTable.Get(q.MixedCase, q.QuoteD))
	show(quoted.WeirdTable.Insert(q.ID, q.Select, q.From, q.MixedCase))
	show(quoted.WeirdTable.Update(q.MixedCase))
	show(quoted.Select.Get())
	show(queries.AllTypes.Insert(c.ID, c.Pair))
	show(queries.AllTypes.Update(c.Triple))
	show(qb.Select("all_types").Where(c.Pair.Eq(), c.Pair.LtNamed("p")), nil)
	stmt, names := quoted.WeirdTableTable.Get()
	fmt.Println("table.Table:", stmt, names)
	fmt.Println(c.CText.Name(), c.CText.CQL(), q.MixedCase.Name(), q.MixedCase.CQL(), queries.AllTypesColumn[bool]{}.CQL())
}
`

const buildersOutput = `SELECT c_text,home FROM all_types WHERE id=? AND bucket=? AND created_at=? AND seq=?  [id bucket created_at seq]
SELECT c_text FROM all_types WHERE id=? AND bucket=?  [id bucket]
INSERT INTO all_types (id,bucket,created_at,seq,c_text) VALUES (?,?,?,?,?)  [id bucket created_at seq c_text]
UPDATE all_types SET c_text=?,list_int=? WHERE id=? AND bucket=? AND created_at=? AND seq=?  [c_text list_int id bucket created_at seq]
DELETE map_text_int FROM all_types WHERE id=? AND bucket=? AND created_at=? AND seq=?  [id bucket created_at seq]
UPDATE counters SET hits=hits+? WHERE name=? AND day=?  [hits name day]
error: column 1: zero column: use the fields of the table's Columns variable true
error: column 0: zero column: use the fields of the table's Columns variable true
SELECT c_text FROM all_types WHERE id=? AND bucket=? AND created_at>=? AND created_at<? AND "<zero column: use the fields of the table's Columns variable>"=?  [id bucket created_at to ]
SELECT * FROM all_types WHERE set_text CONTAINS ? AND map_text_int CONTAINS KEY ? AND bucket IN ?  [set_text map_text_int bucket]
SELECT "Mixed Case","quote""d" FROM "WeirdTable" WHERE "Id"=? AND "select"=? AND "from"=?  [Id select from]
INSERT INTO "WeirdTable" ("Id","select","from","Mixed Case") VALUES (?,?,?,?)  [Id select from Mixed Case]
UPDATE "WeirdTable" SET "Mixed Case"=? WHERE "Id"=? AND "select"=? AND "from"=?  [Mixed Case Id select from]
SELECT key,value FROM "select" WHERE key=?  [key]
INSERT INTO all_types (id,pair) VALUES (?,(?,?))  [id pair[0] pair[1]]
UPDATE all_types SET triple=(?,?,?) WHERE id=? AND bucket=? AND created_at=? AND seq=?  [triple[0] triple[1] triple[2] id bucket created_at seq]
SELECT * FROM all_types WHERE pair=(?,?) AND pair<(?,?)  [pair[0] pair[1] p[0] p[1]]
table.Table: SELECT * FROM "WeirdTable" WHERE "Id"=? AND "select"=? AND "from"=?  ["Id" "select" "from"]
c_text c_text Mixed Case "Mixed Case" "<zero column: use the fields of the table's Columns variable>"
`
