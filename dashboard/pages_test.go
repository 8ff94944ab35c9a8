package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/dashboard"
	"github.com/jobsharp/cassandra/repo"
)

func TestPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Overview", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.finished(ctx, t, 2, "succeeded", nil)
		r := b.get(t, "/")
		r.want(t, http.StatusOK, "<h1>Overview</h1>", b.queue, `id="throughput"`, `/admin/jobs/api/throughput`)
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("Content-Security-Policy = %q, want script-src 'self' and nothing inline", csp)
		}
		if got := r.header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("X-Frame-Options = %q, want DENY", got)
		}
	})

	t.Run("StaticAssets", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.get(t, "/static/dashboard.js").want(t, http.StatusOK, "use strict")
		b.get(t, "/static/dashboard.css").want(t, http.StatusOK, ":root")
		b.get(t, "/static/nope.js").want(t, http.StatusNotFound)
	})

	t.Run("ListNewestFirstWithPaging", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &dashboard.Options{PageSize: 2})
		var ids []string
		for range 5 {
			j := b.finished(ctx, t, 1, "succeeded", nil)[0]
			ids = append([]string{j.ID.String()}, ids...) // newest first
			time.Sleep(2 * time.Millisecond)
		}
		// Follow the "older" links: each carries the position where its page
		// starts.
		path := "/jobs?state=Succeeded&queue=" + b.queue
		for page, want := range [][]string{ids[0:2], ids[2:4], ids[4:5]} {
			r := b.get(t, path)
			r.want(t, http.StatusOK, want...)
			if got := listedIDs(r.body); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("page %d lists %v, want %v", page+1, got, want)
			}
			if page > 0 {
				r.want(t, http.StatusOK, fmt.Sprintf("jobs %d–%d", 2*page+1, 2*page+len(want)), "first page")
			}
			next := b.nextLink(r.body)
			if (next != "") != (page < 2) {
				t.Fatalf("page %d: link to older jobs %q, want one: %v", page+1, next, page < 2)
			}
			path = next
		}
		first := b.nextLink(b.get(t, "/jobs?state=Succeeded&queue="+b.queue).body)
		b.get(t, strings.Replace(first, "state=Succeeded", "state=Abandoned", 1)).want(t, http.StatusBadRequest, "not valid for this list", "it pages the Succeeded jobs")
		b.get(t, "/jobs?state=Succeeded&after=garbage").want(t, http.StatusBadRequest, "not valid for this list", "not a cursor")
		b.get(t, "/jobs?state=Succeeded&after="+first[len(first)-12:]).want(t, http.StatusBadRequest, "not valid for this list")
		b.get(t, "/jobs?state=Succeeded&pos=0").want(t, http.StatusBadRequest, "want a number from 1")
		b.get(t, "/jobs?state=Nope").want(t, http.StatusBadRequest, "is not a state")
		b.get(t, "/jobs?state=Failed&queue=no%20spaces").want(t, http.StatusBadRequest, "letters, digits")
	})

	t.Run("ListFiltersByType", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		a := b.finished(ctx, t, 2, "abandoned", &jobOpts{Type: "mail.send"})
		other := b.finished(ctx, t, 1, "abandoned", &jobOpts{Type: "mail.bounce"})
		r := b.get(t, "/jobs?state=Abandoned&queue="+b.queue+"&type=mail.send")
		r.want(t, http.StatusOK, a[0].ID.String(), a[1].ID.String())
		if strings.Contains(r.body, other[0].ID.String()) {
			t.Errorf("the list of type mail.send shows a mail.bounce job")
		}
	})

	t.Run("ListDueIndexedStates", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		later := b.insert(ctx, t, &jobOpts{Delay: 2 * time.Hour})
		sooner := b.insert(ctx, t, &jobOpts{Delay: time.Hour})
		r := b.get(t, "/jobs?state=Scheduled&queue="+b.queue)
		r.want(t, http.StatusOK, "soonest due first")
		if got := listedIDs(r.body); strings.Join(got, ",") != sooner.ID.String()+","+later.ID.String() {
			t.Errorf("Scheduled lists %v, want the sooner job first", got)
		}
		p := b.finished(ctx, t, 1, "processing", nil)[0]
		b.get(t, "/jobs?state=Processing&queue="+b.queue).want(t, http.StatusOK, p.ID.String(), "test-worker")
	})

	t.Run("JobPage", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		batchID := repo.NewBatchID()
		jobs, err := b.store.Batches.Insert(ctx, batchID, []*repo.NewJob{{
			Queue: b.queue, Type: "batch.part", Args: []byte{0xde, 0xad, 0xbe, 0xef}, Metadata: map[string]string{"tenant": "acme"},
			ScheduledAt: time.Now().Add(time.Hour), // not claimed by b.finished below
		}})
		if err != nil {
			t.Fatal(err)
		}
		j := jobs[0]
		cont, err := b.store.Jobs.InsertContinuation(ctx, j.ID, &repo.NewJob{Queue: b.queue, Type: "after.part"})
		if err != nil {
			t.Fatal(err)
		}
		r := b.get(t, "/jobs/"+j.ID.String())
		r.want(t, http.StatusOK, "batch.part", "de ad be ef", "not JSON: shown as hex", "tenant", "acme",
			"/admin/jobs/batches/"+batchID.String(), cont.ID.String(), "after.part")

		failed := b.finished(ctx, t, 1, "failed", &jobOpts{Args: []byte(`{"to":"ada@example.com","n":[1,2]}`)})[0]
		r = b.get(t, "/jobs/"+failed.ID.String())
		r.want(t, http.StatusOK, "{\n  &#34;to&#34;: &#34;ada@example.com&#34;,", "attempt 1", "boom", "main.work()", "Requeue", "Run now")

		b.get(t, "/jobs/"+cont.ID.String()).want(t, http.StatusOK, "AwaitingContinuation", "/admin/jobs/search?q="+j.ID.String())
		proc := b.finished(ctx, t, 1, "processing", nil)[0]
		b.get(t, "/jobs/"+proc.ID.String()).want(t, http.StatusOK, "held by <strong>test-worker</strong>")
	})

	t.Run("JobPageBadID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.get(t, "/jobs/"+b.unknownID(ctx, t).String()).want(t, http.StatusNotFound, "job not found")
		b.get(t, "/jobs/not-a-uuid").want(t, http.StatusBadRequest, "is not a job id")
		b.get(t, "/batches/not-a-uuid").want(t, http.StatusBadRequest, "is not a batch id")
		b.get(t, "/batches/"+repo.NewBatchID().String()).want(t, http.StatusNotFound, "no batch")
		b.get(t, "/nope").want(t, http.StatusNotFound)
	})

	t.Run("Actions", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		ab := b.finished(ctx, t, 1, "abandoned", nil)[0]
		r := b.post(t, "/jobs/"+ab.ID.String()+"/requeue", nil)
		r.want(t, http.StatusSeeOther)
		if loc := r.header.Get("Location"); loc != "/admin/jobs/jobs/"+ab.ID.String()+"?done=requeue" {
			t.Errorf("requeue redirects to %q", loc)
		}
		b.get(t, "/jobs/"+ab.ID.String()+"?done=requeue").want(t, http.StatusOK, "The job was requeued.")
		wantState(ctx, t, b.store, ab.ID, repo.StateScheduled)

		fl := b.finished(ctx, t, 1, "failed", nil)[0]
		b.post(t, "/jobs/"+fl.ID.String()+"/run", nil).want(t, http.StatusSeeOther)
		got := wantState(ctx, t, b.store, fl.ID, repo.StateFailed)
		if got.RetryCount != 1 || time.Until(got.ScheduledAt) > time.Minute {
			t.Errorf("run now: retries %d, due in %s; want the attempt kept and due now", got.RetryCount, time.Until(got.ScheduledAt))
		}

		later := b.insert(ctx, t, &jobOpts{Delay: time.Hour})
		b.post(t, "/jobs/"+later.ID.String()+"/run", nil).want(t, http.StatusSeeOther)
		if got := wantState(ctx, t, b.store, later.ID, repo.StateScheduled); time.Until(got.ScheduledAt) > time.Minute {
			t.Errorf("run now left the job due in %s", time.Until(got.ScheduledAt))
		}

		sc := b.insert(ctx, t, &jobOpts{Delay: time.Hour})
		b.post(t, "/jobs/"+sc.ID.String()+"/cancel", nil).want(t, http.StatusSeeOther)
		wantState(ctx, t, b.store, sc.ID, repo.StateCancelled)
		b.post(t, "/jobs/"+sc.ID.String()+"/cancel", nil).want(t, http.StatusConflict, "Cancelled")

		r = b.post(t, "/jobs/"+sc.ID.String()+"/delete", url.Values{"state": {"Cancelled"}, "queue": {b.queue}})
		r.want(t, http.StatusSeeOther)
		if loc := r.header.Get("Location"); !strings.Contains(loc, "state=Cancelled") || !strings.Contains(loc, "done=delete") {
			t.Errorf("delete redirects to %q, want the Cancelled list", loc)
		}
		if _, err := b.store.Jobs.Get(ctx, sc.ID); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("after delete Get() error = %v, want ErrNotFound", err)
		}
	})

	t.Run("ActionsBadInput", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		sc := b.insert(ctx, t, &jobOpts{Delay: time.Hour})
		path := "/jobs/" + sc.ID.String() + "/cancel"
		b.post(t, "/jobs/"+b.unknownID(ctx, t).String()+"/cancel", nil).want(t, http.StatusNotFound, "job not found")
		b.post(t, "/jobs/xyz/cancel", nil).want(t, http.StatusBadRequest, "is not a job id")
		b.get(t, path).want(t, http.StatusMethodNotAllowed)
		req, _ := http.NewRequest(http.MethodDelete, b.srv.URL+b.prefix+"/jobs/"+sc.ID.String(), nil)
		b.do(t, req).want(t, http.StatusMethodNotAllowed)
		b.csrf(t) // the browser has its cookie, but the form lacks the token
		b.postRaw(t, path, url.Values{}, nil).want(t, http.StatusForbidden, "missing CSRF token")
		b.postRaw(t, path, url.Values{"csrf_token": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}, nil).want(t, http.StatusForbidden, "does not match")
		b.postRaw(t, path, url.Values{"csrf_token": {b.csrf(t)}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}).want(t, http.StatusForbidden, "cross-origin")
		b.postRaw(t, path, url.Values{"csrf_token": {b.csrf(t)}}, http.Header{"Origin": {"https://evil.example"}}).want(t, http.StatusForbidden, "cross-origin")
		wantState(ctx, t, b.store, sc.ID, repo.StateScheduled)

		fresh := serve(t, b.store, nil) // a browser without the cookie
		fresh.postRaw(t, path, url.Values{"csrf_token": {b.csrf(t)}}, nil).want(t, http.StatusForbidden, "missing CSRF cookie")
		wantState(ctx, t, b.store, sc.ID, repo.StateScheduled)
	})

	t.Run("ReadOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &dashboard.Options{ReadOnly: true})
		ab := b.finished(ctx, t, 1, "abandoned", nil)[0]
		r := b.get(t, "/jobs/"+ab.ID.String())
		r.want(t, http.StatusOK, "read-only")
		for _, s := range []string{"/requeue", "/delete", `name="csrf_token"`} {
			if strings.Contains(r.body, s) {
				t.Errorf("read-only job page offers %q", s)
			}
		}
		if r := b.get(t, "/jobs?state=Abandoned&queue="+b.queue); strings.Contains(r.body, "Bulk action") {
			t.Errorf("read-only list offers bulk actions")
		}
		for _, a := range []string{"requeue", "cancel", "delete", "run"} {
			b.post(t, "/jobs/"+ab.ID.String()+"/"+a, nil).want(t, http.StatusForbidden, "read-only")
		}
		b.post(t, "/bulk", url.Values{"action": {"job.delete"}, "all": {"1"}, "state": {"Abandoned"}, "queue": {b.queue}}).want(t, http.StatusForbidden, "read-only")
		b.post(t, "/recurring/x/remove", nil).want(t, http.StatusForbidden, "read-only")
		wantState(ctx, t, b.store, ab.ID, repo.StateAbandoned)

		id := b.queue + "-ro"
		if _, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: id, Cron: "@hourly", Queue: b.queue, Type: "report"}); err != nil {
			t.Fatal(err)
		}
		r = b.get(t, "/recurring")
		r.want(t, http.StatusOK, id)
		for _, s := range []string{"/pause", "/trigger", "/remove"} {
			if strings.Contains(r.body, s) {
				t.Errorf("read-only recurring page offers %q", s)
			}
		}
		for _, a := range []string{"pause", "resume", "trigger"} {
			b.post(t, "/recurring/"+id+"/"+a, nil).want(t, http.StatusForbidden, "read-only")
		}
		if rj, err := b.store.Recurring.Get(ctx, id); err != nil || rj.Paused || !rj.TriggeredAt.IsZero() {
			t.Errorf("a read-only dashboard changed the schedule: %+v, %v", rj, err)
		}
	})

	t.Run("Authorize", func(t *testing.T) {
		t.Parallel()
		var seen []dashboard.Action
		b := setup(t, &dashboard.Options{Authorize: func(r *http.Request, a dashboard.Action) error {
			seen = append(seen, a)
			if a != dashboard.ActionView && r.Header.Get("X-Role") != "operator" {
				return errors.New("operators only")
			}
			return nil
		}})
		sc := b.insert(ctx, t, &jobOpts{Delay: time.Hour})
		b.get(t, "/jobs/"+sc.ID.String()).want(t, http.StatusOK)
		path := "/jobs/" + sc.ID.String() + "/cancel"
		b.post(t, path, nil).want(t, http.StatusForbidden, "not allowed to job.cancel: operators only")
		wantState(ctx, t, b.store, sc.ID, repo.StateScheduled)
		b.postRaw(t, path, url.Values{"csrf_token": {b.csrf(t)}}, http.Header{"X-Role": {"operator"}}).want(t, http.StatusSeeOther)
		wantState(ctx, t, b.store, sc.ID, repo.StateCancelled)
		if !contains(seen, dashboard.ActionView) || !contains(seen, dashboard.ActionJobCancel) {
			t.Errorf("Authorize saw %v, want view and job.cancel", seen)
		}

		id := b.queue + "-auth"
		if _, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: id, Cron: "@hourly", Queue: b.queue, Type: "report"}); err != nil {
			t.Fatal(err)
		}
		b.post(t, "/recurring/"+id+"/pause", nil).want(t, http.StatusForbidden, "not allowed to recurring.pause: operators only")
		b.post(t, "/recurring/"+id+"/trigger", nil).want(t, http.StatusForbidden, "not allowed to recurring.trigger: operators only")
		if rj, err := b.store.Recurring.Get(ctx, id); err != nil || rj.Paused || !rj.TriggeredAt.IsZero() {
			t.Errorf("a refused request changed the schedule: %+v, %v", rj, err)
		}
		b.postRaw(t, "/recurring/"+id+"/pause", url.Values{"csrf_token": {b.csrf(t)}}, http.Header{"X-Role": {"operator"}}).want(t, http.StatusSeeOther)
		if rj, err := b.store.Recurring.Get(ctx, id); err != nil || !rj.Paused {
			t.Errorf("an operator's pause did not pause: %+v, %v", rj, err)
		}
	})

	t.Run("Queues", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.insert(ctx, t, nil)
		b.get(t, "/queues").want(t, http.StatusOK, "<h1>Queues</h1>", b.queue)
	})

	t.Run("QueuePauseAndResume", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.insert(ctx, t, nil)
		pause := "/queues/" + b.queue + "/pause"
		b.get(t, "/queues").want(t, http.StatusOK, `action="/admin/jobs`+pause+`"`, ">Pause</button>")

		// No CSRF token, a GET, an unknown or invalid queue: nothing changes.
		b.postRaw(t, pause, url.Values{}, nil).want(t, http.StatusForbidden)
		b.get(t, pause).want(t, http.StatusMethodNotAllowed)
		b.post(t, "/queues/"+b.queue+"-none/pause", nil).want(t, http.StatusNotFound, "no queue")
		b.post(t, "/queues/"+url.PathEscape("no spaces")+"/pause", nil).want(t, http.StatusBadRequest, "invalid queue")
		wantPaused(ctx, t, b.store, b.queue, false)

		r := b.post(t, pause, nil)
		r.want(t, http.StatusSeeOther)
		if loc := r.header.Get("Location"); loc != "/admin/jobs/queues?done=pause-queue" {
			t.Errorf("pause redirects to %q, want the queues page", loc)
		}
		wantPaused(ctx, t, b.store, b.queue, true)
		r = b.get(t, "/queues?done=pause-queue")
		r.want(t, http.StatusOK, "processors stop claiming its jobs within one poll interval", `<tr data-queue="`+b.queue+`" class="paused">`, ">Resume</button>")
		b.get(t, "/").want(t, http.StatusOK, `<span class="badge paused">paused</span>`)

		b.post(t, "/queues/"+b.queue+"/resume", nil).want(t, http.StatusSeeOther)
		wantPaused(ctx, t, b.store, b.queue, false)
		if r := b.get(t, "/queues?done=resume-queue"); strings.Contains(r.body, `<tr data-queue="`+b.queue+`" class="paused">`) {
			t.Errorf("the queues page shows a resumed queue as paused")
		}
	})

	t.Run("QueuePauseReadOnlyAndAuthorize", func(t *testing.T) {
		t.Parallel()
		ro := setup(t, &dashboard.Options{ReadOnly: true})
		ro.insert(ctx, t, nil)
		if r := ro.get(t, "/queues"); strings.Contains(r.body, "/pause") || strings.Contains(r.body, ">Pause</button>") {
			t.Errorf("the read-only queues page offers a pause")
		}
		ro.post(t, "/queues/"+ro.queue+"/pause", nil).want(t, http.StatusForbidden, "read-only")
		wantPaused(ctx, t, ro.store, ro.queue, false)

		b := setup(t, &dashboard.Options{Authorize: func(r *http.Request, a dashboard.Action) error {
			if a != dashboard.ActionView && r.Header.Get("X-Role") != "operator" {
				return errors.New("operators only")
			}
			return nil
		}})
		b.insert(ctx, t, nil)
		b.post(t, "/queues/"+b.queue+"/pause", nil).want(t, http.StatusForbidden, "not allowed to queue.pause: operators only")
		wantPaused(ctx, t, b.store, b.queue, false)
		b.postRaw(t, "/queues/"+b.queue+"/pause", url.Values{"csrf_token": {b.csrf(t)}}, http.Header{"X-Role": {"operator"}}).want(t, http.StatusSeeOther)
		wantPaused(ctx, t, b.store, b.queue, true)
		b.post(t, "/queues/"+b.queue+"/resume", nil).want(t, http.StatusForbidden, "not allowed to queue.resume")
	})

	t.Run("Processors", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		owner := b.queue + "-proc"
		info := &repo.ProcessorInfo{Owner: owner, Host: "worker-7", PID: 4242, Version: "v1.2.3", Queues: map[string]int{b.queue: 4}, Running: map[string]int{b.queue: 1}, StartedAt: time.Now().Add(-time.Hour)}
		if err := b.store.Processors.Report(ctx, info, time.Minute); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.store.Processors.Remove(context.Background(), owner) })
		b.get(t, "/processors").want(t, http.StatusOK, "<h1>Processors</h1>", `data-owner="`+owner+`"`, "worker-7", "4242", "v1.2.3", "> 1/4</span>", "1h ago")
		b.get(t, "/").want(t, http.StatusOK, `id="processors-online"`, " online</a>")
	})

	t.Run("Recurring", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		id := b.queue + "-nightly"
		if _, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: id, Cron: "0 3 * * *", Timezone: "Europe/Paris", Queue: b.queue, Type: "report.nightly", Args: []byte(`{"full":true}`)}); err != nil {
			t.Fatal(err)
		}
		b.get(t, "/recurring").want(t, http.StatusOK, id, "0 3 * * *", "Europe/Paris", "report.nightly", "never", "active", "/recurring/"+id+"/pause", "/recurring/"+id+"/trigger")

		// Pause: the page shows it paused, with Resume instead of Pause.
		r := b.post(t, "/recurring/"+id+"/pause", nil)
		r.want(t, http.StatusSeeOther)
		if loc := r.header.Get("Location"); !strings.Contains(loc, "done=pause") {
			t.Errorf("pause redirects to %q, want the recurring page with a flash", loc)
		}
		r = b.get(t, "/recurring?done=pause&id="+id)
		r.want(t, http.StatusOK, "was paused", `class="badge paused"`, "/recurring/"+id+"/resume")
		if strings.Contains(r.body, "/recurring/"+id+"/pause") {
			t.Errorf("a paused schedule is offered Pause")
		}
		if rj, err := b.store.Recurring.Get(ctx, id); err != nil || !rj.Paused {
			t.Errorf("after pause Get() = %+v, %v; want paused", rj, err)
		}
		// Trigger: one job, due now, shown on the page.
		b.post(t, "/recurring/"+id+"/trigger", nil).want(t, http.StatusSeeOther)
		rj, err := b.store.Recurring.Get(ctx, id)
		if err != nil || rj.TriggeredJobID == (gocql.UUID{}) {
			t.Fatalf("after trigger Get() = %+v, %v; want a triggered job", rj, err)
		}
		job, err := b.store.Jobs.Get(ctx, rj.TriggeredJobID)
		if err != nil || job.State != repo.StateScheduled || job.RecurringID != id || time.Until(job.ScheduledAt) > time.Second {
			t.Errorf("triggered job = %+v, %v; want a job of the schedule due now", job, err)
		}
		b.get(t, "/recurring?done=trigger").want(t, http.StatusOK, "due now", "/jobs/"+rj.TriggeredJobID.String())
		// Resume.
		b.post(t, "/recurring/"+id+"/resume", nil).want(t, http.StatusSeeOther)
		if rj, err := b.store.Recurring.Get(ctx, id); err != nil || rj.Paused {
			t.Errorf("after resume Get() = %+v, %v; want active", rj, err)
		}
		for _, a := range []string{"pause", "resume", "trigger"} {
			b.post(t, "/recurring/no-such-"+id+"/"+a, nil).want(t, http.StatusNotFound, "no recurring schedule")
		}
		b.get(t, "/search?q="+id).want(t, http.StatusSeeOther)
		b.get(t, "/recurring?id="+id).want(t, http.StatusOK, `class="selected"`)
		b.post(t, "/recurring/"+id+"/remove", nil).want(t, http.StatusSeeOther)
		if _, err := b.store.Recurring.Get(ctx, id); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("after remove Get() error = %v, want ErrNotFound", err)
		}
		b.post(t, "/recurring/"+id+"/remove", nil).want(t, http.StatusNotFound, "no recurring schedule")
		b.get(t, "/recurring/"+id+"/remove").want(t, http.StatusMethodNotAllowed)

		odd := b.queue + "/weekly report?"
		if _, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: odd, Cron: "@weekly", Queue: b.queue, Type: "report"}); err != nil {
			t.Fatal(err)
		}
		r = b.get(t, "/recurring")
		action := "/admin/jobs/recurring/" + url.PathEscape(odd) + "/remove"
		r.want(t, http.StatusOK, `action="`+action+`"`)
		b.post(t, strings.TrimPrefix(action, b.prefix), nil).want(t, http.StatusSeeOther)
		if _, err := b.store.Recurring.Get(ctx, odd); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("a schedule whose id holds a slash survived its removal: %v", err)
		}
	})

	t.Run("BatchesAndSearch", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		batchID := repo.NewBatchID()
		var njs []*repo.NewJob
		for range 4 {
			njs = append(njs, &repo.NewJob{Queue: b.queue, Type: "part", ScheduledAt: time.Now().Add(time.Hour)})
		}
		jobs, err := b.store.Batches.Insert(ctx, batchID, njs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Jobs.Cancel(ctx, jobs[0].ID); err != nil {
			t.Fatal(err)
		}
		cont, err := b.store.Batches.InsertContinuation(ctx, batchID, &repo.NewJob{Queue: b.queue, Type: "after.batch"})
		if err != nil {
			t.Fatal(err)
		}
		// The list shows each batch's progress from its own partition: the
		// cancelled job counts as finished.
		b.get(t, "/batches").want(t, http.StatusOK, `<tr data-batch="`+batchID.String()+`">`, `<progress max="4" value="1">`, "1 of 4</span> (25%) · ")
		b.get(t, "/batches/"+batchID.String()).want(t, http.StatusOK, "<strong>1</strong> of <strong>4</strong> jobs finished (25%)", jobs[3].ID.String(), cont.ID.String())
		r := b.get(t, "/search?q="+batchID.String())
		r.want(t, http.StatusSeeOther)
		if loc := r.header.Get("Location"); loc != "/admin/jobs/batches/"+batchID.String() {
			t.Errorf("search for a batch id redirects to %q", loc)
		}
		r = b.get(t, "/search?q=+"+jobs[1].ID.String()+"+")
		if loc := r.header.Get("Location"); loc != "/admin/jobs/jobs/"+jobs[1].ID.String() {
			t.Errorf("search for a job id redirects to %q", loc)
		}
		b.get(t, "/search?q="+b.unknownID(ctx, t).String()).want(t, http.StatusNotFound, "no job or batch")
		b.get(t, "/search?q=%3Cnothing%3E").want(t, http.StatusNotFound, "is not a job or batch id")
		b.get(t, "/search?q=").want(t, http.StatusBadRequest)
	})

	t.Run("BulkSelection", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		ab := b.finished(ctx, t, 3, "abandoned", nil)
		form := url.Values{"action": {"job.requeue"}, "state": {"Abandoned"}, "queue": {b.queue}}
		for _, j := range ab {
			form.Add("id", j.ID.String())
		}
		b.post(t, "/bulk", form).want(t, http.StatusOK, "please confirm", "<strong>3</strong> selected jobs", ab[2].ID.String())
		for _, j := range ab {
			wantState(ctx, t, b.store, j.ID, repo.StateAbandoned) // the confirmation changes nothing
		}
		st := b.runBulk(t, form)
		if st.Done != 3 || st.Failed != 0 {
			t.Errorf("bulk requeue: %+v, want 3 done", st)
		}
		for _, j := range ab {
			wantState(ctx, t, b.store, j.ID, repo.StateScheduled)
		}
		bad := url.Values{"action": {"job.requeue"}, "id": {"nope"}}
		b.post(t, "/bulk", bad).want(t, http.StatusBadRequest, "is not a job id")
		b.post(t, "/bulk", url.Values{"action": {"job.explode"}, "id": {ab[0].ID.String()}}).want(t, http.StatusBadRequest, "unknown bulk action")
		b.post(t, "/bulk", url.Values{"action": {"job.requeue"}}).want(t, http.StatusBadRequest, "no job selected")
		b.get(t, "/bulk/ffff").want(t, http.StatusNotFound, "no bulk action")
		r := b.get(t, "/api/bulk/ffff")
		r.want(t, http.StatusNotFound, `{"error":"no bulk action \"ffff\"`)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("the JSON endpoint's error has Content-Type %q", ct)
		}
	})

	t.Run("BulkWholeList", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &dashboard.Options{BulkChunk: 2})
		done := b.finished(ctx, t, 7, "succeeded", nil)
		keep := b.finished(ctx, t, 1, "abandoned", nil)[0]
		form := url.Values{"action": {"job.delete"}, "all": {"1"}, "state": {"Succeeded"}, "queue": {b.queue}}
		// The estimate comes from the counts, which lag the jobs by a fold
		// (Options.FoldInterval).
		waitFor(t, "the counts to show 7 Succeeded jobs", func() bool {
			n, err := b.store.Jobs.Count(ctx, b.queue, repo.StateSucceeded)
			return err == nil && n == 7
		})
		b.post(t, "/bulk", form).want(t, http.StatusOK, "every Succeeded job", "about <strong>7</strong> jobs", "2 jobs at a time", "(newest first, by home bucket, then by finish time): there is no cap")
		st := b.runBulk(t, form)
		if st.Done != 7 || st.Failed != 0 || st.Stopped != "" {
			t.Errorf("bulk delete of the whole list: %+v, want 7 done", st)
		}
		for _, j := range done {
			if _, err := b.store.Jobs.Get(ctx, j.ID); !errors.Is(err, repo.ErrNotFound) {
				t.Errorf("job %s survived the bulk delete: %v", j.ID, err)
			}
		}
		wantState(ctx, t, b.store, keep.ID, repo.StateAbandoned)
	})

	t.Run("BulkWholeListPastTheOldCaps", func(t *testing.T) {
		t.Parallel()
		// A type filter used to stop at ScanLimit jobs per queue: here one
		// job, with chunks of two. The whole list is paged to its end.
		b := setup(t, &dashboard.Options{PageSize: 1, ScanLimit: 1, BulkChunk: 2})
		var mails, others []*repo.Job
		for range 9 {
			mails = append(mails, b.finished(ctx, t, 1, "succeeded", &jobOpts{Type: "mail"})...)
			others = append(others, b.finished(ctx, t, 1, "succeeded", &jobOpts{Type: "other"})...)
		}
		st := b.runBulk(t, url.Values{"action": {"job.delete"}, "all": {"1"}, "state": {"Succeeded"}, "queue": {b.queue}, "type": {"mail"}})
		if st.Done != 9 || st.Failed != 0 || st.Stopped != "" {
			t.Errorf("bulk delete of every mail job: %+v, want 9 done", st)
		}
		for _, j := range mails {
			if _, err := b.store.Jobs.Get(ctx, j.ID); !errors.Is(err, repo.ErrNotFound) {
				t.Errorf("mail job %s survived the bulk delete: %v", j.ID, err)
			}
		}
		for _, j := range others {
			wantState(ctx, t, b.store, j.ID, repo.StateSucceeded)
		}
	})

	t.Run("BulkRunNowOnScheduled", func(t *testing.T) {
		t.Parallel()
		// Run now keeps a Scheduled job in the list, due now: it must not
		// come up again and again (the old loop stopped once 10,000 such
		// jobs filled the list's window).
		b := setup(t, &dashboard.Options{BulkChunk: 2})
		var later, due []*repo.Job
		for i := range 7 {
			later = append(later, b.insert(ctx, t, &jobOpts{Delay: time.Hour + time.Duration(i)*time.Minute}))
		}
		for range 3 {
			due = append(due, b.insert(ctx, t, nil))
		}
		st := b.runBulk(t, url.Values{"action": {"job.run-now"}, "all": {"1"}, "state": {"Scheduled"}, "queue": {b.queue}})
		if st.Done != 10 || st.Failed != 0 || st.Stopped != "" {
			t.Errorf("bulk run now of the Scheduled list: %+v, want 10 done", st)
		}
		now := time.Now()
		for _, j := range later {
			got := wantState(ctx, t, b.store, j.ID, repo.StateScheduled)
			if got.ScheduledAt.After(now) || got.Version != j.Version+1 {
				t.Errorf("job %s: due %s, version %d; want due now, written once (version %d)", j.ID, got.ScheduledAt, got.Version, j.Version+1)
			}
		}
		for _, j := range due {
			if got := wantState(ctx, t, b.store, j.ID, repo.StateScheduled); got.Version != j.Version {
				t.Errorf("job %s was due already and was written (version %d, was %d)", j.ID, got.Version, j.Version)
			}
		}
	})

	t.Run("BulkStop", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &dashboard.Options{BulkChunk: 1})
		form := url.Values{"action": {"job.cancel"}}
		const n = 3_000 // unknown ids: each costs a read, one at a time
		ids, err := b.store.Jobs.NewIDs(ctx, b.queue, time.Time{}, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			form.Add("id", id.String())
		}
		r := b.post(t, "/bulk/start", form)
		r.want(t, http.StatusSeeOther)
		id := strings.TrimPrefix(r.header.Get("Location"), b.prefix+"/bulk/")
		b.post(t, "/bulk/"+id+"/cancel", nil).want(t, http.StatusSeeOther)
		b.get(t, "/bulk/"+id+"/cancel").want(t, http.StatusMethodNotAllowed)
		b.post(t, "/bulk/ffff/cancel", nil).want(t, http.StatusNotFound)
		var st bulkStatus
		waitFor(t, "the bulk action to stop", func() bool {
			if err := json.Unmarshal([]byte(b.get(t, "/api/bulk/"+id).body), &st); err != nil {
				t.Fatal(err)
			}
			return !st.Running
		})
		if st.Stopped != "cancelled" || st.Done+st.Failed >= n || st.Done != 0 {
			t.Errorf("stopped bulk action: %+v; want cancelled before the end, every tried job failed (not found)", st)
		}
	})

	t.Run("ThroughputJSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &dashboard.Options{ChartInterval: 200 * time.Millisecond})
		var c struct {
			Points []struct {
				Succeeded, Failed int64
			}
			TotalSucceeded int64  `json:"total_succeeded"`
			TotalFailed    int64  `json:"total_failed"`
			SucceededLine  string `json:"succeeded_line"`
		}
		read := func() {
			r := b.get(t, "/api/throughput")
			r.want(t, http.StatusOK)
			if err := json.Unmarshal([]byte(r.body), &c); err != nil {
				t.Fatalf("throughput JSON: %v\n%s", err, r.body)
			}
		}
		read() // starts the sampling
		time.Sleep(500 * time.Millisecond)
		b.finished(ctx, t, 3, "succeeded", nil)
		b.finished(ctx, t, 2, "abandoned", nil)
		deadline := time.Now().Add(20 * time.Second)
		for read(); c.TotalSucceeded < 3 || c.TotalFailed < 2; read() {
			if time.Now().After(deadline) {
				t.Fatalf("after 20s the chart shows %d succeeded, %d failed; want at least 3 and 2", c.TotalSucceeded, c.TotalFailed)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if c.SucceededLine == "" || len(c.Points) < 2 {
			t.Errorf("chart has %d points and line %q", len(c.Points), c.SucceededLine)
		}
	})
}

// runBulk confirms a bulk form, follows the redirect to its progress page
// and polls the JSON until it finishes.
func (b *testBundle) runBulk(t *testing.T, form url.Values) bulkStatus {
	t.Helper()
	r := b.post(t, "/bulk/start", form)
	r.want(t, http.StatusSeeOther)
	loc := r.header.Get("Location")
	id := strings.TrimPrefix(loc, b.prefix+"/bulk/")
	if id == loc || id == "" {
		t.Fatalf("bulk start redirects to %q", loc)
	}
	b.get(t, "/bulk/"+id).want(t, http.StatusOK, "Bulk action")
	deadline := time.Now().Add(time.Minute)
	for {
		var st bulkStatus
		r := b.get(t, "/api/bulk/"+id)
		if err := json.Unmarshal([]byte(r.body), &st); err != nil {
			t.Fatalf("bulk JSON: %v\n%s", err, r.body)
		}
		if !st.Running {
			b.get(t, "/bulk/"+id).want(t, http.StatusOK, `<strong id="bulk-state">Finished</strong>`)
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("bulk action still running after a minute: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type bulkStatus struct {
	Done, Failed int
	Running      bool
	Stopped      string
	Errors       []string
}

func wantState(ctx context.Context, t *testing.T, store *repo.Store, id gocql.UUID, want repo.State) *repo.Job {
	t.Helper()
	j, err := store.Jobs.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get(%s) error = %v", id, err)
	}
	if j.State != want {
		t.Errorf("job %s is %s, want %s", id, j.State, want)
	}
	return j
}

// nextLink returns the path (without the prefix) of a list page's link to
// its next page, or "" when it has none.
func (b *testBundle) nextLink(body string) string {
	const mark = `<a rel="next" href="`
	i := strings.Index(body, mark)
	if i < 0 {
		return ""
	}
	rest := body[i+len(mark):]
	return strings.TrimPrefix(html.UnescapeString(rest[:strings.IndexByte(rest, '"')]), b.prefix)
}

// listedIDs returns the job ids a list page links to, in order.
func listedIDs(body string) []string {
	var out []string
	rest := body
	for {
		i := strings.Index(rest, `<a class="id" href="/admin/jobs/jobs/`)
		if i < 0 {
			return out
		}
		rest = rest[i+len(`<a class="id" href="/admin/jobs/jobs/`):]
		out = append(out, rest[:36])
	}
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// wantPaused checks a queue's paused flag in the store.
func wantPaused(ctx context.Context, t *testing.T, store *repo.Store, queue string, want bool) {
	t.Helper()
	paused, err := store.Queues.Paused(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Contains(paused, queue); got != want {
		t.Errorf("queue %s paused = %v, want %v", queue, got, want)
	}
}
