package cql

import (
	"fmt"
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of types and literals, so hostile input cannot
// exhaust the stack.
const maxDepth = 64

// parser is a recursive-descent parser over a token slice. It uses a sticky
// error: after the first failure every method is a no-op returning zero
// values, and callers check p.err once per statement.
type parser struct {
	toks  []Token
	i     int
	err   error
	depth int
}

func (p *parser) ok() bool { return p.err == nil }

func (p *parser) peek() Token { return p.toks[p.i] }

func (p *parser) peekAt(n int) Token {
	if p.i+n >= len(p.toks) {
		return p.toks[len(p.toks)-1]
	}
	return p.toks[p.i+n]
}

func (p *parser) next() Token {
	t := p.toks[p.i]
	if t.Kind != TokEOF {
		p.i++
	}
	return t
}

func (p *parser) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// unexpected records a syntax error at t: "syntax error: expected X, found Y".
func (p *parser) unexpected(t Token, want string) {
	if t.Kind == TokIllegal && t.Err != nil {
		p.fail(t.Err)
		return
	}
	p.fail(Errorf(t.Pos, "%w: expected %s, found %s", ErrSyntax, want, describe(t)))
}

func describe(t Token) string {
	switch t.Kind {
	case TokEOF:
		if t.Raw != "" {
			return strconv.Quote(t.Raw) // the semicolon that ends a statement
		}
		return "end of input"
	case TokString:
		return "string " + quoteString(t.Text)
	case TokIdent:
		return strconv.Quote(t.Raw)
	default:
		return strconv.Quote(t.Raw)
	}
}

// isKw reports whether the next tokens are the given keywords.
func (p *parser) isKw(words ...string) bool {
	for n, w := range words {
		t := p.peekAt(n)
		if t.Kind != TokIdent || t.Text != w {
			return false
		}
	}
	return true
}

func (p *parser) acceptKw(words ...string) bool {
	if !p.ok() || !p.isKw(words...) {
		return false
	}
	p.i += len(words)
	return true
}

func (p *parser) expectKw(words ...string) {
	if !p.ok() {
		return
	}
	for _, w := range words {
		t := p.peek()
		if t.Kind != TokIdent || t.Text != w {
			p.unexpected(t, strings.ToUpper(w))
			return
		}
		p.next()
	}
}

func (p *parser) isPunct(c string) bool {
	t := p.peek()
	return t.Kind == TokPunct && t.Text == c
}

func (p *parser) acceptPunct(c string) bool {
	if !p.ok() || !p.isPunct(c) {
		return false
	}
	p.next()
	return true
}

func (p *parser) expectPunct(c string) {
	if !p.ok() {
		return
	}
	if !p.isPunct(c) {
		p.unexpected(p.peek(), strconv.Quote(c))
		return
	}
	p.next()
}

func (p *parser) enter() bool {
	p.depth++
	if p.depth > maxDepth {
		p.fail(Errorf(p.peek().Pos, "%w: nested too deeply", ErrSyntax))
		return false
	}
	return p.ok()
}

func (p *parser) leave() { p.depth-- }

// ident reads a name: an unquoted identifier that is not a reserved keyword,
// or a quoted identifier.
func (p *parser) ident(what string) Ident {
	if !p.ok() {
		return Ident{}
	}
	t := p.peek()
	switch t.Kind {
	case TokIdent:
		if IsReserved(t.Text) {
			p.fail(Errorf(t.Pos, "%w: reserved keyword %s cannot be used as %s; quote it as %q", ErrSyntax, strings.ToUpper(t.Text), what, t.Text))
			return Ident{}
		}
		p.next()
		return Ident{Name: t.Text, Pos: t.Pos}
	case TokQuoted:
		if t.Text == "" {
			p.fail(Errorf(t.Pos, "%w: empty quoted identifier", ErrSyntax))
			return Ident{}
		}
		p.next()
		return Ident{Name: t.Text, Pos: t.Pos}
	}
	p.unexpected(t, what)
	return Ident{}
}

// qname reads [keyspace.]name.
func (p *parser) qname(what string) Name {
	first := p.ident(what)
	if p.acceptPunct(".") {
		second := p.ident(what)
		return Name{Keyspace: first.Name, Name: second.Name, Pos: first.Pos}
	}
	return Name{Name: first.Name, Pos: first.Pos}
}

func (p *parser) identList(what string) []Ident {
	var out []Ident
	p.expectPunct("(")
	for p.ok() {
		out = append(out, p.ident(what))
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")")
	return out
}

func (p *parser) ifNotExists() bool { return p.acceptKw("if", "not", "exists") }
func (p *parser) ifExists() bool    { return p.acceptKw("if", "exists") }

// nativeTypes are the CQL native type names of Cassandra 5.0.
var nativeTypes = map[string]bool{
	"ascii": true, "bigint": true, "blob": true, "boolean": true, "counter": true, "date": true,
	"decimal": true, "double": true, "duration": true, "float": true, "inet": true, "int": true,
	"smallint": true, "text": true, "time": true, "timestamp": true, "timeuuid": true, "tinyint": true,
	"uuid": true, "varchar": true, "varint": true,
}

// IsNativeType reports whether name (lower case) is a CQL native type.
func IsNativeType(name string) bool { return nativeTypes[name] }

// reservedTypeNames are the names Cassandra's grammar keeps for future
// native types (Parser.g, reservedTypeNames).
var reservedTypeNames = map[string]bool{"byte": true, "complex": true, "enum": true, "date": true, "interval": true, "macaddr": true, "bitstring": true}

// typ reads a CQL type.
func (p *parser) typ() *Type {
	if !p.enter() {
		return nil
	}
	defer p.leave()
	t := p.peek()
	switch t.Kind {
	case TokString:
		p.next()
		return &Type{Kind: TypeCustom, Name: t.Text, Pos: t.Pos}
	case TokQuoted:
		n := p.qname("type name")
		return &Type{Kind: TypeUDT, Keyspace: n.Keyspace, Name: n.Name, Pos: t.Pos}
	case TokIdent:
	default:
		p.unexpected(t, "type")
		return nil
	}
	generic := p.peekAt(1).Kind == TokPunct && p.peekAt(1).Text == "<"
	switch {
	case t.Text == "frozen" && generic:
		p.next()
		p.expectPunct("<")
		inner := p.typ()
		p.expectPunct(">")
		if inner != nil {
			inner.Frozen = true
			inner.Pos = t.Pos
		}
		return inner
	case (t.Text == "list" || t.Text == "set") && generic:
		p.next()
		p.expectPunct("<")
		elem := p.typ()
		p.expectPunct(">")
		kind := TypeList
		if t.Text == "set" {
			kind = TypeSet
		}
		return &Type{Kind: kind, Params: []*Type{elem}, Pos: t.Pos}
	case t.Text == "map" && generic:
		p.next()
		p.expectPunct("<")
		k := p.typ()
		p.expectPunct(",")
		v := p.typ()
		p.expectPunct(">")
		return &Type{Kind: TypeMap, Params: []*Type{k, v}, Pos: t.Pos}
	case t.Text == "tuple" && generic:
		p.next()
		p.expectPunct("<")
		var elems []*Type
		for p.ok() {
			elems = append(elems, p.typ())
			if !p.acceptPunct(",") {
				break
			}
		}
		p.expectPunct(">")
		return &Type{Kind: TypeTuple, Params: elems, Pos: t.Pos}
	case t.Text == "vector" && generic:
		p.next()
		p.expectPunct("<")
		elem := p.typ()
		p.expectPunct(",")
		n := p.peek()
		// Cassandra reads the dimension as a Java int.
		dim, err := strconv.ParseInt(n.Text, 10, 32)
		if p.ok() && (n.Kind != TokNumber || err != nil || dim <= 0) {
			p.unexpected(n, "vector dimension (an integer from 1 to 2147483647)")
		}
		p.next()
		p.expectPunct(">")
		return &Type{Kind: TypeVector, Params: []*Type{elem}, Dim: int(dim), Pos: t.Pos}
	case nativeTypes[t.Text]:
		p.next()
		return &Type{Kind: TypeNative, Name: t.Text, Pos: t.Pos}
	}
	n := p.qname("type name")
	return &Type{Kind: TypeUDT, Keyspace: n.Keyspace, Name: n.Name, Pos: t.Pos}
}

// value reads an option value.
func (p *parser) value() Value {
	if !p.enter() {
		return Value{}
	}
	defer p.leave()
	t := p.peek()
	switch {
	case t.Kind == TokString:
		p.next()
		return Value{Kind: ValueString, Text: t.Text, Pos: t.Pos}
	case t.Kind == TokNumber:
		p.next()
		return Value{Kind: ValueNumber, Text: t.Raw, Pos: t.Pos}
	case t.Kind == TokPunct && t.Text == "-" && p.peekAt(1).Kind == TokNumber:
		p.next()
		n := p.next()
		return Value{Kind: ValueNumber, Text: "-" + n.Raw, Pos: t.Pos}
	case t.Kind == TokIdent && (t.Text == "true" || t.Text == "false"):
		p.next()
		return Value{Kind: ValueBool, Text: t.Text, Pos: t.Pos}
	case t.Kind == TokIdent || t.Kind == TokQuoted:
		p.next()
		return Value{Kind: ValueIdent, Text: t.Text, Pos: t.Pos}
	case t.Kind == TokPunct && t.Text == "{":
		p.next()
		v := Value{Kind: ValueMap, Pos: t.Pos}
		for p.ok() && !p.isPunct("}") {
			k := p.value()
			if len(v.Entries) == 0 && len(v.Elems) == 0 && !p.isPunct(":") {
				v.Kind = ValueSet
			}
			if v.Kind == ValueSet {
				v.Elems = append(v.Elems, k)
			} else {
				p.expectPunct(":")
				v.Entries = append(v.Entries, MapEntry{Key: k, Value: p.value()})
			}
			if !p.acceptPunct(",") {
				break
			}
		}
		p.expectPunct("}")
		return v
	case t.Kind == TokPunct && t.Text == "[":
		p.next()
		v := Value{Kind: ValueList, Pos: t.Pos}
		p.commaList("]", func() { v.Elems = append(v.Elems, p.value()) })
		return v
	}
	p.unexpected(t, "option value")
	return Value{}
}

// withOptions reads the part after WITH: options joined by AND.
func (p *parser) withOptions(o *TableOptions, table bool) {
	for p.ok() {
		t := p.peek()
		switch {
		case table && p.isKw("clustering", "order", "by"):
			p.i += 3
			o.OrderPos = t.Pos
			p.expectPunct("(")
			for p.ok() {
				item := OrderItem{Column: p.ident("column name")}
				if p.acceptKw("desc") {
					item.Desc = true
				} else {
					p.acceptKw("asc")
				}
				o.ClusteringOrder = append(o.ClusteringOrder, item)
				if !p.acceptPunct(",") {
					break
				}
			}
			p.expectPunct(")")
		case table && p.isKw("compact", "storage"):
			p.i += 2
			o.CompactStorage = true
		default:
			o.Options = append(o.Options, p.option())
		}
		if !p.acceptKw("and") {
			return
		}
	}
}

func (p *parser) option() Option {
	t := p.peek()
	if t.Kind != TokIdent && t.Kind != TokQuoted {
		p.unexpected(t, "option name")
		return Option{}
	}
	p.next()
	name := t.Text
	for p.ok() && p.isPunct(".") && p.peekAt(1).Kind == TokIdent {
		p.next()
		name += "." + p.next().Text
	}
	p.expectPunct("=")
	return Option{Name: name, Value: p.value(), Pos: t.Pos}
}

// keyspaceOptions reads the WITH clause of CREATE or ALTER KEYSPACE.
// ScyllaDB allows CREATE KEYSPACE without one; the catalog decides.
func (p *parser) keyspaceOptions(optional bool) []Option {
	var o TableOptions
	if optional && p.peek().Kind == TokEOF {
		return nil
	}
	p.expectKw("with")
	p.withOptions(&o, false)
	return o.Options
}

// columnDef reads name type [TTL] [STATIC] [MASKED WITH …] [PRIMARY KEY]
// (TTL is ScyllaDB's per-row TTL column; the catalog decides).
func (p *parser) columnDef() ColumnDef {
	c := ColumnDef{Name: p.ident("column name")}
	c.Type = p.typ()
	if p.isKw("ttl") {
		c.TTL, c.TTLPos = true, p.next().Pos
	}
	if p.acceptKw("static") {
		c.Static = true
	}
	if p.isKw("masked", "with") {
		c.Mask = p.mask()
	}
	if p.isKw("primary", "key") {
		c.KeyPos = p.peek().Pos
		p.i += 2
		c.PrimaryKey = true
	}
	return c
}

// mask reads MASKED WITH (DEFAULT | [keyspace.]function(args)).
func (p *parser) mask() *Mask {
	m := &Mask{Pos: p.peek().Pos}
	p.expectKw("masked", "with")
	if p.acceptKw("default") {
		m.Function, m.Default = "mask_default", true
		return m
	}
	fn := p.qname("masking function name")
	m.Keyspace, m.Function = fn.Keyspace, fn.Name
	p.expectPunct("(")
	p.commaList(")", func() { m.Args = append(m.Args, p.term()) })
	return m
}

// commaList reads items separated by commas up to and including close.
func (p *parser) commaList(close string, item func()) {
	for p.ok() && !p.isPunct(close) {
		item()
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(close)
}

// primaryKey reads the ( … ) of a PRIMARY KEY clause.
func (p *parser) primaryKey() (part, clust []Ident) {
	p.expectPunct("(")
	if p.acceptPunct("(") {
		for p.ok() {
			part = append(part, p.ident("column name"))
			if !p.acceptPunct(",") {
				break
			}
		}
		p.expectPunct(")")
	} else {
		part = []Ident{p.ident("column name")}
	}
	for p.ok() && p.acceptPunct(",") {
		if p.isPunct(")") {
			break
		}
		clust = append(clust, p.ident("column name"))
	}
	p.expectPunct(")")
	return part, clust
}

func (p *parser) createTable(pos Position) *CreateTable {
	s := &CreateTable{Pos: pos}
	s.IfNotExists = p.ifNotExists()
	s.Name = p.qname("table name")
	p.expectPunct("(")
	for p.ok() && !p.isPunct(")") {
		if p.isKw("primary", "key") {
			if s.KeyClause {
				p.fail(Errorf(p.peek().Pos, "%w: more than one PRIMARY KEY clause", ErrSyntax))
				break
			}
			s.KeyClause = true
			s.KeyPos = p.peek().Pos
			p.i += 2
			s.PartitionKey, s.Clustering = p.primaryKey()
		} else {
			s.Columns = append(s.Columns, p.columnDef())
		}
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")")
	if p.acceptKw("with") {
		p.withOptions(&s.Options, true)
	}
	return s
}

func (p *parser) createType(pos Position) *CreateType {
	s := &CreateType{Pos: pos}
	s.IfNotExists = p.ifNotExists()
	s.Name = p.qname("type name")
	// Cassandra's grammar (non_type_ident) takes a native type name, or one
	// it reserves for future types, as a type name only when quoted.
	if t := p.toks[p.i-1]; p.ok() && t.Kind == TokIdent && (IsNativeType(t.Text) || reservedTypeNames[t.Text]) {
		p.fail(Errorf(t.Pos, "%w: %s is a type name; quote it (%q) to name a user-defined type", ErrSyntax, t.Text, t.Text))
	}
	p.expectPunct("(")
	for p.ok() && !p.isPunct(")") {
		f := Field{Name: p.ident("field name")}
		f.Type = p.typ()
		s.Fields = append(s.Fields, f)
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")")
	return s
}

func (p *parser) createIndex(pos Position, custom bool) *CreateIndex {
	s := &CreateIndex{Pos: pos, Custom: custom}
	s.IfNotExists = p.ifNotExists()
	if !p.isKw("on") {
		s.Name = p.ident("index name")
	}
	p.expectKw("on")
	s.Table = p.qname("table name")
	p.expectPunct("(")
	if p.isPunct("(") {
		// ScyllaDB's local index: the partition key first, in parentheses.
		s.LocalAt = p.peek().Pos
		s.Local = p.identList("column name")
		p.expectPunct(",")
	}
	for p.ok() {
		t := p.peek()
		var target IndexTarget
		if t.Kind == TokIdent && p.peekAt(1).Kind == TokPunct && p.peekAt(1).Text == "(" {
			switch t.Text {
			case "keys", "values", "entries", "full":
			default:
				p.unexpected(t, "KEYS, VALUES, ENTRIES or FULL")
			}
			p.next()
			p.expectPunct("(")
			target = IndexTarget{Func: t.Text, Column: p.ident("column name")}
			p.expectPunct(")")
		} else {
			target = IndexTarget{Column: p.ident("column name")}
		}
		s.Targets = append(s.Targets, target)
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")")
	if p.acceptKw("using") {
		t := p.next()
		if t.Kind != TokString {
			p.unexpected(t, "index class string")
		}
		s.Using = t.Text
	}
	if p.acceptKw("with") {
		var o TableOptions
		p.withOptions(&o, false)
		s.Options = o.Options
	}
	return s
}

func (p *parser) createView(pos Position) *CreateView {
	s := &CreateView{Pos: pos}
	s.IfNotExists = p.ifNotExists()
	s.Name = p.qname("view name")
	p.expectKw("as", "select")
	if !p.acceptPunct("*") {
		for p.ok() {
			s.Columns = append(s.Columns, p.ident("column name"))
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	p.expectKw("from")
	s.Base = p.qname("table name")
	if p.acceptKw("where") {
		s.Where = p.relations()
	}
	if p.ok() && !p.isKw("primary", "key") {
		p.unexpected(p.peek(), "PRIMARY KEY")
	}
	s.KeyPos = p.peek().Pos
	p.expectKw("primary", "key")
	s.PartitionKey, s.Clustering = p.primaryKey()
	if p.acceptKw("with") {
		p.withOptions(&s.Options, true)
	}
	return s
}

func (p *parser) renames() []Rename {
	var out []Rename
	for p.ok() {
		r := Rename{From: p.ident("column name")}
		p.expectKw("to")
		r.To = p.ident("column name")
		out = append(out, r)
		if !p.acceptKw("and") {
			break
		}
	}
	return out
}

func (p *parser) alterTable(pos Position, view bool) *AlterTable {
	s := &AlterTable{Pos: pos, View: view}
	s.IfExists = p.ifExists()
	s.Name = p.qname("table name")
	t := p.peek()
	switch {
	case !view && p.acceptKw("add"):
		s.Op = AlterAdd
		s.IfNotExists = p.ifNotExists()
		if p.acceptPunct("(") {
			for p.ok() && !p.isPunct(")") {
				s.Add = append(s.Add, p.columnDef())
				if !p.acceptPunct(",") {
					break
				}
			}
			p.expectPunct(")")
		} else {
			for p.ok() {
				s.Add = append(s.Add, p.columnDef())
				if !p.acceptPunct(",") {
					break
				}
			}
		}
		for _, c := range s.Add {
			if c.PrimaryKey {
				p.fail(Errorf(c.KeyPos, "%w: ALTER TABLE ADD cannot declare a PRIMARY KEY", ErrSyntax))
			}
		}
	case !view && p.acceptKw("drop", "compact", "storage"):
		s.Op = AlterDropCompactStorage
	case !view && p.acceptKw("drop"):
		s.Op = AlterDrop
		s.DropIfExists = p.ifExists()
		if p.isPunct("(") {
			s.Drop = p.identList("column name")
		} else {
			for p.ok() {
				s.Drop = append(s.Drop, p.ident("column name"))
				if !p.acceptPunct(",") {
					break
				}
			}
		}
		if p.isKw("using", "timestamp") {
			p.i += 2
			p.next()
		}
	case !view && p.acceptKw("rename"):
		s.Op = AlterRename
		s.DropIfExists = p.ifExists()
		s.Renames = p.renames()
	case p.acceptKw("with"):
		s.Op = AlterWith
		p.withOptions(&s.Options, true)
	case !view && p.isKw("ttl"):
		// ScyllaDB's per-row TTL: ALTER TABLE t TTL col, or TTL NULL.
		s.Op = AlterTTL
		p.next()
		if p.isKw("null") {
			s.TTLColumn = Ident{Pos: p.next().Pos}
		} else {
			s.TTLColumn = p.ident("column name")
		}
	case !view && p.acceptKw("alter"):
		s.Op = AlterMask
		s.DropIfExists = p.ifExists()
		s.MaskColumn = p.ident("column name")
		switch {
		case p.isKw("masked", "with"):
			s.Mask = p.mask()
		case p.acceptKw("drop", "masked"):
		case p.isKw("type"):
			p.fail(Errorf(p.peek().Pos, "%w: ALTER TABLE … ALTER … TYPE was removed in Cassandra 3.10", ErrUnsupported))
		default:
			p.unexpected(p.peek(), "MASKED WITH or DROP MASKED")
		}
	default:
		p.unexpected(t, "ADD, ALTER, DROP, RENAME, TTL or WITH")
	}
	return s
}

func (p *parser) alterType(pos Position) *AlterType {
	s := &AlterType{Pos: pos}
	s.IfExists = p.ifExists()
	s.Name = p.qname("type name")
	t := p.peek()
	switch {
	case p.acceptKw("add"):
		s.Op = AlterAdd
		s.IfNotExists = p.ifNotExists()
		f := Field{Name: p.ident("field name")}
		f.Type = p.typ()
		s.Add = []Field{f}
	case p.acceptKw("rename"):
		s.Op = AlterRename
		s.FieldExists = p.ifExists()
		s.Renames = p.renames()
	case p.isKw("alter"):
		p.fail(Errorf(t.Pos, "%w: ALTER TYPE … ALTER … TYPE was removed in Cassandra 3.10", ErrUnsupported))
	default:
		p.unexpected(t, "ADD or RENAME")
	}
	return s
}

func (p *parser) drop(pos Position) Stmt {
	s := &Drop{Pos: pos}
	switch {
	case p.acceptKw("keyspace") || p.acceptKw("schema"):
		s.Object = ObjectKeyspace
		s.IfExists = p.ifExists()
		id := p.ident("keyspace name")
		s.Name = Name{Name: id.Name, Pos: id.Pos}
		return s
	case p.acceptKw("table") || p.acceptKw("columnfamily"):
		s.Object = ObjectTable
	case p.acceptKw("type"):
		s.Object = ObjectType
	case p.acceptKw("index"):
		s.Object = ObjectIndex
	case p.acceptKw("materialized", "view"):
		s.Object = ObjectView
	default:
		return p.skip(pos, "drop")
	}
	s.IfExists = p.ifExists()
	s.Name = p.qname(s.Object.String() + " name")
	return s
}

// createFunction reads the name and return type of CREATE FUNCTION and
// skips its body.
func (p *parser) createFunction(pos Position) Stmt {
	p.acceptKw("or", "replace")
	p.expectKw("function")
	p.ifNotExists()
	s := &CreateFunction{Pos: pos, Name: p.qname("function name")}
	p.expectPunct("(")
	for depth := 1; p.ok() && depth > 0; {
		t := p.next()
		switch {
		case t.Kind == TokEOF:
			p.unexpected(t, `")"`)
		case t.Kind == TokPunct && t.Text == "(":
			depth++
		case t.Kind == TokPunct && t.Text == ")":
			depth--
		}
	}
	if !p.acceptKw("called", "on", "null", "input") {
		p.expectKw("returns", "null", "on", "null", "input")
	}
	p.expectKw("returns")
	s.Return = p.typ()
	p.skip(pos, "create")
	return s
}

// skip consumes a statement that does not shape the schema: the rest of
// its tokens. Strings and $$ bodies are single tokens, and Split keeps the
// inner semicolons of a batch inside its one statement.
func (p *parser) skip(pos Position, keyword string) *Skipped {
	for p.ok() {
		t := p.peek()
		if t.Kind == TokEOF {
			break
		}
		if t.Kind == TokIllegal && t.Err != nil {
			p.fail(t.Err)
			break
		}
		p.next()
	}
	return &Skipped{Pos: pos, Keyword: keyword}
}

// skippedStarts are first words of statements that do not change tables,
// types or views: DML, security, functions, triggers and cqlsh commands.
var skippedStarts = map[string]bool{
	"select": true, "insert": true, "update": true, "delete": true, "begin": true, "apply": true,
	"batch": true, "truncate": true, "grant": true, "revoke": true, "list": true, "describe": true,
	"desc": true, "consistency": true, "serial": true, "tracing": true, "paging": true, "expand": true,
	"capture": true, "source": true, "copy": true, "login": true, "show": true, "clear": true,
	"cls": true, "help": true, "exit": true, "quit": true, "add": true, "prune": true, "move": true,
}

// createSkipped are object kinds after CREATE (or ALTER, DROP) that do not
// shape tables.
var createSkipped = map[string]bool{
	"function": true, "aggregate": true, "role": true, "user": true, "trigger": true, "or": true,
	"keyspace": false, "identity": true,
}

// statement reads one schema statement (without its semicolon).
func (p *parser) statement() Stmt {
	t := p.peek()
	if t.Kind != TokIdent {
		if t.Kind == TokIllegal && t.Err != nil {
			p.fail(t.Err)
			return nil
		}
		p.unexpected(t, "statement")
		return nil
	}
	pos := t.Pos
	switch {
	case p.acceptKw("create"):
		switch {
		case p.acceptKw("keyspace") || p.acceptKw("schema"):
			s := &CreateKeyspace{Pos: pos}
			s.IfNotExists = p.ifNotExists()
			s.Name = p.ident("keyspace name")
			s.Options = p.keyspaceOptions(true)
			return s
		case p.acceptKw("table") || p.acceptKw("columnfamily"):
			return p.createTable(pos)
		case p.acceptKw("type"):
			return p.createType(pos)
		case p.acceptKw("index"):
			return p.createIndex(pos, false)
		case p.acceptKw("custom", "index"):
			return p.createIndex(pos, true)
		case p.acceptKw("materialized", "view"):
			return p.createView(pos)
		case p.isKw("function") || p.isKw("or", "replace", "function"):
			return p.createFunction(pos)
		case createSkipped[p.peek().Text]:
			return p.skip(pos, "create")
		}
		p.unexpected(p.peek(), "KEYSPACE, TABLE, TYPE, INDEX or MATERIALIZED VIEW")
		return nil
	case p.acceptKw("alter"):
		switch {
		case p.acceptKw("table") || p.acceptKw("columnfamily"):
			return p.alterTable(pos, false)
		case p.acceptKw("materialized", "view"):
			return p.alterTable(pos, true)
		case p.acceptKw("type"):
			return p.alterType(pos)
		case p.acceptKw("keyspace") || p.acceptKw("schema"):
			s := &AlterKeyspace{Pos: pos}
			s.IfExists = p.ifExists()
			s.Name = p.ident("keyspace name")
			s.Options = p.keyspaceOptions(false)
			return s
		case createSkipped[p.peek().Text]:
			return p.skip(pos, "alter")
		}
		p.unexpected(p.peek(), "TABLE, TYPE, MATERIALIZED VIEW or KEYSPACE")
		return nil
	case p.acceptKw("drop"):
		return p.drop(pos)
	case p.acceptKw("use"):
		return &Use{Pos: pos, Keyspace: p.ident("keyspace name")}
	case skippedStarts[t.Text]:
		return p.skip(pos, t.Text)
	}
	p.unexpected(t, "statement")
	return nil
}

// ParseSchema parses a CQL schema file. Statements that do not shape the
// schema come back as *Skipped. The error, if any, is an *Error with the
// position of the first problem.
func ParseSchema(file, src string) ([]Stmt, error) {
	var out []Stmt
	for _, st := range Split(file, src) {
		s, err := ParseStatement(st)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *parser) endStatement() {
	if !p.ok() || p.peek().Kind == TokEOF || p.acceptPunct(";") {
		return
	}
	p.unexpected(p.peek(), `";"`)
}

// quoteString renders s as a CQL string literal.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// String renders the type in the form Cassandra 5.0 stores in
// system_schema.columns.type: lower-case names, ", " between parameters,
// frozen<…> where the type is frozen, and tuples always frozen.
func (t *Type) String() string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	t.write(&b, false)
	return b.String()
}

// Declared renders the type as written in DDL, without a keyspace on UDT
// names and without the implicit frozen<> around tuples.
func (t *Type) Declared() string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	t.write(&b, true)
	return b.String()
}

func (t *Type) write(b *strings.Builder, declared bool) {
	frozen := t.Frozen || !declared && t.Kind == TypeTuple
	if frozen {
		b.WriteString("frozen<")
	}
	switch t.Kind {
	case TypeNative:
		name := t.Name
		if !declared && name == "varchar" {
			name = "text"
		}
		b.WriteString(name)
	case TypeUDT:
		if declared {
			b.WriteString(QuoteTypeName(t.Name))
		} else {
			b.WriteString(QuoteIdent(t.Name)) // system_schema writes frozen<int> for a type "int"
		}
	case TypeCustom:
		b.WriteString(quoteString(t.Name))
	default:
		b.WriteString([...]string{TypeList: "list", TypeSet: "set", TypeMap: "map", TypeTuple: "tuple", TypeVector: "vector"}[t.Kind])
		b.WriteByte('<')
		for i, p := range t.Params {
			if i > 0 {
				b.WriteString(", ")
			}
			if p != nil {
				p.write(b, declared)
			}
		}
		if t.Kind == TypeVector {
			fmt.Fprintf(b, ", %d", t.Dim)
		}
		b.WriteByte('>')
	}
	if frozen {
		b.WriteByte('>')
	}
}
