package cql

// TermKind classifies a term.
type TermKind int

// Term kinds.
const (
	TermMarker     TermKind = iota // ?
	TermNamed                      // :name; Text holds the name
	TermLiteral                    // string, number, boolean, null, UUID, blob; Text is the CQL text
	TermFunc                       // Text(Args…)
	TermColumn                     // a column reference (selectors and function arguments)
	TermStar                       // * inside count(*)
	TermCollection                 // [..], {..} or (..) literal; Text is "[", "{" or "("; Args are the elements (map entries alternate key, value)
)

// Term is a value in a DML statement: a bind marker, a literal, a function
// call or (in selectors) a column.
type Term struct {
	Kind TermKind
	Text string
	Args []*Term
	Map  bool // TermCollection written as a map literal
	Pos  Position
}

// RelationKind classifies the left side of a relation.
type RelationKind int

// Relation kinds.
const (
	RelColumn RelationKind = iota // col op term
	RelToken                      // token(cols…) op term
	RelTuple                      // (c1, c2) op term
)

// Relation is one restriction of a WHERE clause.
type Relation struct {
	Kind    RelationKind
	Columns []Ident // one column for RelColumn
	Op      string  // "=", "<", "<=", ">", ">=", "!=", "IN", "CONTAINS", "CONTAINS KEY", "LIKE", "IS NOT NULL"
	Value   *Term   // nil for IS NOT NULL
	Pos     Position
}

// Selector is one item of a SELECT list.
type Selector struct {
	Term  *Term
	Alias Ident // Alias.Name is "" without AS
}

// UsingItem is USING TTL x or USING TIMESTAMP x.
type UsingItem struct {
	Kind  string // "ttl" or "timestamp"
	Value *Term
	Pos   Position
}

// AssignKind classifies an UPDATE assignment.
type AssignKind int

// Assignment kinds.
const (
	AssignSet     AssignKind = iota // col = v, col[k] = v, col.field = v
	AssignAdd                       // col = col + v (also col += v)
	AssignRemove                    // col = col - v (also col -= v)
	AssignPrepend                   // col = v + col
)

// Assignment is one SET item of UPDATE.
type Assignment struct {
	Kind   AssignKind
	Column Ident
	Key    *Term // col[key] = v
	Field  Ident // col.field = v; Field.Name is "" otherwise
	Value  *Term
	Pos    Position
}

// Condition is one IF condition of UPDATE or DELETE.
type Condition struct {
	Column Ident
	Key    *Term
	Field  Ident
	Op     string
	Value  *Term
	Pos    Position
}

// Selection is one target of DELETE: a column, col[key] or col.field.
type Selection struct {
	Column Ident
	Key    *Term
	Field  Ident
}

// Select is a SELECT statement.
type Select struct {
	Pos               Position
	Distinct          bool
	JSON              bool
	Star              bool
	Selectors         []Selector
	Table             Name
	Where             []Relation
	GroupBy           []Ident
	OrderBy           []OrderItem
	PerPartitionLimit *Term
	Limit             *Term
	AllowFiltering    bool
}

// Insert is an INSERT statement.
type Insert struct {
	Pos         Position
	Table       Name
	Columns     []Ident
	Values      []*Term
	IfNotExists bool
	Using       []UsingItem
}

// Update is an UPDATE statement.
type Update struct {
	Pos      Position
	Table    Name
	Using    []UsingItem
	Set      []Assignment
	Where    []Relation
	IfExists bool
	If       []Condition
}

// Delete is a DELETE statement.
type Delete struct {
	Pos      Position
	Columns  []Selection
	Table    Name
	Using    []UsingItem
	Where    []Relation
	IfExists bool
	If       []Condition
}

// StmtPos implements Stmt.
func (s *Select) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *Insert) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *Update) StmtPos() Position { return s.Pos }

// StmtPos implements Stmt.
func (s *Delete) StmtPos() Position { return s.Pos }
