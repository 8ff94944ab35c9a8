package golang

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
)

// ErrUnsupportedType reports a CQL type that has no Go mapping gocql v1.7.0
// can marshal, for example a map keyed by a type that is not comparable in Go.
var ErrUnsupportedType = errors.New("unsupported type")

// ErrNameCollision reports two schema names that become the same Go
// identifier or file.
var ErrNameCollision = errors.New("name collision")

// Import paths used by generated code.
const (
	importTime   = "time"
	importBig    = "math/big"
	importGocql  = "github.com/gocql/gocql"
	importGocqlx = "github.com/scylladb/gocqlx/v2"
	importInf    = "gopkg.in/inf.v0"
)

// nativeGo maps CQL native types to Go types and their imports.
var nativeGo = map[string]struct{ typ, imp string }{
	"ascii":     {"string", ""},
	"bigint":    {"int64", ""},
	"blob":      {"[]byte", ""},
	"boolean":   {"bool", ""},
	"counter":   {"int64", ""},
	"date":      {"time.Time", importTime},
	"decimal":   {"*inf.Dec", importInf},
	"double":    {"float64", ""},
	"duration":  {"gocql.Duration", importGocql},
	"float":     {"float32", ""},
	"inet":      {"Inet", ""},
	"int":       {"int32", ""},
	"smallint":  {"int16", ""},
	"text":      {"string", ""},
	"time":      {"time.Duration", importTime},
	"timestamp": {"time.Time", importTime},
	"timeuuid":  {"gocql.UUID", importGocql},
	"tinyint":   {"int8", ""},
	"uuid":      {"gocql.UUID", importGocql},
	"varchar":   {"string", ""},
	"varint":    {"*big.Int", importBig},
}

// GoType is a Go type for a CQL type.
type GoType struct {
	Expr       string   // Go type expression, e.g. "map[string][]int32"
	Imports    []string // import paths the expression needs
	Comparable bool     // usable as a map key with value semantics
	Tuples     []int    // arities of the generated TupleN types used
	Vector     bool     // uses the generated Vector type
	VectorKeys []int    // dimensions of the generated VectorN (map key) types used
	Inet       bool     // uses the generated Inet type
}

// uses adds the generated types and imports that o uses to g.
func (g *GoType) uses(o GoType) {
	g.Imports = append(g.Imports, o.Imports...)
	g.Tuples = append(g.Tuples, o.Tuples...)
	g.VectorKeys = append(g.VectorKeys, o.VectorKeys...)
	g.Vector = g.Vector || o.Vector
	g.Inet = g.Inet || o.Inet
}

// typeMapper maps CQL types to Go types within one catalog.
type typeMapper struct {
	cat      *catalog.Catalog
	udtNames map[*catalog.UDT]string
	keyspace string
	// comparable caches UDT comparability.
	comparable map[*catalog.UDT]bool
	// qual qualifies the names of generated models types (UDTs, TupleN,
	// Vector, Inet) for code outside the models package, e.g. "models.".
	qual string
}

// goType maps t. In map keys, blob and inet become string (gocql converts
// both), so the Go map has value semantics.
func (m *typeMapper) goType(t *cql.Type, mapKey bool) (GoType, error) {
	switch t.Kind {
	case cql.TypeNative:
		n, ok := nativeGo[t.Name]
		if !ok {
			return GoType{}, cql.Errorf(t.Pos, "%w %s", ErrUnsupportedType, t.Name)
		}
		if mapKey && (t.Name == "blob" || t.Name == "inet") {
			return GoType{Expr: "string", Comparable: true}, nil
		}
		g := GoType{Expr: n.typ, Comparable: !strings.HasPrefix(n.typ, "[]") && !strings.HasPrefix(n.typ, "*") && n.typ != "Inet", Inet: n.typ == "Inet"}
		if g.Inet {
			g.Expr = m.qual + g.Expr
		}
		if n.imp != "" {
			g.Imports = []string{n.imp}
		}
		return g, nil
	case cql.TypeList, cql.TypeSet:
		e, err := m.goType(t.Params[0], false)
		if err != nil {
			return GoType{}, err
		}
		e.Expr = "[]" + e.Expr
		e.Comparable = false // Inet and Vector flags carry over
		return e, nil
	case cql.TypeMap:
		k, err := m.goType(t.Params[0], true)
		if err != nil {
			return GoType{}, err
		}
		if !k.Comparable {
			return GoType{}, cql.Errorf(t.Params[0].Pos, "%w: map key %s has no comparable Go type (%s)", ErrUnsupportedType, t.Params[0], k.Expr)
		}
		v, err := m.goType(t.Params[1], false)
		if err != nil {
			return GoType{}, err
		}
		g := GoType{Expr: "map[" + k.Expr + "]" + v.Expr}
		g.uses(k)
		g.uses(v)
		return g, nil
	case cql.TypeTuple:
		g := GoType{Comparable: true, Tuples: []int{len(t.Params)}}
		args := make([]string, len(t.Params))
		for i, p := range t.Params {
			e, err := m.goType(p, mapKey)
			if err != nil {
				return GoType{}, err
			}
			args[i] = e.Expr
			g.uses(e)
			g.Comparable = g.Comparable && e.Comparable
		}
		g.Expr = fmt.Sprintf("%sTuple%d[%s]", m.qual, len(t.Params), strings.Join(args, ", "))
		return g, nil
	case cql.TypeVector:
		// Any element type: Vector marshals each element with gocql and
		// lays them out as Cassandra's VectorType does.
		e, err := m.goType(t.Params[0], mapKey)
		if err != nil {
			return GoType{}, err
		}
		g := GoType{Vector: true}
		g.uses(e)
		if !mapKey {
			g.Expr = m.qual + "Vector[" + e.Expr + "]"
			return g, nil
		}
		// A map key must be comparable: an array of Dim elements.
		if !e.Comparable {
			return GoType{}, cql.Errorf(t.Pos, "%w: map key %s has no comparable Go type (its elements are %s)", ErrUnsupportedType, t, e.Expr)
		}
		g.Expr = fmt.Sprintf("%sVector%d[%s]", m.qual, t.Dim, e.Expr)
		g.Comparable = true
		g.VectorKeys = append(g.VectorKeys, t.Dim)
		return g, nil
	case cql.TypeUDT:
		u := m.udt(t)
		if u == nil {
			return GoType{}, cql.Errorf(t.Pos, "%w %s", catalog.ErrUnknownType, t.Name)
		}
		g := GoType{Expr: m.qual + m.udtNames[u], Comparable: m.udtComparable(u)}
		return g, nil
	}
	return GoType{}, cql.Errorf(t.Pos, "%w %s", ErrUnsupportedType, t)
}

func (m *typeMapper) udt(t *cql.Type) *catalog.UDT {
	ks := m.cat.Keyspace(m.keyspace)
	if t.Keyspace != "" {
		ks = m.cat.Keyspace(t.Keyspace)
	}
	if ks == nil {
		return nil
	}
	return ks.Type(t.Name)
}

// udtComparable reports whether every field of u has a comparable Go type.
func (m *typeMapper) udtComparable(u *catalog.UDT) bool {
	if c, ok := m.comparable[u]; ok {
		return c
	}
	m.comparable[u] = false // types cannot be recursive; this only guards bugs
	saved := m.keyspace
	m.keyspace = u.Keyspace
	defer func() { m.keyspace = saved }()
	for _, f := range u.Fields {
		g, err := m.goType(f.Type, false)
		if err != nil || !g.Comparable {
			return false
		}
	}
	m.comparable[u] = true
	return true
}
