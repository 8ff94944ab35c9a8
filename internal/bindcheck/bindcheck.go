// Package bindcheck finds name-based and reflective binding in the job
// store's code: `make check` runs its test on repo, so that every statement
// keeps going through the generated, positionally bound methods of
// queries.DB.
//
// It type-checks the packages and reports:
//   - any method of gocqlx's Queryx (BindStruct, BindMap, BindStructMap,
//     Get, Select, GetRelease, SelectRelease, …): they bind or scan by name,
//     through reflection;
//   - gocqlx's Session.Query and ContextQuery (queries bound by name), its
//     binders and mappers (gocqlx.DefaultMapper, gocqlx.Query, …) and qb.M;
//   - any function of qb or table that makes a gocqlx query (a builder's
//     Query, a table's GetQuery, …): it is bound by name;
//   - gocql's scans into maps keyed by column name (MapScan, SliceMap,
//     MapScanCAS, MapExecuteBatchCAS, RowData);
//   - a map[string]any (or map[string]interface{}) literal or make, the
//     shape of a name-keyed bind;
//   - an import of reflect.
package bindcheck

import (
	"fmt"
	"go/ast"
	"go/types"
	"sort"

	"golang.org/x/tools/go/packages"
)

const (
	gocqlPath  = "github.com/gocql/gocql"
	gocqlxPath = "github.com/scylladb/gocqlx/v2"
	qbPath     = "github.com/scylladb/gocqlx/v2/qb"
	tablePath  = "github.com/scylladb/gocqlx/v2/table"
)

// mapScans are gocql's methods that read a row into a map keyed by column
// name.
var mapScans = map[string]bool{"MapScan": true, "SliceMap": true, "MapScanCAS": true, "MapExecuteBatchCAS": true, "RowData": true}

// Check loads the packages matched by patterns (in dir; non-test files
// only, with overlay replacing or adding file contents by absolute path)
// and returns the findings as "file:line:col: message", sorted.
func Check(dir string, overlay map[string][]byte, patterns ...string) ([]string, error) {
	cfg := &packages.Config{
		Mode:    packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedImports,
		Dir:     dir,
		Overlay: overlay,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pkgs {
		for _, e := range p.Errors {
			return nil, fmt.Errorf("load %s: %v", p.PkgPath, e)
		}
		out = append(out, checkPackage(p)...)
	}
	sort.Strings(out)
	return out, nil
}

func checkPackage(p *packages.Package) []string {
	var out []string
	report := func(n ast.Node, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s: %s", p.Fset.Position(n.Pos()), fmt.Sprintf(format, args...)))
	}
	for _, f := range p.Syntax {
		for _, imp := range f.Imports {
			if imp.Path.Value == `"reflect"` {
				report(imp, "imports reflect")
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				obj := p.TypesInfo.Uses[n.Sel]
				if obj == nil || obj.Pkg() == nil {
					return true
				}
				recv := receiver(obj)
				switch path := obj.Pkg().Path(); {
				case path == gocqlxPath && recv == "Queryx":
					report(n, "calls gocqlx's Queryx.%s, which binds or scans by name through reflection; use the queries.DB method of the statement", obj.Name())
				case path == gocqlxPath && recv == "Session" && (obj.Name() == "Query" || obj.Name() == "ContextQuery"):
					report(n, "calls gocqlx's Session.%s, which makes a query bound by name; use the queries.DB method of the statement", obj.Name())
				case path == gocqlxPath && recv == "" && !allowed[obj.Name()]:
					report(n, "uses gocqlx.%s, which binds by name; use the queries.DB method of the statement", obj.Name())
				case path == qbPath && obj.Name() == "M":
					report(n, "uses qb.M, a name-keyed bind map")
				case (path == qbPath || path == tablePath) && makesQueryx(obj):
					report(n, "calls %s.%s, which makes a gocqlx query bound by name; use the queries.DB method of the statement", qualified(obj.Pkg().Name(), recv), obj.Name())
				case path == gocqlPath && mapScans[obj.Name()] && recv != "":
					report(n, "calls gocql's %s.%s, which scans by column name into a map; use the queries.DB method of the statement, which scans into a typed row", recv, obj.Name())
				}
			case *ast.CompositeLit:
				if stringAnyMap(p.TypesInfo.TypeOf(n)) {
					report(n, "builds a map[string]any, the shape of a name-keyed bind; pass the values to the queries.DB method of the statement")
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "make" && len(n.Args) > 0 && stringAnyMap(p.TypesInfo.TypeOf(n.Args[0])) {
					report(n, "makes a map[string]any, the shape of a name-keyed bind; pass the values to the queries.DB method of the statement")
				}
			}
			return true
		})
	}
	return out
}

// allowed are the names of package gocqlx that bind nothing: the session
// wrapper the store is built on.
var allowed = map[string]bool{"Session": true, "NewSession": true, "WrapSession": true}

// receiver returns the name of the type obj is a method of, "" for other
// objects (a struct field counts as its struct's: gocqlx.Session.Session).
func receiver(obj types.Object) string {
	fn, ok := obj.(*types.Func)
	if !ok {
		return ""
	}
	sig, _ := fn.Type().(*types.Signature)
	if sig == nil || sig.Recv() == nil {
		return ""
	}
	t := sig.Recv().Type()
	if ptr, ok := t.(*types.Pointer); ok {
		t = ptr.Elem()
	}
	if named, ok := t.(*types.Named); ok {
		return named.Obj().Name()
	}
	return ""
}

// makesQueryx reports whether obj is a function that returns a gocqlx query.
func makesQueryx(obj types.Object) bool {
	fn, ok := obj.(*types.Func)
	if !ok {
		return false
	}
	sig, _ := fn.Type().(*types.Signature)
	if sig == nil {
		return false
	}
	for i := range sig.Results().Len() {
		t := sig.Results().At(i).Type()
		if ptr, ok := t.(*types.Pointer); ok {
			t = ptr.Elem()
		}
		if named, ok := t.(*types.Named); ok && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == gocqlxPath && named.Obj().Name() == "Queryx" {
			return true
		}
	}
	return false
}

// qualified returns pkg.recv, or pkg for a function.
func qualified(pkg, recv string) string {
	if recv == "" {
		return pkg
	}
	return pkg + "." + recv
}

// stringAnyMap reports whether t is map[string]any.
func stringAnyMap(t types.Type) bool {
	if t == nil {
		return false
	}
	m, ok := t.Underlying().(*types.Map)
	if !ok {
		return false
	}
	k, ok := m.Key().Underlying().(*types.Basic)
	if !ok || k.Kind() != types.String {
		return false
	}
	i, ok := m.Elem().Underlying().(*types.Interface)
	return ok && i.Empty()
}
