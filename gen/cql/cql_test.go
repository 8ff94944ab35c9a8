package cql

import (
	"errors"
	"flag"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update is accepted so that go test ./gen/... -update works; this package
// has no golden files.
var _ = flag.Bool("update", false, "rewrite golden files (none in this package)")

func TestLex(t *testing.T) {
	t.Parallel()

	type tok struct {
		Kind TokenKind
		Text string
		Line int
		Col  int
	}
	tests := map[string]struct {
		src  string
		want []tok
	}{
		"FoldsUnquoted":               {src: "CREATE Table", want: []tok{{TokIdent, "create", 1, 1}, {TokIdent, "table", 1, 8}}},
		"QuotedKeepsCase":             {src: `"Weird ""Name"""`, want: []tok{{TokQuoted, `Weird "Name"`, 1, 1}}},
		"StringWithSemicolonAndQuote": {src: "'a;b''c'", want: []tok{{TokString, "a;b'c", 1, 1}}},
		"DollarString":                {src: "$$ x; 'y' $$", want: []tok{{TokString, " x; 'y' ", 1, 1}}},
		"Comments": {
			src:  "a -- one\n// two\n/* three\n */ b",
			want: []tok{{TokIdent, "a", 1, 1}, {TokIdent, "b", 4, 5}},
		},
		"Numbers": {src: "1 -2.5e-3 0xCAFE 1e10", want: []tok{{TokNumber, "1", 1, 1}, {TokPunct, "-", 1, 3}, {TokNumber, "2.5e-3", 1, 4}, {TokNumber, "0xCAFE", 1, 11}, {TokNumber, "1e10", 1, 18}}},
		"UUID":    {src: "123e4567-e89b-12d3-a456-426614174000", want: []tok{{TokNumber, "123e4567-e89b-12d3-a456-426614174000", 1, 1}}},
		"Nested generics": {src: "map<text,frozen<list<int>>>", want: []tok{
			{TokIdent, "map", 1, 1}, {TokPunct, "<", 1, 4}, {TokIdent, "text", 1, 5}, {TokPunct, ",", 1, 9},
			{TokIdent, "frozen", 1, 10}, {TokPunct, "<", 1, 16}, {TokIdent, "list", 1, 17}, {TokPunct, "<", 1, 21},
			{TokIdent, "int", 1, 22}, {TokPunct, ">", 1, 25}, {TokPunct, ">", 1, 26}, {TokPunct, ">", 1, 27},
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			toks, _ := Lex("f", tt.src)
			var got []tok
			for _, tk := range toks[:len(toks)-1] {
				got = append(got, tok{tk.Kind, tk.Text, tk.Pos.Line, tk.Pos.Col})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Lex() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLexUnterminated(t *testing.T) {
	t.Parallel()

	for _, src := range []string{"'abc", `"abc`, "$$abc", "/* abc"} {
		toks, _ := Lex("f", src)
		if toks[0].Kind != TokIllegal || !errors.Is(toks[0].Err, ErrUnterminated) {
			t.Errorf("Lex(%q) = %+v, want an unterminated error", src, toks[0])
		}
	}
}

func TestTypeString(t *testing.T) {
	t.Parallel()

	tests := []struct{ src, declared, schema string }{
		{"int", "int", "int"},
		{"VARCHAR", "varchar", "text"},
		{"frozen<list<int>>", "frozen<list<int>>", "frozen<list<int>>"},
		{"map<text,frozen<list<int>>>", "map<text, frozen<list<int>>>", "map<text, frozen<list<int>>>"},
		{"tuple<int,text>", "tuple<int, text>", "frozen<tuple<int, text>>"},
		{"frozen<tuple<int>>", "frozen<tuple<int>>", "frozen<tuple<int>>"},
		{"vector<float,3>", "vector<float, 3>", "vector<float, 3>"},
		{`frozen<"Addr">`, `frozen<"Addr">`, `frozen<"Addr">`},
		{"ks.addr", "addr", "addr"},
		{"frozen<frozen<set<int>>>", "frozen<set<int>>", "frozen<set<int>>"},
	}
	for _, tt := range tests {
		toks, _ := Lex("f", tt.src)
		p := &parser{toks: toks}
		typ := p.typ()
		if p.err != nil {
			t.Fatalf("%s: %v", tt.src, p.err)
		}
		if got := typ.Declared(); got != tt.declared {
			t.Errorf("%s: Declared() = %q, want %q", tt.src, got, tt.declared)
		}
		if got := typ.String(); got != tt.schema {
			t.Errorf("%s: String() = %q, want %q", tt.src, got, tt.schema)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"jobs": "jobs", "job_id": "job_id", "Jobs": `"Jobs"`, "select": `"select"`, "1st": `"1st"`,
		"a b": `"a b"`, `q"d`: `"q""d"`, "_x": `"_x"`, "text": "text",
	}
	for in, want := range tests {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSchemaSkips(t *testing.T) {
	t.Parallel()

	src := `INSERT INTO t (a) VALUES ('x;y');
UPDATE t SET a = 'b' WHERE k = 1;
DELETE FROM t WHERE k = 1;
SELECT * FROM t;
BEGIN BATCH INSERT INTO t (a) VALUES (1); APPLY BATCH;
CREATE FUNCTION f (a int) CALLED ON NULL INPUT RETURNS int LANGUAGE java AS $$ return a; $$;
CREATE OR REPLACE FUNCTION g (a int) CALLED ON NULL INPUT RETURNS int LANGUAGE java AS 'return a;';
CREATE AGGREGATE agg (int) SFUNC f STYPE int;
CREATE ROLE r WITH PASSWORD = 'a;b';
CREATE USER u WITH PASSWORD 'p';
CREATE TRIGGER tr ON t USING 'x';
GRANT ALL ON KEYSPACE ks TO r;
REVOKE ALL ON KEYSPACE ks FROM r;
ALTER KEYSPACE ks WITH durable_writes = false;
ALTER ROLE r WITH LOGIN = true;
DROP FUNCTION f;
DROP ROLE r;
TRUNCATE t;
LIST ROLES;
CREATE TABLE kept (k int PRIMARY KEY);`
	stmts, err := ParseSchema("f", src)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range stmts {
		switch s := s.(type) {
		case *Skipped:
			kinds = append(kinds, "skip:"+s.Keyword)
		case *CreateTable:
			kinds = append(kinds, "table:"+s.Name.Name)
		case *AlterKeyspace:
			kinds = append(kinds, "alter keyspace:"+s.Name.Name)
		case *CreateFunction:
			kinds = append(kinds, "function:"+s.Name.Name+":"+s.Return.String())
		default:
			t.Fatalf("unexpected %T", s)
		}
	}
	want := []string{"skip:insert", "skip:update", "skip:delete", "skip:select", "skip:begin",
		"function:f:int", "function:g:int", "skip:create", "skip:create", "skip:create", "skip:create", "skip:grant", "skip:revoke",
		"alter keyspace:ks", "skip:alter", "skip:drop", "skip:drop", "skip:truncate", "skip:list", "table:kept"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
}

func TestParseSchemaErrors(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		src  string
		want string
		is   error
	}{
		"MissingParen":   {"CREATE TABLE t (k int PRIMARY KEY", `f:1:34: syntax error: expected ")", found end of input`, ErrSyntax},
		"Reserved":       {"CREATE TABLE t (k int PRIMARY KEY, from int)", "f:1:36: syntax error: reserved keyword FROM cannot be used as column name; quote it as \"from\"", ErrSyntax},
		"BadVectorDim":   {"CREATE TABLE t (k int PRIMARY KEY, v vector<float, 0>)", `f:1:52: syntax error: expected vector dimension (an integer from 1 to 2147483647), found "0"`, ErrSyntax},
		"WideVector":     {"CREATE TABLE t (k int PRIMARY KEY, v vector<float, 2147483648>)", `f:1:52: syntax error: expected vector dimension (an integer from 1 to 2147483647), found "2147483648"`, ErrSyntax},
		"TooDeep":        {"CREATE TABLE t (k int PRIMARY KEY, v " + repeat("frozen<", 100) + "int" + repeat(">", 100) + ")", "", ErrSyntax},
		"Unterminated":   {"CREATE TABLE t (k int PRIMARY KEY) WITH comment = 'x", "f:1:51: unterminated string literal", ErrUnterminated},
		"AlterTypeAlter": {"ALTER TYPE t ALTER x TYPE int", "f:1:14: unsupported: ALTER TYPE … ALTER … TYPE was removed in Cassandra 3.10", ErrUnsupported},
		"BadUTF8Name":    {"CREATE TYPE a (\"\xed\" int)", `f:1:16: syntax error: quoted identifier "\"\xed\"" is not valid UTF-8`, ErrSyntax},
		"BadUTF8String":  {"CREATE TABLE t (k int PRIMARY KEY) WITH comment = '\xff'", `f:1:51: syntax error: string "'\xff'" is not valid UTF-8`, ErrSyntax},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSchema("f", tt.src)
			if !errors.Is(err, tt.is) {
				t.Fatalf("ParseSchema() error = %v, want %v", err, tt.is)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("ParseSchema() error %T is not *Error", err)
			}
			if tt.want != "" && err.Error() != tt.want {
				t.Errorf("ParseSchema() error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// TestSplit checks the statement boundaries cqlsh would use: semicolons in
// strings, quoted names, $$ bodies and comments do not end a statement, a
// batch is one statement, and empty statements are dropped.
func TestSplit(t *testing.T) {
	t.Parallel()

	src := `-- leading comment; not a statement
CREATE TABLE "a;b" (k int PRIMARY KEY) WITH comment = 'x;y'; ;
/* c; */ INSERT INTO t (k) VALUES (1) -- trailing; comment
;
CREATE FUNCTION f (a int) CALLED ON NULL INPUT RETURNS int LANGUAGE java AS $$ return a; $$;
BEGIN UNLOGGED BATCH INSERT INTO t (k) VALUES (1); INSERT INTO t (k) VALUES (2); APPLY BATCH;
DROP TABLE t`
	type stmt struct {
		Text     string
		Pos, End string
	}
	var got []stmt
	for _, s := range Split("f.cql", src) {
		got = append(got, stmt{s.Text, s.Pos.String(), s.End.String()})
	}
	want := []stmt{
		{`CREATE TABLE "a;b" (k int PRIMARY KEY) WITH comment = 'x;y'`, "f.cql:2:1", "f.cql:2:60"},
		{"INSERT INTO t (k) VALUES (1) -- trailing; comment", "f.cql:3:10", "f.cql:4:1"},
		{"CREATE FUNCTION f (a int) CALLED ON NULL INPUT RETURNS int LANGUAGE java AS $$ return a; $$", "f.cql:5:1", "f.cql:5:92"},
		{"BEGIN UNLOGGED BATCH INSERT INTO t (k) VALUES (1); INSERT INTO t (k) VALUES (2); APPLY BATCH", "f.cql:6:1", "f.cql:6:93"},
		{"DROP TABLE t", "f.cql:7:1", "f.cql:7:13"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Split (-want +got):\n%s", diff)
	}
	for _, s := range Split("f.cql", src) {
		if !s.Contains(s.Pos) || !s.Contains(s.End) || s.Contains(Position{File: "f.cql", Line: s.End.Line + 1, Col: 1}) && s.End.Line < 7 {
			t.Errorf("Contains is wrong for the statement at %s", s.Pos)
		}
	}
}

func TestParseQueriesDoc(t *testing.T) {
	t.Parallel()

	src := `-- file header

------------------------------------------ section
-- Reads a thing.
-- Two lines.
-- name: A :one
SELECT * FROM t WHERE k = ?;
-- name: B
SELECT * FROM t WHERE k = ?;
`
	qs, err := ParseQueries("q.cql", src)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{qs[0].Doc, qs[1].Doc}
	want := []string{"Reads a thing.\nTwo lines.", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Doc mismatch (-want +got):\n%s", diff)
	}
}
