package corpus

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
)

// agreement is how the generator fared on one entry.
type agreement struct {
	Entry      entry
	Statements int // statements in the files
	Judged     int // statements the generator checks (the rest are DML, functions, roles…)
	Agreed     int // judged statements with the server's verdict
	// ServerReject and GenReject are the index of the first judged
	// statement each side rejected, -1 when it accepted them all.
	ServerReject, GenReject int
	// PointsInside is set when the generator's first error lies inside the
	// statement the server rejected first.
	PointsInside bool
	// Objects counts the tables, views and types the server has at the end;
	// Matched those the generator built identically.
	Objects, Matched int
	Problems         []string

	judged      map[int]bool // statement indexes the generator checks
	genRejected int          // judged statements the generator rejected
	firstGen    string       // the generator's first error
}

// Agrees reports whether the generator agreed with the server on every
// judged statement and on the schema.
func (a agreement) Agrees() bool { return len(a.Problems) == 0 }

// compare runs the generator on the entry statement by statement and
// compares it with the server's record.
func compare(t *testing.T, e entry, rec *record) (agreement, *catalog.Catalog, []catalog.Result) {
	t.Helper()
	cat, results := catalog.Apply(catalog.Options{Datacenters: rec.Datacenters}, e.sources(t)...)
	a := agreement{Entry: e, Statements: len(results), ServerReject: -1, GenReject: -1, judged: map[int]bool{}}
	problem := func(format string, args ...any) { a.Problems = append(a.Problems, fmt.Sprintf(format, args...)) }
	if len(results) != len(rec.Statements) {
		problem("%d statements, the record has %d: re-record with -update", len(results), len(rec.Statements))
		return a, cat, results
	}
	for i, r := range results {
		v := rec.Statements[i]
		if v.At != r.Statement.Pos.String() {
			problem("statement %d is at %s, the record has %s: re-record with -update", i+1, r.Statement.Pos, v.At)
			return a, cat, results
		}
		if r.Skipped() {
			continue
		}
		a.Judged++
		a.judged[i] = true
		serverOK, genOK := v.Error == "", r.Err == nil
		if !serverOK && a.ServerReject < 0 {
			a.ServerReject = i
		}
		if !genOK {
			a.genRejected++
		}
		if !genOK && a.GenReject < 0 {
			a.GenReject = i
			var ce *cql.Error
			a.PointsInside = errors.As(r.Err, &ce) && r.Statement.Contains(ce.Pos)
			if !a.PointsInside {
				problem("%s: the error does not point inside the statement: %v", v.At, r.Err)
			}
		}
		switch {
		case serverOK == genOK:
			a.Agreed++
		case serverOK:
			problem("%s: the server applied %q; the generator says %v", v.At, v.Head, r.Err)
		default:
			problem("%s: the server rejected %q (%s); the generator accepted it", v.At, v.Head, v.Error)
		}
	}
	got := generatorSchema(cat, results)
	want := rec.Schema
	a.Objects = len(want.Tables) + len(want.Types)
	a.Matched = matchedObjects(want, got)
	if diff := cmp.Diff(want, got); diff != "" {
		problem("schema differs from system_schema (-server +generator):\n%s", diff)
	}
	return a, cat, results
}

// generatorSchema renders the catalog as the server's record shows the
// schema.
func generatorSchema(cat *catalog.Catalog, results []catalog.Result) schema {
	createsKeyspaces := false
	for _, r := range results {
		createsKeyspaces = createsKeyspaces || r.Statement.IsCreateKeyspace()
	}
	var out schema
	if !createsKeyspaces && cat.Keyspace("") == nil {
		out.Keyspaces = append(out.Keyspaces, "")
	}
	for _, ks := range cat.Keyspaces {
		out.Keyspaces = append(out.Keyspaces, ks.Name)
		for _, t := range ks.Tables {
			row := tableRow{Keyspace: ks.Name, Name: t.Name}
			if t.View {
				row.Base = t.Base
			}
			out.Tables = append(out.Tables, row)
			for _, c := range t.SystemColumns() {
				out.Columns = append(out.Columns, columnRow{
					Keyspace: ks.Name, Table: t.Name, Name: c.Name, Kind: c.Kind.String(),
					Position: c.Position, Order: c.Order(), Type: c.Type.String(), Mask: c.MaskText(ks.Name),
				})
			}
		}
		for _, u := range ks.Types {
			row := typeRow{Keyspace: ks.Name, Name: u.Name}
			for _, f := range u.Fields {
				row.FieldNames = append(row.FieldNames, f.Name)
				row.FieldTypes = append(row.FieldTypes, f.Type.String())
			}
			out.Types = append(out.Types, row)
		}
		for _, ix := range ks.Indexes {
			out.Indexes = append(out.Indexes, indexRow{Keyspace: ks.Name, Table: ix.Table, Name: ix.Name})
		}
	}
	out.sort()
	return out
}

// matchedObjects counts the server's tables, views and types that the
// generator reproduced exactly (columns or fields included).
func matchedObjects(want, got schema) int {
	n := 0
	for _, tw := range want.Tables {
		for _, tg := range got.Tables {
			if tw == tg && cmp.Equal(columnsOf(want, tw), columnsOf(got, tg)) {
				n++
			}
		}
	}
	for _, uw := range want.Types {
		for _, ug := range got.Types {
			if cmp.Equal(uw, ug) {
				n++
			}
		}
	}
	return n
}

func columnsOf(s schema, t tableRow) []columnRow {
	var out []columnRow
	for _, c := range s.Columns {
		if c.Keyspace == t.Keyspace && c.Table == t.Name {
			out = append(out, c)
		}
	}
	return out
}

// TestGeneratorAgrees requires, for every corpus entry, the server's
// verdict on every statement the generator checks, an error inside the
// statement the server rejected first, and the server's tables, views and
// types.
func TestGeneratorAgrees(t *testing.T) {
	t.Parallel()

	for _, e := range loadEntries(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			a, _, _ := compare(t, e, readRecord(t, e.Name))
			for _, p := range a.Problems {
				t.Error(p)
			}
		})
	}
}

// TestScyllaDialect applies the ScyllaDB-only schema of the corpus with
// -dialect scylla: every statement that Cassandra refused for using what
// only ScyllaDB knows (documented in ScyllaDB's docs/cql/ddl.rst and
// docs/cql/cql-extensions.md) is accepted, and the default dialect's
// errors name the flag.
func TestScyllaDialect(t *testing.T) {
	t.Parallel()

	var e entry
	for _, x := range loadEntries(t) {
		if x.Name == "reduced-scylla" {
			e = x
		}
	}
	_, results := catalog.Apply(catalog.Options{Dialect: catalog.Scylla}, e.sources(t)...)
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("-dialect scylla refused %s: %v", head(r.Statement.Text), r.Err)
		}
	}
	_, results = catalog.Apply(catalog.Options{}, e.sources(t)...)
	refused := 0
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		refused++
		if !strings.Contains(r.Err.Error(), "-dialect scylla") {
			t.Errorf("the Cassandra dialect refuses %s without naming -dialect scylla: %v", head(r.Statement.Text), r.Err)
		}
	}
	if refused < 10 {
		t.Errorf("the Cassandra dialect refused %d statements of reduced-scylla.cql, want each ScyllaDB feature refused", refused)
	}
}
