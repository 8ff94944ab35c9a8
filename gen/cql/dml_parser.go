package cql

import (
	"errors"
	"strings"
)

// ErrQueryName reports a missing, malformed or duplicate "-- name:" comment
// in a queries file.
var ErrQueryName = errors.New("query name")

// NamedQuery is one statement of a queries file with its "-- name: X" header.
type NamedQuery struct {
	Name    string
	Flags   []string // words after the name that start with ":", without the colon
	NamePos Position // position of the name comment
	Stmt    Stmt     // *Select, *Insert, *Update or *Delete
	// Doc is the text of the line comments right above the name comment,
	// one line each, without separator lines of dashes.
	Doc string
}

// ParseQueries parses a queries file: SELECT, INSERT, UPDATE and DELETE
// statements, each preceded by a "-- name: Name [:flag…]" comment.
func ParseQueries(file, src string) ([]NamedQuery, error) {
	toks, comments := Lex(file, src)
	p := &parser{toks: toks}
	var out []NamedQuery
	seen := map[string]Position{}
	prevEnd := Position{}
	for p.ok() && p.peek().Kind != TokEOF {
		if p.acceptPunct(";") {
			continue
		}
		start := p.peek()
		var name *Comment
		nameAt := -1
		for i := range comments {
			c := &comments[i]
			if before(prevEnd, c.Pos) && before(c.Pos, start.Pos) && strings.HasPrefix(c.Text, "name:") {
				name, nameAt = c, i
			}
		}
		doc := ""
		if name != nil {
			doc = docAbove(comments, nameAt, prevEnd)
		}
		s := p.dmlStatement()
		p.endStatement()
		if p.err != nil {
			return nil, p.err
		}
		prevEnd = p.toks[max(p.i-1, 0)].Pos
		if name == nil {
			return nil, Errorf(start.Pos, `%w: statement has no "-- name: Name" comment before it`, ErrQueryName)
		}
		fields := strings.Fields(strings.TrimPrefix(name.Text, "name:"))
		if len(fields) == 0 || !validQueryName(fields[0]) {
			return nil, Errorf(name.Pos, "%w: want \"-- name: Name\" with a Go identifier that starts with an upper-case letter", ErrQueryName)
		}
		q := NamedQuery{Name: fields[0], NamePos: name.Pos, Stmt: s, Doc: doc}
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, ":") || len(f) == 1 {
				return nil, Errorf(name.Pos, "%w: flag %q must start with \":\"", ErrQueryName, f)
			}
			q.Flags = append(q.Flags, f[1:])
		}
		if prev, dup := seen[q.Name]; dup {
			return nil, Errorf(name.Pos, "%w: %s is already defined at %s", ErrQueryName, q.Name, prev)
		}
		seen[q.Name] = name.Pos
		out = append(out, q)
	}
	if p.err != nil {
		return nil, p.err
	}
	return out, nil
}

// docAbove returns the comments on the lines right above comments[at], after
// prev, joined by newlines; separator lines (starting with "-") end it.
func docAbove(comments []Comment, at int, prev Position) string {
	var lines []string
	line := comments[at].Pos.Line
	for i := at - 1; i >= 0; i-- {
		c := comments[i]
		if c.Pos.Line != line-1 || !before(prev, c.Pos) || strings.HasPrefix(c.Text, "-") {
			break
		}
		lines = append([]string{c.Text}, lines...)
		line--
	}
	return strings.Join(lines, "\n")
}

func before(a, b Position) bool {
	return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
}

func validQueryName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
		case i > 0 && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'):
		default:
			return false
		}
	}
	return s != ""
}

func (p *parser) dmlStatement() Stmt {
	t := p.peek()
	pos := t.Pos
	switch {
	case p.acceptKw("select"):
		return p.selectStmt(pos)
	case p.acceptKw("insert"):
		return p.insertStmt(pos)
	case p.acceptKw("update"):
		return p.updateStmt(pos)
	case p.acceptKw("delete"):
		return p.deleteStmt(pos)
	}
	p.unexpected(t, "SELECT, INSERT, UPDATE or DELETE")
	return nil
}

func (p *parser) selectStmt(pos Position) *Select {
	s := &Select{Pos: pos}
	if p.acceptKw("json") {
		s.JSON = true
	}
	if p.acceptKw("distinct") {
		s.Distinct = true
	}
	if p.acceptPunct("*") {
		s.Star = true
	} else {
		for p.ok() {
			sel := Selector{Term: p.selector()}
			if p.acceptKw("as") {
				sel.Alias = p.ident("alias")
			}
			s.Selectors = append(s.Selectors, sel)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	p.expectKw("from")
	s.Table = p.qname("table name")
	if p.acceptKw("where") {
		s.Where = p.relations()
	}
	if p.acceptKw("group", "by") {
		for p.ok() {
			s.GroupBy = append(s.GroupBy, p.ident("column name"))
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if p.acceptKw("order", "by") {
		for p.ok() {
			item := OrderItem{Column: p.ident("column name")}
			if p.acceptKw("desc") {
				item.Desc = true
			} else {
				p.acceptKw("asc")
			}
			s.OrderBy = append(s.OrderBy, item)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if p.acceptKw("per", "partition", "limit") {
		s.PerPartitionLimit = p.term()
	}
	if p.acceptKw("limit") {
		s.Limit = p.term()
	}
	if p.acceptKw("allow", "filtering") {
		s.AllowFiltering = true
	}
	return s
}

// selector reads a column, a function call or count(*).
func (p *parser) selector() *Term {
	t := p.peek()
	if (t.Kind == TokIdent || t.Kind == TokQuoted) && !(p.peekAt(1).Kind == TokPunct && p.peekAt(1).Text == "(") {
		id := p.ident("column name")
		return &Term{Kind: TermColumn, Text: id.Name, Pos: id.Pos}
	}
	return p.term()
}

func (p *parser) insertStmt(pos Position) *Insert {
	s := &Insert{Pos: pos}
	p.expectKw("into")
	s.Table = p.qname("table name")
	if p.isKw("json") {
		p.fail(Errorf(p.peek().Pos, "%w: INSERT JSON", ErrUnsupported))
		return s
	}
	s.Columns = p.identList("column name")
	p.expectKw("values")
	p.expectPunct("(")
	for p.ok() {
		s.Values = append(s.Values, p.term())
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")")
	for p.ok() {
		switch {
		case p.acceptKw("if", "not", "exists"):
			s.IfNotExists = true
			continue
		case p.isKw("using"):
			s.Using = p.using()
			continue
		}
		break
	}
	return s
}

func (p *parser) using() []UsingItem {
	p.expectKw("using")
	var out []UsingItem
	for p.ok() {
		t := p.peek()
		switch {
		case p.acceptKw("ttl"):
			out = append(out, UsingItem{Kind: "ttl", Value: p.term(), Pos: t.Pos})
		case p.acceptKw("timestamp"):
			out = append(out, UsingItem{Kind: "timestamp", Value: p.term(), Pos: t.Pos})
		default:
			p.unexpected(t, "TTL or TIMESTAMP")
		}
		if !p.acceptKw("and") {
			break
		}
	}
	return out
}

func (p *parser) updateStmt(pos Position) *Update {
	s := &Update{Pos: pos}
	s.Table = p.qname("table name")
	if p.isKw("using") {
		s.Using = p.using()
	}
	p.expectKw("set")
	for p.ok() {
		s.Set = append(s.Set, p.assignment())
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectKw("where")
	s.Where = p.relations()
	s.IfExists, s.If = p.conditions()
	return s
}

func (p *parser) assignment() Assignment {
	a := Assignment{Pos: p.peek().Pos, Column: p.ident("column name")}
	switch {
	case p.acceptPunct("["):
		a.Key = p.term()
		p.expectPunct("]")
	case p.acceptPunct("."):
		a.Field = p.ident("field name")
	}
	if p.isPunct("+") || p.isPunct("-") {
		op := p.next().Text
		p.expectPunct("=")
		a.Kind = AssignAdd
		if op == "-" {
			a.Kind = AssignRemove
		}
		a.Value = p.term()
		return a
	}
	p.expectPunct("=")
	t := p.peek()
	if (t.Kind == TokIdent || t.Kind == TokQuoted) && t.Text == a.Column.Name && a.Key == nil && a.Field.Name == "" &&
		p.peekAt(1).Kind == TokPunct && (p.peekAt(1).Text == "+" || p.peekAt(1).Text == "-") {
		p.next()
		if p.next().Text == "+" {
			a.Kind = AssignAdd
		} else {
			a.Kind = AssignRemove
		}
		a.Value = p.term()
		return a
	}
	a.Value = p.term()
	if p.acceptPunct("+") {
		id := p.ident("column name")
		if p.ok() && id.Name != a.Column.Name {
			p.fail(Errorf(id.Pos, "%w: expected %s after +", ErrSyntax, QuoteIdent(a.Column.Name)))
		}
		a.Kind = AssignPrepend
	}
	return a
}

func (p *parser) conditions() (ifExists bool, conds []Condition) {
	if !p.acceptKw("if") {
		return false, nil
	}
	if p.acceptKw("exists") {
		return true, nil
	}
	for p.ok() {
		c := Condition{Pos: p.peek().Pos, Column: p.ident("column name")}
		switch {
		case p.acceptPunct("["):
			c.Key = p.term()
			p.expectPunct("]")
		case p.acceptPunct("."):
			c.Field = p.ident("field name")
		}
		c.Op = p.operator()
		c.Value = p.term()
		conds = append(conds, c)
		if !p.acceptKw("and") {
			break
		}
	}
	return false, conds
}

func (p *parser) deleteStmt(pos Position) *Delete {
	s := &Delete{Pos: pos}
	for p.ok() && !p.isKw("from") {
		sel := Selection{Column: p.ident("column name")}
		switch {
		case p.acceptPunct("["):
			sel.Key = p.term()
			p.expectPunct("]")
		case p.acceptPunct("."):
			sel.Field = p.ident("field name")
		}
		s.Columns = append(s.Columns, sel)
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectKw("from")
	s.Table = p.qname("table name")
	if p.isKw("using") {
		s.Using = p.using()
	}
	p.expectKw("where")
	s.Where = p.relations()
	s.IfExists, s.If = p.conditions()
	return s
}

// relations reads WHERE restrictions joined by AND.
func (p *parser) relations() []Relation {
	var out []Relation
	for p.ok() {
		out = append(out, p.relation())
		if !p.acceptKw("and") {
			break
		}
	}
	return out
}

func (p *parser) relation() Relation {
	t := p.peek()
	r := Relation{Pos: t.Pos}
	switch {
	case p.isKw("token") && p.peekAt(1).Kind == TokPunct && p.peekAt(1).Text == "(":
		p.next()
		r.Kind = RelToken
		r.Columns = p.identList("column name")
	case p.isPunct("("):
		r.Kind = RelTuple
		r.Columns = p.identList("column name")
	default:
		r.Columns = []Ident{p.ident("column name")}
		if p.acceptKw("is", "not", "null") {
			r.Op = "IS NOT NULL"
			return r
		}
	}
	r.Op = p.operator()
	r.Value = p.term()
	return r
}

// operator reads a comparison operator.
func (p *parser) operator() string {
	if !p.ok() {
		return ""
	}
	t := p.peek()
	switch {
	case p.acceptPunct("="):
		return "="
	case p.acceptPunct("<"):
		if p.acceptPunct("=") {
			return "<="
		}
		return "<"
	case p.acceptPunct(">"):
		if p.acceptPunct("=") {
			return ">="
		}
		return ">"
	case p.isPunct("!") && p.peekAt(1).Kind == TokPunct && p.peekAt(1).Text == "=":
		p.i += 2
		return "!="
	case p.acceptKw("in"):
		return "IN"
	case p.acceptKw("contains", "key"):
		return "CONTAINS KEY"
	case p.acceptKw("contains"):
		return "CONTAINS"
	case p.acceptKw("like"):
		return "LIKE"
	}
	p.unexpected(t, "operator")
	return ""
}

// term reads a bind marker, literal, function call or collection literal.
func (p *parser) term() *Term {
	if !p.enter() {
		return &Term{}
	}
	defer p.leave()
	t := p.peek()
	switch {
	case t.Kind == TokPunct && t.Text == "?":
		p.next()
		return &Term{Kind: TermMarker, Pos: t.Pos}
	case t.Kind == TokPunct && t.Text == ":":
		p.next()
		n := p.peek()
		if n.Kind != TokIdent && n.Kind != TokQuoted {
			p.unexpected(n, "bind marker name")
			return &Term{}
		}
		p.next()
		return &Term{Kind: TermNamed, Text: n.Text, Pos: t.Pos}
	case t.Kind == TokString:
		p.next()
		return &Term{Kind: TermLiteral, Text: quoteString(t.Text), Pos: t.Pos}
	case t.Kind == TokNumber:
		p.next()
		return &Term{Kind: TermLiteral, Text: t.Raw, Pos: t.Pos}
	case t.Kind == TokPunct && t.Text == "-" && p.peekAt(1).Kind == TokNumber:
		p.next()
		return &Term{Kind: TermLiteral, Text: "-" + p.next().Raw, Pos: t.Pos}
	case t.Kind == TokPunct && t.Text == "*":
		p.next()
		return &Term{Kind: TermStar, Text: "*", Pos: t.Pos}
	case t.Kind == TokPunct && (t.Text == "[" || t.Text == "{" || t.Text == "("):
		p.next()
		closing := map[string]string{"[": "]", "{": "}", "(": ")"}[t.Text]
		c := &Term{Kind: TermCollection, Text: t.Text, Pos: t.Pos}
		for p.ok() && !p.isPunct(closing) {
			c.Args = append(c.Args, p.term())
			if t.Text == "{" && (p.isPunct(":") || c.Map) {
				c.Map = true
				p.expectPunct(":")
				c.Args = append(c.Args, p.term())
			}
			if !p.acceptPunct(",") {
				break
			}
		}
		p.expectPunct(closing)
		return c
	case t.Kind == TokIdent && (t.Text == "true" || t.Text == "false" || t.Text == "null" || t.Text == "nan" || t.Text == "infinity"):
		p.next()
		return &Term{Kind: TermLiteral, Text: strings.ToUpper(t.Text), Pos: t.Pos}
	case t.Kind == TokIdent || t.Kind == TokQuoted:
		// Function names keep their spelling (unquoted ones are
		// case-insensitive); column names are the folded names.
		name, raw := p.next().Text, t.Raw
		if p.isPunct(".") && p.peekAt(1).Kind == TokIdent {
			p.next()
			n := p.next()
			name += "." + n.Text
			raw += "." + n.Raw
		}
		if !p.isPunct("(") {
			if t.Kind == TokIdent && IsReserved(t.Text) {
				p.unexpected(t, "value")
				return &Term{}
			}
			return &Term{Kind: TermColumn, Text: name, Pos: t.Pos}
		}
		p.next()
		f := &Term{Kind: TermFunc, Text: raw, Pos: t.Pos}
		for p.ok() && !p.isPunct(")") {
			f.Args = append(f.Args, p.term())
			if !p.acceptPunct(",") {
				break
			}
		}
		p.expectPunct(")")
		return f
	}
	p.unexpected(t, "value")
	return &Term{}
}

// Render writes the term as CQL with every bind marker as "?".
func (t *Term) Render() string {
	var b strings.Builder
	t.render(&b)
	return b.String()
}

func (t *Term) render(b *strings.Builder) {
	if t == nil {
		return
	}
	switch t.Kind {
	case TermMarker, TermNamed:
		b.WriteByte('?')
	case TermColumn:
		b.WriteString(QuoteIdent(t.Text))
	case TermFunc:
		b.WriteString(t.Text)
		b.WriteByte('(')
		for i, a := range t.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			a.render(b)
		}
		b.WriteByte(')')
	case TermCollection:
		b.WriteString(t.Text)
		for i, a := range t.Args {
			switch {
			case i == 0:
			case t.Map && i%2 == 1:
				b.WriteString(": ")
			default:
				b.WriteString(", ")
			}
			a.render(b)
		}
		b.WriteString(map[string]string{"[": "]", "{": "}", "(": ")"}[t.Text])
	default:
		b.WriteString(t.Text)
	}
}
