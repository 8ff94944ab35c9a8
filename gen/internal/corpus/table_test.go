package corpus

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	tableStart = "<!-- corpus table: go test ./gen/internal/corpus -run TestAgreementTable -update -->"
	tableEnd   = "<!-- end of corpus table -->"
	readmePath = "../../README.md"
)

// TestAgreementTable keeps the agreement table in gen/README.md current:
// per entry, the statements, the server's and the generator's verdicts,
// and the objects that match system_schema. -update rewrites it.
func TestAgreementTable(t *testing.T) {
	t.Parallel()

	var rows []agreement
	for _, e := range loadEntries(t) {
		a, _, results := compare(t, e, readRecord(t, e.Name))
		a.firstGen = ""
		if a.GenReject >= 0 {
			a.firstGen = results[a.GenReject].Err.Error()
		}
		rows = append(rows, a)
	}
	table := renderTable(t, rows)
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	start, end := strings.Index(readme, tableStart), strings.Index(readme, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("%s lacks the markers %q and %q", readmePath, tableStart, tableEnd)
	}
	want := readme[:start+len(tableStart)] + "\n" + table + readme[end:]
	if *update {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(readme, want); diff != "" {
		t.Errorf("the corpus table in gen/README.md is stale; run go test ./gen/internal/corpus -run TestAgreementTable -update (-readme +now):\n%s", diff)
	}
}

func renderTable(t *testing.T, rows []agreement) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("| entry | kind | statements (checked) | Cassandra 5.0 | generator | verdicts agree | tables, views, types as in system_schema |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	var files, stmts, judged, agreed, objects, matched, sameFile int
	for _, a := range rows {
		rec := readRecord(t, a.Entry.Name)
		files += len(a.Entry.Files)
		stmts += a.Statements
		judged += a.Judged
		agreed += a.Agreed
		objects += a.Objects
		matched += a.Matched
		if a.ServerReject == a.GenReject && (a.GenReject < 0 || a.PointsInside) {
			sameFile++
		}
		server, gen := "accepted", "accepted"
		if a.ServerReject >= 0 {
			v := rec.Statements[a.ServerReject]
			server = fmt.Sprintf("%d rejected; first #%d %s: %s", a.serverRejected(rec), a.ServerReject+1, v.At, short(v.Error))
		}
		if a.GenReject >= 0 {
			gen = fmt.Sprintf("%d rejected; first #%d: %s", a.genRejected, a.GenReject+1, short(a.firstGen))
		}
		fmt.Fprintf(&b, "| %s | %s | %d (%d) | %s | %s | %d/%d | %d/%d |\n", a.Entry.Name, a.Entry.Kind, a.Statements, a.Judged,
			cell(server), cell(gen), a.Agreed, a.Judged, a.Matched, a.Objects)
	}
	fmt.Fprintf(&b, "| **%d entries, %d files** | | **%d (%d)** | | | **%d/%d** | **%d/%d** |\n", len(rows), files, stmts, judged, agreed, judged, matched, objects)
	fmt.Fprintf(&b, "\nFile verdicts agree (the same first rejected statement, the error inside it) for %d/%d entries.\n", sameFile, len(rows))
	return b.String()
}

// serverRejected counts the judged statements the server rejected.
func (a agreement) serverRejected(rec *record) int {
	n := 0
	for i, v := range rec.Statements {
		if v.Error != "" && a.judged[i] {
			n++
		}
	}
	return n
}

// short keeps the first line of a message, at most 70 characters.
func short(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > 70 {
		return string(r[:70]) + "…"
	}
	return s
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "`", "'").Replace(s)
}
