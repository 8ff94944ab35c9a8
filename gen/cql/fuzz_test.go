package cql

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary text to both parsers: they must return
// statements or an *Error, never panic, and every parsed type must render.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"../testdata/*/Schema.cql", "../testdata/*/schema/*.cql", "../testdata/*/queries.cql"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(string(data))
			}
		}
	}
	f.Add("CREATE TABLE t (a int PRIMARY KEY) WITH x = {'a': [1, {2, 3}]} AND y = -1.5e3;")
	f.Add("-- name: Q\nUPDATE t SET m[?] = ?, l = ? + l, u.f = :x WHERE (a, b) > (?, ?) IF m[?] != ?;")
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := ParseSchema("f.cql", src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("ParseSchema error %T is not *Error: %v", err, err)
			}
		}
		for _, s := range stmts {
			if ct, ok := s.(*CreateTable); ok {
				for _, c := range ct.Columns {
					_ = c.Type.String() + c.Type.Declared()
				}
			}
		}
		queries, err := ParseQueries("q.cql", src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("ParseQueries error %T is not *Error: %v", err, err)
			}
		}
		for _, q := range queries {
			if q.Stmt == nil {
				t.Fatalf("query %s has no statement", q.Name)
			}
		}
	})
}
