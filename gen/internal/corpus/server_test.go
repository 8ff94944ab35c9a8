package corpus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/internal/devcluster"
)

// javaObjectHash matches Object.toString's class@hash.
var javaObjectHash = regexp.MustCompile(`([A-Za-z_$][A-Za-z0-9_$.]*)@[0-9a-f]{5,8}\b`)

// sessionKeyspace is where a file that creates no keyspace is applied; the
// records call it "".
const sessionKeyspace = "corpus_session"

// systemKeyspaces are left alone and left out of the records.
var systemKeyspaces = []string{"system", "system_schema", "system_auth", "system_distributed", "system_traces", "system_views", "system_virtual_schema"}

// TestServerRecords applies every corpus entry to Cassandra 5.0 (the node
// on cqltest.FeaturesAddr, with materialized views, SASI, data masking and
// UDFs on), statement by statement, and checks the recorded verdicts and
// schema; -update rewrites the records.
func TestServerRecords(t *testing.T) {
	node := cqltest.FeaturesCluster(t)
	unlock := lockNode(t, node)
	defer unlock()
	srv := newServer(t, node)
	defer srv.close()
	srv.dropAll(t)

	began := time.Now()
	stale := 0
	for _, e := range loadEntries(t) {
		entryStart := time.Now()
		got := srv.apply(t, e)
		srv.dropAll(t)
		if testing.Verbose() {
			t.Logf("%-28s %3d statements in %s", e.Name, len(got.Statements), time.Since(entryStart).Round(10*time.Millisecond))
		}
		path := recordPath(e.Name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got.encode(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(old, got.encode()) {
			stale++
			var want record
			_ = json.Unmarshal(old, &want)
			t.Errorf("%s: the server's record changed (-recorded +now); run with -update if that is right:\n%s", e.Name, cmp.Diff(want, *got))
		}
	}
	t.Logf("applied %d entries in %s", len(loadEntries(t)), time.Since(began).Round(100*time.Millisecond))
}

// lockNode serialises corpus runs on the shared features node across
// processes (other worktrees run the same test): each run drops every
// keyspace it does not know.
func lockNode(t *testing.T, node *devcluster.Cluster) func() {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(node.Dir(), "corpus.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// server applies statements to the node, one session per keyspace (gocql
// does not run USE; a session is bound to a keyspace instead).
type server struct {
	node     *devcluster.Cluster
	sessions map[string]*gocql.Session
}

func newServer(t *testing.T, node *devcluster.Cluster) *server {
	t.Helper()
	return &server{node: node, sessions: map[string]*gocql.Session{}}
}

func (s *server) session(keyspace string) (*gocql.Session, error) {
	if sess, ok := s.sessions[keyspace]; ok {
		return sess, nil
	}
	cfg, err := s.node.ClusterConfig(s.node.Hosts()[0])
	if err != nil {
		return nil, err
	}
	cfg.Keyspace = keyspace
	cfg.Timeout, cfg.ConnectTimeout = time.Minute, 10*time.Second
	sess, err := cfg.CreateSession()
	if err != nil {
		return nil, err
	}
	s.sessions[keyspace] = sess
	return sess, nil
}

// forget closes the sessions of keyspaces other than "" (they may be
// dropped).
func (s *server) forget() {
	for ks, sess := range s.sessions {
		if ks != "" {
			sess.Close()
			delete(s.sessions, ks)
		}
	}
}

func (s *server) close() {
	for _, sess := range s.sessions {
		sess.Close()
	}
}

func (s *server) admin(t *testing.T) *gocql.Session {
	t.Helper()
	sess, err := s.session("")
	if err != nil {
		t.Fatalf("session on %s: %v", s.node.Hosts()[0], err)
	}
	return sess
}

// userKeyspaces lists the keyspaces that are not the server's own.
func (s *server) userKeyspaces(t *testing.T) []string {
	t.Helper()
	iter := s.admin(t).Query("SELECT keyspace_name FROM system_schema.keyspaces").Iter()
	var out []string
	var name string
	for iter.Scan(&name) {
		if !slices.Contains(systemKeyspaces, name) {
			out = append(out, name)
		}
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *server) dropAll(t *testing.T) {
	t.Helper()
	s.forget()
	for _, ks := range s.userKeyspaces(t) {
		if err := s.admin(t).Query("DROP KEYSPACE " + cql.QuoteIdent(ks)).Exec(); err != nil {
			t.Fatalf("drop keyspace %s: %v", ks, err)
		}
	}
}

// apply runs the entry's statements in order and records the verdicts and
// the schema they leave. A file that creates no keyspace runs in a session
// keyspace, beside the keyspaces it names without creating them (the
// generator takes those to exist).
func (s *server) apply(t *testing.T, e entry) *record {
	t.Helper()
	rec := &record{Datacenters: s.datacenters(t)}
	cat, results := catalog.Apply(catalog.Options{}, e.sources(t)...)
	createsKeyspaces := slices.ContainsFunc(results, func(r catalog.Result) bool { return r.Statement.IsCreateKeyspace() })
	current := ""
	if !createsKeyspaces {
		current = sessionKeyspace
		for _, ks := range cat.Keyspaces {
			if ks.Name != "" {
				s.createKeyspace(t, ks.Name)
			}
		}
		s.createKeyspace(t, sessionKeyspace)
	}
	for _, r := range results {
		v := verdict{At: r.Statement.Pos.String(), Head: head(r.Statement.Text)}
		if use, ok := r.Stmt.(*cql.Use); ok {
			if s.keyspaceExists(t, use.Keyspace.Name) {
				current = use.Keyspace.Name
			} else {
				v.Error = fmt.Sprintf("Keyspace '%s' does not exist", use.Keyspace.Name)
			}
		} else if err := s.exec(current, r.Statement.Text); err != nil {
			// Some messages print a Java object (RawSelector@250e82ef),
			// whose hash differs from run to run.
			v.Error = javaObjectHash.ReplaceAllString(err.Error(), "$1@…")
		}
		rec.Statements = append(rec.Statements, v)
	}
	rec.Schema = s.schema(t)
	return rec
}

func (s *server) exec(keyspace, stmt string) error {
	sess, err := s.session(keyspace)
	if err != nil {
		return fmt.Errorf("session in keyspace %s: %w", keyspace, err)
	}
	err = sess.Query(stmt).Exec()
	if errors.Is(err, gocql.ErrTimeoutNoResponse) {
		return fmt.Errorf("no answer within the timeout: %w", err)
	}
	return err
}

func (s *server) createKeyspace(t *testing.T, name string) {
	t.Helper()
	stmt := "CREATE KEYSPACE IF NOT EXISTS " + cql.QuoteIdent(name) + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
	if err := s.admin(t).Query(stmt).Exec(); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func (s *server) keyspaceExists(t *testing.T, name string) bool {
	t.Helper()
	var n int
	if err := s.admin(t).Query("SELECT count(*) FROM system_schema.keyspaces WHERE keyspace_name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func (s *server) datacenters(t *testing.T) []string {
	t.Helper()
	var dc string
	if err := s.admin(t).Query("SELECT data_center FROM system.local").Scan(&dc); err != nil {
		t.Fatal(err)
	}
	return []string{dc}
}

// schema reads system_schema for the user keyspaces.
func (s *server) schema(t *testing.T) schema {
	t.Helper()
	user := s.userKeyspaces(t)
	rename := func(ks string) string {
		if ks == sessionKeyspace {
			return ""
		}
		return ks
	}
	var out schema
	for _, ks := range user {
		out.Keyspaces = append(out.Keyspaces, rename(ks))
	}
	scan := func(query string, row func(scan func(dest ...any) bool) bool) {
		iter := s.admin(t).Query(query).Iter()
		for row(iter.Scan) {
		}
		if err := iter.Close(); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	user2 := func(ks string) bool { return slices.Contains(user, ks) }
	var ks, name, base string
	scan("SELECT keyspace_name, table_name FROM system_schema.tables", func(sc func(...any) bool) bool {
		ok := sc(&ks, &name)
		if ok && user2(ks) {
			out.Tables = append(out.Tables, tableRow{Keyspace: rename(ks), Name: name})
		}
		return ok
	})
	scan("SELECT keyspace_name, view_name, base_table_name FROM system_schema.views", func(sc func(...any) bool) bool {
		ok := sc(&ks, &name, &base)
		if ok && user2(ks) {
			out.Tables = append(out.Tables, tableRow{Keyspace: rename(ks), Name: name, Base: base})
		}
		return ok
	})
	masks := map[[3]string]string{}
	var fks, fname string
	var argTypes, argValues []string
	var col string
	scan("SELECT keyspace_name, table_name, column_name, function_keyspace, function_name, function_argument_types, function_argument_values FROM system_schema.column_masks", func(sc func(...any) bool) bool {
		ok := sc(&ks, &name, &col, &fks, &fname, &argTypes, &argValues)
		if ok && user2(ks) {
			masks[[3]string{ks, name, col}] = maskString(rename(fks), fname, argValues)
		}
		return ok
	})
	var c columnRow
	scan("SELECT keyspace_name, table_name, column_name, kind, position, clustering_order, type FROM system_schema.columns", func(sc func(...any) bool) bool {
		ok := sc(&ks, &c.Table, &c.Name, &c.Kind, &c.Position, &c.Order, &c.Type)
		if ok && user2(ks) {
			c.Keyspace = rename(ks)
			c.Mask = masks[[3]string{ks, c.Table, c.Name}]
			out.Columns = append(out.Columns, c)
		}
		return ok
	})
	var fieldNames, fieldTypes []string
	scan("SELECT keyspace_name, type_name, field_names, field_types FROM system_schema.types", func(sc func(...any) bool) bool {
		ok := sc(&ks, &name, &fieldNames, &fieldTypes)
		if ok && user2(ks) {
			out.Types = append(out.Types, typeRow{Keyspace: rename(ks), Name: name, FieldNames: slices.Clone(fieldNames), FieldTypes: slices.Clone(fieldTypes)})
		}
		return ok
	})
	var table string
	scan("SELECT keyspace_name, table_name, index_name FROM system_schema.indexes", func(sc func(...any) bool) bool {
		ok := sc(&ks, &table, &name)
		if ok && user2(ks) {
			out.Indexes = append(out.Indexes, indexRow{Keyspace: rename(ks), Table: table, Name: name})
		}
		return ok
	})
	out.sort()
	return out
}

// maskString renders a column mask as the records show it:
// keyspace.function(arguments), the keyspace only for user functions.
func maskString(keyspace, function string, args []string) string {
	name := function
	if keyspace != "system" {
		name = keyspace + "." + function
	}
	return name + "(" + strings.Join(args, ", ") + ")"
}
