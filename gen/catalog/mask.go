package catalog

import (
	"regexp"
	"strings"

	"github.com/jobsharp/cassandra/gen/cql"
)

// This file checks MASKED WITH clauses as Cassandra 5.0 does
// (ColumnMask.Raw.prepare and the masking functions of
// org.apache.cassandra.cql3.functions.masking): the function must exist,
// take the given arguments, and return the masked column's type.

// checkMask validates the mask of a column of type t. A function that is
// not one of Cassandra's masking functions must be a user-defined function
// of the table's keyspace that the schema created.
func (c *Catalog) checkMask(ks *Keyspace, m *cql.Mask, col string, t *cql.Type) error {
	if m == nil {
		return nil
	}
	name := strings.ToLower(m.Function)
	native := m.Keyspace == "" || m.Keyspace == "system"
	if native {
		if known, err := checkNativeMask(name, m, col, t); known {
			return err
		}
	}
	fks := m.Keyspace
	if fks == "" {
		fks = ks.Name
	}
	if fks != ks.Name {
		return cql.Errorf(m.Pos, "%w: masking function %s does not belong to the keyspace of the table", ErrInvalidType, maskName(m))
	}
	if f := ks.function(m.Function); f != nil {
		if f.Return != "" && f.Return != t.String() {
			return cql.Errorf(m.Pos, "%w: masking function %s returns %s, but column %s is %s; a mask must return the column's type", ErrInvalidType, maskName(m), f.Return, cql.QuoteIdent(col), t.String())
		}
		return nil
	}
	return cql.Errorf(m.Pos, "%w: no masking function %s for column %s: Cassandra's are mask_null, mask_default, mask_replace, mask_inner, mask_outer and mask_hash", ErrUnknownFunction, maskName(m), cql.QuoteIdent(col))
}

func maskName(m *cql.Mask) string {
	if m.Keyspace != "" {
		return cql.QuoteIdent(m.Keyspace) + "." + cql.QuoteIdent(m.Function)
	}
	return cql.QuoteIdent(m.Function)
}

// checkNativeMask checks a call of one of Cassandra's masking functions;
// known is false when name is no native function, so it may be a
// user-defined one.
func checkNativeMask(name string, m *cql.Mask, col string, t *cql.Type) (known bool, err error) {
	if !isNativeMask(name) && !strings.HasPrefix(name, "mask_") && !nativeFunctions[name] {
		return false, nil
	}
	return true, checkNative(name, m, col, t)
}

func checkNative(name string, m *cql.Mask, col string, t *cql.Type) error {
	args := m.Args
	arity := func(min, max int) error {
		if len(args) < min || len(args) > max {
			return cql.Errorf(m.Pos, "%w: %s takes %d to %d arguments after the masked column, got %d", ErrInvalidType, name, min, max, len(args))
		}
		return nil
	}
	isText := t.Kind == cql.TypeNative && (t.Name == "text" || t.Name == "varchar" || t.Name == "ascii")
	switch name {
	case "mask_null", "mask_default":
		return arity(0, 0)
	case "mask_replace":
		if err := arity(1, 1); err != nil {
			return err
		}
		if !assignable(args[0], t) {
			return cql.Errorf(args[0].Pos, "%w: mask_replace replacement %s is not a value of column %s's type %s", ErrInvalidType, args[0].Render(), cql.QuoteIdent(col), t.String())
		}
		return nil
	case "mask_inner", "mask_outer":
		if err := arity(2, 3); err != nil {
			return err
		}
		if !isText {
			return cql.Errorf(m.Pos, "%w: %s masks text, varchar or ascii columns; %s is %s", ErrInvalidType, name, cql.QuoteIdent(col), t.String())
		}
		for _, a := range args[:2] {
			if !(isIntLiteral(a) || isNull(a)) {
				return cql.Errorf(a.Pos, "%w: %s: the prefix and suffix lengths are int values or null, not %s", ErrInvalidType, name, a.Render())
			}
		}
		if len(args) == 3 && !isStringLiteral(args[2]) {
			return cql.Errorf(args[2].Pos, "%w: %s: the padding is a one-character string, not %s", ErrInvalidType, name, args[2].Render())
		}
		return nil
	case "mask_hash":
		if err := arity(0, 1); err != nil {
			return err
		}
		if len(args) == 1 && !isStringLiteral(args[0]) {
			return cql.Errorf(args[0].Pos, "%w: mask_hash: the algorithm is a string, not %s", ErrInvalidType, args[0].Render())
		}
		if !(t.Kind == cql.TypeNative && t.Name == "blob") {
			return cql.Errorf(m.Pos, "%w: mask_hash returns blob, but column %s is %s; a mask must return the column's type", ErrInvalidType, cql.QuoteIdent(col), t.String())
		}
		return nil
	}
	return cql.Errorf(m.Pos, "%w: %s is not one of Cassandra's masking functions", ErrUnknownFunction, name)
}

// nativeFunctions are Cassandra functions that are not masking functions:
// naming one in MASKED WITH is an error, not a user-defined function.
var nativeFunctions = map[string]bool{
	"now": true, "uuid": true, "token": true, "ttl": true, "writetime": true, "maxwritetime": true,
	"currenttimestamp": true, "currentdate": true, "currenttime": true, "currenttimeuuid": true,
	"todate": true, "totimestamp": true, "tounixtimestamp": true, "count": true, "min": true, "max": true,
	"sum": true, "avg": true, "abs": true, "exp": true, "log": true, "log10": true, "round": true,
}

func isStringLiteral(a *cql.Term) bool {
	return a.Kind == cql.TermLiteral && strings.HasPrefix(a.Text, "'")
}

func isNull(a *cql.Term) bool { return a.Kind == cql.TermLiteral && a.Text == "NULL" }

var (
	intLiteral   = regexp.MustCompile(`^-?[0-9]+$`)
	floatLiteral = regexp.MustCompile(`^-?(NAN|INFINITY|[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?)$`)
	hexLiteral   = regexp.MustCompile(`^0[xX][0-9a-fA-F]*$`)
	uuidLiteral  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	durationLit  = regexp.MustCompile(`^(?i)-?(P.*|([0-9]+(y|mo|w|d|h|m|s|ms|us|µs|ns))+)$`)
)

func isIntLiteral(a *cql.Term) bool {
	return a.Kind == cql.TermLiteral && intLiteral.MatchString(a.Text)
}

// assignable reports whether the literal a can be a value of type t, as
// Cassandra's type inference for constants decides it. Collection, tuple
// and UDT literals are taken as they come.
func assignable(a *cql.Term, t *cql.Type) bool {
	if isNull(a) {
		return true
	}
	if a.Kind == cql.TermCollection {
		return t.Kind != cql.TypeNative
	}
	if a.Kind != cql.TermLiteral || t.Kind != cql.TypeNative {
		return false
	}
	text := a.Text
	switch t.Name {
	case "ascii", "text", "varchar", "inet", "date", "time", "timestamp":
		return isStringLiteral(a) || (t.Name == "date" || t.Name == "time" || t.Name == "timestamp") && intLiteral.MatchString(text)
	case "tinyint", "smallint", "int", "bigint", "varint", "counter":
		return intLiteral.MatchString(text)
	case "float", "double", "decimal":
		return floatLiteral.MatchString(strings.ToUpper(text))
	case "boolean":
		return text == "TRUE" || text == "FALSE"
	case "blob":
		return hexLiteral.MatchString(text)
	case "uuid", "timeuuid":
		return uuidLiteral.MatchString(text)
	case "duration":
		return durationLit.MatchString(text)
	}
	return false
}

// maskText renders a mask as system_schema.column_masks stores it:
// [keyspace.]function(argument values), strings unquoted, null empty.
func maskText(ks string, m *cql.Mask, t *cql.Type) string {
	if m == nil {
		return ""
	}
	name := strings.ToLower(m.Function)
	if m.Keyspace != "" && m.Keyspace != "system" || !isNativeMask(name) {
		name = ks + "." + m.Function
	}
	args := make([]string, len(m.Args))
	for i, a := range m.Args {
		switch {
		case isStringLiteral(a):
			args[i] = strings.ReplaceAll(a.Text[1:len(a.Text)-1], "''", "'")
		case isNull(a):
			args[i] = ""
		case a.Kind == cql.TermCollection:
			// A collection value shows as the hex of its serialized form.
			if v, ok := collectionMaskValue(t, a); ok {
				args[i] = v
			} else {
				args[i] = a.Render()
			}
		default:
			args[i] = a.Text
		}
	}
	return name + "(" + strings.Join(args, ", ") + ")"
}

func isNativeMask(name string) bool {
	switch name {
	case "mask_null", "mask_default", "mask_replace", "mask_inner", "mask_outer", "mask_hash":
		return true
	}
	return false
}

// MaskText returns the column's mask as system_schema.column_masks shows
// it, or "" when the column is not masked.
func (c *Column) MaskText(keyspace string) string { return maskText(keyspace, c.Mask, c.Type) }
