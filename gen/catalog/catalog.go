package catalog

import (
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
}

// Keyspace holds the objects of one keyspace in creation order.
type Keyspace struct {
	Name    string
	Pos     cql.Position
	Options []cql.Option
	Types   []*UDT
	Tables  []*Table // tables and materialized views
	Indexes []*Index
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
	// Columns in schema order (declaration order, then ALTER TABLE ADD).
	Columns        []*Column
	PartitionKey   []*Column
	Clustering     []*Column
	Options        []cql.Option
	CompactStorage bool
}

// Column is a column of a table or view.
type Column struct {
	Name string
	Type *cql.Type
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

// IsKey reports whether the column is part of the primary key.
func (c *Column) IsKey() bool { return c.Kind == PartitionKey || c.Kind == Clustering }

// Index is a secondary or custom index.
type Index struct {
	Keyspace string
	Name     string // the given name, or Cassandra's default <table>_<column>_idx
	Named    bool   // the name was written in the schema
	Table    string
	Custom   bool
	Targets  []cql.IndexTarget
	Using    string
	Options  []cql.Option
	Pos      cql.Position
}

// New returns an empty catalog.
func New() *Catalog { return &Catalog{} }

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
// catalog. A folder of migrations is a list of sources in lexical order.
func Build(sources ...Source) (*Catalog, error) {
	c := New()
	for _, src := range sources {
		stmts, err := cql.ParseSchema(src.Name, src.Text)
		if err != nil {
			return nil, err
		}
		for _, s := range stmts {
			if err := c.Update(s); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}
