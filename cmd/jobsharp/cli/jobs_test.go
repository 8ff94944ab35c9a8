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

// TestStatsShowsSettling: counts that a running store has changed and not
// folded yet are shown as settling, in the table and in JSON; once a fold
// after the change has covered it, as settled, and exact.
func TestStatsShowsSettling(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ks, env := appliedKeyspace(t)
	// A writer that does not fold (a store killed before its fold would
	// leave the same).
	store, err := repo.Connect(ctx, repo.Config{Hosts: cqltest.Hosts(), Keyspace: ks, Options: repo.Options{FoldInterval: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: "mail", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Counts  map[string]int64 `json:"counts"`
		Settled bool             `json:"counts_settled"`
	}
	stats := func() row {
		t.Helper()
		r := jobsharp(t, env, "stats", "--json", "--queue", "mail")
		var rows []row
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("stats --json = %q, %v; want one queue", r.stdout, err)
		}
		return rows[0]
	}
	if st := stats(); st.Settled {
		t.Errorf("stats --json before any fold: %+v, want counts_settled false", st)
	}
	jobsharp(t, env, "stats", "--queue", "mail").want(t, ExitOK, []string{" settling"}, nil)

	// A fold that starts after the writer's mark ran out (1 s with no
	// folding) settles the hour.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := store.SweepCounts(ctx, "mail"); err != nil {
			t.Fatal(err)
		}
		if st := stats(); st.Settled {
			if st.Counts["Scheduled"] != 1 {
				t.Errorf("settled stats: %v, want 1 Scheduled", st.Counts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the counts were not settled 30 s after the insert, with a sweep every 250 ms")
		}
		time.Sleep(250 * time.Millisecond)
	}
	jobsharp(t, env, "stats", "--queue", "mail").want(t, ExitOK, []string{"settled (folded"}, nil)
}

// TestJobCommands drives the job commands as an operator would, on a
// keyspace that schema apply created.
func TestJobCommands(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ks, env := appliedKeyspace(t)

	// enqueue prints the id; --json the whole job.
	r := jobsharp(t, env, "enqueue", "--type", "email.send", "--args", `{"to":"ada@example.com"}`, "--queue", "mail")
	r.want(t, ExitOK, nil, nil)
	id := strings.TrimSpace(r.stdout)
	r = jobsharp(t, env, "enqueue", "--type", "report", "--in", "1h", "--json")
	r.want(t, ExitOK, []string{`"state": "Scheduled"`}, nil)
	var later jobJSON
	if err := json.Unmarshal([]byte(r.stdout), &later); err != nil || later.ScheduledAt == nil || time.Until(*later.ScheduledAt) < 59*time.Minute {
		t.Errorf("enqueue --in 1h --json = %+v, %v; want a job due in an hour", later, err)
	}

	jobsharp(t, env, "get", id).want(t, ExitOK, []string{id, "email.send", "Scheduled", `{"to":"ada@example.com"}`, "0 of 10"}, nil)
	r = jobsharp(t, env, "get", "--json", id)
	var got struct {
		ID    string            `json:"id"`
		Queue string            `json:"queue"`
		Args  map[string]string `json:"args"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.ID != id || got.Queue != "mail" || got.Args["to"] != "ada@example.com" {
		t.Errorf("get --json = %+v, %v", got, err)
	}
	jobsharp(t, env, "list", "--state", "scheduled").want(t, ExitOK, []string{id, later.ID, "2 jobs"}, nil)
	jobsharp(t, env, "list", "--state", "Scheduled", "--queue", "mail").want(t, ExitOK, []string{id, "1 jobs"}, nil)
	// A page of one job ends with the cursor of the next; that page has the
	// other job and no cursor.
	r = jobsharp(t, env, "list", "--state", "Scheduled", "--limit", "1")
	r.want(t, ExitOK, []string{"1 jobs", "more: --cursor "}, nil)
	_, cur, _ := strings.Cut(r.stdout, "more: --cursor ")
	cur = strings.TrimSpace(cur)
	r2 := jobsharp(t, env, "list", "--state", "Scheduled", "--limit", "1", "--cursor", cur)
	r2.want(t, ExitOK, []string{"1 jobs"}, nil)
	if strings.Contains(r2.stdout, "more: --cursor") || strings.Contains(r.stdout, id) == strings.Contains(r2.stdout, id) {
		t.Errorf("two pages of one job: want %s on exactly one of them and no cursor after the second:\n%s\n%s", id, r.stdout, r2.stdout)
	}
	jobsharp(t, env, "list", "--state", "Scheduled", "--cursor", "not-a-cursor").want(t, ExitFailure, nil, []string{"invalid cursor"})
	jobsharp(t, env, "list", "--state", "Scheduled", "--limit", "2000", "--cursor", cur).want(t, ExitUsage, nil, []string{"1 to 1,000 with --cursor"})

	r = jobsharp(t, env, "stats", "--json")
	r.want(t, ExitOK, nil, nil)
	var stats []struct {
		Queue   string           `json:"queue"`
		Counts  map[string]int64 `json:"counts"`
		Due     int              `json:"due"`
		Settled *bool            `json:"counts_settled"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &stats); err != nil || len(stats) != 2 {
		t.Fatalf("stats --json = %v, %v; want two queues", stats, err)
	}
	for _, st := range stats {
		if st.Counts["Scheduled"] != 1 {
			t.Errorf("stats of %s: %d Scheduled, want 1", st.Queue, st.Counts["Scheduled"])
		}
		// Each enqueue's store settled the hours it changed when it closed.
		if st.Settled == nil || !*st.Settled {
			t.Errorf("stats --json of %s: counts_settled = %v, want true (every store that changed its jobs has closed)", st.Queue, st.Settled)
		}
		if wantDue := map[string]int{"mail": 1, "default": 0}[st.Queue]; st.Due != wantDue {
			t.Errorf("stats of %s: %d due, want %d", st.Queue, st.Due, wantDue)
		}
	}
	r = jobsharp(t, env, "stats")
	r.want(t, ExitOK, []string{"QUEUE", "mail", "default", "OLDEST DUE", "COUNTS", "ago)"}, nil)
	for _, line := range strings.Split(r.stdout, "\n") {
		isQueue := strings.Contains(line, " mail ") || strings.Contains(line, " default ")
		if isQueue && !strings.Contains(line, "settled (folded") {
			t.Errorf("stats row %q does not say its counts are settled", line)
		}
	}

	jobsharp(t, env, "cancel", id).want(t, ExitOK, []string{id + " Cancelled"}, nil)
	jobsharp(t, env, "cancel", id).want(t, ExitWrongState, nil, []string{"it is Cancelled"})
	jobsharp(t, env, "requeue", id, "--in", "5m").want(t, ExitOK, []string{id + " Scheduled at"}, nil)
	jobsharp(t, env, "get", "01234567-89ab-4def-8123-456789abcdef").want(t, ExitNotFound, nil, []string{"job not found"})
	jobsharp(t, env, "cancel", "01234567-89ab-4def-8123-456789abcdef").want(t, ExitNotFound, nil, nil)

	// purge: three jobs run to completion through the store, then purged.
	store, err := repo.Connect(ctx, repo.Config{Hosts: cqltest.Hosts(), Keyspace: ks})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for i := 0; i < 3; i++ {
		if _, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: "done", Type: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: "done", Limit: 10})
	if err != nil || len(claimed) != 3 {
		t.Fatalf("Claim() = %d, %v", len(claimed), err)
	}
	for _, j := range claimed {
		if _, err := store.Jobs.Complete(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	jobsharp(t, env, "purge", "--state", "Succeeded", "--older-than", "10ms", "--dry-run").want(t, ExitOK, []string{"would purge 3 Succeeded jobs"}, nil)
	jobsharp(t, env, "purge", "--state", "Succeeded", "--older-than", "10ms").want(t, ExitOK, []string{"purged 3 Succeeded jobs"}, nil)
	jobsharp(t, env, "get", claimed[0].ID.String()).want(t, ExitNotFound, nil, nil)
	jobsharp(t, env, "list", "--state", "Succeeded", "--json").want(t, ExitOK, []string{"[]"}, nil)
}

func TestJobCommandsUsage(t *testing.T) {
	t.Parallel()

	env := hostEnv("jobsharp")
	for _, tt := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"enqueue", "--args", "{}"}, "--type is required"},
		{[]string{"enqueue", "--type", "t", "--args", "{nope"}, "--args is not valid JSON"},
		{[]string{"enqueue", "--type", "t", "--at", "tomorrow"}, "want RFC 3339"},
		{[]string{"enqueue", "--type", "t", "--at", "2030-01-01T00:00:00Z", "--in", "1h"}, "not both"},
		{[]string{"get"}, "want one job id"},
		{[]string{"get", "not-a-uuid"}, "is not a job id"},
		{[]string{"list"}, "--state is required"},
		{[]string{"list", "--state", "Done"}, "want one of Created, Scheduled"},
		{[]string{"list", "--state", "Created", "--limit", "0"}, "--limit 0"},
		{[]string{"purge", "--state", "Scheduled", "--older-than", "1h"}, "only Succeeded, Cancelled or Abandoned"},
		{[]string{"purge", "--state", "Succeeded"}, "--older-than is required"},
		{[]string{"stats", "extra"}, "unexpected argument"},
	} {
		r := jobsharp(t, env, tt.args...)
		r.want(t, ExitUsage, nil, []string{tt.stderr})
	}
	jobsharp(t, env, "purge", "--help").want(t, ExitOK, []string{"--older-than", "--dry-run", "JOBSHARP_HOSTS"}, nil)
}
