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
	// ScanCols are the cases of a row's ScanDest method; TupleValues is set
	// for rows with top-level tuple columns, which gocqlx v2.8.0 cannot bind
	// by struct (gocql v1.7.0 expands them into one value per element).
	ScanCols    []scanCol
	TupleValues []tupleValue
}

// scanCol is one case of a row's ScanDest method.
type scanCol struct {
	Name  string   // Go literal of the column name
	Dests []string // field pointers, one per tuple element for tuple columns
}

// tupleValue is one entry of a row's TupleValues method.
type tupleValue struct {
	Key   string // Go literal of "col[i]"
	Field string // field path, e.g. "Pair.V0"
}

type fieldData struct {
	Doc     string
	Name    string
	Type    string
	Tag     string // Go literal of the struct tag
	CQLName string // Go literal of the CQL name (UDT fields)
}

// tag builds the db struct tag gocqlx binds and scans by.
func tag(name string) string {
	return goString("db:" + strconv.Quote(name))
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
	for _, n := range gt.VectorKeys {
		g.vectorKeys[n] = true
	}
	g.vector = g.vector || gt.Vector
	g.inet = g.inet || gt.Inet
	return gt.Expr, nil
}

func columnDoc(goName string, c *catalog.Column) string {
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
	return safeComment(fmt.Sprintf("%s is the %s %s, CQL type %s.", goName, role, cql.QuoteIdent(c.Name), c.Type))
}

func (g *generator) models() error {
	g.tuples, g.vectorKeys = map[int]bool{}, map[int]bool{}
	pkg := g.modelsName
	for _, f := range []string{"doc", "scan", "tuple", "vector", "inet", "udt"} {
		g.claimFile(ModelsDir, f)
	}
	for _, u := range g.cat.Types() {
		g.types.keyspace = u.Keyspace
		var imports []string
		d := structData{Name: g.types.udtNames[u], UDT: true}
		d.Doc = safeComment(fmt.Sprintf("%s is the user-defined type %s.", d.Name, cql.QuoteIdent(u.Name))) + "\n\n" +
			"It marshals itself by field name, at the top level and nested in collections,\n" +
			"tuples and other types. A null value reads as the zero value, also into a\n" +
			"reused struct. Fields the server has and the struct lacks (after ALTER TYPE\n" +
			"ADD, before regenerating) are written as null and skipped when read."
		for _, f := range u.Fields {
			if err := g.checkTagName(f.Name, f.Pos); err != nil {
				return err
			}
			typ, err := g.fieldType(f.Type, &imports)
			if err != nil {
				return err
			}
			name := g.fieldNames[f]
			d.Fields = append(d.Fields, fieldData{
				Doc:  safeComment(fmt.Sprintf("%s is the field %s, CQL type %s.", name, cql.QuoteIdent(f.Name), f.Type)),
				Name: name, Type: typ, Tag: tag(f.Name), CQLName: strconv.Quote(f.Name),
			})
		}
		d.header = g.header(pkg, false, append(imports, importGocql)...)
		g.udts = true
		if err := g.render(g.claimFile(ModelsDir, FileBase(u.Name)+"_type"), "struct", d); err != nil {
			return err
		}
	}
	for _, t := range g.cat.Tables() {
		g.types.keyspace = t.Keyspace
		var imports []string
		d := structData{Name: g.rowName(t)}
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
			name := g.colNames[c]
			d.Fields = append(d.Fields, fieldData{Doc: columnDoc(name, c), Name: name, Type: typ, Tag: tag(c.Name)})
			sc := scanCol{Name: strconv.Quote(c.Name), Dests: []string{"&r." + name}}
			if c.Type.Kind == cql.TypeTuple {
				sc.Dests = nil
				for i := range c.Type.Params {
					field := fmt.Sprintf("%s.V%d", name, i)
					sc.Dests = append(sc.Dests, "&r."+field)
					d.TupleValues = append(d.TupleValues, tupleValue{Key: strconv.Quote(fmt.Sprintf("%s[%d]", cql.QuoteIdent(c.Name), i)), Field: field})
				}
			}
			d.ScanCols = append(d.ScanCols, sc)
		}
		d.header = g.header(pkg, false, append(imports, importGocql)...)
		if err := g.render(g.claimFile(ModelsDir, FileBase(t.Name)), "struct", d); err != nil {
			return err
		}
	}
	// Tuple, Vector and Inet types the parameters and results of queries use
	// must exist too.
	for _, q := range g.opts.Queries {
		g.types.keyspace = q.Table.Keyspace
		var imports []string
		for _, p := range q.Params {
			if _, err := g.fieldType(p.Type, &imports); err != nil {
				return err
			}
		}
		for _, r := range q.Results {
			if _, err := g.fieldType(r.Type, &imports); err != nil {
				return err
			}
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
		data := struct {
			header
			KeyDims []int // dimensions of the VectorN map key types
		}{header: g.header(pkg, false, "bytes", "cmp", "encoding/binary", "encoding/hex", "errors", "fmt", "math", "sort", "strconv", "strings", "sync", importGocql)}
		for n := range g.vectorKeys {
			data.KeyDims = append(data.KeyDims, n)
		}
		slices.Sort(data.KeyDims)
		if err := g.render(ModelsDir+"/vector.go", "vector", data); err != nil {
			return err
		}
	}
	if g.udts {
		if err := g.render(ModelsDir+"/udt.go", "udt", g.header(pkg, false, "encoding/binary", "fmt", importGocql)); err != nil {
			return err
		}
	}
	if g.inet {
		if err := g.render(ModelsDir+"/inet.go", "inet", g.header(pkg, false, "net", importGocql)); err != nil {
			return err
		}
	}
	if len(g.cat.Tables()) > 0 {
		if err := g.render(ModelsDir+"/scan.go", "scan", g.header(pkg, false, importGocql, importGocqlx)); err != nil {
			return err
		}
	}
	return g.render(ModelsDir+"/doc.go", "models_doc", g.header(pkg, false))
}
