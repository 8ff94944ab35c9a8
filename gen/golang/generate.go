package golang

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"go/format"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"unicode/utf8"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"goString": goString,
	"comment":  comment,
	"join":     strings.Join,
}).ParseFS(templateFS, "templates/*.tmpl"))

// Options configures Generate.
type Options struct {
	// SchemaSource is the schema file or folder as a path relative to the
	// module root, e.g. "schema/Schema.cql". It appears in every header.
	SchemaSource string
	// QueriesSource is the queries file relative to the module root, or ""
	// when there is none.
	QueriesSource string
	// Queries are the compiled named queries (see catalog.Catalog.Compile).
	Queries []*catalog.Query
	// ModelsPackage and QueriesPackage are the package names; they default
	// to "models" and "queries".
	ModelsPackage  string
	QueriesPackage string
	// ModelsImport is the import path of the models package, which the
	// queries package imports for row types; default ModelsPackage.
	ModelsImport string
	// Keyspace, when set, generates only the objects of that keyspace (and
	// the named queries on its tables) into the models and queries
	// directories. Unset, a schema that creates keyspaces and has objects
	// in several of them gets a package per keyspace (see Generate).
	Keyspace string
}

// Output directories in the map Generate returns.
const (
	ModelsDir  = "models"
	QueriesDir = "queries"
)

// Generate renders the models and queries packages for cat. The keys of the
// result are "models/<file>.go" and "queries/<file>.go"; the values are
// gofmt-formatted sources. Generate is deterministic: the same input gives
// byte-identical output. Errors are *cql.Error values with the position of
// the schema object at fault, but for an Options.Keyspace the schema does not
// have (catalog.ErrUnknownKeyspace).
//
// A schema that creates keyspaces (CREATE KEYSPACE) and has tables or types
// in more than one of them gets a pair of packages per keyspace, keyed
// "models/<dir>/<file>.go" and "queries/<dir>/<file>.go", where dir is
// KeyspaceDir of the keyspace's name; each named query goes to the package
// of its table. Options.Keyspace picks one keyspace instead.
func Generate(ctx context.Context, cat *catalog.Catalog, opts Options) (map[string][]byte, error) {
	if opts.ModelsPackage == "" {
		opts.ModelsPackage = "models"
	}
	if opts.ModelsImport == "" {
		opts.ModelsImport = opts.ModelsPackage
	}
	if opts.Keyspace != "" {
		only := cat.Only(opts.Keyspace)
		if only == nil {
			return nil, fmt.Errorf("%w %s: the schema's keyspaces are %s", catalog.ErrUnknownKeyspace, cql.QuoteIdent(opts.Keyspace), keyspaceList(cat))
		}
		opts.Queries = queriesIn(opts.Queries, opts.Keyspace)
		return generate(ctx, only, opts, opts.ModelsPackage, opts.Keyspace)
	}
	spaces := keyspacesWithObjects(cat)
	if !cat.CreatesKeyspaces() || len(spaces) < 2 {
		return generate(ctx, cat, opts, opts.ModelsPackage, "")
	}
	out := map[string][]byte{}
	dirs := map[string]*catalog.Keyspace{}
	for _, ks := range spaces {
		dir := KeyspaceDir(ks.Name)
		if prev := dirs[dir]; prev != nil {
			return nil, cql.Errorf(ks.Pos, "%w: keyspaces %s and %s both get the package folder %s; generate one at a time with -keyspace",
				ErrNameCollision, cql.QuoteIdent(prev.Name), cql.QuoteIdent(ks.Name), dir)
		}
		dirs[dir] = ks
		sub := opts
		sub.QueriesPackage = dir
		sub.ModelsImport = opts.ModelsImport + "/" + dir
		sub.Queries = queriesIn(opts.Queries, ks.Name)
		files, err := generate(ctx, cat.Only(ks.Name), sub, dir, ks.Name)
		if err != nil {
			return nil, err
		}
		for key, data := range files {
			top, file, _ := strings.Cut(key, "/")
			out[top+"/"+dir+"/"+file] = data
		}
	}
	return out, nil
}

// generate renders the packages of cat; modelsName is the package name of
// the models package, which the queries package imports under the name
// opts.ModelsPackage when the two differ, and keyspace the keyspace the
// package docs name ("" for none).
func generate(ctx context.Context, cat *catalog.Catalog, opts Options, modelsName, keyspace string) (map[string][]byte, error) {
	if opts.QueriesPackage == "" {
		opts.QueriesPackage = "queries"
	}
	if opts.SchemaSource == "" {
		opts.SchemaSource = "schema/Schema.cql"
	}
	g := &generator{
		cat:        cat,
		opts:       opts,
		modelsName: modelsName,
		keyspace:   keyspace,
		out:        map[string][]byte{},
		types:      &typeMapper{cat: cat, udtNames: map[*catalog.UDT]string{}, comparable: map[*catalog.UDT]bool{}},
		files:      map[string]bool{},
	}
	steps := []func() error{g.validate, g.models, g.queries}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := g.format(ctx); err != nil {
		return nil, err
	}
	return g.out, nil
}

// format runs go/format on every rendered file, in parallel (it is most of
// the generator's time), and reports the error of the first file in name
// order so the result does not depend on scheduling.
func (g *generator) format(ctx context.Context) error {
	files := make([]string, 0, len(g.out))
	for f := range g.out {
		files = append(files, f)
	}
	sort.Strings(files)
	formatted := make([][]byte, len(files))
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), len(files))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				src, err := format.Source(g.out[files[i]])
				if err != nil {
					err = fmt.Errorf("format %s: %w\n%s", files[i], err, g.out[files[i]])
				}
				formatted[i], errs[i] = src, err
			}
		}()
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, f := range files {
		if errs[i] != nil {
			return errs[i]
		}
		g.out[f] = formatted[i]
	}
	return nil
}

type generator struct {
	cat  *catalog.Catalog
	opts Options
	// modelsName is the models package's name; opts.ModelsPackage is the
	// name the queries package refers to it by.
	modelsName string
	// keyspace is the one keyspace generated, "" when not chosen.
	keyspace string
	out      map[string][]byte
	types    *typeMapper
	files    map[string]bool // claimed output files

	// Go names of the schema's objects (nameObjects).
	tableNames map[*catalog.Table]string
	colNames   map[*catalog.Column]string
	fieldNames map[*catalog.Field]string

	tuples     map[int]bool
	vectorKeys map[int]bool
	vector     bool
	inet       bool
	udts       bool
	unsetUsed  bool // a query binds a column with unsetIf (see unsetArg)
}

// names tracks Go identifiers of one scope and reports collisions.
type names map[string]string // Go name → description of its owner

func (n names) claim(goName, owner string, pos cql.Position) error {
	if prev, ok := n[goName]; ok {
		return cql.Errorf(pos, "%w: %s and %s both become the Go name %s; rename one", ErrNameCollision, prev, owner, goName)
	}
	n[goName] = owner
	return nil
}

// vectorKeyName matches the names of the generated VectorN types (map keys
// of type vector<T, N>), which no UDT may take.
var vectorKeyName = regexp.MustCompile(`^Vector[0-9]+$`)

// validate rejects schemas whose names collide in Go before anything is
// rendered.
func (g *generator) validate() error {
	models := names{"Vector": "the generated Vector type", "Inet": "the generated Inet type",
		"SelectRelease": "the generated SelectRelease function", "GetRelease": "the generated GetRelease function"}
	for n := 1; n <= 32; n++ {
		models[fmt.Sprintf("Tuple%d", n)] = "the generated tuple type"
	}
	g.nameObjects()
	for _, u := range g.cat.Types() {
		name := g.types.udtNames[u]
		if vectorKeyName.MatchString(name) {
			models[name] = "the generated map key type of vector<T, " + strings.TrimPrefix(name, "Vector") + ">"
		}
		if err := models.claim(name, "type "+cql.QuoteIdent(u.Name), u.Pos); err != nil {
			return err
		}
		fields := names{"MarshalCQL": "the generated MarshalCQL method", "UnmarshalCQL": "the generated UnmarshalCQL method"}
		for _, f := range u.Fields {
			if err := fields.claim(g.fieldNames[f], "field "+cql.QuoteIdent(f.Name), f.Pos); err != nil {
				return err
			}
		}
	}
	queries := names{}
	for _, n := range []string{"Query", "Column", "ColumnOf", "Value", "BindValues", "SchemaColumn", "Tables", "CreateStatements",
		"Columns", "UserType", "UserTypes", "ErrZeroColumn", "DB", "New", "Rows", "Iter", "CAS", "Write", "Batch"} {
		queries[n] = "the generated " + n
	}
	// Methods of DB and of the batch types.
	dbMethods := names{"Session": "the method DB.Session", "WithSerialConsistency": "the method DB.WithSerialConsistency", "NewBatch": "the method DB.NewBatch"}
	batchMethods := names{"Size": "the method Size", "Consistency": "the method Consistency", "Exec": "the method Exec", "ExecCAS": "the method ExecCAS"}
	bases := names{}
	for _, t := range g.cat.Tables() {
		base := g.tableNames[t]
		owner := kindOf(t) + " " + cql.QuoteIdent(t.Name)
		if err := bases.claim(base, owner, t.Pos); err != nil {
			return err
		}
		if err := models.claim(base+"Row", owner, t.Pos); err != nil {
			return err
		}
		for _, suffix := range []string{"", "Table", "Column", "Columns", "Builder", "Batch"} {
			if err := queries.claim(base+suffix, owner, t.Pos); err != nil {
				return err
			}
		}
		if err := dbMethods.claim("New"+base+"Batch", "the batch of "+owner, t.Pos); err != nil {
			return err
		}
		fields := names{"ScanDest": "the generated ScanDest method", "AppendScanDest": "the generated AppendScanDest method", "TupleValues": "the generated TupleValues method"}
		for _, c := range t.Columns {
			if err := fields.claim(g.colNames[c], "column "+cql.QuoteIdent(c.Name), c.Pos); err != nil {
				return err
			}
		}
	}
	for _, q := range g.opts.Queries {
		for _, c := range []struct{ name, owner string }{
			{q.Name, "query " + q.Name}, {q.Name + "CQL", "the constant of query " + q.Name},
			{q.Name + "Row", "the row of query " + q.Name},
			{"scan" + q.Name, "the scan function of query " + q.Name},
		} {
			if err := queries.claim(c.name, c.owner, q.Pos); err != nil {
				return err
			}
		}
		if err := dbMethods.claim(q.Name, "query "+q.Name, q.Pos); err != nil {
			return err
		}
		if err := batchMethods.claim(q.Name, "query "+q.Name, q.Pos); err != nil {
			return err
		}
	}
	return nil
}

// nameObjects gives the tables and views, the types, and the columns and
// fields of each their Go names, each scope by goNames.
func (g *generator) nameObjects() {
	g.tableNames, g.colNames, g.fieldNames = map[*catalog.Table]string{}, map[*catalog.Column]string{}, map[*catalog.Field]string{}
	tables, types := g.cat.Tables(), g.cat.Types()
	nameScope(tables, func(t *catalog.Table) string { return t.Name }, g.tableNames)
	nameScope(types, func(u *catalog.UDT) string { return u.Name }, g.types.udtNames)
	for _, t := range tables {
		nameScope(t.Columns, func(c *catalog.Column) string { return c.Name }, g.colNames)
	}
	for _, u := range types {
		nameScope(u.Fields, func(f *catalog.Field) string { return f.Name }, g.fieldNames)
	}
}

// nameScope sets out[x] to the Go name of each of xs, the objects of one
// scope, by goNames of their CQL names.
func nameScope[T comparable](xs []T, cqlName func(T) string, out map[T]string) {
	names := make([]string, len(xs))
	for i, x := range xs {
		names[i] = cqlName(x)
	}
	for i, n := range goNames(names) {
		out[xs[i]] = n
	}
}

// rowName returns the Go name of the row struct of t.
func (g *generator) rowName(t *catalog.Table) string { return g.tableNames[t] + "Row" }

func kindOf(t *catalog.Table) string {
	if t.View {
		return "materialized view"
	}
	return "table"
}

// claimFile returns a unique file name in dir for base.
func (g *generator) claimFile(dir, base string) string {
	name := dir + "/" + base + ".go"
	for i := 2; g.files[name]; i++ {
		name = fmt.Sprintf("%s/%s_%d.go", dir, base, i)
	}
	g.files[name] = true
	return name
}

// header is the data every template starts with.
type header struct {
	Generator string
	Source    string
	Sources   string
	Package   string
	Imports   [][]string // import specs in groups: standard library, then others
	// Keyspace is the keyspace of a package per keyspace (quoted as in
	// CQL), "" otherwise.
	Keyspace string
}

func (g *generator) header(pkg string, withQueries bool, imports ...string) header {
	sources := g.opts.SchemaSource
	if withQueries && g.opts.QueriesSource != "" {
		sources += ", " + g.opts.QueriesSource
	}
	var std, other []string
	for _, imp := range imports {
		if imp == "" {
			continue
		}
		if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			other = append(other, imp)
		} else {
			std = append(std, imp)
		}
	}
	sort.Strings(std)
	sort.Strings(other)
	var groups [][]string
	for _, grp := range [][]string{slices.Compact(std), slices.Compact(other)} {
		if len(grp) == 0 {
			continue
		}
		for i, imp := range grp {
			grp[i] = strconv.Quote(imp)
			if imp == g.opts.ModelsImport && g.modelsName != g.opts.ModelsPackage {
				grp[i] = g.opts.ModelsPackage + " " + grp[i] // the models package of a keyspace
			}
		}
		groups = append(groups, grp)
	}
	h := header{Generator: "github.com/jobsharp/cassandra/gen", Source: g.opts.SchemaSource, Sources: sources, Package: pkg, Imports: groups}
	if g.keyspace != "" {
		h.Keyspace = cql.QuoteIdent(g.keyspace)
	}
	return h
}

// render executes a template; Generate formats the result at the end.
func (g *generator) render(file, tmpl string, data any) error {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, tmpl, data); err != nil {
		return fmt.Errorf("render %s: %w", file, err)
	}
	g.out[file] = buf.Bytes()
	return nil
}

// goString renders s as a Go string literal: a raw string when that is
// possible and readable, else an interpreted one.
func goString(s string) string {
	if !strings.ContainsAny(s, "`\r") && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return r < ' ' && r != '\n' && r != '\t' || r == 0x7f || r == '\uFEFF'
	}) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// comment turns text into // comment lines; an empty line becomes "//".
func comment(text string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = "//"
		} else {
			lines[i] = "// " + l
		}
	}
	return strings.Join(lines, "\n")
}

// safeComment keeps schema text from ending a comment or injecting lines.
func safeComment(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// keyDescription describes the primary key for doc comments, e.g.
// "partition key: state, bucket; clustering: scheduled_at DESC, job_id".
func keyDescription(t *catalog.Table) string {
	part := make([]string, len(t.PartitionKey))
	for i, c := range t.PartitionKey {
		part[i] = cql.QuoteIdent(c.Name)
	}
	s := "partition key: " + strings.Join(part, ", ")
	if len(t.Clustering) > 0 {
		cl := make([]string, len(t.Clustering))
		for i, c := range t.Clustering {
			cl[i] = cql.QuoteIdent(c.Name)
			if c.Desc {
				cl[i] += " DESC"
			}
		}
		s += "; clustering: " + strings.Join(cl, ", ")
	}
	return safeComment(s)
}
