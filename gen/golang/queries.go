package golang

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
)

type colData struct {
	Go    string // Go field name
	Type  string // Go value type, e.g. "gocql.UUID"
	Name  string // Go literal of the CQL name
	CQL   string // Go literal of the quoted CQL name
	Tuple int    // number of elements of a tuple column, else 0
	Doc   string
}

// goField is a field of a generated Row struct.
type goField struct {
	Go, Type, Doc string
}

// paramData is a parameter of a generated query method.
type paramData struct {
	Go   string // its name
	Type string // its Go type
	Doc  string // the marker it binds and its CQL type
}

type queryData struct {
	Name       string
	CQL        string // Go literal, laid out over lines
	Names      string // Go literal of []string
	LWT        bool
	Idempotent bool
	Doc        string // doc of the Query variable
	MethodDoc  string // doc of the DB method
	BatchDoc   string // doc of the batch methods
	Params     []paramData
	Sig        string // the parameters after ctx: "id gocql.UUID, from, to time.Time"
	Args       string // the values bound, in marker order: ", id, state"
	// Kind is "rows" (a SELECT), "cas" (a lightweight transaction) or
	// "write".
	Kind string
	// Row is the Go type of a result row; RowFields are the fields of a
	// per-query row struct (nil when Row is a models row).
	Row       string
	RowFields []goField
	// Scan is the scan function of Row; ScanFunc names a generated
	// positional one, which appends ScanDests.
	Scan      string
	ScanFunc  string
	ScanDests []string
	// Tested lists the columns (indexes in key order) a condition tests, for
	// conditional batches; Exists is set for IF EXISTS and IF NOT EXISTS.
	Tested string
	Exists bool
}

type tableData struct {
	header
	Go           string // Jobs
	Unexported   string // tblJobs
	Name         string // Go literal of the CQL name
	Quoted       string // Go literal of the quoted CQL name
	Display      string // the CQL name for doc comments
	Kind         string
	Doc          string // description: "table jobs (partition key: id)"
	Row          string // doc reference to the row struct
	ModelsRow    string // Go type of the row struct, e.g. "models.JobsRow"
	View         bool
	Counter      bool
	NeedsQuoting bool
	Columns      []colData // key order
	PartKey      []colData
	SortKey      []colData
	Regular      []colData
	Queries      []queryData
	// CASBatch is set when the table has conditional queries: it gets a
	// batch type of its own. Widths are the values per column in key order
	// (tuple columns count their elements), Keys the primary key columns.
	CASBatch bool
	Widths   string
	Keys     int
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

type dbData struct {
	header
	QueriesSource string
	Unset         bool // some query has an :unset column: emit unsetIf
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

// queryImports collects the imports of one generated queries file.
type queryImports struct {
	list   []string
	models string // import path of the models package
	qual   string // the models package's qualifier, e.g. "models."
}

func (qi *queryImports) addType(g GoType) {
	qi.list = append(qi.list, g.Imports...)
	if strings.Contains(g.Expr, qi.qual) {
		qi.list = append(qi.list, qi.models)
	}
}

func (g *generator) queries() error {
	pkg := g.opts.QueriesPackage
	for _, f := range []string{"doc", "queries", "db"} {
		g.claimFile(QueriesDir, f)
	}
	g.types.qual = g.opts.ModelsPackage + "."
	defer func() { g.types.qual = "" }()
	byTable := map[*catalog.Table][]*catalog.Query{}
	for _, q := range g.opts.Queries {
		byTable[q.Table] = append(byTable[q.Table], q)
	}
	common := commonData{header: g.header(pkg, false, "errors", "fmt", importGocqlx, "github.com/scylladb/gocqlx/v2/qb", "github.com/scylladb/gocqlx/v2/table")}
	for _, t := range g.cat.Tables() {
		g.types.keyspace = t.Keyspace
		imps := &queryImports{models: g.opts.ModelsImport, qual: g.types.qual}
		d := tableData{
			Go:     g.tableNames[t],
			Name:   strconv.Quote(t.Name),
			Quoted: strconv.Quote(cql.QuoteIdent(t.Name)),
			Kind:   kindOf(t),
			View:   t.View,
		}
		d.Unexported = "tbl" + d.Go
		d.Display = safeComment(cql.QuoteIdent(t.Name))
		d.Doc = safeComment(fmt.Sprintf("%s %s (%s)", d.Kind, cql.QuoteIdent(t.Name), keyDescription(t)))
		d.ModelsRow = g.opts.ModelsPackage + "." + g.rowName(t)
		d.Row = "[" + g.opts.ModelsImport + "." + g.rowName(t) + "]"
		d.NeedsQuoting = cql.NeedsQuote(t.Name)
		var widths []string
		for _, c := range t.KeyOrdered() {
			gt, err := g.types.goType(c.Type, false)
			if err != nil {
				return err
			}
			imps.addType(gt)
			cd := colData{Go: g.colNames[c], Type: gt.Expr, Name: strconv.Quote(c.Name), CQL: strconv.Quote(cql.QuoteIdent(c.Name)), Doc: columnDoc(g.colNames[c], c)}
			w := 1
			if c.Type.Kind == cql.TypeTuple {
				cd.Tuple = len(c.Type.Params)
				w = cd.Tuple
			}
			widths = append(widths, strconv.Itoa(w))
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
			common.Columns = append(common.Columns, columnInfo{
				Table: strconv.Quote(t.Name), Name: strconv.Quote(c.Name), Kind: strconv.Quote(c.Kind.String()),
				Order: strconv.Quote(c.Order()), Type: strconv.Quote(c.Type.String()), Position: c.Position,
			})
		}
		d.Widths = "[]int{" + strings.Join(widths, ", ") + "}"
		d.Keys = len(t.PartitionKey) + len(t.Clustering)
		for _, q := range byTable[t] {
			qd, err := g.query(t, q, imps)
			if err != nil {
				return err
			}
			d.CASBatch = d.CASBatch || q.LWT
			d.Queries = append(d.Queries, qd)
		}
		std := []string{"github.com/scylladb/gocqlx/v2/qb", "github.com/scylladb/gocqlx/v2/table"}
		if len(d.Queries) > 0 {
			std = append(std, "context")
		}
		for _, q := range d.Queries {
			if q.ScanFunc != "" || d.CASBatch {
				std = append(std, importGocql)
			}
		}
		d.header = g.header(pkg, len(d.Queries) > 0, append(std, imps.list...)...)
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
	if len(g.opts.Queries) > 0 {
		src := g.opts.QueriesSource
		if src == "" {
			src = "the queries file"
		}
		db := dbData{header: g.header(pkg, true, "context", "fmt", importGocql), QueriesSource: src, Unset: g.unsetUsed}
		if err := g.render(QueriesDir+"/db.go", "queries_db", db); err != nil {
			return err
		}
	}
	return g.render(QueriesDir+"/doc.go", "queries_doc", g.header(pkg, false))
}

// paramGoName is the Go name of a bind name, as an exported identifier
// (lowerName makes the parameter name from the same words).
func paramGoName(name string) string {
	return strings.Join(paramWords(name), "")
}

// paramWords are the words of a bind name's Go name.
func paramWords(name string) []string {
	switch name {
	case "_ttl":
		return []string{"TTL"}
	case "_ts":
		return []string{"Timestamp"}
	}
	return goWords(strings.NewReplacer(".", "_", "[", "_", "]", "").Replace(name))
}

// paramDoc describes a parameter of a query method: the marker it binds
// and its CQL type.
func paramDoc(t *catalog.Table, p catalog.Param, typ *cql.Type) string {
	var what string
	switch {
	case p.Named:
		what = ":" + p.Name
	case p.Name == "_ttl":
		return fmt.Sprintf("USING TTL ?, CQL type %s: the time to live in seconds (0: none)", typ)
	case p.Name == "_ts":
		return fmt.Sprintf("USING TIMESTAMP ?, CQL type %s: the write time in microseconds since the epoch", typ)
	case p.Name == "limit":
		return fmt.Sprintf("LIMIT ?, CQL type %s: the most rows to return", typ)
	case p.Name == "per_partition_limit":
		return fmt.Sprintf("PER PARTITION LIMIT ?, CQL type %s: the most rows to return per partition", typ)
	case p.Tuple != "" && tupleColumn(t, p.Tuple) != nil:
		what = "column " + p.Tuple
	case p.Tuple != "":
		what = ":" + p.Tuple // the elements of a :name tuple are plain markers
	case t.Column(p.Name) != nil && typ.Kind == cql.TypeNative && typ.Name == "counter":
		what = "the change of counter column " + cql.QuoteIdent(p.Name)
	case t.Column(p.Name) != nil:
		what = "column " + cql.QuoteIdent(p.Name)
	case p.Name == "token":
		what = "a bound of token(…)"
	default:
		what = mapOrFieldMarker(t, p.Name)
	}
	return safeComment(fmt.Sprintf("%s, CQL type %s", what, typ))
}

// tupleColumn returns the tuple column whose value a marker named tuple
// (Param.Tuple: the quoted column name, or a :name) binds, or nil.
func tupleColumn(t *catalog.Table, tuple string) *catalog.Column {
	for _, c := range t.Columns {
		if cql.QuoteIdent(c.Name) == tuple {
			return c
		}
	}
	return nil
}

// mapOrFieldMarker describes a marker named after a map element (col_key,
// col_value) or a UDT field (col.field).
func mapOrFieldMarker(t *catalog.Table, name string) string {
	for _, part := range []struct{ suffix, what string }{{"_key", "the key of %s[?]"}, {"_value", "the value of %s[?] = ?"}} {
		if c := t.Column(strings.TrimSuffix(name, part.suffix)); c != nil && strings.HasSuffix(name, part.suffix) && c.Type.Kind == cql.TypeMap {
			return fmt.Sprintf(part.what, cql.QuoteIdent(c.Name))
		}
	}
	if col, field, ok := strings.Cut(name, "."); ok && t.Column(col) != nil {
		return "field " + cql.QuoteIdent(field) + " of column " + cql.QuoteIdent(col)
	}
	return "marker " + name
}

// query prepares the data of one named query.
func (g *generator) query(t *catalog.Table, q *catalog.Query, imps *queryImports) (queryData, error) {
	qd := queryData{Name: q.Name, CQL: goString(layoutCQL(q.CQL)), Names: quoteList(q.Names), LWT: q.LWT, Idempotent: q.Idempotent}
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
	kind := kindOf(t)
	qd.Doc = wrapText(safeComment(fmt.Sprintf("%s is the query %s of %s, line %d, on %s %s, for gocqlx. It is %s.",
		q.Name, q.Name, src, q.Pos.Line, kind, cql.QuoteIdent(t.Name), strings.Join(props, " and "))))

	// Parameters: one per marker, one per :name however often it is used,
	// one per tuple column value, in marker order. A statement that writes
	// every column of its table takes the models row for them, first.
	// Parameters are named after the markers (fields: their exported Go
	// names, whose collisions are errors), in lower camel case (vars).
	fields := names{}
	vars := newParamScope("ctx", "db", "b", g.opts.ModelsPackage, "scan"+q.Name)
	seen := map[string]string{} // bind name → parameter
	var args []string
	row := ""
	if writesRow(t, q) {
		row = vars.name("row")
		imps.list = append(imps.list, g.opts.ModelsImport)
		qd.Params = append(qd.Params, paramData{Go: row, Type: g.opts.ModelsPackage + "." + g.rowName(t),
			Doc: safeComment(fmt.Sprintf("the values of every column of %s %s", kind, cql.QuoteIdent(t.Name)))})
	}
	for _, p := range q.Params {
		if c := columnMarker(t, p); row != "" && c != nil {
			if p.Tuple != "" {
				args = append(args, fmt.Sprintf("%s.%s.V%d", row, g.colNames[c], p.Elem))
			} else {
				a, err := g.unsetArg(p, row+"."+g.colNames[c])
				if err != nil {
					return qd, err
				}
				args = append(args, a)
			}
			continue
		}
		typ := p.Type
		key, bind := p.Name, p.Name
		if p.Tuple != "" {
			typ, key, bind = p.TupleType, p.Tuple+"[]", p.Tuple
		}
		v, dup := seen[key]
		if !dup || p.Tuple != "" && p.Elem == 0 {
			if err := fields.claim(g.paramName(t, p), "the marker "+strconv.Quote(key), p.Pos); err != nil {
				return qd, fmt.Errorf("%w in the parameters of %s; name one of them with a :name marker", err, q.Name)
			}
			v = vars.name(g.paramVar(t, p, bind))
			gt, err := g.types.goType(typ, false)
			if err != nil {
				return qd, err
			}
			imps.addType(gt)
			qd.Params = append(qd.Params, paramData{Go: v, Type: gt.Expr, Doc: paramDoc(t, p, typ)})
			seen[key] = v
		}
		if p.Tuple != "" {
			args = append(args, fmt.Sprintf("%s.V%d", v, p.Elem))
		} else {
			a, err := g.unsetArg(p, v)
			if err != nil {
				return qd, err
			}
			args = append(args, a)
		}
	}
	for _, a := range args {
		qd.Args += ", " + a
	}
	// The signature groups neighbours of one type, as Go is written:
	// "from, to time.Time".
	var sig []string
	for i, p := range qd.Params {
		if i+1 < len(qd.Params) && qd.Params[i+1].Type == p.Type {
			sig = append(sig, p.Go)
		} else {
			sig = append(sig, p.Go+" "+p.Type)
		}
	}
	qd.Sig = strings.Join(sig, ", ")

	var tested []string
	for i, c := range t.KeyOrdered() {
		if slicesContains(q.Tested, c.Name) {
			tested = append(tested, strconv.Itoa(i))
		}
	}
	qd.Tested = strings.Join(tested, ", ")
	qd.Exists = q.Exists

	modelsRow := g.opts.ModelsPackage + "." + g.rowName(t)
	method := fmt.Sprintf("%s runs query %s of %s (line %d) on %s %s", q.Name, q.Name, src, q.Pos.Line, kind, safeComment(cql.QuoteIdent(t.Name)))
	switch {
	case q.Kind == "select":
		qd.Kind = "rows"
		if err := g.resultRow(t, q, &qd, imps); err != nil {
			return qd, err
		}
		method += fmt.Sprintf(": a SELECT that returns %s rows, read with One, All, Iter or Page.", qd.Row)
	case q.LWT:
		qd.Kind = "cas"
		qd.Row, qd.Scan = modelsRow, "(*"+modelsRow+").AppendScanDest"
		imps.list = append(imps.list, g.opts.ModelsImport)
		method += ": a lightweight transaction, never retried by the driver. Exec reports whether it applied and, when it did not, the current values of the columns it tested."
	default:
		qd.Kind = "write"
		if q.Idempotent {
			method += ". It is idempotent: the session's retry policy may send it again."
		} else {
			method += ". It is not idempotent, so the driver never retries it."
		}
	}
	method = wrapText(method)
	if q.Doc != "" {
		method += "\n\n" + strings.ReplaceAll(q.Doc, "\r", " ")
	}
	if len(qd.Params) > 0 {
		method += "\n\nIts parameters after ctx, in the order of the statement's markers:\n"
		for _, p := range qd.Params {
			method += "\n  - " + p.Go + ": " + p.Doc
		}
	}
	method += fmt.Sprintf("\n\nThe statement is [%sCQL].", q.Name)
	qd.MethodDoc = method
	qd.BatchDoc = wrapText(fmt.Sprintf("%s adds query %s to the batch; its parameters are those of [DB.%s].", q.Name, q.Name, q.Name))
	return qd, nil
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// resultRow sets the row type of a SELECT: the models row for SELECT * (read
// by column name from the result metadata) or a SELECT of every column, or
// of every column but the static ones (read by position; a partition's
// static columns repeat in every row of a SELECT *, so reads of many rows
// name the others), else a row struct of the query's own, read by position.
func (g *generator) resultRow(t *catalog.Table, q *catalog.Query, qd *queryData, imps *queryImports) error {
	modelsRow := g.opts.ModelsPackage + "." + g.rowName(t)
	if q.Star {
		qd.Row, qd.Scan = modelsRow, "(*"+modelsRow+").AppendScanDest"
		imps.list = append(imps.list, g.opts.ModelsImport)
		return nil
	}
	nonStatic := 0
	for _, c := range t.Columns {
		if c.Kind != catalog.Static {
			nonStatic++
		}
	}
	whole := len(q.Results) == len(t.Columns) || len(q.Results) == nonStatic && nonStatic < len(t.Columns)
	used := map[*catalog.Column]bool{}
	for _, r := range q.Results {
		if r.Column == nil || r.Field != r.Column.Name || used[r.Column] || len(q.Results) < len(t.Columns) && r.Column.Kind == catalog.Static {
			whole = false
			break
		}
		used[r.Column] = true
	}
	qd.ScanFunc = "scan" + q.Name
	qd.Scan = qd.ScanFunc
	if whole {
		qd.Row = modelsRow
		imps.list = append(imps.list, g.opts.ModelsImport)
		for _, r := range q.Results {
			qd.ScanDests = append(qd.ScanDests, dests(g.colNames[r.Column], r.Type)...)
		}
		return nil
	}
	qd.Row = q.Name + "Row"
	fields := names{"AppendScanDest": "a method name"}
	// A column keeps its Go name; the other results are named by goNames.
	goNames := resultNames(q, g.colNames)
	for i, r := range q.Results {
		name := goNames[i]
		if err := fields.claim(name, "the result column "+strconv.Quote(r.Name), q.Pos); err != nil {
			return fmt.Errorf("%w in %sRow; name one of them with AS", err, q.Name)
		}
		gt, err := g.types.goType(r.Type, false)
		if err != nil {
			return err
		}
		imps.addType(gt)
		doc := fmt.Sprintf("%s is the result column %s, CQL type %s.", name, r.Name, r.Type)
		qd.RowFields = append(qd.RowFields, goField{Go: name, Type: gt.Expr, Doc: safeComment(doc)})
		qd.ScanDests = append(qd.ScanDests, dests(name, r.Type)...)
	}
	return nil
}

// resultNames returns the Go field names of the results of q: a column
// its Go name, the others (aliases, function calls) their names by goNames.
func resultNames(q *catalog.Query, colNames map[*catalog.Column]string) []string {
	out := make([]string, len(q.Results))
	var others []string
	var at []int
	for i, r := range q.Results {
		if r.Column != nil && r.Field == r.Column.Name {
			out[i] = colNames[r.Column]
		} else {
			others, at = append(others, r.Field), append(at, i)
		}
	}
	for j, n := range goNames(others) {
		out[at[j]] = n
	}
	return out
}

// paramName is the Go name of the Params field of marker p: the Go name
// of its column for a column's value (the name of the row's field), else
// the Go name of its bind name.
func (g *generator) paramName(t *catalog.Table, p catalog.Param) string {
	if c := boundColumn(t, p); c != nil {
		return g.colNames[c]
	}
	if p.Tuple != "" {
		return paramGoName(p.Tuple)
	}
	return paramGoName(p.Name)
}

// boundColumn returns the column whose value marker p binds by name (col =
// ?, SET col = ?, VALUES, a tuple column's elements), or nil.
func boundColumn(t *catalog.Table, p catalog.Param) *catalog.Column {
	for _, c := range t.Columns {
		if p.Tuple != "" && p.Tuple == cql.QuoteIdent(c.Name) || p.Tuple == "" && !p.Named && p.Name == c.Name {
			return c
		}
	}
	return nil
}

// paramVar is the name a marker's parameter asks paramScope for: the
// marker's words in lower camel case; for the value of a column whose Go
// name differs from its usual one (names that differ only by case or
// quoting, gen/README.md), that Go name with its first letter in lower case
// (value → value_, "VALUE" → vALUE), so the parameters stay apart too.
func (g *generator) paramVar(t *catalog.Table, p catalog.Param, bind string) string {
	if c := boundColumn(t, p); c != nil && g.colNames[c] != GoName(c.Name) {
		r, size := utf8.DecodeRuneInString(g.colNames[c])
		return string(unicode.ToLower(r)) + g.colNames[c][size:]
	}
	return lowerName(paramWords(bind))
}

// dests are the scan destinations of a row field: one per element for a
// tuple (gocql v1.7.0 expands tuple columns).
func dests(field string, t *cql.Type) []string {
	if t.Kind != cql.TypeTuple {
		return []string{"&r." + field}
	}
	out := make([]string, len(t.Params))
	for i := range t.Params {
		out[i] = fmt.Sprintf("&r.%s.V%d", field, i)
	}
	return out
}

// wrapText breaks a one-line sentence into lines of at most 76 bytes, at
// spaces, for doc comments.
func wrapText(s string) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		switch {
		case i == 0:
		case n+1+len(w) > 76:
			b.WriteString("\n")
			n = 0
		default:
			b.WriteString(" ")
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// columnMarker returns the column whose value marker p is: an implicit
// marker of the column's own type (col = ?, SET col = ?, VALUES), or an
// element of a tuple column's value; else nil. (A marker of a collection
// column in "col = col + ?" also counts: it has the column's type.)
func columnMarker(t *catalog.Table, p catalog.Param) *catalog.Column {
	if p.Named || p.Type.Kind == cql.TypeNative && p.Type.Name == "counter" {
		return nil // a counter's marker is a delta, not its value
	}
	for _, c := range t.Columns {
		switch {
		case p.Tuple != "":
			if p.Tuple == cql.QuoteIdent(c.Name) && p.TupleType.String() == c.Type.String() {
				return c
			}
		case p.Name == c.Name && p.Type.String() == c.Type.String():
			return c
		}
	}
	return nil
}

// writesRow reports whether q binds a value of every column of t, or of
// every column but the static ones: an INSERT or UPDATE of the whole row
// (or a DELETE naming the whole key of a table that has no other columns).
func writesRow(t *catalog.Table, q *catalog.Query) bool {
	if q.Kind == "select" {
		return false
	}
	covered := map[*catalog.Column]bool{}
	static := 0
	for _, p := range q.Params {
		if c := columnMarker(t, p); c != nil {
			covered[c] = true
			if c.Kind == catalog.Static {
				static++
			}
		}
	}
	if len(covered) == len(t.Columns) {
		return true
	}
	// Every column but the static ones: a write of one row of a partition.
	nonStatic := 0
	for _, c := range t.Columns {
		if c.Kind != catalog.Static {
			nonStatic++
		}
	}
	return static == 0 && nonStatic < len(t.Columns) && len(covered) == nonStatic
}

// unsetArg is the expression that binds v, the value of parameter p: for a
// column of an :unset flag, unsetIf(<v is zero>, v), so that a zero value
// is bound as unset.
func (g *generator) unsetArg(p catalog.Param, v string) (string, error) {
	if !p.Unset {
		return v, nil
	}
	gt, err := g.types.goType(p.Type, false)
	if err != nil {
		return "", err
	}
	var zero string
	switch e := gt.Expr; {
	case strings.HasPrefix(e, "[]"), strings.HasPrefix(e, "map["):
		zero = "len(" + v + ") == 0"
	case strings.HasPrefix(e, "*"):
		zero = v + " == nil"
	case e == "time.Time":
		zero = v + ".IsZero()"
	case e == "string":
		zero = v + ` == ""`
	case e == "bool":
		zero = "!" + v
	case e == "gocql.UUID", e == "gocql.Duration":
		zero = v + " == (" + e + "{})"
	case e == "int8", e == "int16", e == "int32", e == "int64", e == "float32", e == "float64", e == "time.Duration":
		zero = v + " == 0"
	default:
		return "", cql.Errorf(p.Pos, "%w: :unset cannot tell a zero %s (%s)", ErrUnsupportedType, p.Type, e)
	}
	g.unsetUsed = true
	return "unsetIf(" + zero + ", " + v + ")", nil
}
