package catalog

import (
	"slices"
	"strings"

	"github.com/jobsharp/cassandra/gen/cql"
)

const indent = "    "

// CreateCQL renders CREATE TYPE IF NOT EXISTS for u, without a keyspace.
func (u *UDT) CreateCQL() string {
	var b strings.Builder
	b.WriteString("CREATE TYPE IF NOT EXISTS " + cql.QuoteTypeName(u.Name) + " (\n")
	for i, f := range u.Fields {
		b.WriteString(indent + cql.QuoteIdent(f.Name) + " " + f.Type.Declared())
		if i < len(u.Fields)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(")")
	return b.String()
}

// keyClause renders PRIMARY KEY (…).
func (t *Table) keyClause() string {
	names := func(cols []*Column) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = cql.QuoteIdent(c.Name)
		}
		return out
	}
	part := strings.Join(names(t.PartitionKey), ", ")
	if len(t.PartitionKey) > 1 {
		part = "(" + part + ")"
	}
	return "PRIMARY KEY (" + strings.Join(append([]string{part}, names(t.Clustering)...), ", ") + ")"
}

// withClause renders the WITH clause (clustering order, compact storage and
// options) with the given separator between items, or "" when empty.
func (t *Table) withClause(sep string) string {
	var items []string
	if slices.ContainsFunc(t.Clustering, func(c *Column) bool { return c.Desc }) {
		order := make([]string, len(t.Clustering))
		for i, c := range t.Clustering {
			order[i] = cql.QuoteIdent(c.Name) + " " + strings.ToUpper(c.Order())
		}
		items = append(items, "CLUSTERING ORDER BY ("+strings.Join(order, ", ")+")")
	}
	if t.CompactStorage {
		items = append(items, "COMPACT STORAGE")
	}
	for _, o := range t.Options {
		items = append(items, o.Name+" = "+o.Value.Render())
	}
	if len(items) == 0 {
		return ""
	}
	return "WITH " + strings.Join(items, sep+"AND ")
}

// CreateCQL renders CREATE TABLE IF NOT EXISTS (or CREATE MATERIALIZED VIEW
// IF NOT EXISTS) for t with its options, without a keyspace.
func (t *Table) CreateCQL() string {
	var b strings.Builder
	if t.View {
		b.WriteString("CREATE MATERIALIZED VIEW IF NOT EXISTS " + cql.QuoteIdent(t.Name) + " AS\n")
		cols := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = cql.QuoteIdent(c.Name)
		}
		if t.All {
			cols = []string{"*"}
		}
		b.WriteString(indent + "SELECT " + strings.Join(cols, ", ") + " FROM " + cql.QuoteIdent(t.Base) + "\n")
		if len(t.Where) > 0 {
			rels := make([]string, len(t.Where))
			for i, r := range t.Where {
				rels[i] = RenderRelation(r)
			}
			b.WriteString(indent + "WHERE " + strings.Join(rels, " AND ") + "\n")
		}
		b.WriteString(indent + t.keyClause())
		if w := t.withClause("\n" + indent); w != "" {
			b.WriteString("\n" + indent + w)
		}
		return b.String()
	}
	b.WriteString("CREATE TABLE IF NOT EXISTS " + cql.QuoteIdent(t.Name) + " (\n")
	for _, c := range t.Columns {
		b.WriteString(indent + cql.QuoteIdent(c.Name) + " " + c.Type.Declared())
		if c.Name == t.TTLColumn {
			b.WriteString(" TTL")
		}
		if c.Kind == Static {
			b.WriteString(" STATIC")
		}
		if c.Mask != nil {
			b.WriteString(" " + c.Mask.Render())
		}
		b.WriteString(",\n")
	}
	b.WriteString(indent + t.keyClause() + "\n)")
	if w := t.withClause("\n" + indent); w != "" {
		b.WriteString(" " + w)
	}
	return b.String()
}

// RenderRelation renders one WHERE relation.
func RenderRelation(r cql.Relation) string {
	names := make([]string, len(r.Columns))
	for i, id := range r.Columns {
		names[i] = cql.QuoteIdent(id.Name)
	}
	left := strings.Join(names, ", ")
	switch r.Kind {
	case cql.RelToken:
		left = "token(" + left + ")"
	case cql.RelTuple:
		left = "(" + left + ")"
	}
	if r.Value == nil {
		return left + " " + r.Op
	}
	return left + " " + r.Op + " " + r.Value.Render()
}

// CreateCQL renders CREATE [CUSTOM] INDEX IF NOT EXISTS for ix, without a
// keyspace.
func (ix *Index) CreateCQL() string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if ix.Custom {
		b.WriteString("CUSTOM ")
	}
	b.WriteString("INDEX IF NOT EXISTS " + cql.QuoteIdent(ix.Name) + " ON " + cql.QuoteIdent(ix.Table) + " (")
	b.WriteString(ix.targets())
	b.WriteString(")")
	if ix.Using != "" {
		b.WriteString(" USING " + cql.QuoteString(ix.Using))
	}
	b.WriteString(renderOptions(ix.Options, true))
	return b.String()
}

// renderOptions renders " WITH a = x AND b = y", or "" without options;
// upper writes the names in capitals.
func renderOptions(opts []cql.Option, upper bool) string {
	var b strings.Builder
	for i, o := range opts {
		if i == 0 {
			b.WriteString(" WITH ")
		} else {
			b.WriteString(" AND ")
		}
		name := o.Name
		if upper {
			name = strings.ToUpper(name)
		}
		b.WriteString(name + " = " + o.Value.Render())
	}
	return b.String()
}

// targets renders what the index indexes, inside the parentheses.
func (ix *Index) targets() string {
	var parts []string
	if ix.Local != nil {
		local := make([]string, len(ix.Local))
		for i, n := range ix.Local {
			local[i] = cql.QuoteIdent(n)
		}
		parts = append(parts, "("+strings.Join(local, ", ")+")")
	}
	for _, t := range ix.Targets {
		if t.Func != "" {
			parts = append(parts, t.Func+"("+cql.QuoteIdent(t.Column.Name)+")")
		} else {
			parts = append(parts, cql.QuoteIdent(t.Column.Name))
		}
	}
	return strings.Join(parts, ", ")
}

// CreateStatements returns the DDL that recreates the catalog in the
// session's keyspace: types in dependency order, tables, materialized views
// and indexes, each with IF NOT EXISTS.
func (c *Catalog) CreateStatements() []string {
	var out []string
	for _, ks := range c.Keyspaces {
		for _, u := range typeOrder(ks) {
			out = append(out, u.CreateCQL())
		}
	}
	for _, view := range []bool{false, true} {
		for _, t := range c.Tables() {
			if t.View == view {
				out = append(out, t.CreateCQL())
			}
		}
	}
	for _, ix := range c.Indexes() {
		out = append(out, ix.CreateCQL())
	}
	return out
}

// typeOrder sorts the types of ks so that each comes after the types it
// uses, keeping creation order otherwise (ALTER TYPE ADD can make an older
// type use a newer one).
func typeOrder(ks *Keyspace) []*UDT {
	var out []*UDT
	state := map[*UDT]int{} // 1 visiting, 2 done; a cycle (rejected by Update) cannot loop
	var visit func(u *UDT)
	visit = func(u *UDT) {
		if state[u] != 0 {
			return
		}
		state[u] = 1
		for _, f := range u.Fields {
			for _, dep := range ks.Types {
				if dep != u && usesType(f.Type, dep.Name) {
					visit(dep)
				}
			}
		}
		state[u] = 2
		out = append(out, u)
	}
	for _, u := range ks.Types {
		visit(u)
	}
	return out
}
