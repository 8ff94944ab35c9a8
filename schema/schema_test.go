package schema_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/schema"
)

func TestMain(m *testing.M) { cqltest.Main(m) }

func TestParseReplication(t *testing.T) {
	t.Parallel()

	good := map[string]schema.Replication{
		"SimpleStrategy:1":                           {Class: schema.SimpleStrategy, Factor: 1},
		"simplestrategy:3":                           {Class: schema.SimpleStrategy, Factor: 3},
		"NetworkTopologyStrategy:dc1=3":              {Class: schema.NetworkTopologyStrategy, DataCenters: map[string]int{"dc1": 3}},
		"NetworkTopologyStrategy:dc1=3, us-east.2=5": {Class: schema.NetworkTopologyStrategy, DataCenters: map[string]int{"dc1": 3, "us-east.2": 5}},
	}
	for text, want := range good {
		got, err := schema.ParseReplication(text)
		if err != nil {
			t.Errorf("ParseReplication(%q) error = %v", text, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ParseReplication(%q) (-want +got):\n%s", text, diff)
		}
		again, err := schema.ParseReplication(got.String())
		if err != nil || !cmp.Equal(got, again) {
			t.Errorf("ParseReplication(%q.String() = %q) = %+v, %v; does not round-trip", text, got.String(), again, err)
		}
	}

	bad := map[string]string{
		"3":                                   "want SimpleStrategy:N or NetworkTopologyStrategy:dc1=N,dc2=M",
		"SimpleStrategy:0":                    "replication factor must be a whole number from 1 to 32",
		"SimpleStrategy:three":                "replication factor must be a whole number from 1 to 32",
		"SimpleStrategy:33":                   "replication factor must be a whole number from 1 to 32",
		"LocalStrategy:1":                     `class must be SimpleStrategy or NetworkTopologyStrategy, got "LocalStrategy"`,
		"NetworkTopologyStrategy:dc1":         `"dc1" is not dc=N`,
		"NetworkTopologyStrategy:dc1=3,dc1=2": "data center dc1 appears twice",
		"NetworkTopologyStrategy:d'c=3":       `data center name "d'c" has characters other than`,
		"NetworkTopologyStrategy:dc1=0":       "data center dc1: replication factor must be",
	}
	for text, want := range bad {
		_, err := schema.ParseReplication(text)
		if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseReplication(%q) error = %v, want ErrInvalid saying %q", text, err, want)
		}
	}
}

func TestReplicationCQL(t *testing.T) {
	t.Parallel()

	r := schema.Replication{Class: schema.NetworkTopologyStrategy, DataCenters: map[string]int{"dc2": 2, "dc1": 3}}
	if got, want := r.CQL(), "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"; got != want {
		t.Errorf("CQL() = %s, want %s", got, want)
	}
	if got, want := schema.CreateKeyspaceCQL("jobs", schema.Replication{Class: schema.SimpleStrategy, Factor: 1}),
		"CREATE KEYSPACE IF NOT EXISTS jobs WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"; got != want {
		t.Errorf("CreateKeyspaceCQL() = %s, want %s", got, want)
	}
}

func TestValidKeyspace(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"jobsharp", "j", "jobs_2", strings.Repeat("a", 48)} {
		if err := schema.ValidKeyspace(name); err != nil {
			t.Errorf("ValidKeyspace(%q) error = %v", name, err)
		}
	}
	for _, name := range []string{"", "Jobs", "2jobs", "jobs-x", "jobs;drop", strings.Repeat("a", 49), "system_auth", `"quoted"`} {
		if err := schema.ValidKeyspace(name); !errors.Is(err, schema.ErrInvalid) {
			t.Errorf("ValidKeyspace(%q) error = %v, want ErrInvalid", name, err)
		}
	}
}

func TestObjects(t *testing.T) {
	t.Parallel()

	objs, err := schema.Objects("ks1")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(queries.CreateStatements()) {
		t.Fatalf("Objects() = %d objects for %d statements", len(objs), len(queries.CreateStatements()))
	}
	var tables []string
	for _, o := range objs {
		if !strings.HasPrefix(o.CQL, "CREATE "+strings.ToUpper(o.Kind)+" IF NOT EXISTS ks1."+o.Name+" (") {
			t.Errorf("statement of %s is not qualified: %.60s", o, o.CQL)
		}
		if o.Kind == "table" {
			tables = append(tables, o.Name)
		}
	}
	var want []string
	for _, m := range queries.Tables() {
		want = append(want, m.Name)
	}
	if diff := cmp.Diff(want, tables); diff != "" {
		t.Errorf("tables of Objects() (-want +got):\n%s", diff)
	}
}

// liveOf builds the Live view of a keyspace that holds exactly this build's
// schema.
func liveOf(keyspace string) *schema.Live {
	l := &schema.Live{Keyspace: keyspace, Exists: true, Types: []string{"attempt_error"}, Columns: queries.Columns(), UserTypes: queries.UserTypes()}
	for _, m := range queries.Tables() {
		l.Tables = append(l.Tables, m.Name)
	}
	return l
}

func TestCompare(t *testing.T) {
	t.Parallel()

	if rep := schema.Compare(liveOf("ks")); !rep.OK() || rep.Diff != "" {
		t.Fatalf("Compare(the schema itself) = %v", rep)
	}

	live := liveOf("ks")
	live.Tables = slices.DeleteFunc(live.Tables, func(n string) bool { return n == "queues" })
	live.Columns = slices.DeleteFunc(slices.Clone(live.Columns), func(c queries.SchemaColumn) bool {
		return c.Table == "queues" || c.Table == "jobs" && c.Name == "lease_owner" || c.Table == "batch_jobs" && c.Name == "size"
	})
	for i, c := range live.Columns {
		if c.Table == "jobs" && c.Name == "state" {
			live.Columns[i].Type = "bigint"
		}
		if c.Table == "jobs_by_state" && c.Name == "entered_at" {
			live.Columns[i].ClusteringOrder = "asc"
		}
	}
	live.Columns = append(live.Columns, queries.SchemaColumn{Table: "jobs", Name: "priority", Kind: "regular", Position: -1, ClusteringOrder: "none", Type: "int"},
		queries.SchemaColumn{Table: "someone_elses", Name: "x", Kind: "partition_key", Type: "int"})
	live.Tables = append(live.Tables, "someone_elses")
	live.UserTypes = []queries.UserType{
		{Name: "attempt_error", FieldNames: []string{"attempt", "failed_at", "error", "hint"}, FieldTypes: []string{"bigint", "timestamp", "text", "text"}},
		{Name: "someone_elses", FieldNames: []string{"x"}, FieldTypes: []string{"int"}},
	}

	rep := schema.Compare(live)
	var got []string
	for _, d := range rep.Differences {
		got = append(got, d.String())
	}
	want := []string{
		"column jobs.state is bigint, want int: Cassandra cannot change this in place; copy the data into a table created by this build's schema",
		"missing column jobs.lease_owner (text): ALTER TABLE ks.jobs ADD lease_owner text;",
		"extra column jobs.priority (int), unknown to this build",
		"column jobs_by_state.entered_at is timestamp, clustering 0 asc, want timestamp, clustering 0 desc: Cassandra cannot change this in place; copy the data into a table created by this build's schema",
		"missing column batch_jobs.size (int, static): ALTER TABLE ks.batch_jobs ADD size int STATIC;",
		"missing table queues: run jobsharp schema apply --keyspace ks",
		"field attempt_error.attempt of type attempt_error is bigint, want int: Cassandra cannot change a field's type; copy the data into tables created by this build's schema",
		"missing field attempt_error.trace of type attempt_error (text): ALTER TYPE ks.attempt_error ADD trace text;",
		"extra field attempt_error.hint of type attempt_error (text), unknown to this build",
	}
	// Differences come in table order, columns by name within a table.
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Compare() differences (-want +got):\n%s", diff)
	}
	for _, s := range []string{`"queues"`, `"lease_owner"`, `"bigint"`} {
		if !strings.Contains(rep.Diff, s) {
			t.Errorf("Diff lacks %s:\n%s", s, rep.Diff)
		}
	}
	if !strings.Contains(rep.Diff, "types (-want +live)") || !strings.Contains(rep.Diff, `"trace"`) {
		t.Errorf("Diff lacks the type's fields:\n%s", rep.Diff)
	}
	if strings.Contains(rep.Diff, "someone_elses") {
		t.Errorf("Diff shows a table the schema does not own:\n%s", rep.Diff)
	}

	missing := schema.Compare(&schema.Live{Keyspace: "nope"})
	if len(missing.Differences) != 1 || missing.Differences[0].Kind != schema.MissingKeyspace {
		t.Errorf("Compare(missing keyspace) = %v", missing.Differences)
	}
}

// session is a session without keyspace whose timeout suits schema changes
// on a busy node.
func session(t *testing.T) *gocql.Session {
	t.Helper()
	return cqltest.AdminSession(t)
}

func TestApply(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	simple := &schema.Replication{Class: schema.SimpleStrategy, Factor: 1}

	t.Run("TwiceThenVerify", func(t *testing.T) {
		t.Parallel()

		s := session(t)
		ks := cqltest.UniqueKeyspace(t)
		cqltest.DropKeyspaceAtEnd(t, s, ks)

		first, err := schema.Apply(ctx, s, ks, simple)
		if err != nil {
			t.Fatalf("Apply() error = %v", err)
		}
		objs, _ := schema.Objects(ks)
		var all []string
		for _, o := range objs {
			all = append(all, o.String())
		}
		if !first.KeyspaceCreated || first.Replication != "SimpleStrategy:1" || !cmp.Equal(first.Created, all) || len(first.Existing) != 0 {
			t.Errorf("first Apply() = %+v, want the keyspace and all of %v created", first, all)
		}
		second, err := schema.Apply(ctx, s, ks, simple)
		if err != nil {
			t.Fatalf("second Apply() error = %v", err)
		}
		if second.KeyspaceCreated || len(second.Created) != 0 || !cmp.Equal(second.Existing, all) || len(second.Warnings) != 0 {
			t.Errorf("second Apply() = %+v, want everything existing and no warning", second)
		}
		if !strings.Contains(second.String(), "keyspace "+ks+": exists (SimpleStrategy:1)\ntype attempt_error: exists\ntable jobs: exists\n") {
			t.Errorf("second Apply() renders as:\n%s", second)
		}

		rep, err := schema.Verify(ctx, s, ks)
		if err != nil || !rep.OK() {
			t.Fatalf("Verify() after Apply() = %v, %v", rep, err)
		}

		// Another replication for an existing keyspace is reported, not applied.
		third, err := schema.Apply(ctx, s, ks, &schema.Replication{Class: schema.SimpleStrategy, Factor: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(third.Warnings) != 1 || !strings.Contains(third.Warnings[0], "exists with replication SimpleStrategy:1, not SimpleStrategy:2; left unchanged") {
			t.Errorf("Apply() with another replication: warnings %q", third.Warnings)
		}
	})

	t.Run("TypeFieldMissingThenAdded", func(t *testing.T) {
		t.Parallel()

		// A keyspace whose attempt_error predates the trace field: apply
		// leaves an existing type alone, verify names the field and the fix.
		s := session(t)
		ks := cqltest.UniqueKeyspace(t)
		cqltest.DropKeyspaceAtEnd(t, s, ks)
		for _, stmt := range []string{
			schema.CreateKeyspaceCQL(ks, *simple),
			"CREATE TYPE " + ks + ".attempt_error (attempt int, failed_at timestamp, error text)",
		} {
			if err := s.Query(stmt).WithContext(ctx).Exec(); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		if _, err := schema.Apply(ctx, s, ks, simple); err != nil {
			t.Fatalf("Apply() error = %v", err)
		}
		rep, err := schema.Verify(ctx, s, ks)
		if err != nil {
			t.Fatal(err)
		}
		fix := "ALTER TYPE " + ks + ".attempt_error ADD trace text;"
		if len(rep.Differences) != 1 || rep.Differences[0].Kind != schema.MissingField || rep.Differences[0].Fix != fix {
			t.Fatalf("Verify() = %v, want the missing field trace with fix %q", rep, fix)
		}
		if err := s.Query(fix).WithContext(ctx).Exec(); err != nil {
			t.Fatalf("the fix fails: %v", err)
		}
		if rep, err := schema.Verify(ctx, s, ks); err != nil || !rep.OK() {
			t.Fatalf("Verify() after the fix = %v, %v", rep, err)
		}
	})

	t.Run("OldJobsLayoutIsReported", func(t *testing.T) {
		t.Parallel()

		// A keyspace made by a build before job ids named their partitions:
		// its jobs table is keyed by id alone.
		s := session(t)
		ks := cqltest.UniqueKeyspace(t)
		cqltest.DropKeyspaceAtEnd(t, s, ks)
		if _, err := schema.Apply(ctx, s, ks, simple); err != nil {
			t.Fatalf("Apply() error = %v", err)
		}
		for _, stmt := range []string{
			"DROP TABLE " + ks + ".jobs",
			"CREATE TABLE " + ks + `.jobs (id uuid PRIMARY KEY, queue text, type text, args blob, state int, version bigint,
				created_at timestamp, scheduled_at timestamp, state_changed_at timestamp, started_at timestamp, finished_at timestamp,
				retry_count int, max_retries int, last_error text, errors list<frozen<attempt_error>>, result blob, batch_id uuid,
				parent_id uuid, recurring_id text, lease_owner text, lease_token uuid, lease_until timestamp, metadata map<text, text>)`,
		} {
			if err := s.Query(stmt).WithContext(ctx).Exec(); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		rep, err := schema.Verify(ctx, s, ks)
		if err != nil {
			t.Fatalf("Verify() error = %v", err)
		}
		if rep.OK() || len(rep.Differences) == 0 || rep.Differences[0].Kind != schema.OldLayout {
			t.Fatalf("Verify(old layout) = %v, want the old layout reported first", rep.Differences)
		}
		if msg := rep.Differences[0].String(); !strings.Contains(msg, "PRIMARY KEY (id)") || !strings.Contains(msg, "Moving to the partitioned layout") {
			t.Errorf("old layout reported as %q, want the key it has and the README section that moves it", msg)
		}
	})

	t.Run("NetworkTopology", func(t *testing.T) {
		t.Parallel()

		s := session(t)
		ks := cqltest.UniqueKeyspace(t)
		cqltest.DropKeyspaceAtEnd(t, s, ks)

		_, err := schema.Apply(ctx, s, ks, &schema.Replication{Class: schema.NetworkTopologyStrategy, DataCenters: map[string]int{"dc9": 3}})
		if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), `the cluster has no data center "dc9" (it has: datacenter1)`) {
			t.Fatalf("Apply() with an unknown data center: error = %v", err)
		}
		res, err := schema.Apply(ctx, s, ks, &schema.Replication{Class: schema.NetworkTopologyStrategy, DataCenters: map[string]int{"datacenter1": 3}})
		if err != nil {
			t.Fatalf("Apply() error = %v", err)
		}
		if res.Replication != "NetworkTopologyStrategy:datacenter1=3" {
			t.Errorf("Replication = %s", res.Replication)
		}
		// One node cannot hold three replicas; Cassandra says so.
		if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "higher than the number of nodes") }) {
			t.Errorf("Apply() with RF 3 on one node: warnings %q, want Cassandra's replication factor warning", res.Warnings)
		}
	})

	t.Run("NeedsReplicationForNewKeyspace", func(t *testing.T) {
		t.Parallel()

		s := session(t)
		ks := cqltest.UniqueKeyspace(t)
		_, err := schema.Apply(ctx, s, ks, nil)
		if !errors.Is(err, schema.ErrReplicationRequired) {
			t.Fatalf("Apply() without replication: error = %v, want ErrReplicationRequired", err)
		}
		live, err := schema.Inspect(ctx, s, ks)
		if err != nil || live.Exists {
			t.Fatalf("Apply() that failed created the keyspace (%v, %v)", live, err)
		}
	})

	t.Run("PrintedScriptRuns", func(t *testing.T) {
		t.Parallel()

		s := session(t)
		ks := cqltest.UniqueKeyspace(t)
		cqltest.DropKeyspaceAtEnd(t, s, ks)
		var b strings.Builder
		if err := schema.Print(&b, ks, simple); err != nil {
			t.Fatal(err)
		}
		n := 0
		for stmt := range strings.SplitSeq(b.String(), ";\n") {
			var lines []string
			for l := range strings.SplitSeq(stmt, "\n") {
				if !strings.HasPrefix(l, "--") {
					lines = append(lines, l)
				}
			}
			if cql := strings.TrimSpace(strings.Join(lines, "\n")); cql != "" {
				if err := s.Query(cql).WithContext(ctx).Exec(); err != nil {
					t.Fatalf("printed statement fails: %v\n%s", err, cql)
				}
				n++
			}
		}
		if n != len(queries.CreateStatements())+1 {
			t.Errorf("ran %d printed statements, want the keyspace and %d objects", n, len(queries.CreateStatements()))
		}
		if rep, err := schema.Verify(ctx, s, ks); err != nil || !rep.OK() {
			t.Fatalf("Verify() after running the printed script = %v, %v", rep, err)
		}

		var tmpl strings.Builder
		if err := schema.Print(&tmpl, ks, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(tmpl.String(), "--   CREATE KEYSPACE IF NOT EXISTS "+ks+" WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3};  -- production") {
			t.Errorf("Print() without replication lacks the keyspace template:\n%.600s", tmpl.String())
		}
	})
}
