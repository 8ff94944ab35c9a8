package cql

import (
	"strings"
	"unicode/utf8"
)

// TokenKind classifies a token.
type TokenKind int

// Token kinds.
const (
	TokEOF     TokenKind = iota // end of input
	TokIdent                    // unquoted identifier or keyword; Text is folded to lower case
	TokQuoted                   // "Quoted" identifier; Text is the name with "" unescaped
	TokString                   // 'string' or $$string$$; Text is the unescaped value
	TokNumber                   // integer, float, hex blob or UUID literal
	TokPunct                    // one punctuation character; Text is that character
	TokIllegal                  // a character no CQL token starts with, or an unterminated literal
)

var tokenKindNames = [...]string{"end of input", "identifier", "quoted identifier", "string", "number", "punctuation", "illegal character"}

// String names the kind for error messages.
func (k TokenKind) String() string {
	if k < 0 || int(k) >= len(tokenKindNames) {
		return "token"
	}
	return tokenKindNames[k]
}

// Token is one lexical token.
type Token struct {
	Kind TokenKind
	Text string   // see TokenKind
	Raw  string   // the source text of the token
	Pos  Position // where the token starts
	Off  int      // byte offset of the token in the source
	// Dollar marks a String written as $$…$$.
	Dollar bool
	// Err is set on Illegal tokens that come from an unterminated literal.
	Err error
}

// Comment is a line comment (-- or //) kept for the named-query syntax.
type Comment struct {
	Text string // the comment without its marker, trimmed
	Pos  Position
}

// Lex splits src into tokens. It never fails: problems become Illegal tokens
// that the parser reports when they matter (inside skipped statements they do
// not). The last token is always EOF. Line comments are returned separately.
func Lex(file, src string) ([]Token, []Comment) {
	l := lexer{file: file, src: src, line: 1, lineStart: 0}
	for {
		t, ok := l.next()
		if !ok {
			l.toks = append(l.toks, Token{Kind: TokEOF, Pos: l.pos(l.off), Off: l.off})
			return l.toks, l.comments
		}
		l.toks = append(l.toks, t)
	}
}

type lexer struct {
	file      string
	src       string
	off       int
	line      int
	lineStart int
	toks      []Token
	comments  []Comment
}

func (l *lexer) pos(off int) Position {
	return Position{File: l.file, Line: l.line, Col: off - l.lineStart + 1}
}

// advance moves to off, counting newlines on the way.
func (l *lexer) advance(to int) {
	for i := l.off; i < to && i < len(l.src); i++ {
		if l.src[i] == '\n' {
			l.line++
			l.lineStart = i + 1
		}
	}
	l.off = to
}

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '_' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isHex(c byte) bool        { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func (l *lexer) next() (Token, bool) {
	if !l.skipSpace() {
		return Token{}, false
	}
	start := l.off
	pos := l.pos(start)
	src := l.src
	c := src[start]
	tok := func(kind TokenKind, end int, text string) (Token, bool) {
		raw := src[start:end]
		l.advance(end)
		return Token{Kind: kind, Text: text, Raw: raw, Pos: pos, Off: start}, true
	}
	switch {
	case isHex(c) && isUUIDAt(src, start):
		return tok(TokNumber, start+36, strings.ToLower(src[start:start+36]))
	case isIdentStart(c):
		end := start + 1
		for end < len(src) && isIdentPart(src[end]) {
			end++
		}
		return tok(TokIdent, end, strings.ToLower(src[start:end]))
	case isDigit(c) || c == '.' && start+1 < len(src) && isDigit(src[start+1]):
		end := start + 1
		for end < len(src) {
			d := src[end]
			switch {
			case isIdentPart(d) || d == '.':
				end++
				continue
			case (d == '+' || d == '-') && (src[end-1] == 'e' || src[end-1] == 'E') && !strings.HasPrefix(strings.ToLower(src[start:end]), "0x"):
				end++
				continue
			}
			break
		}
		return tok(TokNumber, end, src[start:end])
	case c == '"':
		var b strings.Builder
		for i := start + 1; i < len(src); i++ {
			if src[i] != '"' {
				b.WriteByte(src[i])
				continue
			}
			if i+1 < len(src) && src[i+1] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			return l.checkUTF8(tok(TokQuoted, i+1, b.String()))
		}
		t, _ := tok(TokIllegal, len(src), "")
		t.Err = Errorf(pos, "%w quoted identifier", ErrUnterminated)
		return t, true
	case c == '\'':
		var b strings.Builder
		for i := start + 1; i < len(src); i++ {
			if src[i] != '\'' {
				b.WriteByte(src[i])
				continue
			}
			if i+1 < len(src) && src[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return l.checkUTF8(tok(TokString, i+1, b.String()))
		}
		t, _ := tok(TokIllegal, len(src), "")
		t.Err = Errorf(pos, "%w string literal", ErrUnterminated)
		return t, true
	case c == '$' && strings.HasPrefix(src[start:], "$$"):
		end := strings.Index(src[start+2:], "$$")
		if end < 0 {
			t, _ := tok(TokIllegal, len(src), "")
			t.Err = Errorf(pos, "%w $$ string", ErrUnterminated)
			return t, true
		}
		t, ok := tok(TokString, start+2+end+2, src[start+2:start+2+end])
		t.Dollar = true
		return l.checkUTF8(t, ok)
	case c == '/' && strings.HasPrefix(src[start:], "/*"):
		t, _ := tok(TokIllegal, len(src), "")
		t.Err = Errorf(pos, "%w comment", ErrUnterminated)
		return t, true
	case strings.IndexByte("()<>,;.=:?[]{}+-*/!%", c) >= 0:
		return tok(TokPunct, start+1, string(c))
	}
	_, size := utf8.DecodeRuneInString(src[start:])
	return tok(TokIllegal, start+size, src[start:start+size])
}

// checkUTF8 turns a quoted identifier or string that is not valid UTF-8
// into an Illegal token: CQL text is UTF-8 (cqlsh refuses to read such a
// file), and names and values become Go source, which must be UTF-8 too.
func (l *lexer) checkUTF8(t Token, ok bool) (Token, bool) {
	if utf8.ValidString(t.Text) {
		return t, ok
	}
	t.Err = Errorf(t.Pos, "%w: %s %q is not valid UTF-8", ErrSyntax, t.Kind, t.Raw)
	t.Kind = TokIllegal
	return t, ok
}

// skipSpace skips blanks and comments and reports whether input remains.
// An unterminated block comment runs to the end of the input, as in cqlsh.
func (l *lexer) skipSpace() bool {
	src := l.src
	for l.off < len(src) {
		c := src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.advance(l.off + 1)
		case strings.HasPrefix(src[l.off:], "--") || strings.HasPrefix(src[l.off:], "//"):
			pos := l.pos(l.off)
			end := strings.IndexByte(src[l.off:], '\n')
			if end < 0 {
				end = len(src) - l.off
			}
			text := strings.TrimSpace(src[l.off+2 : l.off+end])
			l.comments = append(l.comments, Comment{Text: text, Pos: pos})
			l.advance(l.off + end)
		case strings.HasPrefix(src[l.off:], "/*"):
			end := strings.Index(src[l.off+2:], "*/")
			if end < 0 {
				return true // next reports it
			}
			l.advance(l.off + 2 + end + 2)
		default:
			return true
		}
	}
	return false
}

// isUUIDAt reports whether a UUID literal (8-4-4-4-12 hex digits) starts at i.
func isUUIDAt(s string, i int) bool {
	if len(s)-i < 36 {
		return false
	}
	for j := 0; j < 36; j++ {
		c := s[i+j]
		switch j {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return len(s)-i == 36 || !isIdentPart(s[i+36])
}
