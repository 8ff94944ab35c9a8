package golang

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
)

type colData struct {
	Go    string // Go field name
	Name  string // Go literal of the CQL name
	CQL   string // Go literal of the quoted CQL name
	Tuple int    // number of elements of a tuple column, else 0
	Doc   string
}

type queryData struct {
	Name       string
	CQL        string // Go literal
	Names      string // Go literal of []string
	LWT        bool
	Idempotent bool
	Doc        string
}

type tableData struct {
	header
	Go            string // Jobs
	Unexported    string // jobs
	Name          string // Go literal of the CQL name
	Quoted        string // Go literal of the quoted CQL name
	Display       string // the CQL name for doc comments
	Kind          string
	Doc           string // description: "table jobs (partition key: id)"
	Row           string // doc reference to the row struct
	View          bool
	Counter       bool
	NeedsQuoting  bool
	Columns       []colData // key order
	PartKey       []colData
	SortKey       []colData
	Regular       []colData
	HasCollection bool
	HasMap        bool
	Queries       []queryData
}

type columnInfo struct {
	Table, Name, Kind, Order, Type string
	Position                       int
}

type commonData struct {
	header
	Tables           []string // Go names
	CreateStatements []string // Go literals
	Columns          []columnInfo
	UserTypes        []userTypeInfo
}

type userTypeInfo struct {
	Name                   string // Go literal
	FieldNames, FieldTypes string // Go []string literals
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}

func (g *generator) queries() error {
	pkg := g.opts.QueriesPackage
	for _, f := range []string{"doc", "queries"} {
		g.claimFile(QueriesDir, f)
	}
	byTable := map[*catalog.Table][]*catalog.Query{}
	for _, q := range g.opts.Queries {
		byTable[q.Table] = append(byTable[q.Table], q)
	}
	common := commonData{header: g.header(pkg, false, "errors", "fmt", "github.com/scylladb/gocqlx/v2/qb", "github.com/scylladb/gocqlx/v2/table")}
	for _, t := range g.cat.Tables() {
		d := tableData{
			Go:     GoName(t.Name),
			Name:   strconv.Quote(t.Name),
			Quoted: strconv.Quote(cql.QuoteIdent(t.Name)),
			Kind:   kindOf(t),
			View:   t.View,
		}
		d.Unexported = "tbl" + d.Go
		d.Display = safeComment(cql.QuoteIdent(t.Name))
		d.Doc = safeComment(fmt.Sprintf("%s %s (%s)", d.Kind, cql.QuoteIdent(t.Name), keyDescription(t)))
		d.Row = "models." + RowName(t)
		if g.opts.ModelsImport != "" {
			d.Row = "[" + g.opts.ModelsImport + "." + RowName(t) + "]"
		}
		d.NeedsQuoting = cql.NeedsQuote(t.Name)
		for _, c := range t.KeyOrdered() {
			cd := colData{Go: GoName(c.Name), Name: strconv.Quote(c.Name), CQL: strconv.Quote(cql.QuoteIdent(c.Name)), Doc: columnDoc(c)}
			if c.Type.Kind == cql.TypeTuple {
				cd.Tuple = len(c.Type.Params)
			}
			d.Columns = append(d.Columns, cd)
			d.NeedsQuoting = d.NeedsQuoting || cql.NeedsQuote(c.Name)
			switch c.Kind {
			case catalog.PartitionKey:
				d.PartKey = append(d.PartKey, cd)
			case catalog.Clustering:
				d.SortKey = append(d.SortKey, cd)
			default:
				d.Regular = append(d.Regular, cd)
				if c.Type.Kind == cql.TypeNative && c.Type.Name == "counter" {
					d.Counter = true
				}
			}
			switch c.Type.Kind {
			case cql.TypeMap:
				d.HasMap = true
				d.HasCollection = true
			case cql.TypeList, cql.TypeSet:
				d.HasCollection = true
			}
			common.Columns = append(common.Columns, columnInfo{
				Table: strconv.Quote(t.Name), Name: strconv.Quote(c.Name), Kind: strconv.Quote(c.Kind.String()),
				Order: strconv.Quote(c.Order()), Type: strconv.Quote(c.Type.String()), Position: c.Position,
			})
		}
		for _, q := range byTable[t] {
			qd := queryData{Name: q.Name, CQL: goString(q.CQL), Names: quoteList(q.Names), LWT: q.LWT, Idempotent: q.Idempotent}
			props := []string{}
			if q.LWT {
				props = append(props, "a lightweight transaction (check the applied result)")
			}
			if q.Idempotent {
				props = append(props, "idempotent (safe to retry)")
			} else {
				props = append(props, "not idempotent (do not retry blindly)")
			}
			src := g.opts.QueriesSource
			if src == "" {
				src = "the queries file"
			}
			qd.Doc = safeComment(fmt.Sprintf("%s is the query %s of %s, line %d, on %s %s. It is %s.",
				q.Name, q.Name, src, q.Pos.Line, d.Kind, cql.QuoteIdent(t.Name), strings.Join(props, " and ")))
			d.Queries = append(d.Queries, qd)
		}
		d.header = g.header(pkg, len(d.Queries) > 0, "github.com/scylladb/gocqlx/v2/qb", "github.com/scylladb/gocqlx/v2/table")
		if err := g.render(g.claimFile(QueriesDir, FileBase(t.Name)), "queries_table", d); err != nil {
			return err
		}
		common.Tables = append(common.Tables, d.Go)
	}
	for _, u := range g.cat.Types() {
		var names, types []string
		for _, f := range u.Fields {
			names = append(names, f.Name)
			types = append(types, f.Type.String())
		}
		common.UserTypes = append(common.UserTypes, userTypeInfo{Name: strconv.Quote(u.Name), FieldNames: quoteList(names), FieldTypes: quoteList(types)})
	}
	for _, s := range g.cat.CreateStatements() {
		common.CreateStatements = append(common.CreateStatements, goString(s))
	}
	if err := g.render(QueriesDir+"/queries.go", "queries_common", common); err != nil {
		return err
	}
	return g.render(QueriesDir+"/doc.go", "queries_doc", g.header(pkg, false))
}
