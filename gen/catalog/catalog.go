package catalog

import (
	"slices"
	"strconv"

	"github.com/jobsharp/cassandra/gen/cql"
)

// Kind is the role of a column, named as in system_schema.columns.kind.
type Kind int

// Column kinds.
const (
	PartitionKey Kind = iota
	Clustering
	Regular
	Static
)

// String returns the kind as system_schema.columns.kind shows it.
func (k Kind) String() string {
	switch k {
	case PartitionKey:
		return "partition_key"
	case Clustering:
		return "clustering"
	case Static:
		return "static"
	}
	return "regular"
}

// Catalog is the schema built by folding statements in order. The zero value
// is not usable; call New.
type Catalog struct {
	// Keyspaces in the order they were first mentioned. The keyspace named ""
	// stands for the session keyspace (statements with unqualified names and
	// no USE before them).
	Keyspaces []*Keyspace
	current   string
	opts      Options
	// createsKeyspaces is set when the schema has a CREATE KEYSPACE: then
	// there is no session keyspace, and only keyspaces it creates exist.
	createsKeyspaces bool
}

// Options says what the catalog checks beyond what every Cassandra 5.0
// node checks. The zero value checks as Cassandra 5.0 does.
type Options struct {
	// Dialect selects the server whose rules apply: Cassandra (the default)
	// or ScyllaDB, whose table and keyspace options differ.
	Dialect Dialect
	// Datacenters, when set, are the data centres of the target cluster:
	// NetworkTopologyStrategy replication may name only these, as the
	// server requires. Unset, data centre names are not checked (the
	// generator cannot know the cluster).
	Datacenters []string
}

// Keyspace holds the objects of one keyspace in creation order.
type Keyspace struct {
	Name    string
	Pos     cql.Position
	Options []cql.Option
	Types   []*UDT
	Tables  []*Table // tables and materialized views
	Indexes []*Index
	// Functions are the user-defined functions the schema created: only
	// their names and return types, which column masks may use.
	Functions []*Function
}

// Function is a user-defined function.
type Function struct {
	Name   string
	Return string // as system_schema shows types
}

// function returns the named user-defined function, or nil.
func (ks *Keyspace) function(name string) *Function {
	for _, f := range ks.Functions {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// UDT is a user-defined type.
type UDT struct {
	Keyspace string
	Name     string
	Pos      cql.Position
	Fields   []*Field
}

// Field is a field of a UDT.
type Field struct {
	Name string
	Type *cql.Type
	Pos  cql.Position
}

// Table is a table or a materialized view.
type Table struct {
	Keyspace string
	Name     string
	Pos      cql.Position
	// View is set for materialized views; Base names the base table and
	// Where holds the view's restrictions.
	View  bool
	Base  string
	Where []cql.Relation
	// All is set for a view that selects every column of its base
	// (SELECT *): a column added to the base later is added to the view
	// too, as Cassandra adds it.
	All bool
	// Columns in schema order (declaration order, then ALTER TABLE ADD).
	Columns        []*Column
	PartitionKey   []*Column
	Clustering     []*Column
	Options        []cql.Option
	CompactStorage bool
	// TTLColumn names ScyllaDB's per-row TTL column (a column declared
	// with TTL, or set by ALTER TABLE … TTL col), "" when there is none.
	TTLColumn string
	// dropped are the columns ALTER TABLE … DROP removed, by name, as
	// system_schema.dropped_columns keeps them: a column added again
	// under that name must have a compatible type and the same kind.
	dropped map[string]*Column
}

// SystemColumns returns the table's columns as system_schema.columns shows
// them. They are its columns, except for a COMPACT STORAGE table, whose
// internal columns Cassandra stores too (CreateTableStatement's
// fixupCompactTable): without clustering columns, its columns are static and
// a clustering column1 (text) and a regular value (blob, or counter) follow;
// with clustering columns and no regular one, a regular value of type empty
// follows. CQL reads and writes only the columns the schema declared, and
// the generated code has only those.
func (t *Table) SystemColumns() []*Column {
	if !t.CompactStorage {
		return t.Columns
	}
	used := map[string]bool{}
	var out []*Column
	hasRegular := false
	for _, c := range t.Columns {
		used[c.Name] = true
		cc := *c
		if len(t.Clustering) == 0 && c.Kind == Regular {
			cc.Kind = Static
		}
		hasRegular = hasRegular || cc.Kind == Regular
		out = append(out, &cc)
	}
	name := func(base string, i int) string {
		for ; ; i++ {
			n := base
			if i > 0 {
				n += strconv.Itoa(i)
			}
			if !used[n] {
				used[n] = true
				return n
			}
		}
	}
	native := func(n string) *cql.Type { return &cql.Type{Kind: cql.TypeNative, Name: n} }
	switch {
	case len(t.Clustering) == 0:
		value := native("blob")
		if t.isCounter() {
			value = native("counter")
		}
		out = append(out,
			&Column{Name: name("column", 1), Type: native("text"), Kind: Clustering, Position: 0, Pos: t.Pos},
			&Column{Name: name("value", 0), Type: value, Kind: Regular, Position: -1, Pos: t.Pos})
	case !hasRegular:
		out = append(out, &Column{Name: name("value", 0), Type: native("empty"), Kind: Regular, Position: -1, Pos: t.Pos})
	}
	return out
}

// Column is a column of a table or view.
type Column struct {
	Name string
	Type *cql.Type
	// Mask is the column's MASKED WITH clause, nil when it is not masked.
	Mask *cql.Mask
	Kind Kind
	// Position is the index within the partition key or the clustering
	// columns, -1 for regular and static columns (as system_schema shows it).
	Position int
	// Desc is set for clustering columns in descending order.
	Desc bool
	Pos  cql.Position
}

// Order returns the clustering order as system_schema.columns.clustering_order
// shows it: "asc", "desc" or "none".
func (c *Column) Order() string {
	switch {
	case c.Kind != Clustering:
		return "none"
	case c.Desc:
		return "desc"
	}
	return "asc"
}

// isCounter reports whether the table has counter columns.
func (t *Table) isCounter() bool {
	return slices.ContainsFunc(t.Columns, func(c *Column) bool {
		return c.Type.Kind == cql.TypeNative && c.Type.Name == "counter"
	})
}

// IsKey reports whether the column is part of the primary key.
func (c *Column) IsKey() bool { return c.Kind == PartitionKey || c.Kind == Clustering }

// Index is a secondary or custom index.
type Index struct {
	Keyspace string
	Name     string // the given name, or Cassandra's default <table>_<column>_idx
	Named    bool   // the name was written in the schema
	Table    string
	Custom   bool
	Local    []string // partition key of a ScyllaDB local index, else nil
	Targets  []cql.IndexTarget
	Using    string
	Options  []cql.Option
	Pos      cql.Position
}

// New returns an empty catalog that checks as Cassandra 5.0 does.
func New() *Catalog { return &Catalog{} }

// NewWith returns an empty catalog with the given options.
func NewWith(opts Options) *Catalog { return &Catalog{opts: opts} }

// Keyspace returns the keyspace with the given name, or nil.
func (c *Catalog) Keyspace(name string) *Keyspace {
	for _, ks := range c.Keyspaces {
		if ks.Name == name {
			return ks
		}
	}
	return nil
}

// keyspace returns the named keyspace, creating it on first mention: the
// schema may use a keyspace created outside it.
func (c *Catalog) keyspace(name string) *Keyspace {
	if ks := c.Keyspace(name); ks != nil {
		return ks
	}
	ks := &Keyspace{Name: name}
	c.Keyspaces = append(c.Keyspaces, ks)
	return ks
}

// Table returns the table or view with the given name, or nil.
func (ks *Keyspace) Table(name string) *Table {
	for _, t := range ks.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Type returns the UDT with the given name, or nil.
func (ks *Keyspace) Type(name string) *UDT {
	for _, u := range ks.Types {
		if u.Name == name {
			return u
		}
	}
	return nil
}

// Column returns the column with the given name, or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// KeyOrdered returns the columns ordered partition key, clustering columns,
// then the other columns in schema order.
func (t *Table) KeyOrdered() []*Column {
	out := make([]*Column, 0, len(t.Columns))
	out = append(out, t.PartitionKey...)
	out = append(out, t.Clustering...)
	for _, c := range t.Columns {
		if !c.IsKey() {
			out = append(out, c)
		}
	}
	return out
}

// Field returns the field with the given name, or nil.
func (u *UDT) Field(name string) *Field {
	for _, f := range u.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Tables returns every table and view of every keyspace in creation order.
func (c *Catalog) Tables() []*Table {
	var out []*Table
	for _, ks := range c.Keyspaces {
		out = append(out, ks.Tables...)
	}
	return out
}

// Types returns every UDT of every keyspace in creation order, which is a
// dependency order: a type can only refer to types created before it.
func (c *Catalog) Types() []*UDT {
	var out []*UDT
	for _, ks := range c.Keyspaces {
		out = append(out, ks.Types...)
	}
	return out
}

// Indexes returns every index of every keyspace in creation order.
func (c *Catalog) Indexes() []*Index {
	var out []*Index
	for _, ks := range c.Keyspaces {
		out = append(out, ks.Indexes...)
	}
	return out
}

// Source is one schema file.
type Source struct {
	Name string // used in positions, e.g. "schema/Schema.cql"
	Text string
}

// Build parses the sources and folds their statements, in order, into a new
// catalog that checks as Cassandra 5.0 does. A folder of migrations is a list
// of sources in lexical order. It returns the first statement's error.
func Build(sources ...Source) (*Catalog, error) {
	return BuildWith(Options{}, sources...)
}

// BuildWith is Build with options.
func BuildWith(opts Options, sources ...Source) (*Catalog, error) {
	c, results := Apply(opts, sources...)
	for _, r := range results {
		if r.Err != nil {
			return nil, r.Err
		}
	}
	return c, nil
}

// Result is what became of one statement of a schema file.
type Result struct {
	// Statement is the statement's source and place.
	Statement cql.Statement
	// Stmt is the parsed statement, nil when it does not parse.
	Stmt cql.Stmt
	// Err is the statement's error: an *Error with a position inside it.
	Err error
}

// Skipped reports whether the statement does not shape the schema (DML,
// functions, roles and the like): the catalog does not check it (of a
// function it keeps the name and return type, for column masks).
func (r Result) Skipped() bool {
	switch r.Stmt.(type) {
	case *cql.Skipped, *cql.CreateFunction:
		return true
	}
	return false
}

// Apply folds every statement of the sources into a new catalog the way a
// server runs a file statement by statement: a statement that fails leaves
// the catalog unchanged, and the statements after it still run. The
// results follow the statements.
//
// When any statement is a CREATE KEYSPACE, the schema is taken to create
// its keyspaces: there is no session keyspace, and a keyspace it does not
// create does not exist. Otherwise unqualified names belong to the session
// keyspace (named "") and other keyspaces are taken to exist.
func Apply(opts Options, sources ...Source) (*Catalog, []Result) {
	c := NewWith(opts)
	var stmts []cql.Statement
	for _, src := range sources {
		for _, st := range cql.Split(src.Name, src.Text) {
			stmts = append(stmts, st)
			c.createsKeyspaces = c.createsKeyspaces || st.IsCreateKeyspace()
		}
	}
	results := make([]Result, len(stmts))
	for i, st := range stmts {
		r := Result{Statement: st}
		r.Stmt, r.Err = cql.ParseStatement(st)
		if r.Err == nil {
			r.Err = c.Update(r.Stmt)
		}
		results[i] = r
	}
	return c, results
}

// CreatesKeyspaces reports whether the schema creates keyspaces (has a
// CREATE KEYSPACE): then every object is in a keyspace the schema names,
// and there is no session keyspace.
func (c *Catalog) CreatesKeyspaces() bool { return c.createsKeyspaces }

// Only returns a catalog holding just the named keyspace (sharing its
// objects with c), or nil when c has no such keyspace. Code is generated
// per keyspace: names in different keyspaces never meet.
func (c *Catalog) Only(keyspace string) *Catalog {
	ks := c.Keyspace(keyspace)
	if ks == nil {
		return nil
	}
	return &Catalog{Keyspaces: []*Keyspace{ks}, current: keyspace, opts: c.opts, createsKeyspaces: c.createsKeyspaces}
}
