package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/queries"
)

func TestMain(m *testing.M) { cqltest.Main(m, queries.CreateStatements()...) }

// TestDemo runs the demo in its short mode, as CI does: it must end with
// every job in the state it should reach (run checks them and fails
// otherwise) and print the table and the throughput.
func TestDemo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--short", "--keyspace", cqltest.Keyspace(t), "--hosts", strings.Join(cqltest.Hosts(), ",")}, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code != 0 {
		t.Fatalf("demo exit code = %d, want 0", code)
	}
	for _, want := range []string{"enqueued 140 jobs", "Succeeded", "Abandoned", "recurring ticks fired", "jobs/s with 2 processors"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestDemoUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--processors", "0"}, &stdout, &stderr); code != 2 {
		t.Errorf("--processors 0: exit code %d, want 2", code)
	}
}
