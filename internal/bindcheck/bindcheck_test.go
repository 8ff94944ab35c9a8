package bindcheck

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRepoBindsByPosition fails when repo's code binds or scans by name
// again: every statement must go through the generated queries.DB methods.
func TestRepoBindsByPosition(t *testing.T) {
	t.Parallel()

	findings, err := Check("../..", nil, "./repo/...")
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) > 0 {
		t.Errorf("repo binds by name or by reflection (use the queries.DB method of each statement):\n%s", strings.Join(findings, "\n"))
	}
}

// TestCheckFinds adds a file to repo (an overlay: nothing is written) that
// binds the old ways and checks that every one is reported.
func TestCheckFinds(t *testing.T) {
	t.Parallel()

	repoDir, err := filepath.Abs("../../repo")
	if err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(repoDir, "zz_bindcheck_probe.go")
	src := `package repo

import (
	"context"
	"reflect"

	"github.com/scylladb/gocqlx/v2"
	"github.com/scylladb/gocqlx/v2/qb"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

func (s *Store) probe(ctx context.Context) {
	q := s.session.ContextQuery(ctx, queries.JobsGet.CQL, queries.JobsGet.Names)
	q.BindStruct(&models.JobsRow{})
	q.BindMap(qb.M{"id": 1})
	q.BindStructMap(&models.JobsRow{}, map[string]any{"_ttl": 0})
	var rows []models.JobsRow
	_ = q.Select(&rows)
	_ = q.Get(&rows)
	_ = q.SelectRelease(&rows)
	_ = gocqlx.DefaultMapper
	_ = make(map[string]interface{})
	_ = reflect.TypeOf(rows)
	_ = qb.Select("jobs").Query(s.session)
	_ = queries.JobsTable.GetQuery(s.session)
	var m map[string]any
	iter := s.session.Session.Query(queries.JobsGet.CQL).Iter()
	_ = iter.MapScan(m)
	_, _ = iter.SliceMap()
	_, _ = s.session.Session.Query(queries.JobsCreate.CQL).MapScanCAS(m)
	_, _ = iter.RowData()
}
`
	findings, err := Check("../..", map[string][]byte{probe: []byte(src)}, "./repo")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range findings {
		if !strings.Contains(f, "zz_bindcheck_probe.go") {
			t.Errorf("finding outside the probe: %s", f)
			continue
		}
		_, msg, _ := strings.Cut(f, ".go:")
		got = append(got, msg)
	}
	want := []string{
		`15:7: calls gocqlx's Session.ContextQuery, which makes a query bound by name; use the queries.DB method of the statement`,
		`16:2: calls gocqlx's Queryx.BindStruct, which binds or scans by name through reflection; use the queries.DB method of the statement`,
		`17:12: builds a map[string]any, the shape of a name-keyed bind; pass the values to the queries.DB method of the statement`,
		`17:12: uses qb.M, a name-keyed bind map`,
		`17:2: calls gocqlx's Queryx.BindMap, which binds or scans by name through reflection; use the queries.DB method of the statement`,
		`18:2: calls gocqlx's Queryx.BindStructMap, which binds or scans by name through reflection; use the queries.DB method of the statement`,
		`18:37: builds a map[string]any, the shape of a name-keyed bind; pass the values to the queries.DB method of the statement`,
		`20:6: calls gocqlx's Queryx.Select, which binds or scans by name through reflection; use the queries.DB method of the statement`,
		`21:6: calls gocqlx's Queryx.Get, which binds or scans by name through reflection; use the queries.DB method of the statement`,
		`22:6: calls gocqlx's Queryx.SelectRelease, which binds or scans by name through reflection; use the queries.DB method of the statement`,
		`23:6: uses gocqlx.DefaultMapper, which binds by name; use the queries.DB method of the statement`,
		`24:6: makes a map[string]any, the shape of a name-keyed bind; pass the values to the queries.DB method of the statement`,
		`26:6: calls qb.SelectBuilder.Query, which makes a gocqlx query bound by name; use the queries.DB method of the statement`,
		`27:6: calls table.Table.GetQuery, which makes a gocqlx query bound by name; use the queries.DB method of the statement`,
		`30:6: calls gocql's Iter.MapScan, which scans by column name into a map; use the queries.DB method of the statement, which scans into a typed row`,
		`31:9: calls gocql's Iter.SliceMap, which scans by column name into a map; use the queries.DB method of the statement, which scans into a typed row`,
		`32:9: calls gocql's Query.MapScanCAS, which scans by column name into a map; use the queries.DB method of the statement, which scans into a typed row`,
		`33:9: calls gocql's Iter.RowData, which scans by column name into a map; use the queries.DB method of the statement, which scans into a typed row`,
		`5:2: imports reflect`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}
