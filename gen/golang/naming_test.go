package golang

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
)

// update is accepted so that go test ./gen/... -update works; this package
// has no golden files.
var _ = flag.Bool("update", false, "rewrite golden files (none in this package)")

func TestGoName(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"jobs_by_state":   "JobsByState",
		"id":              "ID",
		"job_id":          "JobID",
		"ids":             "IDs",
		"job_ids":         "JobIDs",
		"ttl":             "TTL",
		"uuid":            "UUID",
		"api_url":         "APIURL",
		"json_payload":    "JSONPayload",
		"ip":              "IP",
		"created_at":      "CreatedAt",
		"userId":          "UserID",
		"HTTPServer":      "HTTPServer",
		"Weird Name":      "WeirdName",
		"select":          "Select",
		"y-coord":         "YCoord",
		"1st":             "X1st",
		"_private":        "Private",
		"__":              "X",
		"status":          "Status",
		"c_ascii":         "CASCII",
		"Ünïcode":         "Ünïcode",
		"日本":              "X日本",
		"scheduled_at_ms": "ScheduledAtMs",
		"v2_data":         "V2Data",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			if got := GoName(in); got != want {
				t.Errorf("GoName(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

// TestParamNames checks the parameter names of query methods: lower camel
// case from the marker's Go name, and a deterministic other name for Go
// keywords, predeclared names, the names the method uses itself and names
// already taken.
func TestParamNames(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		binds []string
		want  []string
	}{
		{
			name:  "LowerCamelCase",
			binds: []string{"id", "expected_version", "_ttl", "_ts", "limit", "job_ids", "c_text", "api_url", "userId", "work.city", "pair[0]", "1st", "Ünïcode", "日本", "__"},
			want:  []string{"id", "expectedVersion", "ttl", "timestamp", "limit", "jobIDs", "cText", "apiURL", "userID", "workCity", "pair0", "x1st", "ünïcode", "日本", "x"},
		},
		{
			name:  "Keywords",
			binds: []string{"type", "func", "package", "interface", "select", "range", "map", "default"},
			want:  []string{"typ", "fn", "pkg", "iface", "selectValue", "rangeValue", "mapValue", "defaultValue"},
		},
		{
			name:  "PredeclaredAndPackages",
			binds: []string{"string", "len", "nil", "true", "any", "time", "gocql", "context", "big", "inf"},
			want:  []string{"stringValue", "lenValue", "nilValue", "trueValue", "anyValue", "timeValue", "gocqlValue", "contextValue", "bigValue", "infValue"},
		},
		{
			name:  "TheMethodsOwnNames",
			binds: []string{"ctx", "db", "b", "models", "scan_q"},
			want:  []string{"ctxValue", "dbValue", "bValue", "modelsValue", "scanQValue"},
		},
		{
			name:  "TakenNames",
			binds: []string{"typ", "type", "b_value", "b", "ctx", "ctx_value"},
			want:  []string{"typ", "typ2", "bValue", "bValue2", "ctxValue", "ctxValue2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			scope := newParamScope("ctx", "db", "b", "models", "scanQ")
			var got []string
			for _, bind := range tt.binds {
				got = append(got, scope.name(lowerName(paramWords(bind))))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parameter names (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGoNames checks the names of one scope: the usual Go names when they
// differ, and the rule for names that differ only in case or quoting.
func TestGoNames(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		in, want []string
	}{
		"Distinct":     {in: []string{"job_id", "state", "Weird Name"}, want: []string{"JobID", "State", "WeirdName"}},
		"QuotedTable":  {in: []string{"ColumnRenameWithConstants", "column_rename_with_constants"}, want: []string{"ColumnRenameWithConstants", "ColumnRenameWithConstants_"}},
		"ThreeCases":   {in: []string{"Value", "value", "VALUE"}, want: []string{"Value", "Value_", "VALUE"}},
		"Field":        {in: []string{"x", "X", "y"}, want: []string{"X_", "X", "Y"}},
		"LowerQuoted":  {in: []string{"userId", "user_id", "UserID"}, want: []string{"XuserId", "UserID_", "UserID"}},
		"Reserved":     {in: []string{"select", "Select"}, want: []string{"Xselect", "Select"}},
		"Spaces":       {in: []string{"weird name", "Weird Name", "weird_name"}, want: []string{"Xweird_name", "Weird_Name", "WeirdName_"}},
		"NoClash":      {in: []string{"A", "a b"}, want: []string{"A", "AB"}},
		"Punctuation":  {in: []string{"a b", "a-b"}, want: []string{"Xa_b", "Xa_b"}}, // left for the caller to report
		"Underscores":  {in: []string{"job_ids", "job__ids"}, want: []string{"JobIDs_", "JobIDs_"}},
		"Unicode":      {in: []string{"Ünïcode", "ünïcode"}, want: []string{"Ünïcode", "Xünïcode"}}, // not ASCII: quoted in CQL
		"NotSameScope": {in: []string{"value"}, want: []string{"Value"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, goNames(tt.in)); diff != "" {
				t.Errorf("goNames(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestKeyspaceDir(t *testing.T) {
	t.Parallel()

	for in, want := range map[string]string{
		"alpha": "alpha", "my_app": "myapp", "Beta_Two": "betatwo", "1st": "st", "2024": "generated",
		"internal": "internalks", "testdata": "testdataks", "vendor": "vendorks", "func": "funcks", "type": "typeks",
	} {
		if got := KeyspaceDir(in); got != want {
			t.Errorf("KeyspaceDir(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFileBase(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"jobs":          "jobs",
		"Jobs By State": "jobs_by_state",
		"events_linux":  "events_linux_cql",
		"runs_test":     "runs_test_cql",
		"data_amd64":    "data_amd64_cql",
		"_hidden":       "hidden",
		"???":           "x",
		"a--b":          "a_b",
	}
	for in, want := range tests {
		if got := FileBase(in); got != want {
			t.Errorf("FileBase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPackageName(t *testing.T) {
	t.Parallel()

	tests := map[string]string{"models": "models", "my-queries": "myqueries", "2go": "go", "---": "generated"}
	for in, want := range tests {
		if got := PackageName(in); got != want {
			t.Errorf("PackageName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTypeMapping maps one column of each type and checks the Go type and
// the system_schema type string.
func TestTypeMapping(t *testing.T) {
	t.Parallel()

	tests := []struct {
		cql        string
		wantGo     string
		wantSchema string
	}{
		{"ascii", "string", "ascii"},
		{"bigint", "int64", "bigint"},
		{"blob", "[]byte", "blob"},
		{"boolean", "bool", "boolean"},
		{"date", "time.Time", "date"},
		{"decimal", "*inf.Dec", "decimal"},
		{"double", "float64", "double"},
		{"duration", "gocql.Duration", "duration"},
		{"float", "float32", "float"},
		{"inet", "Inet", "inet"},
		{"int", "int32", "int"},
		{"smallint", "int16", "smallint"},
		{"text", "string", "text"},
		{"time", "time.Duration", "time"},
		{"timestamp", "time.Time", "timestamp"},
		{"timeuuid", "gocql.UUID", "timeuuid"},
		{"tinyint", "int8", "tinyint"},
		{"uuid", "gocql.UUID", "uuid"},
		{"varchar", "string", "text"},
		{"varint", "*big.Int", "varint"},
		{"vector<float, 3>", "Vector[float32]", "vector<float, 3>"},
		{"vector<bigint,2>", "Vector[int64]", "vector<bigint, 2>"},
		{"list<int>", "[]int32", "list<int>"},
		{"set<frozen<list<text>>>", "[][]string", "set<frozen<list<text>>>"},
		{"map<text, frozen<list<int>>>", "map[string][]int32", "map<text, frozen<list<int>>>"},
		{"map<blob, inet>", "map[string]Inet", "map<blob, inet>"},
		{"map<inet, blob>", "map[string][]byte", "map<inet, blob>"},
		{"frozen<map<int, frozen<set<uuid>>>>", "map[int32][]gocql.UUID", "frozen<map<int, frozen<set<uuid>>>>"},
		{"tuple<int, text>", "Tuple2[int32, string]", "frozen<tuple<int, text>>"},
		{"tuple<int, list<int>>", "Tuple2[int32, []int32]", "frozen<tuple<int, frozen<list<int>>>>"},
		{"frozen<tuple<tuple<int>, u>>", "Tuple2[Tuple1[int32], U]", "frozen<tuple<frozen<tuple<int>>, frozen<u>>>"},
		{"map<frozen<tuple<int, text>>, int>", "map[Tuple2[int32, string]]int32", "map<frozen<tuple<int, text>>, int>"},
		{"map<frozen<u>, int>", "map[U]int32", "map<frozen<u>, int>"},
		{"u", "U", "u"},
		{"frozen<u>", "U", "frozen<u>"},
		{"list<frozen<u>>", "[]U", "list<frozen<u>>"},
	}
	for _, tt := range tests {
		t.Run(tt.cql, func(t *testing.T) {
			t.Parallel()
			cat, err := catalog.Build(catalog.Source{Name: "t.cql", Text: "CREATE TYPE u (a int, b text);\nCREATE TABLE t (k int PRIMARY KEY, c " + tt.cql + ");"})
			if err != nil {
				t.Fatal(err)
			}
			col := cat.Keyspaces[0].Table("t").Column("c")
			m := &typeMapper{cat: cat, udtNames: map[*catalog.UDT]string{cat.Types()[0]: "U"}, comparable: map[*catalog.UDT]bool{}}
			g, err := m.goType(col.Type, false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantGo, g.Expr); diff != "" {
				t.Errorf("Go type (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSchema, col.Type.String()); diff != "" {
				t.Errorf("system_schema type (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGenerateHonoursContext(t *testing.T) {
	t.Parallel()

	cat, err := catalog.Build(catalog.Source{Name: "t.cql", Text: "CREATE TABLE t (k int PRIMARY KEY);"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, cat, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate() error = %v, want context.Canceled", err)
	}
}

// TestModelsPackageName checks that the queries package refers to the
// models package by the name and import path it is given.
func TestModelsPackageName(t *testing.T) {
	t.Parallel()

	cat, err := catalog.Build(catalog.Source{Name: "t.cql", Text: "CREATE TYPE pt (x int); CREATE TABLE t (k int PRIMARY KEY, p frozen<pt>); CREATE TABLE u (k int PRIMARY KEY, v int);"})
	if err != nil {
		t.Fatal(err)
	}
	nq, err := cql.ParseQueries("q.cql", "-- name: TGet\nSELECT p FROM t WHERE k = ?;\n-- name: USet\nUPDATE u SET v = ? WHERE k = ?;")
	if err != nil {
		t.Fatal(err)
	}
	var qs []*catalog.Query
	for _, n := range nq {
		q, err := cat.Compile(n)
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	files, err := Generate(context.Background(), cat, Options{ModelsPackage: "rows", ModelsImport: "example.com/app/rows", Queries: qs})
	if err != nil {
		t.Fatal(err)
	}
	for file, wants := range map[string][]string{
		// The import comes from the row's field type alone.
		"queries/t.go": {`"example.com/app/rows"`, "P rows.Pt"},
		"queries/u.go": {`"example.com/app/rows"`, "func (db *DB) USet(ctx context.Context, row rows.URow) Write {"},
	} {
		for _, want := range wants {
			if src := string(files[file]); !strings.Contains(src, want) {
				t.Errorf("%s does not contain %q:\n%s", file, want, src)
			}
		}
	}
}
