package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// TestQueueAndProcessorCommands pauses and resumes a queue and lists the
// queues and a running processor, as an operator would.
func TestQueueAndProcessorCommands(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	s := adminSession(t)
	ks := cqltest.UniqueKeyspace(t)
	cqltest.DropKeyspaceAtEnd(t, s, ks)
	env := hostEnv(ks)
	jobsharp(t, env, "schema", "apply", "--replication", "SimpleStrategy:1").want(t, ExitOK, nil, nil)

	// Usage errors come before any connection; an unknown queue is exit 4.
	jobsharp(t, nil, "queue", "pause").want(t, ExitUsage, nil, []string{"want one queue name, got 0 arguments"})
	jobsharp(t, nil, "queue", "pause", "no spaces").want(t, ExitUsage, nil, []string{`invalid queue: "no spaces"`})
	jobsharp(t, env, "queue", "list").want(t, ExitOK, []string{"no queues yet"}, nil)
	jobsharp(t, env, "queue", "pause", "mail").want(t, ExitNotFound, nil, []string{`queue "mail" not found`})

	jobsharp(t, env, "enqueue", "--type", "email.send", "--queue", "mail").want(t, ExitOK, nil, nil)
	jobsharp(t, env, "queue", "pause", "mail").want(t, ExitOK, []string{"queue mail paused", "1 Scheduled"}, nil)
	jobsharp(t, env, "queue", "list").want(t, ExitOK, []string{"QUEUE", "PAUSED", "mail", "PAUSED since"}, nil)
	r := jobsharp(t, env, "queue", "list", "--json")
	var queues []queueJSON
	if err := json.Unmarshal([]byte(r.stdout), &queues); err != nil || len(queues) != 1 || !queues[0].Paused || queues[0].PausedAt == nil || queues[0].Counts["Scheduled"] != 1 {
		t.Errorf("queue list --json = %+v, %v; want mail, paused, 1 Scheduled", queues, err)
	}
	r = jobsharp(t, env, "queue", "resume", "mail", "--json")
	var q queueJSON
	if err := json.Unmarshal([]byte(r.stdout), &q); err != nil || q.Queue != "mail" || q.Paused {
		t.Errorf("queue resume --json = %+v, %v; want mail, not paused", q, err)
	}
	jobsharp(t, env, "queue", "resume", "mail").want(t, ExitOK, []string{"queue mail resumed"}, nil)

	// processors: none, then one that runs a job.
	jobsharp(t, env, "processors").want(t, ExitOK, []string{"no processors running"}, nil)
	store, err := repo.Connect(ctx, repo.Config{Hosts: cqltest.Hosts(), Keyspace: ks})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := worker.New(store, &worker.Config{Owner: "cli-test-processor", Queues: map[string]worker.QueueConfig{"mail": {MaxWorkers: 3}},
		PollInterval: 100 * time.Millisecond, ReportInterval: 200 * time.Millisecond,
		// The row must outlive a slow report on a loaded machine: expiry is
		// not what this test checks.
		ReportTTL: 30 * time.Second, Version: "v0.0.0-cli", Logger: cqltest.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	if err := worker.HandleRaw(p, "email.send", func(ctx context.Context, job *worker.Job[[]byte]) error {
		<-release
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		procs, err := store.Processors.List(ctx)
		if err == nil && len(procs) == 1 && procs[0].Running["mail"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no processor row running the job after 30s: %+v, %v", procs, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	jobsharp(t, env, "processors").want(t, ExitOK, []string{"OWNER", "cli-test-processor", "v0.0.0-cli", "mail 1/3", "1 processors"}, nil)
	r = jobsharp(t, env, "processors", "--json")
	var procs []processorJSON
	if err := json.Unmarshal([]byte(r.stdout), &procs); err != nil || len(procs) != 1 || procs[0].Owner != "cli-test-processor" ||
		procs[0].Queues["mail"] != 3 || procs[0].RunningTotal != 1 || procs[0].ExpiresAt.Before(procs[0].LastSeen) {
		t.Errorf("processors --json = %+v, %v; want cli-test-processor running 1 of 3 on mail", procs, err)
	}
	close(release)
}
