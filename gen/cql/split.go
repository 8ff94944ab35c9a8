package cql

import "strings"

// Statement is one statement of a schema file, as cqlsh would send it to
// the server: the source from its first token up to (not including) the
// semicolon that ends it. A batch (BEGIN … BATCH … APPLY BATCH) is one
// statement even though semicolons separate its inner statements.
type Statement struct {
	// Text is the statement's source, comments inside it included.
	Text string
	// Pos is the position of its first token; End is the position of the
	// semicolon that ends it, or of the end of input.
	Pos, End Position
	toks     []Token
}

// Contains reports whether p lies within the statement, from its first
// token to its semicolon.
func (s Statement) Contains(p Position) bool {
	return p.File == s.Pos.File && !before(p, s.Pos) && !before(s.End, p)
}

// Split cuts src into statements at the semicolons outside strings, quoted
// names, $$ bodies and comments. Empty statements are dropped. It never
// fails: an unterminated literal runs to the end of the input and makes the
// last statement fail to parse.
func Split(file, src string) []Statement {
	toks, _ := Lex(file, src)
	var out []Statement
	start := 0
	inBatch := false
	for i, t := range toks {
		end := t.Kind == TokEOF || t.Kind == TokPunct && t.Text == ";"
		if !end {
			if i == start && t.Kind == TokIdent && t.Text == "begin" {
				inBatch = isBatchStart(toks[i:])
			}
			continue
		}
		// Inside a batch, semicolons end inner statements; the batch ends
		// with the semicolon after APPLY BATCH.
		if inBatch && t.Kind != TokEOF && !endsWithApplyBatch(toks[start:i]) {
			continue
		}
		if i > start {
			first := toks[start]
			out = append(out, Statement{
				Text: strings.TrimRight(src[first.Off:t.Off], " \t\r\n\f\v"),
				Pos:  first.Pos,
				End:  t.Pos,
				toks: append(toks[start:i:i], Token{Kind: TokEOF, Raw: t.Raw, Pos: t.Pos, Off: t.Off}),
			})
		}
		start, inBatch = i+1, false
		if t.Kind == TokEOF {
			break
		}
	}
	return out
}

// IsCreateKeyspace reports whether the statement is a CREATE KEYSPACE (or
// CREATE SCHEMA), whether or not it parses.
func (s Statement) IsCreateKeyspace() bool {
	return len(s.toks) >= 3 && s.toks[0].Kind == TokIdent && s.toks[0].Text == "create" &&
		s.toks[1].Kind == TokIdent && (s.toks[1].Text == "keyspace" || s.toks[1].Text == "schema")
}

// isBatchStart reports whether toks start with BEGIN [UNLOGGED | COUNTER] BATCH.
func isBatchStart(toks []Token) bool {
	for _, t := range toks[1:] {
		if t.Kind != TokIdent {
			return false
		}
		switch t.Text {
		case "batch":
			return true
		case "unlogged", "counter":
			continue
		}
		return false
	}
	return false
}

// endsWithApplyBatch reports whether the last two tokens are APPLY BATCH.
func endsWithApplyBatch(toks []Token) bool {
	n := len(toks)
	return n >= 2 && toks[n-2].Kind == TokIdent && toks[n-2].Text == "apply" &&
		toks[n-1].Kind == TokIdent && toks[n-1].Text == "batch"
}

// ParseStatement parses one statement of a schema file. Statements that do
// not shape the schema come back as *Skipped. The error, if any, is an
// *Error with a position inside the statement.
func ParseStatement(s Statement) (Stmt, error) {
	if len(s.toks) == 0 {
		return nil, Errorf(s.Pos, "%w: empty statement", ErrSyntax)
	}
	p := &parser{toks: s.toks}
	stmt := p.statement()
	if p.ok() && p.peek().Kind != TokEOF {
		p.unexpected(p.peek(), `";"`)
	}
	if p.err != nil {
		return nil, p.err
	}
	return stmt, nil
}
