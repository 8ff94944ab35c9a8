package catalog

import (
	"strings"

	"github.com/jobsharp/cassandra/gen/cql"
)

// Param is one bind marker of a compiled query, in the order of the markers
// in Query.CQL, with the CQL type of the value it takes: the column's type
// for "col = ?", a list of it for "col IN ?", the element type for
// "col CONTAINS ?", int for LIMIT and USING TTL, bigint for USING TIMESTAMP
// and token(…), the compared column's type for range bounds and :name
// markers, and so on.
type Param struct {
	// Name is the bind name (Query.Names holds the same names).
	Name string
	// Type is the CQL type of the value.
	Type *cql.Type
	Pos  cql.Position
	// Named is set for a :name marker.
	Named bool
	// Tuple names the tuple column value a marker is an element of: a
	// top-level tuple column is bound as "(?, ?)", one marker per element,
	// and Elem is the element's index. Tuple is "" otherwise.
	Tuple     string
	TupleType *cql.Type
	Elem      int
	// Unset is set for the value of a column the query's :unset flag
	// names: a zero value is bound as unset, so the statement leaves the
	// column as it is (absent, in a new row) and writes no tombstone.
	Unset bool
}

// ResultColumn is one column of a SELECT's result, in order.
type ResultColumn struct {
	// Name is the column's name as Cassandra reports it in the result
	// metadata: the column name, the alias, or the function call.
	Name string
	// Field is a name for the column in generated code: the column name or
	// alias, or the function name followed by its arguments
	// ("count", "writetime_c_text", "token").
	Field string
	Type  *cql.Type
	// Column is the table column a plain column selector reads, else nil.
	Column *Column
}

func native(name string) *cql.Type { return &cql.Type{Kind: cql.TypeNative, Name: name} }

func listOf(t *cql.Type) *cql.Type {
	if t == nil {
		return nil
	}
	return &cql.Type{Kind: cql.TypeList, Params: []*cql.Type{t}}
}

func setOf(t *cql.Type) *cql.Type {
	if t == nil {
		return nil
	}
	return &cql.Type{Kind: cql.TypeSet, Params: []*cql.Type{t}}
}

// elemType is the type of one element of a collection: a list's or set's
// element, a map's value.
func elemType(t *cql.Type) *cql.Type {
	switch t.Kind {
	case cql.TypeList, cql.TypeSet:
		return t.Params[0]
	case cql.TypeMap:
		return t.Params[1]
	}
	return nil
}

// keyType is the type of an index into a collection: a map's key, a list's
// position (int), a set's element.
func keyType(t *cql.Type) *cql.Type {
	switch t.Kind {
	case cql.TypeMap:
		return t.Params[0]
	case cql.TypeList:
		return native("int")
	case cql.TypeSet:
		return t.Params[0]
	}
	return nil
}

// valueType is the type assigned by "col[key] = ?": a map's value, a list's
// element.
func valueType(t *cql.Type) *cql.Type {
	switch t.Kind {
	case cql.TypeMap:
		return t.Params[1]
	case cql.TypeList:
		return t.Params[0]
	}
	return nil
}

// fieldType is the type of field f of the UDT column col, or nil.
func (q *compiler) fieldType(col *Column, f string) *cql.Type {
	ks := q.cat.Keyspace(q.t.Keyspace)
	if ks == nil {
		return nil
	}
	u := ks.Type(col.Type.Name)
	if u == nil {
		return nil
	}
	if fd := u.Field(f); fd != nil {
		return fd.Type
	}
	return nil
}

// funcArgTypes returns the parameter types of the native functions whose
// arguments can be bind markers; ok is false for functions whose parameter
// types the generator cannot tell (Cassandra overloads them or they are
// user-defined).
func funcArgTypes(name string, n int) (types []*cql.Type, ok bool) {
	name = strings.ToLower(name)
	switch {
	case name == "mintimeuuid" || name == "maxtimeuuid":
		if n == 1 {
			return []*cql.Type{native("timestamp")}, true
		}
	case name == "fromjson":
		if n == 1 {
			return []*cql.Type{native("text")}, true
		}
	case strings.HasPrefix(name, "blobas") && nativeName(strings.TrimPrefix(name, "blobas")):
		if n == 1 {
			return []*cql.Type{native("blob")}, true
		}
	case strings.HasSuffix(name, "asblob") && nativeName(strings.TrimSuffix(name, "asblob")):
		if n == 1 {
			return []*cql.Type{native(strings.TrimSuffix(name, "asblob"))}, true
		}
	}
	return nil, false
}

func nativeName(s string) bool {
	switch s {
	case "ascii", "bigint", "blob", "boolean", "date", "decimal", "double", "duration", "float", "inet", "int",
		"smallint", "text", "time", "timestamp", "timeuuid", "tinyint", "uuid", "varchar", "varint":
		return true
	}
	return false
}

// funcResult returns the result type of a native function in a selector,
// given its arguments' types (nil for a non-column argument); nil when the
// generator cannot tell it.
func funcResult(name string, args []*cql.Type) *cql.Type {
	name = strings.ToLower(name)
	arg := func() *cql.Type {
		if len(args) == 1 {
			return args[0]
		}
		return nil
	}
	switch name {
	case "token", "count", "writetime", "maxwritetime", "tounixtimestamp", "unixtimestampof":
		return native("bigint")
	case "ttl":
		return native("int")
	case "min", "max", "sum", "avg":
		return arg()
	case "now", "currenttimeuuid", "mintimeuuid", "maxtimeuuid":
		return native("timeuuid")
	case "uuid":
		return native("uuid")
	case "currenttimestamp", "totimestamp", "dateof":
		return native("timestamp")
	case "currentdate", "todate":
		return native("date")
	case "currenttime":
		return native("time")
	case "tojson":
		return native("text")
	}
	switch {
	case strings.HasPrefix(name, "blobas") && nativeName(strings.TrimPrefix(name, "blobas")):
		t := strings.TrimPrefix(name, "blobas")
		if t == "varchar" {
			t = "text"
		}
		return native(t)
	case strings.HasSuffix(name, "asblob") && nativeName(strings.TrimSuffix(name, "asblob")):
		return native("blob")
	}
	return nil
}

// result records the result column of a selector.
func (q *compiler) result(sel cql.Selector) {
	t := sel.Term
	rc := ResultColumn{}
	switch t.Kind {
	case cql.TermColumn:
		rc.Column = q.t.Column(t.Text)
		if rc.Column == nil {
			return // reported by column()
		}
		rc.Name, rc.Field, rc.Type = rc.Column.Name, rc.Column.Name, rc.Column.Type
	case cql.TermFunc:
		var args []*cql.Type
		parts := []string{strings.ToLower(t.Text)}
		for _, a := range t.Args {
			switch a.Kind {
			case cql.TermColumn:
				if c := q.t.Column(a.Text); c != nil {
					args = append(args, c.Type)
				}
				parts = append(parts, a.Text)
			default:
				args = append(args, nil)
			}
		}
		rc.Type = funcResult(t.Text, args)
		rc.Name = t.Render()
		rc.Field = strings.Join(parts, "_")
		switch strings.ToLower(t.Text) {
		case "token":
			rc.Name, rc.Field = "system.token("+strings.Join(parts[1:], ", ")+")", "token"
		case "count":
			if len(t.Args) == 1 && t.Args[0].Kind == cql.TermStar {
				rc.Name, rc.Field = "count", "count"
			}
		}
		if rc.Type == nil {
			q.fail(cql.Errorf(t.Pos, "%w: the generator cannot tell the result type of %s; select a column or a native function it knows (token, count, writetime, ttl, min, max, sum, avg, toJson, toTimestamp, …)", ErrQuery, t.Render()))
			return
		}
	default:
		q.fail(cql.Errorf(t.Pos, "%w: a typed result needs a column or a function call here, not %s", ErrQuery, t.Render()))
		return
	}
	if sel.Alias.Name != "" {
		rc.Name, rc.Field = sel.Alias.Name, sel.Alias.Name
	}
	q.results = append(q.results, rc)
}

// checkParams rejects a :name used twice with different types.
func checkParams(params []Param) error {
	seen := map[string]Param{}
	for _, p := range params {
		if p.Tuple != "" {
			continue
		}
		if prev, ok := seen[p.Name]; ok && prev.Type.String() != p.Type.String() {
			return cql.Errorf(p.Pos, "%w: :%s takes %s here but %s at %s", ErrBindName, p.Name, p.Type, prev.Type, prev.Pos)
		}
		seen[p.Name] = p
	}
	return nil
}

func untyped(m *cql.Term, context string) error {
	return cql.Errorf(m.Pos, "%w: the generator cannot tell the type of the bind marker %s; %s", ErrQuery, m.Render(), context)
}
