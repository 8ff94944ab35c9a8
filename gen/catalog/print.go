package catalog

import (
	"slices"
	"strings"

	"github.com/jobsharp/cassandra/gen/cql"
)

// CQL prints the catalog as a schema file that builds the same catalog:
// the session keyspace's objects first, then each keyspace (created with
// its options when the schema created it) after a USE. Types come in
// dependency order, then tables, views, indexes. User-defined functions are
// printed as stubs with their name and return type, which is all the
// catalog keeps (column masks may name them).
func (c *Catalog) CQL() string {
	var b strings.Builder
	keyspaces := slices.Clone(c.Keyspaces)
	slices.SortStableFunc(keyspaces, func(a, b *Keyspace) int {
		switch {
		case a.Name == "" && b.Name != "":
			return -1
		case a.Name != "" && b.Name == "":
			return 1
		}
		return 0
	})
	for _, ks := range keyspaces {
		if ks.Name != "" {
			if ks.Pos.Line != 0 {
				b.WriteString("CREATE KEYSPACE " + cql.QuoteIdent(ks.Name) + renderOptions(ks.Options, false) + ";\n")
			}
			b.WriteString("USE " + cql.QuoteIdent(ks.Name) + ";\n")
		}
		for _, f := range ks.Functions {
			b.WriteString("CREATE FUNCTION " + cql.QuoteIdent(f.Name) + "() CALLED ON NULL INPUT RETURNS " + f.Return +
				" LANGUAGE java AS 'return null;';\n")
		}
		// A type that a table uses non-frozen may have gained non-frozen
		// collection fields after that table (Cassandra allows ALTER TYPE
		// ADD then, not CREATE TABLE): those fields are added after the
		// tables, as they were.
		var later []string
		for _, u := range typeOrder(ks) {
			n := printedFields(ks, u)
			head := *u
			head.Fields = u.Fields[:n]
			b.WriteString(head.CreateCQL() + ";\n")
			for _, f := range u.Fields[n:] {
				later = append(later, "ALTER TYPE "+cql.QuoteTypeName(u.Name)+" ADD "+cql.QuoteIdent(f.Name)+" "+f.Type.Declared()+";\n")
			}
		}
		for _, view := range []bool{false, true} {
			for _, t := range ks.Tables {
				if t.View == view {
					b.WriteString(t.CreateCQL() + ";\n")
				}
			}
		}
		for _, alter := range later {
			b.WriteString(alter)
		}
		for _, ix := range ks.Indexes {
			b.WriteString(ix.printCQL() + ";\n")
		}
	}
	return b.String()
}

// printedFields returns how many of u's fields CREATE TYPE can declare:
// all of them, unless a table column uses u non-frozen, which Cassandra
// refuses once u has a non-frozen collection field.
func printedFields(ks *Keyspace, u *UDT) int {
	usedNonFrozen := slices.ContainsFunc(ks.Tables, func(t *Table) bool {
		return slices.ContainsFunc(t.Columns, func(c *Column) bool {
			return c.Type.Kind == cql.TypeUDT && c.Type.Name == u.Name && !c.Type.Frozen
		})
	})
	if !usedNonFrozen {
		return len(u.Fields)
	}
	for i, f := range u.Fields {
		if k := f.Type.Kind; (k == cql.TypeList || k == cql.TypeSet || k == cql.TypeMap) && !f.Type.Frozen {
			return max(i, 1)
		}
	}
	return len(u.Fields)
}

// printCQL renders the index as CQL() prints it: unnamed when it had no
// name, so the default name is derived again.
func (ix *Index) printCQL() string {
	if ix.Named {
		return ix.CreateCQL()
	}
	s := ix.CreateCQL()
	return strings.Replace(s, "INDEX IF NOT EXISTS "+cql.QuoteIdent(ix.Name)+" ON ", "INDEX IF NOT EXISTS ON ", 1)
}
