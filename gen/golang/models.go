package golang

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
)

// structData is a generated struct (table row or UDT).
type structData struct {
	header
	Doc    string
	Name   string
	UDT    bool
	Fields []fieldData
}

type fieldData struct {
	Doc  string
	Name string
	Type string
	Tag  string // Go literal of the struct tag
}

// tag builds the struct tag for a column or field: db for gocqlx, and cql
// for gocql's own UDT marshalling of nested values.
func tag(name string, udt bool) string {
	t := "db:" + strconv.Quote(name)
	if udt {
		t += " cql:" + strconv.Quote(name)
	}
	return goString(t)
}

func (g *generator) checkTagName(name string, pos cql.Position) error {
	if strings.Contains(name, ",") {
		return cql.Errorf(pos, "%w: the name %q contains a comma, which gocqlx's db tags cannot express", ErrUnsupportedType, name)
	}
	return nil
}

func (g *generator) fieldType(t *cql.Type, imports *[]string) (string, error) {
	gt, err := g.types.goType(t, false)
	if err != nil {
		return "", err
	}
	*imports = append(*imports, gt.Imports...)
	for _, n := range gt.Tuples {
		g.tuples[n] = true
	}
	g.vector = g.vector || gt.Vector
	return gt.Expr, nil
}

func columnDoc(c *catalog.Column) string {
	role := "column"
	switch c.Kind {
	case catalog.PartitionKey:
		role = "partition key column"
	case catalog.Clustering:
		role = "clustering column"
		if c.Desc {
			role = "descending clustering column"
		}
	case catalog.Static:
		role = "static column"
	}
	return safeComment(fmt.Sprintf("%s is the %s %s, CQL type %s.", GoName(c.Name), role, cql.QuoteIdent(c.Name), c.Type))
}

// RowName returns the Go name of the row struct of t.
func RowName(t *catalog.Table) string { return GoName(t.Name) + "Row" }

func (g *generator) models() error {
	g.tuples = map[int]bool{}
	pkg := g.opts.ModelsPackage
	for _, f := range []string{"doc", "tuple", "vector"} {
		g.claimFile(ModelsDir, f)
	}
	for _, u := range g.cat.Types() {
		g.types.keyspace = u.Keyspace
		var imports []string
		d := structData{Name: g.types.udtNames[u], UDT: true}
		d.Doc = safeComment(fmt.Sprintf("%s is the user-defined type %s.", d.Name, cql.QuoteIdent(u.Name))) + "\n\n" +
			"It embeds gocqlx.UDT, so gocqlx marshals it by its db tags; the cql tags serve\ngocql when the type is nested in a collection, tuple or other type."
		for _, f := range u.Fields {
			if err := g.checkTagName(f.Name, f.Pos); err != nil {
				return err
			}
			typ, err := g.fieldType(f.Type, &imports)
			if err != nil {
				return err
			}
			d.Fields = append(d.Fields, fieldData{
				Doc:  safeComment(fmt.Sprintf("%s is the field %s, CQL type %s.", GoName(f.Name), cql.QuoteIdent(f.Name), f.Type)),
				Name: GoName(f.Name), Type: typ, Tag: tag(f.Name, true),
			})
		}
		d.header = g.header(pkg, false, append(imports, importGocqlx)...)
		if err := g.render(g.claimFile(ModelsDir, FileBase(u.Name)+"_type"), "struct", d); err != nil {
			return err
		}
	}
	for _, t := range g.cat.Tables() {
		g.types.keyspace = t.Keyspace
		var imports []string
		d := structData{Name: RowName(t)}
		if t.View {
			d.Doc = fmt.Sprintf("%s is a row of materialized view %s on table %s (%s).", d.Name, cql.QuoteIdent(t.Name), cql.QuoteIdent(t.Base), keyDescription(t))
		} else {
			d.Doc = fmt.Sprintf("%s is a row of table %s (%s).", d.Name, cql.QuoteIdent(t.Name), keyDescription(t))
		}
		d.Doc = safeComment(d.Doc)
		for _, c := range t.KeyOrdered() {
			if err := g.checkTagName(c.Name, c.Pos); err != nil {
				return err
			}
			typ, err := g.fieldType(c.Type, &imports)
			if err != nil {
				return err
			}
			d.Fields = append(d.Fields, fieldData{Doc: columnDoc(c), Name: GoName(c.Name), Type: typ, Tag: tag(c.Name, false)})
		}
		d.header = g.header(pkg, false, imports...)
		if err := g.render(g.claimFile(ModelsDir, FileBase(t.Name)), "struct", d); err != nil {
			return err
		}
	}
	if len(g.tuples) > 0 {
		var arities []int
		for n := range g.tuples {
			arities = append(arities, n)
		}
		slices.Sort(arities)
		type tupleData struct {
			N      int
			Params []string // T0 … Tn-1
			Fields []int
		}
		var ts []tupleData
		for _, n := range arities {
			td := tupleData{N: n}
			for i := range n {
				td.Params = append(td.Params, fmt.Sprintf("T%d", i))
				td.Fields = append(td.Fields, i)
			}
			ts = append(ts, td)
		}
		data := struct {
			header
			Tuples []tupleData
		}{g.header(pkg, false, "encoding/binary", "fmt", importGocql), ts}
		if err := g.render(ModelsDir+"/tuple.go", "tuple", data); err != nil {
			return err
		}
	}
	if g.vector {
		if err := g.render(ModelsDir+"/vector.go", "vector", g.header(pkg, false, "encoding/binary", "fmt", "math", "strconv", "strings", importGocql)); err != nil {
			return err
		}
	}
	return g.render(ModelsDir+"/doc.go", "models_doc", g.header(pkg, false))
}
