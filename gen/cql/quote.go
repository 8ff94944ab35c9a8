package cql

import "strings"

// reserved are the reserved keywords of Cassandra 5.0
// (org/apache/cassandra/cql3/reserved_keywords.txt in cassandra-all 5.0.9):
// they cannot be used as names unless quoted. DEFAULT, MBEAN, MBEANS,
// REPLACE and UNSET are keywords but not reserved: the server takes them as
// column names.
var reserved = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`add allow alter and apply asc authorize batch begin by
		columnfamily create delete desc describe drop entries execute from full grant if in
		index infinity insert into is keyspace limit materialized modify nan norecursive
		not null of on or order primary rename revoke schema select set table to token
		truncate unlogged update use using view where with`) {
		reserved[w] = true
	}
}

// QuoteTypeName renders the name of a user-defined type: quoted where
// QuoteIdent quotes it, and also where it is a native type name or one the
// grammar reserves for future types ("int", "enum"), which a type name may
// only be when quoted.
func QuoteTypeName(name string) string {
	if IsNativeType(name) || reservedTypeNames[name] {
		return `"` + name + `"`
	}
	return QuoteIdent(name)
}

// IsReserved reports whether word (lower case) is a reserved CQL keyword.
func IsReserved(word string) bool { return reserved[word] }

// NeedsQuote reports whether name must be written as a quoted identifier:
// it is not a lower-case unquoted identifier, or it is a reserved keyword.
func NeedsQuote(name string) bool {
	if name == "" || reserved[name] {
		return true
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9' || c == '_') && i > 0:
		default:
			return true
		}
	}
	return false
}

// QuoteIdent returns name as CQL source: verbatim when it can be written
// unquoted, else in double quotes with embedded quotes doubled.
func QuoteIdent(name string) string {
	if !NeedsQuote(name) {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QuoteString renders s as a CQL string literal.
func QuoteString(s string) string { return quoteString(s) }

// Render writes the value as CQL.
func (v Value) Render() string {
	var b strings.Builder
	v.render(&b)
	return b.String()
}

func (v Value) render(b *strings.Builder) {
	switch v.Kind {
	case ValueString:
		b.WriteString(quoteString(v.Text))
	case ValueIdent:
		b.WriteString(QuoteIdent(v.Text))
	case ValueMap:
		b.WriteByte('{')
		for i, e := range v.Entries {
			if i > 0 {
				b.WriteString(", ")
			}
			e.Key.render(b)
			b.WriteString(": ")
			e.Value.render(b)
		}
		b.WriteByte('}')
	case ValueSet, ValueList:
		open, closing := byte('{'), byte('}')
		if v.Kind == ValueList {
			open, closing = '[', ']'
		}
		b.WriteByte(open)
		for i, e := range v.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			e.render(b)
		}
		b.WriteByte(closing)
	default:
		b.WriteString(v.Text)
	}
}
