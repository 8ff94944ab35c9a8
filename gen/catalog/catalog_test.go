package catalog

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/gen/cql"
)

// update is accepted so that go test ./gen/... -update works; this package
// has no golden files (they live in gen/testdata).
var _ = flag.Bool("update", false, "rewrite golden files (none in this package)")

func TestColumnKinds(t *testing.T) {
	t.Parallel()

	cat, err := Build(Source{Name: "s.cql", Text: `CREATE TABLE t (a int, b int, c timestamp, d text, s int STATIC,
		PRIMARY KEY ((a, b), c, d)) WITH CLUSTERING ORDER BY (c DESC);`})
	if err != nil {
		t.Fatal(err)
	}
	type col struct {
		Name, Kind, Order string
		Position          int
	}
	var got []col
	for _, c := range cat.Keyspaces[0].Table("t").KeyOrdered() {
		got = append(got, col{c.Name, c.Kind.String(), c.Order(), c.Position})
	}
	want := []col{
		{"a", "partition_key", "none", 0}, {"b", "partition_key", "none", 1},
		{"c", "clustering", "desc", 0}, {"d", "clustering", "asc", 1}, {"s", "static", "none", -1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		src  string
		want error
		pos  cql.Position
	}{
		"NoKey":          {"CREATE TABLE t (a int);", ErrPrimaryKey, cql.Position{File: "s.cql", Line: 1, Col: 14}},
		"UnknownType":    {"CREATE TABLE t (a int PRIMARY KEY,\n b texte);", ErrUnknownType, cql.Position{File: "s.cql", Line: 2, Col: 4}},
		"Counter":        {"CREATE TABLE t (a int PRIMARY KEY, b counter, c int);", ErrCounter, cql.Position{File: "s.cql", Line: 1, Col: 47}},
		"Static":         {"CREATE TABLE t (a int PRIMARY KEY, b int static);", ErrStatic, cql.Position{File: "s.cql", Line: 1, Col: 36}},
		"Frozen":         {"CREATE TABLE t (a set<int> PRIMARY KEY);", ErrFrozen, cql.Position{File: "s.cql", Line: 1, Col: 19}},
		"Order":          {"CREATE TABLE t (a int, b int, PRIMARY KEY (a, b)) WITH CLUSTERING ORDER BY (a ASC);", ErrClusteringOrder, cql.Position{File: "s.cql", Line: 1, Col: 77}},
		"AlterUnknown":   {"ALTER TABLE t ADD x int;", ErrUnknownTable, cql.Position{File: "s.cql", Line: 1, Col: 13}},
		"DropKey":        {"CREATE TABLE t (a int PRIMARY KEY);\nALTER TABLE t DROP a;", ErrKeyColumn, cql.Position{File: "s.cql", Line: 2, Col: 20}},
		"DuplicateTable": {"CREATE TABLE t (a int PRIMARY KEY);\nCREATE TABLE t (a int PRIMARY KEY);", ErrDuplicate, cql.Position{File: "s.cql", Line: 2, Col: 14}},
		"UnknownOption":  {"CREATE TABLE t (a int PRIMARY KEY) WITH x = 1;", ErrUnknownOption, cql.Position{File: "s.cql", Line: 1, Col: 41}},
		"DropTypeInUse":  {"CREATE TYPE u (x int);\nCREATE TABLE t (a int PRIMARY KEY, b frozen<u>);\nDROP TYPE u;", ErrDependency, cql.Position{File: "s.cql", Line: 3, Col: 11}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Build(Source{Name: "s.cql", Text: tt.src})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Build() error = %v, want %v", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Build() error is %T, want *Error", err)
			}
			if diff := cmp.Diff(tt.pos, e.Pos); diff != "" {
				t.Errorf("position (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFailedAlterLeavesTable checks that a statement that fails halfway
// (the second column of ADD) does not change the catalog.
func TestFailedAlterLeavesTable(t *testing.T) {
	t.Parallel()

	cat, err := Build(Source{Name: "s.cql", Text: "CREATE TABLE t (a int PRIMARY KEY, b int);"})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := cql.ParseSchema("s.cql", "ALTER TABLE t ADD (c int, b int);")
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Update(stmts[0]); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("Update() error = %v, want ErrDuplicate", err)
	}
	if got := len(cat.Keyspaces[0].Table("t").Columns); got != 2 {
		t.Errorf("table has %d columns after a failed ALTER, want 2", got)
	}
}

func TestCompileQuery(t *testing.T) {
	t.Parallel()

	cat, err := Build(Source{Name: "s.cql", Text: `CREATE TABLE jobs (id uuid, at timestamp, state text, version int, tags list<text>,
		PRIMARY KEY (id, at));`})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		src  string
		want Query
	}{
		"Select": {
			src:  "SELECT state FROM jobs WHERE id = ? AND at > :since LIMIT ?",
			want: Query{Kind: "select", CQL: "SELECT state FROM jobs WHERE id = ? AND at > ? LIMIT ?", Names: []string{"id", "since", "limit"}, Idempotent: true},
		},
		"FencedUpdate": {
			src:  "UPDATE jobs SET state = ?, version = :new_version WHERE id = ? AND at = ? IF version = ?",
			want: Query{Kind: "update", CQL: "UPDATE jobs SET state = ?, version = ? WHERE id = ? AND at = ? IF version = ?", Names: []string{"state", "new_version", "id", "at", "version"}, LWT: true, Tested: []string{"version"}},
		},
		"ListAppend": {
			src:  "UPDATE jobs SET tags = tags + ? WHERE id = ? AND at = ?",
			want: Query{Kind: "update", CQL: "UPDATE jobs SET tags = tags + ? WHERE id = ? AND at = ?", Names: []string{"tags", "id", "at"}},
		},
		"InsertTTL": {
			src:  "INSERT INTO jobs (id, at, state) VALUES (?, toTimestamp(now()), ?) USING TTL ?",
			want: Query{Kind: "insert", CQL: "INSERT INTO jobs (id, at, state) VALUES (?, toTimestamp(now()), ?) USING TTL ?", Names: []string{"id", "state", "_ttl"}},
		},
		"DeletePartition": {
			src:  "DELETE FROM jobs USING TIMESTAMP ? WHERE id IN ?",
			want: Query{Kind: "delete", CQL: "DELETE FROM jobs USING TIMESTAMP ? WHERE id IN ?", Names: []string{"_ts", "id"}, Idempotent: true},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := compileOne(t, cat, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Name, tt.want.Pos, tt.want.Table = "Q", got.Pos, got.Table
			ignore := cmp.FilterPath(func(p cmp.Path) bool {
				switch p.Last().String() {
				case ".Table", ".Params", ".Results", ".Star": // TestCompileTypes
					return true
				}
				return false
			}, cmp.Ignore())
			if diff := cmp.Diff(&tt.want, got, ignore); diff != "" {
				t.Errorf("Compile() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileTypes(t *testing.T) {
	t.Parallel()

	cat, err := Build(Source{Name: "s.cql", Text: `CREATE TYPE addr (city text, zip int);
		CREATE TABLE t (id uuid, at timestamp, n int, tags list<text>, labels set<text>, attrs map<text, bigint>,
		pair tuple<int, text>, home addr, PRIMARY KEY ((id), at));
		CREATE TABLE hits (page text, day date, views counter, PRIMARY KEY (page, day));`})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		src     string
		params  []string // "name type", in marker order
		results []string // "metadata-name field type"
	}{
		"RangeBoundsAndLimit": {
			src:     "SELECT n, tags AS t FROM t WHERE id = ? AND at >= :from AND at < :to LIMIT ?",
			params:  []string{"id uuid", "from timestamp", "to timestamp", "limit int"},
			results: []string{"n n int", "t t list<text>"},
		},
		"In": {
			src:     "SELECT * FROM t WHERE id IN ? AND at IN (?, :second)",
			params:  []string{"id list<uuid>", "at timestamp", "second timestamp"},
			results: []string{"id id uuid", "at at timestamp", "n n int", "tags tags list<text>", "labels labels set<text>", "attrs attrs map<text, bigint>", "pair pair frozen<tuple<int, text>>", "home home addr"},
		},
		"Functions": {
			src:     "SELECT token(id), count(*), writetime(n), ttl(n), max(at), toJson(tags) FROM t WHERE token(id) > ? AND token(id) <= :end",
			params:  []string{"token bigint", "end bigint"},
			results: []string{"system.token(id) token bigint", "count count bigint", "writetime(n) writetime_n bigint", "ttl(n) ttl_n int", "max(at) max_at timestamp", "toJson(tags) tojson_tags text"},
		},
		"Json": {
			src:     "SELECT JSON n FROM t WHERE id = ? AND at = minTimeuuid(?)",
			params:  []string{"id uuid", "at timestamp"},
			results: []string{"[json] json text"},
		},
		"UpdateCollectionsAndFields": {
			src:    "UPDATE t USING TTL ? AND TIMESTAMP ? SET tags = ? + tags, labels = labels - ?, attrs = attrs - ?, attrs[?] = ?, tags[?] = ?, home.city = ?, pair = ? WHERE id = ? AND at = ? IF n IN ? AND attrs[:k] = :v AND home.zip > :zip",
			params: []string{"_ttl int", "_ts bigint", "tags list<text>", "labels set<text>", "attrs set<text>", "attrs_key text", "attrs_value bigint", "tags_key int", "tags_value text", "home.city text", "pair[0] int", "pair[1] text", "id uuid", "at timestamp", "n list<int>", "k text", "v bigint", "zip int"},
		},
		"InsertLiterals": {
			src:    "INSERT INTO t (id, at, tags, attrs, labels) VALUES (?, ?, [?, 'x'], {'a': ?}, {?}) IF NOT EXISTS",
			params: []string{"id uuid", "at timestamp", "tags text", "attrs bigint", "labels text"},
		},
		"Counter": {
			src:    "UPDATE hits SET views = views + ? WHERE page = ? AND day = ?",
			params: []string{"views counter", "page text", "day date"},
		},
		"DeleteElements": {
			src:    "DELETE attrs[?], tags[?] FROM t WHERE id = ? AND at = ?",
			params: []string{"attrs_key text", "tags_key int", "id uuid", "at timestamp"},
		},
		"Contains": {
			src:     "SELECT n FROM t WHERE tags CONTAINS ? AND attrs CONTAINS KEY ? AND attrs CONTAINS :v ALLOW FILTERING",
			params:  []string{"tags text", "attrs text", "v bigint"},
			results: []string{"n n int"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := compileOne(t, cat, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			var params, results []string
			for _, p := range got.Params {
				params = append(params, p.Name+" "+p.Type.String())
			}
			for _, r := range got.Results {
				results = append(results, r.Name+" "+r.Field+" "+r.Type.String())
			}
			if diff := cmp.Diff(tt.params, params); diff != "" {
				t.Errorf("Params mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.results, results); diff != "" {
				t.Errorf("Results mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileUntypedMarker(t *testing.T) {
	t.Parallel()

	cat, err := Build(Source{Name: "s.cql", Text: `CREATE TABLE t (id uuid, a int, b int, n text, PRIMARY KEY (id, a, b));`})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		src  string
		want string
	}{
		"UnknownFunction": {
			src:  "INSERT INTO t (id, a, b, n) VALUES (?, ?, ?, myfn(?))",
			want: "q.cql:2:51: invalid query: the generator cannot tell the type of the bind marker ?",
		},
		"TupleMarker": {
			src:  "SELECT n FROM t WHERE id = ? AND (a, b) > ?",
			want: "q.cql:2:43: invalid query: the generator cannot tell the type of the bind marker ?; bind each column of the tuple: (a, b) > (?, …)",
		},
		"UnknownResult": {
			src:  "SELECT myfn(n) FROM t WHERE id = ?",
			want: "q.cql:2:8: invalid query: the generator cannot tell the result type of myfn(n)",
		},
		"NamedTwiceTwoTypes": {
			src:  "SELECT n FROM t WHERE id = :x AND a = :x",
			want: "q.cql:2:39: ambiguous bind marker: :x takes int here but uuid at q.cql:2:28",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := compileOne(t, cat, tt.src)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Compile() error = %v, want one starting %q", err, tt.want)
			}
		})
	}
}

// compileOne parses src as a query named Q and compiles it against cat.
func compileOne(t *testing.T, cat *Catalog, src string) (*Query, error) {
	t.Helper()
	nq, err := cql.ParseQueries("q.cql", "-- name: Q\n"+src+";")
	if err != nil {
		t.Fatal(err)
	}
	return cat.Compile(nq[0])
}

// TestScyllaTTLColumn checks ScyllaDB's per-row TTL column rules
// (docs/cql/cql-extensions.md): one regular timestamp, bigint or int
// column, set in CREATE TABLE or by ALTER TABLE … TTL, and kept by the
// printed schema; the Cassandra dialect refuses it naming the flag.
func TestScyllaTTLColumn(t *testing.T) {
	t.Parallel()

	scylla := Options{Dialect: Scylla}
	tests := map[string]struct {
		src  string
		want error // nil: accepted
	}{
		"Create":        {"CREATE TABLE t (k int PRIMARY KEY, e timestamp TTL);", nil},
		"Alter":         {"CREATE TABLE t (k int PRIMARY KEY, e bigint);\nALTER TABLE t TTL e;\nALTER TABLE t TTL NULL;\nALTER TABLE t TTL e;", nil},
		"Twice":         {"CREATE TABLE t (k int PRIMARY KEY, e timestamp TTL, f int TTL);", ErrInvalidType},
		"AlterTwice":    {"CREATE TABLE t (k int PRIMARY KEY, e timestamp TTL, f int);\nALTER TABLE t TTL f;", ErrInvalidType},
		"NullWithout":   {"CREATE TABLE t (k int PRIMARY KEY, e timestamp);\nALTER TABLE t TTL NULL;", ErrInvalidType},
		"WrongType":     {"CREATE TABLE t (k int PRIMARY KEY, e text TTL);", ErrInvalidType},
		"Key":           {"CREATE TABLE t (k timestamp PRIMARY KEY TTL);", cql.ErrSyntax},
		"KeyColumn":     {"CREATE TABLE t (k timestamp TTL, v int, PRIMARY KEY (k));", ErrInvalidType},
		"Static":        {"CREATE TABLE t (k int, c int, e timestamp TTL STATIC, PRIMARY KEY (k, c));", ErrInvalidType},
		"DropTTLColumn": {"CREATE TABLE t (k int PRIMARY KEY, e timestamp TTL);\nALTER TABLE t DROP e;", ErrDependency},
		"Unknown":       {"CREATE TABLE t (k int PRIMARY KEY);\nALTER TABLE t TTL e;", ErrUnknownColumn},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cat, err := BuildWith(scylla, Source{Name: "s.cql", Text: tt.src})
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("BuildWith(scylla) error = %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if got := cat.Keyspace("").Table("t").TTLColumn; got != "e" {
				t.Errorf("TTLColumn = %q, want e", got)
			}
			checkReprint(t, name, cat, scylla)
			_, err = Build(Source{Name: "s.cql", Text: tt.src})
			if !errors.Is(err, cql.ErrSyntax) || !strings.Contains(err.Error(), "-dialect scylla") {
				t.Errorf("Build() error = %v, want a syntax error naming -dialect scylla", err)
			}
		})
	}
}
