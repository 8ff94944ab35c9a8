package golang

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
)

// FuzzGenerate runs the whole pipeline (parse, catalog, query compilation,
// rendering) on arbitrary schema and queries text: it must return output or
// an error at a position in the input, never panic or render Go that does
// not format, and the same input must give the same bytes.
func FuzzGenerate(f *testing.F) {
	dirs, _ := filepath.Glob("../testdata/*")
	for _, d := range dirs {
		schema, err := os.ReadFile(filepath.Join(d, "Schema.cql"))
		if err != nil {
			continue
		}
		queries, _ := os.ReadFile(filepath.Join(d, "queries.cql"))
		f.Add(string(schema), string(queries))
	}
	f.Fuzz(func(t *testing.T, schema, queries string) {
		generate := func() (map[string][]byte, error) {
			cat, err := catalog.Build(catalog.Source{Name: "s.cql", Text: schema})
			if err != nil {
				return nil, err
			}
			named, err := cql.ParseQueries("q.cql", queries)
			if err != nil {
				return nil, err
			}
			var opts Options
			for _, nq := range named {
				q, err := cat.Compile(nq)
				if err != nil {
					return nil, err
				}
				opts.Queries = append(opts.Queries, q)
			}
			return Generate(context.Background(), cat, opts)
		}
		first, err := generate()
		var schemaErr *cql.Error
		if err != nil && !errors.As(err, &schemaErr) {
			t.Fatalf("an error that points at no schema position (a generator bug): %v", err)
		}
		if err != nil {
			return
		}
		again, err := generate()
		if err != nil {
			t.Fatalf("second run failed: %v", err)
		}
		for k, v := range first {
			if !bytes.Equal(v, again[k]) {
				t.Fatalf("%s differs between runs", k)
			}
		}
	})
}
