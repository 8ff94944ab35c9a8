package corpus

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/golang"
)

// TestGeneratedCodeCompiles generates the models and queries packages of
// every corpus entry (the schema the statements leave, as on the server)
// in the generator's own layout, a package per keyspace where the entry
// creates several, and builds and vets them all in one scratch module.
func TestGeneratedCodeCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generated packages with the go tool")
	}
	t.Parallel()

	dir := scratchModule(t)
	packages := 0
	for _, e := range loadEntries(t) {
		rec := readRecord(t, e.Name)
		cat, _ := catalog.Apply(catalog.Options{Datacenters: rec.Datacenters}, e.sources(t)...)
		files, err := golang.Generate(context.Background(), cat, golang.Options{
			SchemaSource: e.Files[0],
			ModelsImport: "example.com/corpus/" + e.Name + "/models",
		})
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		dirs := map[string]bool{}
		for key, data := range files {
			dirs[path.Dir(key)] = true
			p := filepath.Join(dir, e.Name, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		packages += len(dirs)
	}
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go vet of the %d generated packages failed: %v\n%s", packages, err, out.String())
	}
	t.Logf("built and vetted %d generated packages", packages)
}

// scratchModule returns a new module that requires what this module
// requires (offline, from the module cache).
func scratchModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gomod, err := os.ReadFile("../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod := regexp.MustCompile(`(?m)^module .*$`).ReplaceAllString(string(gomod), "module example.com/corpus")
	sum, err := os.ReadFile("../../../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
