package faults_test

import (
	"errors"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/internal/cqltest"
)

// TestKilledNodeKeepsSchemaAndData kills a node of the fault cluster with
// SIGKILL and restarts it: it must come back with the keyspace's schema and
// the rows it held (replayed from its commit log), and coordinate reads,
// writes and lightweight transactions at QUORUM and LOCAL_SERIAL. Before
// the fault cluster flushed its system tables (it ran with
// -Dcassandra.unsafesystem=true), the restarted node answered "keyspace …
// does not exist" and its log showed the replay skipping the table's
// mutations.
func TestKilledNodeKeepsSchemaAndData(t *testing.T) {
	f := cqltest.Faults(t)
	ks := f.Keyspace(`CREATE TABLE kv (k int PRIMARY KEY, v text)`)

	cfg := f.ClusterConfig()
	cfg.Keyspace = ks
	// A request on a connection to the node being killed fails with the
	// connection; idempotent writes are tried again on another node.
	cfg.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: 3}
	s, err := cfg.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Every replica acknowledges these, so the victim holds them only in
	// its memtable and commit log when it is killed.
	for k := range 50 {
		if err := s.Query(`INSERT INTO kv (k, v) VALUES (?, ?)`, k, "before").Consistency(gocql.All).Exec(); err != nil {
			t.Fatalf("insert %d: %v", k, err)
		}
	}
	if applied, err := s.Query(`INSERT INTO kv (k, v) VALUES (1000, 'lwt') IF NOT EXISTS`).MapScanCAS(map[string]any{}); err != nil || !applied {
		t.Fatalf("LWT insert: applied = %v, error = %v", applied, err)
	}
	// The commit log marks what it wrote every 100 ms; a SIGKILL loses what
	// follows the last mark.
	time.Sleep(300 * time.Millisecond)

	const victim = 2
	f.Kill(victim)
	for k := 50; k < 100; k++ { // hinted for the victim while it is down
		if err := s.Query(`INSERT INTO kv (k, v) VALUES (?, ?)`, k, "while down").Idempotent(true).Exec(); err != nil {
			t.Fatalf("insert %d at QUORUM with node %d down: %v", k, victim, err)
		}
	}
	took := f.Restart(victim)
	t.Logf("node %d was back up, seen up by the others, %s after the restart began", victim, took.Round(100*time.Millisecond))

	log, err := os.ReadFile(f.LogFile(victim))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`Skipped \d+ mutations from unknown[^\n]*`).Find(log); m != nil {
		t.Errorf("the restarted node dropped commit-log mutations: %s", m)
	}
	if !regexp.MustCompile(`Log replay complete, [1-9]\d* replayed mutations`).Match(log) {
		t.Errorf("the restarted node's log (%s) reports no replayed mutations", f.LogFile(victim))
	}

	on := f.NodeSession(victim, ks)
	var n int
	if err := on.Query(`SELECT count(*) FROM kv`).Consistency(gocql.Quorum).Scan(&n); err != nil {
		t.Fatalf("read at QUORUM coordinated by the restarted node: %v", err)
	}
	if n != 101 {
		t.Errorf("read at QUORUM through the restarted node: %d rows, want 101", n)
	}
	if err := on.Query(`INSERT INTO kv (k, v) VALUES (500, 'after')`).Consistency(gocql.Quorum).Exec(); err != nil {
		t.Errorf("write at QUORUM coordinated by the restarted node: %v", err)
	}
	applied, err := on.Query(`UPDATE kv SET v = 'lwt2' WHERE k = 1000 IF v = 'lwt'`).SerialConsistency(gocql.LocalSerial).MapScanCAS(map[string]any{})
	if err != nil || !applied {
		t.Errorf("LWT at LOCAL_SERIAL coordinated by the restarted node: applied = %v, error = %v", applied, err)
	}
	var v string
	if err := on.Query(`SELECT v FROM kv WHERE k = 1000`).Consistency(gocql.Consistency(gocql.LocalSerial)).Scan(&v); err != nil || v != "lwt2" {
		t.Errorf("serial read through the restarted node: %q, %v; want lwt2", v, err)
	}
}

// TestPausedNodeIsNoticedAndResumes pauses a node (SIGSTOP): the others
// notice it down, QUORUM writes go on without it, and once resumed it is
// seen up again.
func TestPausedNodeIsNoticedAndResumes(t *testing.T) {
	f := cqltest.Faults(t)
	ks := f.Keyspace(`CREATE TABLE kv (k int PRIMARY KEY, v text)`)
	const victim = 3
	f.Pause(victim)
	if !f.Cluster().Paused(victim) {
		t.Fatalf("node %d is not paused after Pause", victim)
	}
	t.Logf("nodes 1 and 2 held node %d for down after %s", victim, f.WaitDown(victim).Round(100*time.Millisecond))

	on := f.NodeSession(1, ks)
	if err := on.Query(`INSERT INTO kv (k, v) VALUES (1, 'paused')`).Exec(); err != nil {
		t.Errorf("write at QUORUM with node %d paused: %v", victim, err)
	}
	err := on.Query(`INSERT INTO kv (k, v) VALUES (2, 'all')`).Consistency(gocql.All).Exec()
	var unavailable *gocql.RequestErrUnavailable
	if !errors.As(err, &unavailable) {
		t.Errorf("write at ALL with node %d paused: error = %v, want Unavailable", victim, err)
	}
	t.Logf("every node saw node %d up %s after it was resumed", victim, f.Resume(victim).Round(100*time.Millisecond))
	if f.Cluster().Paused(victim) {
		t.Errorf("node %d is still paused after Resume", victim)
	}
	if err := on.Query(`INSERT INTO kv (k, v) VALUES (2, 'all')`).Consistency(gocql.All).Exec(); err != nil {
		t.Errorf("write at ALL after resuming node %d: %v", victim, err)
	}
}
