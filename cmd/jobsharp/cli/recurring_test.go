package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
)

// TestRecurringCommands lists, pauses, resumes, triggers and removes a
// schedule as an operator would.
func TestRecurringCommands(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ks, env := appliedKeyspace(t)
	store, err := repo.Connect(ctx, repo.Config{Hosts: cqltest.Hosts(), Keyspace: ks})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, rj := range []*repo.RecurringJob{
		{ID: "nightly", Cron: "0 3 * * *", Timezone: "Europe/Paris", Queue: "reports", Type: "report.build", Args: []byte(`{"full":true}`)},
		{ID: "tick", Cron: "@every 1m", Queue: "ticks", Type: "tick"},
	} {
		if _, err := store.Recurring.Upsert(ctx, rj); err != nil {
			t.Fatal(err)
		}
	}

	jobsharp(t, env, "recurring", "list").want(t, ExitOK, []string{"nightly", "0 3 * * * (Europe/Paris)", "report.build", "tick", "2 schedules"}, nil)
	jobsharp(t, env, "recurring", "list", "--queue", "ticks").want(t, ExitOK, []string{"tick", "1 schedules"}, nil)

	listed := func() map[string]recurringJSON {
		t.Helper()
		r := jobsharp(t, env, "recurring", "list", "--json")
		var out []recurringJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("recurring list --json: %v", err)
		}
		m := map[string]recurringJSON{}
		for _, rj := range out {
			m[rj.ID] = rj
		}
		return m
	}
	if got := listed()["nightly"]; got.Paused || got.NextRunAt == nil || !got.NextRunAt.After(time.Now()) || !strings.Contains(strings.Join(strings.Fields(string(got.Args)), ""), `"full":true`) {
		t.Errorf("recurring list --json: nightly = %+v; want active with a next fire ahead", got)
	}

	jobsharp(t, env, "recurring", "pause", "nightly").want(t, ExitOK, []string{"nightly paused since"}, nil)
	if got := listed()["nightly"]; !got.Paused || got.PausedAt == nil || got.NextRunAt != nil {
		t.Errorf("after pause: %+v; want paused, no next fire", got)
	}
	jobsharp(t, env, "recurring", "list").want(t, ExitOK, []string{"since "}, nil)

	r := jobsharp(t, env, "recurring", "trigger", "nightly", "--json")
	r.want(t, ExitOK, []string{`"state": "Scheduled"`, `"recurring_id": "nightly"`, `"queue": "reports"`}, nil)
	var job jobJSON
	if err := json.Unmarshal([]byte(r.stdout), &job); err != nil {
		t.Fatal(err)
	}
	if got := listed()["nightly"]; got.TriggeredJobID != job.ID || got.TriggeredAt == nil {
		t.Errorf("after trigger: %+v; want it to name job %s", got, job.ID)
	}
	jobsharp(t, env, "get", job.ID).want(t, ExitOK, []string{"report.build", "Scheduled"}, nil)

	jobsharp(t, env, "recurring", "resume", "nightly").want(t, ExitOK, []string{"nightly active, next fire"}, nil)
	if got := listed()["nightly"]; got.Paused || got.NextRunAt == nil {
		t.Errorf("after resume: %+v; want active with a next fire", got)
	}

	jobsharp(t, env, "recurring", "remove", "tick").want(t, ExitOK, []string{"tick removed"}, nil)
	if _, ok := listed()["tick"]; ok {
		t.Errorf("tick still listed after remove")
	}

	// Unknown schedules: exit code 4 and a message naming the id.
	for _, cmd := range []string{"pause", "resume", "trigger", "remove"} {
		jobsharp(t, env, "recurring", cmd, "nope").want(t, ExitNotFound, nil, []string{`no recurring schedule "nope"`})
	}
	// Usage errors come before any connection.
	jobsharp(t, map[string]string{}, "recurring", "pause").want(t, ExitUsage, nil, []string{"want one schedule id"})
	jobsharp(t, map[string]string{}, "recurring", "trigger", "a", "b").want(t, ExitUsage, nil, []string{"want one schedule id, got 2"})
	if r := jobsharp(t, map[string]string{}, "recurring"); r.code != ExitUsage || !strings.Contains(r.stderr, "recurring trigger") {
		t.Errorf("jobsharp recurring = %d, %q; want the group listed", r.code, r.stderr)
	}
}
