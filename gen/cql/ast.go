package cql

import "strings"

// Ident is a column, field or keyspace name. Name is the name as Cassandra
// stores it: folded to lower case when written unquoted, verbatim when quoted.
type Ident struct {
	Name string
	Pos  Position
}

// Name is an object name that may be qualified by a keyspace.
type Name struct {
	Keyspace string // "" when not qualified
	Name     string
	Pos      Position
}

// TypeKind classifies a CQL type.
type TypeKind int

// Type kinds.
const (
	TypeNative TypeKind = iota // ascii, bigint, …; Name holds the type name
	TypeList                   // list<Params[0]>
	TypeSet                    // set<Params[0]>
	TypeMap                    // map<Params[0], Params[1]>
	TypeTuple                  // tuple<Params…>
	TypeVector                 // vector<Params[0], Dim>
	TypeUDT                    // a user-defined type; Keyspace and Name name it
	TypeCustom                 // a 'java.class.Name' string type
)

// Type is a CQL type as written in the schema.
type Type struct {
	Kind     TypeKind
	Name     string // native type name (lower case) or UDT name or custom class
	Keyspace string // UDT keyspace, "" when not qualified
	Params   []*Type
	Dim      int  // vector dimension
	Frozen   bool // written inside frozen<…>
	Pos      Position
}

// Stmt is a parsed statement.
type Stmt interface {
	// StmtPos returns the position of the statement's first token.
	StmtPos() Position
}

// Field is a UDT field or a column definition.
type Field struct {
	Name Ident
	Type *Type
}

// ColumnDef is a column in CREATE TABLE or ALTER TABLE ADD.
type ColumnDef struct {
	Name       Ident
	Type       *Type
	Static     bool
	TTL        bool     // ScyllaDB's per-row TTL column: name type TTL
	TTLPos     Position // position of TTL
	Mask       *Mask    // MASKED WITH, nil when absent
	PrimaryKey bool     // inline PRIMARY KEY
	KeyPos     Position // position of the inline PRIMARY KEY
}

// Mask is a MASKED WITH clause (Cassandra 5.0 dynamic data masking): a
// masking function and the arguments after the masked value.
type Mask struct {
	Keyspace string  // "" unless the function name is qualified
	Function string  // folded to lower case unless quoted
	Args     []*Term // literal arguments after the masked value
	Default  bool    // written MASKED WITH DEFAULT (mask_default())
	Pos      Position
}

// Render writes the clause as CQL: MASKED WITH fn(args).
func (m *Mask) Render() string {
	if m.Default {
		return "MASKED WITH DEFAULT"
	}
	var b strings.Builder
	b.WriteString("MASKED WITH ")
	if m.Keyspace != "" {
		b.WriteString(QuoteIdent(m.Keyspace) + ".")
	}
	b.WriteString(QuoteIdent(m.Function) + "(")
	for i, a := range m.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Render())
	}
	b.WriteString(")")
	return b.String()
}

// OrderItem is a column with a direction, in CLUSTERING ORDER BY or ORDER BY.
type OrderItem struct {
	Column Ident
	Desc   bool
}

// ValueKind classifies an option value.
type ValueKind int

// Option value kinds.
const (
	ValueString ValueKind = iota
	ValueNumber
	ValueBool
	ValueIdent
	ValueMap
	ValueList
	ValueSet
)

// Value is a literal in a WITH option.
type Value struct {
	Kind    ValueKind
	Text    string // string (unescaped), number, boolean or identifier text
	Entries []MapEntry
	Elems   []Value
	Pos     Position
}

// MapEntry is one key: value pair of a map literal.
type MapEntry struct {
	Key   Value
	Value Value
}

// Option is one name = value property of a WITH clause.
type Option struct {
	Name  string // lower case, dotted names kept
	Value Value
	Pos   Position
}

// TableOptions is the WITH clause of CREATE TABLE, CREATE MATERIALIZED VIEW
// and ALTER TABLE.
type TableOptions struct {
	ClusteringOrder []OrderItem
	OrderPos        Position // position of CLUSTERING ORDER BY
	CompactStorage  bool
	Options         []Option
}

// CreateKeyspace is CREATE KEYSPACE.
type CreateKeyspace struct {
	Pos         Position
	Name        Ident
	IfNotExists bool
	Options     []Option
}

// AlterKeyspace is ALTER KEYSPACE.
type AlterKeyspace struct {
	Pos      Position
	Name     Ident
	IfExists bool
	Options  []Option
}

// CreateType is CREATE TYPE.
type CreateType struct {
	Pos         Position
	Name        Name
	IfNotExists bool
	Fields      []Field
}

// CreateTable is CREATE TABLE (or COLUMNFAMILY).
type CreateTable struct {
	Pos          Position
	Name         Name
	IfNotExists  bool
	Columns      []ColumnDef
	KeyClause    bool     // a PRIMARY KEY (…) clause is present
	KeyPos       Position // position of the PRIMARY KEY (…) clause
	PartitionKey []Ident
	Clustering   []Ident
	Options      TableOptions
}

// IndexTarget is what CREATE INDEX indexes: a column, or keys(col), values(col),
// entries(col) or full(col).
type IndexTarget struct {
	Func   string // "", "keys", "values", "entries" or "full"
	Column Ident
}

// CreateIndex is CREATE [CUSTOM] INDEX.
type CreateIndex struct {
	Pos         Position
	Custom      bool
	IfNotExists bool
	Name        Ident // Name.Name is "" when the index is unnamed
	Table       Name
	// Local holds the partition key of a ScyllaDB local index,
	// ON t ((pk1, pk2), col); nil for other indexes.
	Local   []Ident
	LocalAt Position
	Targets []IndexTarget
	Using   string // class name of USING 'class', "" when absent
	Options []Option
}

// CreateView is CREATE MATERIALIZED VIEW.
type CreateView struct {
	Pos          Position
	Name         Name
	IfNotExists  bool
	Columns      []Ident // nil for SELECT *
	Base         Name
	Where        []Relation
	KeyPos       Position
	PartitionKey []Ident
	Clustering   []Ident
	Options      TableOptions
}

// AlterOp is the kind of change of ALTER TABLE or ALTER TYPE.
type AlterOp int

// Alter operations.
const (
	AlterAdd AlterOp = iota
	AlterDrop
	AlterRename
	AlterWith
	AlterDropCompactStorage
	AlterMask // ALTER col MASKED WITH … or DROP MASKED
	AlterTTL  // ScyllaDB's TTL col or TTL NULL
)

// Rename is one "from TO to" pair.
type Rename struct {
	From Ident
	To   Ident
}

// AlterTable is ALTER TABLE (and ALTER MATERIALIZED VIEW … WITH, with View set).
type AlterTable struct {
	Pos          Position
	View         bool
	Name         Name
	IfExists     bool
	Op           AlterOp
	IfNotExists  bool        // ADD IF NOT EXISTS
	DropIfExists bool        // DROP IF EXISTS, RENAME IF EXISTS
	Add          []ColumnDef // AlterAdd
	Drop         []Ident     // AlterDrop
	Renames      []Rename    // AlterRename
	Options      TableOptions
	MaskColumn   Ident // AlterMask: the column
	Mask         *Mask // AlterMask: the new mask, nil for DROP MASKED
	// TTLColumn is AlterTTL's column; its Name is "" for TTL NULL, and
	// its Pos is then that of NULL.
	TTLColumn Ident
}

// AlterType is ALTER TYPE.
type AlterType struct {
	Pos         Position
	Name        Name
	IfExists    bool
	Op          AlterOp // AlterAdd or AlterRename
	IfNotExists bool    // ADD IF NOT EXISTS
	FieldExists bool    // RENAME IF EXISTS
	Add         []Field
	Renames     []Rename
}

// ObjectKind names a kind of schema object.
type ObjectKind int

// Object kinds.
const (
	ObjectKeyspace ObjectKind = iota
	ObjectTable
	ObjectType
	ObjectIndex
	ObjectView
)

var objectKindNames = [...]string{"keyspace", "table", "type", "index", "materialized view"}

// String returns the CQL name of the kind.
func (k ObjectKind) String() string {
	if k < 0 || int(k) >= len(objectKindNames) {
		return "object"
	}
	return objectKindNames[k]
}

// Drop is DROP KEYSPACE/TABLE/TYPE/INDEX/MATERIALIZED VIEW.
type Drop struct {
	Pos      Position
	Object   ObjectKind
	Name     Name
	IfExists bool
}

// Use is USE keyspace.
type Use struct {
	Pos      Position
	Keyspace Ident
}

// CreateFunction is CREATE [OR REPLACE] FUNCTION. Only its name and return
// type are read (a table may use the function as a column mask); the body
// is not checked.
type CreateFunction struct {
	Pos    Position
	Name   Name
	Return *Type
}

// Skipped is a statement that does not shape the schema (DML, functions,
// roles, grants, cqlsh commands). Keyword is its first word, lower case.
type Skipped struct {
	Pos     Position
	Keyword string
}

// StmtPos implements Stmt.
func (s *CreateKeyspace) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *CreateType) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *AlterKeyspace) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *CreateTable) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *CreateIndex) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *CreateView) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *AlterTable) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *AlterType) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *Drop) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *Use) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *Skipped) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *CreateFunction) StmtPos() Position { return s.Pos }
