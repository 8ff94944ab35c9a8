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

	// Last fire, and resume with and without --catch-up: two schedules every
	// 2s are paused while an occurrence passes, then resumed; the schedulers'
	// next pass fires the occurrences passed while paused for the one resumed
	// with --catch-up and none for the other. The pass uses FireAll: under
	// FireLatest (the default) an occurrence due between the resume and the
	// pass, as on a loaded machine, would rightly replace the missed one.
	for _, id := range []string{"catchup", "skip"} {
		if _, err := store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: id, Cron: "@every 2s", Queue: "q-" + id, Type: "tick"}); err != nil {
			t.Fatal(err)
		}
		jobsharp(t, env, "recurring", "pause", id).want(t, ExitOK, []string{id + " paused since"}, nil)
	}
	time.Sleep(2500 * time.Millisecond) // an occurrence passes while paused
	resumedAt := time.Now()
	jobsharp(t, env, "recurring", "resume", "catchup", "--catch-up").want(t, ExitOK, []string{"catchup active, next fire"}, nil)
	jobsharp(t, env, "recurring", "resume", "skip").want(t, ExitOK, []string{"skip active, next fire"}, nil)
	fired, err := store.Recurring.Fire(ctx, &repo.FireParams{Queues: []string{"q-catchup", "q-skip"}, Missed: repo.FireAll})
	if err != nil {
		t.Fatal(err)
	}
	var missed, latest *repo.Job
	for _, j := range fired {
		if j.RecurringID == "catchup" && (latest == nil || j.ScheduledAt.After(latest.ScheduledAt)) {
			latest = j
		}
		if j.ScheduledAt.Before(resumedAt) {
			if j.RecurringID != "catchup" {
				t.Errorf("fired %s's occurrence of %s, passed while paused; want those of catchup alone", j.RecurringID, j.ScheduledAt)
			}
			missed = j
		}
	}
	if missed == nil {
		t.Fatalf("after resume --catch-up the schedulers fired no occurrence passed while paused (fired %d jobs)", len(fired))
	}
	if got := listed()["catchup"]; got.LastJobID != latest.ID.String() || got.LastRunAt == nil || !got.LastRunAt.Equal(latest.ScheduledAt) {
		t.Errorf("recurring list --json: catchup = %+v; want last fire %s, job %s", got, latest.ScheduledAt, latest.ID)
	}
	jobsharp(t, env, "recurring", "list", "--queue", "q-catchup").want(t, ExitOK, []string{"LAST FIRE", latest.ScheduledAt.UTC().Format("2006-01-02 15:04:05")}, nil)

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
