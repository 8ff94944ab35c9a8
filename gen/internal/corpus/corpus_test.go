package corpus

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jobsharp/cassandra/gen/catalog"
)

var update = flag.Bool("update", false, "rewrite testdata/server records and the table in gen/README.md")

// entry is one corpus item: a schema file, or a folder of migrations applied
// in lexical order, with where it comes from.
type entry struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Repository string   `json:"repository"` // "" for cases written here
	Commit     string   `json:"commit"`
	Paths      []string `json:"paths"` // in the repository
	Files      []string `json:"files"` // under testdata/files, in the order applied
	Licence    string   `json:"licence"`
	Note       string   `json:"note"`
}

func loadEntries(t *testing.T) []entry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "sources.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("sources.json: %v", err)
	}
	return out
}

// sources returns the entry's files as generator sources, named by their
// path under testdata/files.
func (e entry) sources(t *testing.T) []catalog.Source {
	t.Helper()
	var out []catalog.Source
	for _, f := range e.Files {
		data, err := os.ReadFile(filepath.Join("testdata", "files", filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, catalog.Source{Name: f, Text: string(data)})
	}
	return out
}

// record is what the server made of an entry.
type record struct {
	// Datacenters are the node's data centres (NetworkTopologyStrategy
	// must name only these).
	Datacenters []string `json:"datacenters"`
	// Statements holds each statement's verdict, in order.
	Statements []verdict `json:"statements"`
	// Schema is system_schema after the last statement.
	Schema schema `json:"schema"`
}

// verdict is the server's answer to one statement.
type verdict struct {
	At    string `json:"at"`              // file:line:col of its first token
	Head  string `json:"head"`            // its first line, for readers
	Error string `json:"error,omitempty"` // the server's message; "" when applied
}

// schema is the part of system_schema the generator must reproduce.
// Keyspace "" is the session keyspace of a file that creates none.
type schema struct {
	Keyspaces []string    `json:"keyspaces"`
	Tables    []tableRow  `json:"tables"`
	Columns   []columnRow `json:"columns"`
	Types     []typeRow   `json:"types"`
	Indexes   []indexRow  `json:"indexes"`
}

type tableRow struct {
	Keyspace string `json:"keyspace"`
	Name     string `json:"name"`
	Base     string `json:"base,omitempty"` // base table of a materialized view
}

type columnRow struct {
	Keyspace string `json:"keyspace"`
	Table    string `json:"table"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Position int    `json:"position"`
	Order    string `json:"order"`
	Type     string `json:"type"`
	Mask     string `json:"mask,omitempty"`
}

type typeRow struct {
	Keyspace   string   `json:"keyspace"`
	Name       string   `json:"name"`
	FieldNames []string `json:"field_names"`
	FieldTypes []string `json:"field_types"`
}

type indexRow struct {
	Keyspace string `json:"keyspace"`
	Table    string `json:"table"`
	Name     string `json:"name"`
}

// sort puts every list in a fixed order, so records compare and diff well.
func (s *schema) sort() {
	slices.Sort(s.Keyspaces)
	slices.SortFunc(s.Tables, func(a, b tableRow) int { return strings.Compare(a.Keyspace+"\x00"+a.Name, b.Keyspace+"\x00"+b.Name) })
	slices.SortFunc(s.Columns, func(a, b columnRow) int {
		return strings.Compare(a.Keyspace+"\x00"+a.Table+"\x00"+a.Name, b.Keyspace+"\x00"+b.Table+"\x00"+b.Name)
	})
	slices.SortFunc(s.Types, func(a, b typeRow) int { return strings.Compare(a.Keyspace+"\x00"+a.Name, b.Keyspace+"\x00"+b.Name) })
	slices.SortFunc(s.Indexes, func(a, b indexRow) int { return strings.Compare(a.Keyspace+"\x00"+a.Name, b.Keyspace+"\x00"+b.Name) })
}

func recordPath(name string) string { return filepath.Join("testdata", "server", name+".json") }

func readRecord(t *testing.T, name string) *record {
	t.Helper()
	data, err := os.ReadFile(recordPath(name))
	if err != nil {
		t.Fatalf("no server record for %s (run go test ./gen/internal/corpus -run TestServerRecords -update): %v", name, err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s: %v", recordPath(name), err)
	}
	return &r
}

func (r *record) encode() []byte {
	data, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return append(data, '\n')
}

// head is the first line of a statement, shortened.
func head(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	r := []rune(strings.TrimSpace(line))
	if len(r) > 72 {
		return string(r[:72]) + "…"
	}
	return string(r)
}

// TestSources checks the corpus's provenance: every file belongs to one
// entry, every copied entry names its repository, commit, paths and a
// licence that allows copying, and NOTICE.md lists it.
func TestSources(t *testing.T) {
	t.Parallel()

	notice, err := os.ReadFile(filepath.Join("testdata", "NOTICE.md"))
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{}
	names := map[string]bool{}
	for _, e := range loadEntries(t) {
		if names[e.Name] {
			t.Errorf("entry %s is listed twice", e.Name)
		}
		names[e.Name] = true
		if !strings.Contains(string(notice), "| "+e.Name+" |") {
			t.Errorf("NOTICE.md does not list %s", e.Name)
		}
		switch {
		case e.Repository == "":
			if e.Licence != "written for this project" {
				t.Errorf("%s has no repository but licence %q", e.Name, e.Licence)
			}
		case !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(e.Commit) || len(e.Paths) != len(e.Files):
			t.Errorf("%s: want a full commit hash and one repository path per file, got %q and %d paths for %d files", e.Name, e.Commit, len(e.Paths), len(e.Files))
		case e.Licence != "MIT" && e.Licence != "Apache-2.0":
			t.Errorf("%s: licence %q is not one this project may copy (MIT, Apache-2.0)", e.Name, e.Licence)
		}
		for _, f := range e.Files {
			if prev, ok := owner[f]; ok {
				t.Errorf("%s belongs to %s and %s", f, prev, e.Name)
			}
			owner[f] = e.Name
		}
	}
	err = filepath.WalkDir(filepath.Join("testdata", "files"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join("testdata", "files"), path)
		if _, ok := owner[filepath.ToSlash(rel)]; !ok {
			t.Errorf("%s belongs to no entry of sources.json", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(owner) < 25 {
		t.Errorf("the corpus has %d files, want at least 25", len(owner))
	}
}
