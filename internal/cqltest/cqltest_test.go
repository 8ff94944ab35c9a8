package cqltest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/scylladb/gocqlx/v2/qb"
	"github.com/scylladb/gocqlx/v2/table"

	"github.com/jobsharp/cassandra/internal/cqltest"
)

func TestMain(m *testing.M) { cqltest.Main(m) }

func TestServerIsCassandra50(t *testing.T) {
	t.Parallel()

	var version string
	if err := cqltest.Session(t).Query("SELECT release_version FROM system.local", nil).Get(&version); err != nil {
		t.Fatalf("query release_version: %v", err)
	}
	if !strings.HasPrefix(version, "5.0.") {
		t.Fatalf("release_version = %q, want 5.0.x", version)
	}
}

func TestKeyspaceIsFreshAndOwn(t *testing.T) {
	t.Parallel()

	ks := cqltest.Keyspace(t)
	var tables []string
	if err := cqltest.Session(t).Query(qb.Select("system_schema.tables").Columns("table_name").Where(qb.Eq("keyspace_name")).ToCql()).
		Bind(ks).Select(&tables); err != nil {
		t.Fatalf("list tables: %v", err)
	}
	for _, name := range tables {
		if !strings.HasPrefix(name, "rt_") { // the round-trip test's table
			t.Errorf("keyspace %s holds table %s it did not create", ks, name)
		}
	}
	var strategy map[string]string
	if err := cqltest.Session(t).Query("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?", nil).
		Bind(ks).Get(&strategy); err != nil {
		t.Fatalf("read replication: %v", err)
	}
	want := map[string]string{"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "1"}
	if diff := cmp.Diff(want, strategy); diff != "" {
		t.Errorf("replication (-want +got):\n%s", diff)
	}
}

// TestRowRoundTrip writes and reads a row with gocqlx through the harness.
func TestRowRoundTrip(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	cqltest.Exec(ctx, t, `CREATE TABLE rt_notes (owner text, id int, body text, at timestamp, tags set<text>, PRIMARY KEY (owner, id))`)

	type note struct {
		Owner string    `db:"owner"`
		ID    int       `db:"id"`
		Body  string    `db:"body"`
		At    time.Time `db:"at"`
		Tags  []string  `db:"tags"`
	}
	notes := table.New(table.Metadata{
		Name:    "rt_notes",
		Columns: []string{"owner", "id", "body", "at", "tags"},
		PartKey: []string{"owner"},
		SortKey: []string{"id"},
	})
	s := cqltest.Session(t)
	want := note{Owner: cqltest.Name(t), ID: 7, Body: "it's ; here", At: time.UnixMilli(1_780_000_000_123).UTC(), Tags: []string{"a", "b"}}
	if err := s.Query(notes.Insert()).WithContext(ctx).BindStruct(want).ExecRelease(); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var got note
	if err := s.Query(notes.Get()).WithContext(ctx).BindStruct(note{Owner: want.Owner, ID: want.ID}).GetRelease(&got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}
