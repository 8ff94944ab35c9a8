package schema

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/queries"
)

// Live is a keyspace as system_schema describes it.
type Live struct {
	Keyspace string
	// Exists is false when there is no such keyspace; the other fields are
	// then empty.
	Exists bool
	// Replication is the keyspace's replication map as stored, for example
	// {"class": "org.apache.cassandra.locator.SimpleStrategy",
	// "replication_factor": "1"}.
	Replication map[string]string
	// Tables and Types are the names of its tables and user-defined types,
	// sorted.
	Tables, Types []string
	// Columns are the columns of every table, ordered by table and name.
	Columns []queries.SchemaColumn
	// UserTypes are its user-defined types with their fields, by name.
	UserTypes []queries.UserType
}

// Inspect reads a keyspace's definition from system_schema.
func Inspect(ctx context.Context, session *gocql.Session, keyspace string) (*Live, error) {
	live := &Live{Keyspace: keyspace}
	q := func(stmt string) *gocql.Iter {
		return session.Query(stmt, keyspace).WithContext(ctx).Iter()
	}
	iter := q("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?")
	live.Exists = iter.Scan(&live.Replication)
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("read keyspace %s from system_schema: %w", keyspace, err)
	}
	if !live.Exists {
		return live, nil
	}
	iter = q("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?")
	var name string
	for iter.Scan(&name) {
		live.Tables = append(live.Tables, name)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("read tables of keyspace %s from system_schema: %w", keyspace, err)
	}
	slices.Sort(live.Tables)
	iter = q("SELECT type_name, field_names, field_types FROM system_schema.types WHERE keyspace_name = ?")
	var u queries.UserType
	for iter.Scan(&u.Name, &u.FieldNames, &u.FieldTypes) {
		live.UserTypes = append(live.UserTypes, u)
		live.Types = append(live.Types, u.Name)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("read types of keyspace %s from system_schema: %w", keyspace, err)
	}
	slices.Sort(live.Types)
	iter = q("SELECT table_name, column_name, kind, position, clustering_order, type FROM system_schema.columns WHERE keyspace_name = ?")
	var c queries.SchemaColumn
	for iter.Scan(&c.Table, &c.Name, &c.Kind, &c.Position, &c.ClusteringOrder, &c.Type) {
		live.Columns = append(live.Columns, c)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("read columns of keyspace %s from system_schema: %w", keyspace, err)
	}
	return live, nil
}

// DiffKind classifies a Difference.
type DiffKind string

// The kinds of difference between the live schema and this build's.
const (
	MissingKeyspace DiffKind = "missing keyspace"
	MissingTable    DiffKind = "missing table"
	MissingColumn   DiffKind = "missing column"
	ChangedColumn   DiffKind = "changed column"
	// ExtraColumn is a column this build does not know. The store ignores
	// it; it is reported so that verify shows every difference.
	ExtraColumn DiffKind = "extra column"
	MissingType DiffKind = "missing type"
	// MissingField and ChangedField are fields of a user-defined type;
	// ExtraField is one this build does not know, which the store writes as
	// null and skips when reading.
	MissingField DiffKind = "missing field"
	ChangedField DiffKind = "changed field"
	ExtraField   DiffKind = "extra field"
	// OldLayout is a jobs table of the layout before job ids named their
	// partitions (PRIMARY KEY (id)). Cassandra cannot change a primary key:
	// the keyspace is drained and the processors switched to a new one.
	OldLayout DiffKind = "old layout"
)

// Difference is one way the live schema differs from this build's.
type Difference struct {
	Kind DiffKind
	// Table and Column name the object: a table and its column, or a
	// user-defined type and its field (Column is empty for keyspaces,
	// tables and types).
	Table, Column string
	// Want and Got describe the column or field as this build expects it
	// and as it is ("int, partition key 1"); empty where it does not exist.
	Want, Got string
	// Fix is what repairs the difference: a command or a CQL statement.
	Fix string
}

// String renders the difference in one line, with its fix.
func (d Difference) String() string {
	var s string
	switch d.Kind {
	case MissingKeyspace:
		s = "missing keyspace"
	case MissingTable:
		s = "missing table " + d.Table
	case MissingColumn:
		s = fmt.Sprintf("missing column %s.%s (%s)", d.Table, d.Column, d.Want)
	case ChangedColumn:
		s = fmt.Sprintf("column %s.%s is %s, want %s", d.Table, d.Column, d.Got, d.Want)
	case ExtraColumn:
		s = fmt.Sprintf("extra column %s.%s (%s), unknown to this build", d.Table, d.Column, d.Got)
	case MissingType:
		s = "missing type " + d.Table
	case MissingField:
		s = fmt.Sprintf("missing field %s.%s of type %s (%s)", d.Table, d.Column, d.Table, d.Want)
	case ChangedField:
		s = fmt.Sprintf("field %s.%s of type %s is %s, want %s", d.Table, d.Column, d.Table, d.Got, d.Want)
	case ExtraField:
		s = fmt.Sprintf("extra field %s.%s of type %s (%s), unknown to this build", d.Table, d.Column, d.Table, d.Got)
	case OldLayout:
		s = fmt.Sprintf("table %s has the layout before partitioned job ids (%s)", d.Table, d.Got)
	}
	if d.Fix != "" {
		s += ": " + d.Fix
	}
	return s
}

// Report is the result of comparing a keyspace with this build's schema.
type Report struct {
	Keyspace    string
	Differences []Difference
	// Diff is a go-cmp diff of the schema's tables, (-want +live), one entry
	// per column, followed by one of its user-defined types (one entry per
	// field) when they differ; empty when everything matches.
	Diff string
}

// OK reports whether the keyspace matches the schema.
func (r *Report) OK() bool { return len(r.Differences) == 0 }

// String renders the report: a verdict, one line per difference, and the
// diff.
func (r *Report) String() string {
	var b strings.Builder
	if r.OK() {
		fmt.Fprintf(&b, "keyspace %s matches the schema of this build\n", r.Keyspace)
		return b.String()
	}
	places := "places"
	if len(r.Differences) == 1 {
		places = "place"
	}
	fmt.Fprintf(&b, "keyspace %s differs from the schema of this build in %d %s:\n", r.Keyspace, len(r.Differences), places)
	for _, d := range r.Differences {
		fmt.Fprintf(&b, "  %s\n", d)
	}
	if r.Diff != "" {
		fmt.Fprintf(&b, "diff (-want +live):\n%s", r.Diff)
	}
	return b.String()
}

// Verify compares a keyspace with this build's schema.
func Verify(ctx context.Context, session *gocql.Session, keyspace string) (*Report, error) {
	if err := ValidKeyspace(keyspace); err != nil {
		return nil, err
	}
	live, err := Inspect(ctx, session, keyspace)
	if err != nil {
		return nil, err
	}
	return Compare(live), nil
}

// Compare compares a live keyspace with this build's schema. Tables of the
// keyspace that the schema does not know are left alone: a keyspace may hold
// other tables.
func Compare(live *Live) *Report {
	rep := &Report{Keyspace: live.Keyspace}
	apply := "run jobsharp schema apply --keyspace " + live.Keyspace
	if !live.Exists {
		rep.Differences = append(rep.Differences, Difference{Kind: MissingKeyspace, Fix: apply + " --replication …"})
		return rep
	}
	want := describeColumns(queries.Columns(), nil)
	got := describeColumns(live.Columns, want)
	wantTypes, gotTypes := describeTypes(queries.UserTypes()), describeTypes(live.UserTypes)
	for _, u := range queries.UserTypes() {
		g, ok := gotTypes[u.Name]
		if !ok {
			rep.Differences = append(rep.Differences, Difference{Kind: MissingType, Table: u.Name, Fix: apply})
			continue
		}
		w := wantTypes[u.Name]
		for i, f := range u.FieldNames {
			switch gt, ok := g[f]; {
			case !ok:
				rep.Differences = append(rep.Differences, Difference{Kind: MissingField, Table: u.Name, Column: f, Want: w[f],
					Fix: fmt.Sprintf("ALTER TYPE %s.%s ADD %s %s;", live.Keyspace, u.Name, f, u.FieldTypes[i])})
			case gt != w[f]:
				rep.Differences = append(rep.Differences, Difference{Kind: ChangedField, Table: u.Name, Column: f, Want: w[f], Got: gt,
					Fix: "Cassandra cannot change a field's type; copy the data into tables created by this build's schema"})
			}
		}
		for _, f := range slices.Sorted(maps.Keys(g)) {
			if _, ok := w[f]; !ok {
				rep.Differences = append(rep.Differences, Difference{Kind: ExtraField, Table: u.Name, Column: f, Got: g[f]})
			}
		}
	}
	if oldJobsLayout(live) {
		rep.Differences = append(rep.Differences, Difference{Kind: OldLayout, Table: "jobs", Got: "PRIMARY KEY (id)", Want: "PRIMARY KEY ((home, shard), id)",
			Fix: "it cannot be altered in place; drain it and switch the processors to a new keyspace (README: Moving to the partitioned layout)"})
	}
	for _, t := range queries.Tables() {
		table := t.Name
		if !slices.Contains(live.Tables, table) {
			rep.Differences = append(rep.Differences, Difference{Kind: MissingTable, Table: table, Fix: apply})
			continue
		}
		w, g := want[table], got[table]
		for _, c := range columnsOf(queries.Columns(), table) {
			switch gd, ok := g[c.Name]; {
			case !ok:
				rep.Differences = append(rep.Differences, Difference{Kind: MissingColumn, Table: table, Column: c.Name, Want: w[c.Name], Fix: addColumnFix(live.Keyspace, c)})
			case gd != w[c.Name]:
				rep.Differences = append(rep.Differences, Difference{Kind: ChangedColumn, Table: table, Column: c.Name, Want: w[c.Name], Got: gd,
					Fix: "Cassandra cannot change this in place; copy the data into a table created by this build's schema"})
			}
		}
		for _, c := range columnsOf(live.Columns, table) {
			if _, ok := w[c.Name]; !ok {
				rep.Differences = append(rep.Differences, Difference{Kind: ExtraColumn, Table: table, Column: c.Name, Got: g[c.Name]})
			}
		}
	}
	if len(rep.Differences) > 0 {
		rep.Diff = cmp.Diff(want, got)
		for name := range gotTypes {
			if _, ok := wantTypes[name]; !ok {
				delete(gotTypes, name) // a type of someone else's
			}
		}
		if d := cmp.Diff(wantTypes, gotTypes); d != "" {
			rep.Diff += "types (-want +live):\n" + d
		}
	}
	return rep
}

// describeTypes maps type → field → type.
func describeTypes(types []queries.UserType) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, u := range types {
		out[u.Name] = map[string]string{}
		for i, f := range u.FieldNames {
			if i < len(u.FieldTypes) {
				out[u.Name][f] = u.FieldTypes[i]
			}
		}
	}
	return out
}

// describeColumns maps table → column → description, for the tables of
// only (every table when only is nil).
func describeColumns(cols []queries.SchemaColumn, only map[string]map[string]string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, c := range cols {
		if only != nil {
			if _, ok := only[c.Table]; !ok {
				continue
			}
		}
		if out[c.Table] == nil {
			out[c.Table] = map[string]string{}
		}
		out[c.Table][c.Name] = describe(c)
	}
	return out
}

// describe renders what matters of a column: "timestamp, clustering 0 desc".
func describe(c queries.SchemaColumn) string {
	switch c.Kind {
	case "partition_key":
		return fmt.Sprintf("%s, partition key %d", c.Type, c.Position)
	case "clustering":
		return fmt.Sprintf("%s, clustering %d %s", c.Type, c.Position, c.ClusteringOrder)
	case "static":
		return c.Type + ", static"
	}
	return c.Type
}

func columnsOf(cols []queries.SchemaColumn, table string) []queries.SchemaColumn {
	var out []queries.SchemaColumn
	for _, c := range cols {
		if c.Table == table {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b queries.SchemaColumn) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func addColumnFix(keyspace string, c queries.SchemaColumn) string {
	switch c.Kind {
	case "regular":
		return fmt.Sprintf("ALTER TABLE %s.%s ADD %s %s;", keyspace, c.Table, c.Name, c.Type)
	case "static":
		return fmt.Sprintf("ALTER TABLE %s.%s ADD %s %s STATIC;", keyspace, c.Table, c.Name, c.Type)
	}
	return "a key column cannot be added; copy the data into a table created by this build's schema"
}

// oldJobsLayout reports whether the live jobs table is keyed by the job id
// alone, as before job ids named their partitions.
func oldJobsLayout(live *Live) bool {
	for _, c := range live.Columns {
		if c.Table == "jobs" && c.Name == "id" && c.Kind == "partition_key" {
			return true
		}
	}
	return false
}
