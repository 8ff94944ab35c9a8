package catalog

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/jobsharp/cassandra/gen/cql"
)

// sameCatalog compares catalogs as the schema they hold: positions,
// internal state and the order of keyspaces, types and tables (the printer
// groups them) left out.
var sameCatalog = cmp.Options{
	cmpopts.IgnoreTypes(cql.Position{}),
	cmpopts.IgnoreUnexported(Catalog{}, Table{}), // a table's dropped columns are history, not shape
	cmpopts.SortSlices(func(a, b *Keyspace) bool { return a.Name < b.Name }),
	cmpopts.SortSlices(func(a, b *UDT) bool { return a.Name < b.Name }),
	cmpopts.SortSlices(func(a, b *Table) bool { return a.Name < b.Name }),
	cmpopts.EquateEmpty(),
}

// schemaOf returns the keyspaces that are part of cat's schema: all but a
// session keyspace that the schema used and emptied again (CREATE TYPE u
// …; DROP TYPE u), which holds nothing and which no statement of a printed
// file can name.
func schemaOf(cat *Catalog) *Catalog {
	out := &Catalog{}
	for _, ks := range cat.Keyspaces {
		if ks.Name == "" && len(ks.Types)+len(ks.Tables)+len(ks.Indexes)+len(ks.Functions) == 0 {
			continue
		}
		out.Keyspaces = append(out.Keyspaces, ks)
	}
	return out
}

// checkReprint prints cat, builds the printed schema and compares.
func checkReprint(t *testing.T, name string, cat *Catalog, opts Options) {
	t.Helper()
	printed := cat.CQL()
	again, err := BuildWith(opts, Source{Name: "printed.cql", Text: printed})
	if err != nil {
		t.Fatalf("%s: the printed schema does not build: %v\n%s", name, err, printed)
	}
	if diff := cmp.Diff(schemaOf(cat), schemaOf(again), sameCatalog); diff != "" {
		t.Fatalf("%s: the printed schema builds another catalog (-parsed +reprinted):\n%s\nprinted:\n%s", name, diff, printed)
	}
}

// schemaFiles returns the schema sources of the golden cases and of the
// corpus, keyed by name: a migrations folder is one list.
func schemaFiles(t testing.TB) map[string][]Source {
	t.Helper()
	out := map[string][]Source{}
	read := func(key string, paths ...string) {
		sort.Strings(paths)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[key] = append(out[key], Source{Name: filepath.ToSlash(p), Text: string(data)})
		}
	}
	for _, pattern := range []string{"../testdata/*/Schema.cql", "../internal/corpus/testdata/files/*.cql", "../internal/roundtrip/Schema.cql"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			read(p, p)
		}
	}
	for _, pattern := range []string{"../testdata/*/schema", "../internal/corpus/testdata/files/*"} {
		dirs, _ := filepath.Glob(pattern)
		for _, d := range dirs {
			if info, err := os.Stat(d); err == nil && info.IsDir() {
				paths, _ := filepath.Glob(filepath.Join(d, "*.cql"))
				read(d, paths...)
			}
		}
	}
	return out
}

// TestPrintRoundTrip prints the schema that every golden case and corpus
// entry leaves (statements that fail are left out, as a server leaves them
// out) and requires the printed file to build the same catalog.
func TestPrintRoundTrip(t *testing.T) {
	t.Parallel()

	files := schemaFiles(t)
	if len(files) < 40 {
		t.Fatalf("found %d schema files, want the golden cases and the corpus", len(files))
	}
	for name, sources := range files {
		opts := Options{}
		if strings.Contains(name, "scylla") {
			opts.Dialect = Scylla
		}
		cat, _ := Apply(opts, sources...)
		checkReprint(t, name, cat, opts)
	}
}

// FuzzPrint checks what the generator prints again: any schema that builds
// prints as a schema that builds the same catalog.
func FuzzPrint(f *testing.F) {
	for _, sources := range schemaFiles(f) {
		var all strings.Builder
		for _, s := range sources {
			all.WriteString(s.Text + "\n;\n")
		}
		f.Add(all.String())
	}
	f.Add("CREATE TYPE u (a frozen<list<map<text, int>>>, b tuple<int, list<text>>);\nCREATE TABLE t (k int, c int, v text MASKED WITH mask_inner(1, null), u frozen<u>, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC) AND compaction = {'class': 'LeveledCompactionStrategy'};\nCREATE MATERIALIZED VIEW v AS SELECT * FROM t WHERE k IS NOT NULL AND c IS NOT NULL AND v IS NOT NULL PRIMARY KEY (v, k, c);\nCREATE INDEX ON t (u);")
	f.Fuzz(func(t *testing.T, src string) {
		cat, err := Build(Source{Name: "f.cql", Text: src})
		if err != nil {
			return
		}
		checkReprint(t, "fuzz input", cat, Options{})
	})
}
