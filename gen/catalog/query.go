package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jobsharp/cassandra/gen/cql"
)

// Query is a named query checked against the catalog and rendered as the
// CQL the driver prepares.
type Query struct {
	Name  string
	Pos   cql.Position // position of the "-- name:" comment
	Kind  string       // "select", "insert", "update" or "delete"
	Table *Table
	// CQL is the statement with every bind marker written as "?" and names
	// quoted where needed; it carries no keyspace, so it runs in the session's.
	CQL string
	// Names are the bind names, one per "?" in order: the column for
	// "col = ?", "col IN ?" and INSERT values, the marker's own name for
	// ":name", "limit" and "per_partition_limit" for LIMIT ?, "_ttl" and "_ts"
	// for USING TTL ? and USING TIMESTAMP ?, "col_key" for the key of
	// "col[?]" and "col.field" for a UDT field.
	Names []string
	// LWT is set for statements with IF (lightweight transactions).
	LWT bool
	// Idempotent is set when running the statement twice has the effect of
	// running it once: no LWT, no counter update, no list append, prepend or
	// removal by index, no now()/uuid()-style functions.
	Idempotent bool
	// Params are the bind markers with their types, one per "?" in order.
	Params []Param
	// Star is set for SELECT *; Results then lists the table's columns in
	// schema order, though Cassandra returns them in its own order.
	Star bool
	// Results are the columns a SELECT returns, in order; nil for writes.
	Results []ResultColumn
	// Doc is the comment above the query's "-- name:" line.
	Doc string
	// Tested names the columns the IF conditions of an LWT test, in order;
	// Exists is set for IF EXISTS and IF NOT EXISTS. Cassandra returns the
	// current values of these columns (of the whole row for Exists) when
	// the condition fails.
	Tested []string
	Exists bool
}

// nonDeterministic are functions whose result differs per call.
var nonDeterministic = map[string]bool{
	"now": true, "uuid": true, "currenttimestamp": true, "currentdate": true, "currenttime": true,
	"currenttimeuuid": true, "random": true,
}

// compiler renders one statement and collects its bind names.
type compiler struct {
	cat     *Catalog
	t       *Table
	b       strings.Builder
	names   []string
	params  []Param
	results []ResultColumn
	tested  []string
	exists  bool
	// derived holds, per bind name, the position of a marker that got the
	// name implicitly (from its column); explicit holds :name markers.
	derived  map[string]cql.Position
	explicit map[string]bool
	err      error
	nondet   bool
	// assigned holds, per column given its whole value by one marker
	// ("col = ?" in SET, a marker among INSERT values), that marker's
	// index in params: the columns an :unset flag may name.
	assigned map[string]int
}

func (q *compiler) w(parts ...string) {
	for _, p := range parts {
		q.b.WriteString(p)
	}
}

func (q *compiler) fail(err error) {
	if q.err == nil {
		q.err = err
	}
}

// bind records the name and type of marker m (or of every marker inside a
// term). typ is the CQL type of the value m stands for; nil when it cannot
// be told, which is an error for a marker.
func (q *compiler) bind(m *cql.Term, name string, typ *cql.Type) {
	if m == nil {
		return
	}
	switch m.Kind {
	case cql.TermMarker, cql.TermNamed:
		if m.Kind == cql.TermMarker {
			if _, dup := q.derived[name]; dup || q.explicit[name] {
				q.fail(cql.Errorf(m.Pos, "%w: the marker's implicit name %q is already used by another marker; name them with :name markers", ErrBindName, name))
			}
			q.derived[name] = m.Pos
		} else {
			if pos, dup := q.derived[m.Text]; dup {
				q.fail(cql.Errorf(m.Pos, "%w: :%s is also the implicit name of the marker at %s; name that marker too", ErrBindName, m.Text, pos))
			}
			q.explicit[m.Text] = true
			name = m.Text
		}
		if typ == nil {
			q.fail(untyped(m, "bind the value to a column (col = ?), or to a native function the generator knows (minTimeuuid, <type>AsBlob, …)"))
		}
		q.names = append(q.names, name)
		q.params = append(q.params, Param{Name: name, Type: typ, Pos: m.Pos, Named: m.Kind == cql.TermNamed})
	case cql.TermFunc:
		if nonDeterministic[strings.ToLower(m.Text)] {
			q.nondet = true
		}
		types, ok := funcArgTypes(m.Text, len(m.Args))
		for i, a := range m.Args {
			var at *cql.Type
			if ok {
				at = types[i]
			}
			q.bind(a, name, at)
		}
	case cql.TermCollection:
		for i, a := range m.Args {
			var et *cql.Type
			switch {
			case typ == nil:
			case typ.Kind == cql.TypeMap && i%2 == 0:
				et = typ.Params[0]
			case typ.Kind == cql.TypeMap:
				et = typ.Params[1]
			case typ.Kind == cql.TypeList || typ.Kind == cql.TypeSet || typ.Kind == cql.TypeVector:
				et = typ.Params[0]
			case typ.Kind == cql.TypeTuple && i < len(typ.Params):
				et = typ.Params[i]
			}
			q.bind(a, name, et)
		}
	case cql.TermColumn:
		q.fail(cql.Errorf(m.Pos, "%w: a column (%s) cannot be used as a value", ErrQuery, cql.QuoteIdent(m.Text)))
	}
}

// value writes a term and binds its markers to name, as values of type typ.
func (q *compiler) value(t *cql.Term, name string, typ *cql.Type) {
	q.bind(t, name, typ)
	q.w(t.Render())
}

// colValue writes the value of a column. A bare marker for a tuple column
// becomes a tuple of markers, "(?, ?)", named "col[0]", "col[1]" as gocqlx's
// qb.TupleColumn names them: gocql v1.7.0 binds a top-level tuple as one
// value per element, and a single marker would not bind.
func (q *compiler) colValue(t *cql.Term, col *Column, name string) {
	if col == nil || col.Type.Kind != cql.TypeTuple || (t.Kind != cql.TermMarker && t.Kind != cql.TermNamed) {
		var typ *cql.Type
		if col != nil {
			typ = col.Type
		}
		n := len(q.params)
		q.value(t, name, typ)
		if col != nil && len(q.params) == n+1 && (t.Kind == cql.TermMarker || t.Kind == cql.TermNamed) {
			if q.assigned == nil {
				q.assigned = map[string]int{}
			}
			q.assigned[col.Name] = n
		}
		return
	}
	name = cql.QuoteIdent(name) // as qb.TupleColumn names them
	if t.Kind == cql.TermNamed {
		name = t.Text
	}
	q.w("(")
	for i := range col.Type.Params {
		if i > 0 {
			q.w(", ")
		}
		q.value(&cql.Term{Kind: cql.TermMarker, Pos: t.Pos}, fmt.Sprintf("%s[%d]", name, i), col.Type.Params[i])
		p := &q.params[len(q.params)-1]
		p.Tuple, p.TupleType, p.Elem = name, col.Type, i
	}
	q.w(")")
}

func (q *compiler) column(id cql.Ident) *Column {
	col := q.t.Column(id.Name)
	if col == nil && q.err == nil {
		hint := ""
		for _, other := range q.cat.Tables() {
			if other != q.t && other.Column(id.Name) != nil {
				hint = fmt.Sprintf(" (it is a column of %s)", cql.QuoteIdent(other.Name))
				break
			}
		}
		q.fail(cql.Errorf(id.Pos, "%w %s in %s %s%s", ErrUnknownColumn, cql.QuoteIdent(id.Name), kindName(q.t), cql.QuoteIdent(q.t.Name), hint))
	}
	return col
}

func (q *compiler) table(n cql.Name) {
	ks := q.cat.Keyspace(n.Keyspace)
	if n.Keyspace == "" {
		// Unqualified: the session keyspace; search every keyspace in order.
		for _, k := range q.cat.Keyspaces {
			if k.Table(n.Name) != nil {
				ks = k
				break
			}
		}
	}
	if ks != nil {
		q.t = ks.Table(n.Name)
	}
	if q.t == nil {
		q.fail(cql.Errorf(n.Pos, "%w %s", ErrUnknownTable, displayName(n.Keyspace, n.Name)))
	}
}

func isCollection(t *cql.Type) bool {
	return t.Kind == cql.TypeList || t.Kind == cql.TypeSet || t.Kind == cql.TypeMap
}

func isCounter(t *cql.Type) bool { return t.Kind == cql.TypeNative && t.Name == "counter" }

// Compile checks a named query against the catalog and renders it.
func (c *Catalog) Compile(nq cql.NamedQuery) (*Query, error) {
	q := &compiler{cat: c, derived: map[string]cql.Position{}, explicit: map[string]bool{}}
	out := &Query{Name: nq.Name, Pos: nq.NamePos, Idempotent: true, Doc: nq.Doc}
	switch s := nq.Stmt.(type) {
	case *cql.Select:
		out.Kind = "select"
		q.selectStmt(s)
	case *cql.Insert:
		out.Kind = "insert"
		out.LWT = s.IfNotExists
		q.insertStmt(s, out)
	case *cql.Update:
		out.Kind = "update"
		out.LWT = s.IfExists || len(s.If) > 0
		q.updateStmt(s, out)
	case *cql.Delete:
		out.Kind = "delete"
		out.LWT = s.IfExists || len(s.If) > 0
		q.deleteStmt(s, out)
	default:
		return nil, cql.Errorf(nq.NamePos, "%w: %s is not a SELECT, INSERT, UPDATE or DELETE", ErrQuery, nq.Name)
	}
	if q.err != nil {
		return nil, q.err
	}
	for _, f := range nq.Flags {
		switch f {
		case "lwt":
			if !out.LWT {
				return nil, cql.Errorf(nq.NamePos, "%w: %s is flagged :lwt but has no IF clause", ErrQuery, nq.Name)
			}
		case "one", "many", "exec":
			// sqlc-style result hints: accepted for readability.
		default:
			if cols, ok := strings.CutPrefix(f, "unset="); ok {
				if err := q.unset(nq, cols); err != nil {
					return nil, err
				}
				continue
			}
			return nil, cql.Errorf(nq.NamePos, "%w: unknown flag :%s (known: :lwt, :one, :many, :exec, :unset=col,…)", ErrQuery, f)
		}
	}
	if out.LWT || q.nondet {
		out.Idempotent = false
	}
	if err := checkParams(q.params); err != nil {
		return nil, err
	}
	out.Table = q.t
	out.CQL = q.b.String()
	out.Names = q.names
	if out.Names == nil {
		out.Names = []string{}
	}
	out.Params = q.params
	out.Tested, out.Exists = q.tested, q.exists
	if s, ok := nq.Stmt.(*cql.Select); ok {
		out.Star = s.Star
		out.Results = q.results
		if s.JSON {
			out.Results = []ResultColumn{{Name: "[json]", Field: "json", Type: native("text")}}
		} else if s.Star {
			out.Results = nil
			for _, c := range q.t.Columns {
				out.Results = append(out.Results, ResultColumn{Name: c.Name, Field: c.Name, Type: c.Type, Column: c})
			}
		}
	}
	return out, nil
}

func (q *compiler) selectStmt(s *cql.Select) {
	q.table(s.Table)
	if q.err != nil {
		return
	}
	q.w("SELECT ")
	if s.JSON {
		q.w("JSON ")
	}
	if s.Distinct {
		q.w("DISTINCT ")
	}
	if s.Star {
		q.w("*")
	}
	for i, sel := range s.Selectors {
		if i > 0 {
			q.w(", ")
		}
		q.selector(sel.Term)
		q.result(sel)
		if sel.Alias.Name != "" {
			q.w(" AS ", cql.QuoteIdent(sel.Alias.Name))
		}
	}
	q.w(" FROM ", cql.QuoteIdent(q.t.Name))
	q.where(s.Where, restrictSelect, s.AllowFiltering)
	if len(s.GroupBy) > 0 {
		q.w(" GROUP BY ")
		for i, id := range s.GroupBy {
			col := q.column(id)
			if col != nil && !col.IsKey() {
				q.fail(cql.Errorf(id.Pos, "%w: GROUP BY needs primary key columns, %s is %s", ErrQuery, cql.QuoteIdent(id.Name), col.Kind))
			}
			if i > 0 {
				q.w(", ")
			}
			q.w(cql.QuoteIdent(id.Name))
		}
	}
	if len(s.OrderBy) > 0 {
		q.orderBy(s)
	}
	if s.PerPartitionLimit != nil {
		q.w(" PER PARTITION LIMIT ")
		q.limit(s.PerPartitionLimit, "per_partition_limit")
	}
	if s.Limit != nil {
		q.w(" LIMIT ")
		q.limit(s.Limit, "limit")
	}
	if s.AllowFiltering {
		q.w(" ALLOW FILTERING")
	}
}

func (q *compiler) limit(t *cql.Term, name string) {
	if t.Kind != cql.TermMarker && t.Kind != cql.TermNamed && t.Kind != cql.TermLiteral {
		q.fail(cql.Errorf(t.Pos, "%w: LIMIT takes a number or a bind marker", ErrQuery))
	}
	q.value(t, name, native("int"))
}

func (q *compiler) selector(t *cql.Term) {
	switch t.Kind {
	case cql.TermColumn:
		q.column(cql.Ident{Name: t.Text, Pos: t.Pos})
	case cql.TermFunc:
		types, ok := funcArgTypes(t.Text, len(t.Args))
		for i, a := range t.Args {
			if a.Kind == cql.TermColumn {
				q.column(cql.Ident{Name: a.Text, Pos: a.Pos})
			} else if a.Kind != cql.TermStar {
				var at *cql.Type
				if ok {
					at = types[i]
				}
				q.bind(a, "arg", at)
			}
		}
	default:
		q.bind(t, "arg", nil)
	}
	q.w(t.Render())
}

func (q *compiler) orderBy(s *cql.Select) {
	q.w(" ORDER BY ")
	reversed := false
	for i, item := range s.OrderBy {
		col := q.column(item.Column)
		if col == nil {
			return
		}
		switch {
		case col.Kind != Clustering:
			q.fail(cql.Errorf(item.Column.Pos, "%w: %s is not a clustering column", ErrOrderBy, cql.QuoteIdent(col.Name)))
		case col.Position != i:
			q.fail(cql.Errorf(item.Column.Pos, "%w: columns must follow the clustering order (%s comes first)", ErrOrderBy, cql.QuoteIdent(q.t.Clustering[i].Name)))
		}
		rev := item.Desc != col.Desc
		if i == 0 {
			reversed = rev
		} else if rev != reversed {
			q.fail(cql.Errorf(item.Column.Pos, "%w: ORDER BY must follow the table's clustering order or reverse it as a whole", ErrOrderBy))
		}
		if i > 0 {
			q.w(", ")
		}
		dir := " ASC"
		if item.Desc {
			dir = " DESC"
		}
		q.w(cql.QuoteIdent(col.Name), dir)
	}
	for _, pk := range q.t.PartitionKey {
		if !slices.ContainsFunc(s.Where, func(r cql.Relation) bool {
			return r.Kind == cql.RelColumn && r.Columns[0].Name == pk.Name && (r.Op == "=" || r.Op == "IN")
		}) {
			q.fail(cql.Errorf(s.OrderBy[0].Column.Pos, "%w: ORDER BY needs the partition key restricted by = or IN", ErrOrderBy))
			return
		}
	}
}

type restrictMode int

const (
	restrictSelect restrictMode = iota
	restrictUpdate              // full primary key by = or IN
	restrictDelete              // partition key by = or IN, clustering prefix, last may be a range
)

func (q *compiler) indexed(col *Column) bool {
	ks := q.cat.Keyspace(q.t.Keyspace)
	return ks != nil && slices.ContainsFunc(ks.Indexes, func(ix *Index) bool {
		return ix.Table == q.t.Name && slices.ContainsFunc(ix.Targets, func(t cql.IndexTarget) bool { return t.Column.Name == col.Name })
	})
}

// where renders and checks a WHERE clause.
func (q *compiler) where(rels []cql.Relation, mode restrictMode, filtering bool) {
	if q.err != nil {
		return
	}
	eq := map[string]bool{}    // restricted by = or IN
	slice := map[string]bool{} // restricted by a range
	token := false
	viaIndex := false
	if len(rels) > 0 {
		q.w(" WHERE ")
	}
	for i, r := range rels {
		if i > 0 {
			q.w(" AND ")
		}
		var cols []*Column
		for _, id := range r.Columns {
			cols = append(cols, q.column(id))
		}
		if q.err != nil {
			return
		}
		switch r.Kind {
		case cql.RelToken:
			if len(cols) != len(q.t.PartitionKey) || slices.ContainsFunc(cols, func(c *Column) bool { return c.Kind != PartitionKey || q.t.PartitionKey[c.Position] != c }) ||
				!slices.EqualFunc(cols, q.t.PartitionKey, func(a, b *Column) bool { return a == b }) {
				q.fail(cql.Errorf(r.Pos, "%w: token() must list the partition key columns in order", ErrRestriction))
				return
			}
			if mode != restrictSelect {
				q.fail(cql.Errorf(r.Pos, "%w: token() restrictions are only allowed in SELECT", ErrRestriction))
				return
			}
			token = true
			names := make([]string, len(cols))
			for j, c := range cols {
				names[j] = cql.QuoteIdent(c.Name)
			}
			q.w("token(", strings.Join(names, ", "), ") ", r.Op, " ")
			if r.Value.Kind == cql.TermFunc && strings.EqualFold(r.Value.Text, "token") && len(r.Value.Args) == len(cols) {
				q.w("token(")
				for j, a := range r.Value.Args {
					if j > 0 {
						q.w(", ")
					}
					q.value(a, cols[j].Name, cols[j].Type)
				}
				q.w(")")
			} else {
				q.value(r.Value, "token", native("bigint"))
			}
			continue
		case cql.RelTuple:
			names := make([]string, len(cols))
			for j, c := range cols {
				names[j] = cql.QuoteIdent(c.Name)
				if c.Kind != Clustering {
					q.fail(cql.Errorf(r.Columns[j].Pos, "%w: multi-column relations only apply to clustering columns", ErrRestriction))
				}
				if r.Op == "=" || r.Op == "IN" {
					eq[c.Name] = true
				} else {
					slice[c.Name] = true
				}
			}
			q.w("(", strings.Join(names, ", "), ") ", r.Op, " ")
			if r.Value.Kind == cql.TermCollection && r.Value.Text == "(" && len(r.Value.Args) == len(cols) {
				q.w("(")
				for j, a := range r.Value.Args {
					if j > 0 {
						q.w(", ")
					}
					q.value(a, cols[j].Name, cols[j].Type)
				}
				q.w(")")
			} else if r.Op == "IN" && r.Value.Kind == cql.TermCollection {
				// (a, b) IN ((?, ?), (?, ?)): each element is a tuple of the columns.
				tt := &cql.Type{Kind: cql.TypeTuple, Frozen: true}
				for _, c := range cols {
					tt.Params = append(tt.Params, c.Type)
				}
				raw := make([]string, len(cols))
				for j, c := range cols {
					raw[j] = c.Name
				}
				q.w("(")
				for j, a := range r.Value.Args {
					if j > 0 {
						q.w(", ")
					}
					q.value(a, strings.Join(raw, "_"), tt)
				}
				q.w(")")
			} else {
				q.fail(untyped(r.Value, fmt.Sprintf("bind each column of the tuple: (%s) %s (?, …)", strings.Join(names, ", "), r.Op)))
				return
			}
			continue
		}
		col := cols[0]
		q.w(cql.QuoteIdent(col.Name), " ", r.Op)
		switch r.Op {
		case "IS NOT NULL":
			q.fail(cql.Errorf(r.Pos, "%w: IS NOT NULL is only allowed in materialized views", ErrRestriction))
			return
		case "CONTAINS", "CONTAINS KEY":
			if !isCollection(col.Type) || r.Op == "CONTAINS KEY" && col.Type.Kind != cql.TypeMap {
				q.fail(cql.Errorf(r.Pos, "%w: %s needs a %s column, %s is %s", ErrRestriction, r.Op, map[bool]string{true: "map", false: "collection"}[r.Op == "CONTAINS KEY"], cql.QuoteIdent(col.Name), col.Type))
				return
			}
		}
		q.w(" ")
		switch r.Op {
		case "IN":
			q.in(r.Value, col, col.Name)
		case "CONTAINS":
			q.value(r.Value, col.Name, elemType(col.Type))
		case "CONTAINS KEY":
			q.value(r.Value, col.Name, col.Type.Params[0])
		default:
			q.colValue(r.Value, col, col.Name)
		}
		switch {
		case r.Op == "=" || r.Op == "IN":
			eq[col.Name] = true
		default:
			slice[col.Name] = true
		}
		if !col.IsKey() || r.Op == "CONTAINS" || r.Op == "CONTAINS KEY" || r.Op == "LIKE" {
			if q.indexed(col) && mode == restrictSelect {
				viaIndex = true
			} else if mode != restrictSelect && !col.IsKey() {
				q.fail(cql.Errorf(r.Pos, "%w: %s is not a primary key column; UPDATE and DELETE restrict only the primary key (use IF for conditions)", ErrRestriction, cql.QuoteIdent(col.Name)))
				return
			} else if !filtering {
				q.fail(cql.Errorf(r.Pos, "%w: restricting %s column %s needs an index or ALLOW FILTERING", ErrRestriction, col.Kind, cql.QuoteIdent(col.Name)))
				return
			}
		}
		if mode != restrictSelect && col.Kind == PartitionKey && r.Op != "=" && r.Op != "IN" {
			q.fail(cql.Errorf(r.Pos, "%w: partition key column %s must be restricted by = or IN", ErrRestriction, cql.QuoteIdent(col.Name)))
			return
		}
	}
	// The partition key.
	if !token && !viaIndex && !filtering {
		for _, pk := range q.t.PartitionKey {
			if !eq[pk.Name] {
				at := q.t.Pos
				if len(rels) > 0 {
					at = rels[0].Pos
				}
				q.fail(cql.Errorf(at, "%w: the WHERE clause must restrict the full partition key (%s) by = or IN; %s is not restricted", ErrRestriction, keyList(q.t.PartitionKey), cql.QuoteIdent(pk.Name)))
				return
			}
		}
	}
	if filtering || viaIndex {
		return
	}
	// Clustering columns: a prefix restricted by =/IN, then at most one slice.
	gap := ""
	for _, ck := range q.t.Clustering {
		restricted := eq[ck.Name] || slice[ck.Name]
		switch {
		case restricted && gap != "":
			q.fail(cql.Errorf(q.relPos(rels, ck.Name), "%w: clustering column %s cannot be restricted because %s is not restricted by = or IN", ErrRestriction, cql.QuoteIdent(ck.Name), cql.QuoteIdent(gap)))
			return
		case !eq[ck.Name] && gap == "":
			gap = ck.Name
		}
		if mode == restrictUpdate && !eq[ck.Name] {
			q.fail(cql.Errorf(q.firstPos(rels), "%w: UPDATE must restrict every primary key column by = or IN; %s is not", ErrRestriction, cql.QuoteIdent(ck.Name)))
			return
		}
	}
}

func (q *compiler) relPos(rels []cql.Relation, name string) cql.Position {
	for _, r := range rels {
		for _, id := range r.Columns {
			if id.Name == name {
				return id.Pos
			}
		}
	}
	return q.firstPos(rels)
}

func (q *compiler) firstPos(rels []cql.Relation) cql.Position {
	if len(rels) > 0 {
		return rels[0].Pos
	}
	return q.t.Pos
}

func keyList(cols []*Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = cql.QuoteIdent(c.Name)
	}
	return strings.Join(names, ", ")
}

func (q *compiler) writable(n cql.Name) {
	q.table(n)
	if q.err == nil && q.t.View {
		q.fail(cql.Errorf(n.Pos, "%w: %s is a materialized view and cannot be written", ErrView, cql.QuoteIdent(q.t.Name)))
	}
}

func (q *compiler) using(items []cql.UsingItem, allowTTL bool) {
	for i, u := range items {
		if i == 0 {
			q.w(" USING ")
		} else {
			q.w(" AND ")
		}
		if u.Kind == "ttl" {
			if !allowTTL {
				q.fail(cql.Errorf(u.Pos, "%w: DELETE does not take USING TTL", ErrQuery))
			}
			q.w("TTL ")
			q.value(u.Value, "_ttl", native("int"))
		} else {
			q.w("TIMESTAMP ")
			q.value(u.Value, "_ts", native("bigint"))
		}
	}
}

func (q *compiler) insertStmt(s *cql.Insert, out *Query) {
	q.writable(s.Table)
	if q.err != nil {
		return
	}
	if len(s.Columns) != len(s.Values) {
		q.fail(cql.Errorf(s.Pos, "%w: %d columns but %d values", ErrQuery, len(s.Columns), len(s.Values)))
		return
	}
	var cols []*Column
	for _, id := range s.Columns {
		col := q.column(id)
		if q.err != nil {
			return
		}
		if slices.Contains(cols, col) {
			q.fail(cql.Errorf(id.Pos, "%w: column %s is listed twice", ErrDuplicate, cql.QuoteIdent(id.Name)))
			return
		}
		if isCounter(col.Type) {
			q.fail(cql.Errorf(id.Pos, "%w: counter column %s can only be changed by UPDATE … SET c = c + ?", ErrCounter, cql.QuoteIdent(id.Name)))
			return
		}
		cols = append(cols, col)
	}
	for _, k := range slices.Concat(q.t.PartitionKey, q.t.Clustering) {
		if !slices.Contains(cols, k) {
			q.fail(cql.Errorf(s.Table.Pos, "%w: INSERT must set every primary key column; %s is missing", ErrPrimaryKey, cql.QuoteIdent(k.Name)))
			return
		}
	}
	q.w("INSERT INTO ", cql.QuoteIdent(q.t.Name), " (")
	for i, col := range cols {
		if i > 0 {
			q.w(", ")
		}
		q.w(cql.QuoteIdent(col.Name))
	}
	q.w(") VALUES (")
	for i, v := range s.Values {
		if i > 0 {
			q.w(", ")
		}
		q.colValue(v, cols[i], cols[i].Name)
	}
	q.w(")")
	if s.IfNotExists {
		q.w(" IF NOT EXISTS")
		q.exists = true
	}
	q.using(s.Using, true)
}

func (q *compiler) updateStmt(s *cql.Update, out *Query) {
	q.writable(s.Table)
	if q.err != nil {
		return
	}
	q.w("UPDATE ", cql.QuoteIdent(q.t.Name))
	q.using(s.Using, true)
	q.w(" SET ")
	onlyStatic := true
	for i, a := range s.Set {
		if i > 0 {
			q.w(", ")
		}
		col := q.column(a.Column)
		if q.err != nil {
			return
		}
		if col.IsKey() {
			q.fail(cql.Errorf(a.Column.Pos, "%w: primary key column %s cannot be SET", ErrKeyColumn, cql.QuoteIdent(col.Name)))
			return
		}
		if col.Kind != Static {
			onlyStatic = false
		}
		name := cql.QuoteIdent(col.Name)
		counter := isCounter(col.Type)
		switch {
		case counter && (a.Kind == cql.AssignSet || a.Kind == cql.AssignPrepend):
			q.fail(cql.Errorf(a.Pos, "%w: counter column %s can only be changed by %s = %s + ? or - ?", ErrCounter, name, name, name))
			return
		case !counter && (a.Kind == cql.AssignAdd || a.Kind == cql.AssignRemove) && !isCollection(col.Type):
			q.fail(cql.Errorf(a.Pos, "%w: + and - apply to counters and collections, %s is %s", ErrQuery, name, col.Type))
			return
		case a.Kind == cql.AssignPrepend && col.Type.Kind != cql.TypeList:
			q.fail(cql.Errorf(a.Pos, "%w: prepending applies to lists, %s is %s", ErrQuery, name, col.Type))
			return
		}
		if counter || col.Type.Kind == cql.TypeList && (a.Kind == cql.AssignAdd || a.Kind == cql.AssignPrepend) {
			out.Idempotent = false
		}
		switch {
		case a.Key != nil:
			if col.Type.Kind != cql.TypeMap && col.Type.Kind != cql.TypeList || col.Type.Frozen {
				q.fail(cql.Errorf(a.Pos, "%w: %s[…] needs a non-frozen map or list, %s is %s", ErrQuery, name, name, col.Type))
				return
			}
			q.w(name, "[")
			q.value(a.Key, col.Name+"_key", keyType(col.Type))
			q.w("] = ")
			q.value(a.Value, col.Name+"_value", valueType(col.Type))
			continue
		case a.Field.Name != "":
			if !q.udtField(col, a.Field) {
				return
			}
			q.w(name, ".", cql.QuoteIdent(a.Field.Name), " = ")
			q.value(a.Value, col.Name+"."+a.Field.Name, q.fieldType(col, a.Field.Name))
			continue
		}
		q.w(name, " = ")
		switch a.Kind {
		case cql.AssignAdd:
			q.w(name, " + ")
			q.value(a.Value, col.Name, col.Type)
		case cql.AssignRemove:
			q.w(name, " - ")
			typ := col.Type
			if typ.Kind == cql.TypeMap {
				typ = setOf(typ.Params[0]) // a map loses the keys of a set
			}
			q.value(a.Value, col.Name, typ)
		case cql.AssignPrepend:
			q.value(a.Value, col.Name, col.Type)
			q.w(" + ", name)
		default:
			q.colValue(a.Value, col, col.Name)
		}
	}
	mode := restrictUpdate
	if onlyStatic {
		mode = restrictDelete
	}
	q.where(s.Where, mode, false)
	q.conditions(s.IfExists, s.If)
}

func (q *compiler) udtField(col *Column, field cql.Ident) bool {
	if col.Type.Kind != cql.TypeUDT {
		q.fail(cql.Errorf(field.Pos, "%w: %s is not a user-defined type", ErrQuery, cql.QuoteIdent(col.Name)))
		return false
	}
	ks := q.cat.Keyspace(q.t.Keyspace)
	if u := ks.Type(col.Type.Name); u == nil || u.Field(field.Name) == nil {
		q.fail(cql.Errorf(field.Pos, "%w: type %s has no field %s", ErrUnknownColumn, cql.QuoteIdent(col.Type.Name), cql.QuoteIdent(field.Name)))
		return false
	}
	return true
}

func (q *compiler) conditions(ifExists bool, conds []cql.Condition) {
	if q.err != nil {
		return
	}
	if ifExists {
		q.w(" IF EXISTS")
		q.exists = true
		return
	}
	for i, c := range conds {
		if i == 0 {
			q.w(" IF ")
		} else {
			q.w(" AND ")
		}
		col := q.column(c.Column)
		if q.err != nil {
			return
		}
		if col.IsKey() {
			q.fail(cql.Errorf(c.Column.Pos, "%w: IF cannot test primary key column %s", ErrKeyColumn, cql.QuoteIdent(col.Name)))
			return
		}
		if !slices.Contains(q.tested, col.Name) {
			q.tested = append(q.tested, col.Name)
		}
		name := cql.QuoteIdent(col.Name)
		switch {
		case c.Key != nil:
			q.w(name, "[")
			q.value(c.Key, col.Name+"_key", keyType(col.Type))
			q.w("] ", c.Op, " ")
			vt := valueType(col.Type)
			if c.Op == "IN" {
				vt = listOf(vt)
			}
			q.value(c.Value, col.Name+"_value", vt)
			continue
		case c.Field.Name != "":
			if !q.udtField(col, c.Field) {
				return
			}
			q.w(name, ".", cql.QuoteIdent(c.Field.Name), " ", c.Op, " ")
			ft := q.fieldType(col, c.Field.Name)
			if c.Op == "IN" {
				ft = listOf(ft)
			}
			q.value(c.Value, col.Name+"."+c.Field.Name, ft)
			continue
		}
		q.w(name, " ", c.Op, " ")
		if c.Op == "IN" {
			q.in(c.Value, col, col.Name)
		} else {
			q.colValue(c.Value, col, col.Name)
		}
	}
}

func (q *compiler) deleteStmt(s *cql.Delete, out *Query) {
	q.writable(s.Table)
	if q.err != nil {
		return
	}
	q.w("DELETE ")
	for i, sel := range s.Columns {
		if i > 0 {
			q.w(", ")
		}
		col := q.column(sel.Column)
		if q.err != nil {
			return
		}
		if col.IsKey() {
			q.fail(cql.Errorf(sel.Column.Pos, "%w: primary key column %s cannot be deleted; delete the row", ErrKeyColumn, cql.QuoteIdent(col.Name)))
			return
		}
		name := cql.QuoteIdent(col.Name)
		switch {
		case sel.Key != nil:
			if !isCollection(col.Type) || col.Type.Frozen {
				q.fail(cql.Errorf(sel.Column.Pos, "%w: %s[…] needs a non-frozen collection, %s is %s", ErrQuery, name, name, col.Type))
				return
			}
			if col.Type.Kind == cql.TypeList {
				out.Idempotent = false
			}
			q.w(name, "[")
			q.value(sel.Key, col.Name+"_key", keyType(col.Type))
			q.w("]")
		case sel.Field.Name != "":
			if !q.udtField(col, sel.Field) {
				return
			}
			q.w(name, ".", cql.QuoteIdent(sel.Field.Name))
		default:
			q.w(name)
		}
	}
	if len(s.Columns) > 0 {
		q.w(" ")
	}
	q.w("FROM ", cql.QuoteIdent(q.t.Name))
	q.using(s.Using, false)
	mode := restrictDelete
	if len(s.If) > 0 || s.IfExists || len(s.Columns) > 0 {
		mode = restrictUpdate
		if len(s.Columns) > 0 && allStatic(q.t, s.Columns) {
			mode = restrictDelete
		}
	}
	q.where(s.Where, mode, false)
	q.conditions(s.IfExists, s.If)
}

func allStatic(t *Table, sels []cql.Selection) bool {
	for _, s := range sels {
		if c := t.Column(s.Column.Name); c == nil || c.Kind != Static {
			return false
		}
	}
	return true
}

// in writes the value of "col IN …": one marker for a list of values, or a
// list of markers each for one value.
func (q *compiler) in(t *cql.Term, col *Column, name string) {
	if t.Kind == cql.TermCollection && t.Text == "(" {
		q.w("(")
		for i, a := range t.Args {
			if i > 0 {
				q.w(", ")
			}
			q.value(a, name, col.Type)
		}
		q.w(")")
		return
	}
	q.value(t, name, listOf(col.Type))
}

// unset applies the flag ":unset=a,b,…" of nq: each named column must be
// given its whole value by one marker of the statement (SET col = ? or an
// INSERT value), and have a type whose zero value the generated code can
// tell (a native type other than inet, or a collection). Its parameter is
// then bound as unset when zero: the statement leaves the column as it is,
// which in a new row is the same as null but writes no tombstone. In an
// update the caller decides: zero no longer clears the column.
func (q *compiler) unset(nq cql.NamedQuery, list string) error {
	if list == "" {
		return cql.Errorf(nq.NamePos, "%w: %s: :unset= needs the columns it applies to, as in :unset=errors,metadata", ErrQuery, nq.Name)
	}
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		col := q.t.Column(name)
		if col == nil {
			return cql.Errorf(nq.NamePos, "%w: %s: :unset names %s, which is not a column of %s %s", ErrQuery, nq.Name, cql.QuoteIdent(name), kindName(q.t), cql.QuoteIdent(q.t.Name))
		}
		if seen[col.Name] {
			return cql.Errorf(nq.NamePos, "%w: %s: :unset names %s twice", ErrQuery, nq.Name, cql.QuoteIdent(name))
		}
		seen[col.Name] = true
		i, ok := q.assigned[col.Name]
		if !ok || col.IsKey() {
			return cql.Errorf(nq.NamePos, "%w: %s: :unset names %s, which the statement does not give a value with one marker (SET col = ? or an INSERT value)", ErrQuery, nq.Name, cql.QuoteIdent(name))
		}
		switch k := col.Type.Kind; {
		case k == cql.TypeList, k == cql.TypeSet, k == cql.TypeMap:
		case k == cql.TypeNative && col.Type.Name != "inet" && col.Type.Name != "counter":
		default:
			return cql.Errorf(nq.NamePos, "%w: %s: :unset names %s of type %s; it applies to native types (not inet or counter) and collections", ErrQuery, nq.Name, cql.QuoteIdent(name), col.Type)
		}
		q.params[i].Unset = true
	}
	return nil
}
