package main

import (
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/gen/internal/run"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenCase is one directory of testdata: a Schema.cql file or a schema/
// folder of migrations, an optional queries.cql, and either the expected
// models/ and queries/ files or the expected error in error.txt.
type goldenCase struct {
	name, dir string
}

func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var out []goldenCase
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, goldenCase{name: e.Name(), dir: filepath.Join("testdata", e.Name())})
		}
	}
	return out
}

func (c goldenCase) config() run.Config {
	cfg := run.Config{
		Schema:  filepath.Join(c.dir, "Schema.cql"),
		Models:  filepath.Join(c.dir, "models"),
		Queries: filepath.Join(c.dir, "queries"),
	}
	if _, err := os.Stat(filepath.Join(c.dir, "schema")); err == nil {
		cfg.Schema = filepath.Join(c.dir, "schema")
	}
	if _, err := os.Stat(filepath.Join(c.dir, "queries.cql")); err == nil {
		cfg.QueriesCQL = filepath.Join(c.dir, "queries.cql")
	}
	return cfg
}

// readGolden returns the expected files of a case keyed like run.Generate's
// result, and the expected error ("" when the case must succeed).
func readGolden(t *testing.T, dir string) (map[string][]byte, string) {
	t.Helper()
	files := map[string][]byte{}
	for _, sub := range []string{"models", "queries"} {
		// A package per keyspace is a folder below models/ and queries/.
		err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			files[filepath.ToSlash(rel)] = data
			return err
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	wantErr, err := os.ReadFile(filepath.Join(dir, "error.txt"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return files, strings.TrimSpace(string(wantErr))
}

func writeGolden(t *testing.T, dir string, files map[string][]byte, genErr error) {
	t.Helper()
	for _, sub := range []string{"models", "queries"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	errFile := filepath.Join(dir, "error.txt")
	if genErr != nil {
		if err := os.WriteFile(errFile, []byte(genErr.Error()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	_ = os.Remove(errFile)
	for key, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestGolden runs the generator on every case of testdata and compares the
// output with the golden files. go test ./gen/... -update rewrites them.
func TestGolden(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()

			got, genErr := run.Generate(ctx, c.config())
			if *update {
				writeGolden(t, c.dir, got, genErr)
				return
			}
			want, wantErr := readGolden(t, c.dir)
			gotErr := ""
			if genErr != nil {
				gotErr = genErr.Error()
			}
			if diff := cmp.Diff(wantErr, gotErr); diff != "" {
				t.Fatalf("error mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(keys(want), keys(got)); diff != "" {
				t.Errorf("file list mismatch (-want +got):\n%s", diff)
			}
			for _, k := range keys(got) {
				if diff := cmp.Diff(string(want[k]), string(got[k])); diff != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

// TestGoldenDeterministic generates every case twice and expects identical
// bytes.
func TestGoldenDeterministic(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	for _, c := range goldenCases(t) {
		first, err1 := run.Generate(ctx, c.config())
		for range 3 {
			again, err2 := run.Generate(ctx, c.config())
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("%s: errors differ: %v vs %v", c.name, err1, err2)
			}
			if diff := cmp.Diff(first, again); diff != "" {
				t.Fatalf("%s: output differs between runs (-first +again):\n%s", c.name, diff)
			}
		}
	}
}
