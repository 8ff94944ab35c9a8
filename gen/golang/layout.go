package golang

import (
	"strings"

	"github.com/jobsharp/cassandra/gen/cql"
)

// layoutWidth is the longest line layoutCQL writes when it can break it.
const layoutWidth = 100

// clauseWords start a new line when they stand outside parentheses.
var clauseWords = map[string]bool{
	"from": true, "where": true, "set": true, "values": true, "if": true, "using": true,
	"order": true, "group": true, "per": true, "limit": true, "allow": true,
}

// layoutCQL spreads a rendered statement over lines for the generated
// file: each clause (FROM, WHERE, SET, VALUES, IF, USING, ORDER BY, LIMIT,
// …) starts a line, and a clause longer than layoutWidth wraps after a
// comma or before an AND, indented by four spaces. Only whitespace
// changes, so Cassandra reads the same statement.
func layoutCQL(stmt string) string {
	toks, _ := cql.Lex("", stmt)
	// Byte offsets of the tokens, found in order (tokens never overlap).
	type tok struct {
		cql.Token
		off, depth int
	}
	var ts []tok
	at, depth := 0, 0
	for _, t := range toks {
		if t.Kind == cql.TokEOF || t.Raw == "" {
			continue
		}
		i := strings.Index(stmt[at:], t.Raw)
		if i < 0 {
			return stmt // cannot happen for the compiler's output; leave it be
		}
		if t.Kind == cql.TokPunct && strings.Contains(")]}", t.Text) {
			depth--
		}
		ts = append(ts, tok{Token: t, off: at + i, depth: depth})
		if t.Kind == cql.TokPunct && strings.Contains("([{", t.Text) {
			depth++
		}
		at += i + len(t.Raw)
	}
	// Clause starts.
	var starts []int
	for i, t := range ts {
		if i == 0 || t.depth != 0 || t.Kind != cql.TokIdent || !clauseWords[t.Text] {
			continue
		}
		prev := ts[i-1]
		if t.Text == "limit" && prev.Kind == cql.TokIdent && prev.Text == "partition" {
			continue // PER PARTITION LIMIT
		}
		starts = append(starts, t.off)
	}
	// Break points inside clauses: after a comma, before AND, at depth 0
	// (or 1 inside the column and value lists of INSERT).
	var breaks []int
	for i, t := range ts {
		switch {
		case t.Kind == cql.TokPunct && t.Text == "," && t.depth <= 1 && i+1 < len(ts):
			breaks = append(breaks, ts[i+1].off)
		case t.Kind == cql.TokIdent && t.Text == "and" && t.depth == 0:
			breaks = append(breaks, t.off)
		}
	}
	var out strings.Builder
	from := 0
	for k := 0; k <= len(starts); k++ {
		to := len(stmt)
		if k < len(starts) {
			to = starts[k]
		}
		clause := strings.TrimSpace(stmt[from:to])
		if k > 0 {
			out.WriteString("\n")
		}
		out.WriteString(wrapClause(clause, stmt[from:to], from, breaks))
		from = to
	}
	return out.String()
}

// wrapClause wraps one clause at the break points that fall inside it.
func wrapClause(clause, raw string, base int, breaks []int) string {
	if len(clause) <= layoutWidth {
		return clause
	}
	lead := len(raw) - len(strings.TrimLeft(raw, " "))
	var lines []string
	line := ""
	pos := 0 // offset in clause of the next piece
	flush := func(end int) {
		piece := strings.TrimRight(clause[pos:end], " ")
		if line != "" && len(line)+len(piece) > layoutWidth {
			lines = append(lines, strings.TrimRight(line, " "))
			line = "    " + strings.TrimLeft(clause[pos:end], " ")
		} else {
			line += clause[pos:end]
		}
		pos = end
	}
	for _, b := range breaks {
		off := b - base - lead
		if off <= pos || off >= len(clause) {
			continue
		}
		flush(off)
	}
	flush(len(clause))
	lines = append(lines, strings.TrimRight(line, " "))
	return strings.Join(lines, "\n")
}
