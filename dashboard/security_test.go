package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/dashboard"
	"github.com/jobsharp/cassandra/repo"
)

// TestEveryChangeIsRefused sends every state-changing request the dashboard
// serves (one per POST route) without a CSRF token, with a token but from
// another site, as a GET, to a read-only dashboard and past an Authorize
// hook that refuses it, and checks each is refused with its status and that
// the job, the queue and the schedule they name are as they were.
func TestEveryChangeIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	job := b.insert(ctx, t, &jobOpts{Delay: time.Hour})
	sched := b.queue + "-sched"
	if _, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: sched, Cron: "@hourly", Queue: b.queue, Type: "report"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.store.Recurring.Remove(context.Background(), sched) })

	jobPath := "/jobs/" + job.ID.String()
	filter := url.Values{"state": {"Scheduled"}, "queue": {b.queue}}
	bulkForm := url.Values{"action": {string(dashboard.ActionJobCancel)}, "id": {job.ID.String()}}
	wholeList := url.Values{"action": {string(dashboard.ActionJobDelete)}, "all": {"1"}, "state": {"Scheduled"}, "queue": {b.queue}}
	changes := []struct {
		path string
		form url.Values
	}{
		{jobPath + "/requeue", nil},
		{jobPath + "/cancel", nil},
		{jobPath + "/delete", filter},
		{jobPath + "/run", nil},
		{"/bulk", bulkForm},
		{"/bulk/start", bulkForm},
		{"/bulk/start", wholeList},
		{"/bulk/0123456789abcdef/cancel", nil},
		{"/queues/" + b.queue + "/pause", nil},
		{"/queues/" + b.queue + "/resume", nil},
		{"/recurring/" + sched + "/remove", nil},
		{"/recurring/" + sched + "/pause", nil},
		{"/recurring/" + sched + "/resume", nil},
		{"/recurring/" + sched + "/trigger", nil},
	}
	form := func(f url.Values) url.Values {
		out := url.Values{}
		for k, v := range f {
			out[k] = v
		}
		return out
	}

	readOnly := serve(t, b.store, &dashboard.Options{ReadOnly: true})
	refusing := serve(t, b.store, &dashboard.Options{Authorize: func(r *http.Request, a dashboard.Action) error {
		if a == dashboard.ActionView {
			return nil
		}
		return errors.New("viewers only")
	}})
	for _, c := range changes {
		t.Run(c.path, func(t *testing.T) {
			b.csrf(t) // the browser has its cookie
			b.postRaw(t, c.path, form(c.form), nil).want(t, http.StatusForbidden, "missing CSRF token")
			withToken := form(c.form)
			withToken.Set("csrf_token", b.csrf(t))
			b.postRaw(t, c.path, withToken, http.Header{"Sec-Fetch-Site": {"cross-site"}}).want(t, http.StatusForbidden, "cross-origin")
			b.get(t, c.path).want(t, http.StatusMethodNotAllowed)
			readOnly.post(t, c.path, form(c.form)).want(t, http.StatusForbidden, "read-only")
			refusing.post(t, c.path, form(c.form)).want(t, http.StatusForbidden, "not allowed to", "viewers only")
		})
	}

	if got := wantState(ctx, t, b.store, job.ID, repo.StateScheduled); got.Version != job.Version || !got.ScheduledAt.Equal(job.ScheduledAt) {
		t.Errorf("a refused request changed the job: version %d (was %d), due %s (was %s)", got.Version, job.Version, got.ScheduledAt, job.ScheduledAt)
	}
	wantPaused(ctx, t, b.store, b.queue, false)
	if rj, err := b.store.Recurring.Get(ctx, sched); err != nil || rj.Paused || !rj.TriggeredAt.IsZero() {
		t.Errorf("a refused request changed the schedule: %+v, %v", rj, err)
	}
}
