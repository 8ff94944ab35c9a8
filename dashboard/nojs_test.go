package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/jobsharp/cassandra/repo"
)

// TestBrowserWithoutJavaScript reads every page in Chromium with JavaScript
// turned off, as an operator behind a strict browser policy would: each
// page shows its content, since the pages are rendered on the server and
// nothing on them waits for a script, and a job action (a plain form) still
// works. Only the live chart and the bulk progress, which update a page in
// place, need scripts.
func TestBrowserWithoutJavaScript(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	base := b.srv.URL + b.prefix

	failed := b.finished(ctx, t, 2, "failed", &jobOpts{Type: "email.send", Args: []byte(`{"to":"ada@example.com"}`)})
	b.finished(ctx, t, 1, "succeeded", nil)
	batchID := repo.NewBatchID()
	if _, err := b.store.Batches.Insert(ctx, batchID, []*repo.NewJob{{Queue: b.queue, Type: "report.build", ScheduledAt: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	schedule := b.queue + "-nightly"
	if _, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: schedule, Cron: "0 3 * * *", Queue: b.queue, Type: "report.build"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.store.Recurring.Remove(context.Background(), schedule) })

	br, _ := browser(t)
	if _, err := chromedp.Call(br, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn JavaScript off: %v", err)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(br, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	open := func(path, sel string) string {
		t.Helper()
		if err := chromedp.Do(br, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		return text(sel)
	}

	// The browser really runs no script: a page whose script would change
	// its text keeps the text it was served with.
	probe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<!doctype html><p id="probe">as served</p><script>document.getElementById("probe").textContent = "script ran"</script>`)
	}))
	t.Cleanup(probe.Close)
	if err := chromedp.Do(br, chromedp.Navigate(probe.URL), chromedp.WaitVisible(chromedp.CSS("#probe"))); err != nil {
		t.Fatal(err)
	}
	if s := text("#probe"); s != "as served" {
		t.Fatalf("with JavaScript turned off the probe page says %q: scripts still run", s)
	}

	id := failed[0].ID.String()
	for _, p := range []struct {
		path, sel string
		want      []string
	}{
		{"/", "table.counts", []string{b.queue}},
		{"/jobs?state=Failed&queue=" + b.queue, "table.jobs tbody", []string{"email.send", "boom", id}},
		{"/jobs?state=Succeeded&queue=" + b.queue, "table.jobs tbody", []string{"test.job"}},
		{"/jobs/" + id, "main", []string{id, "boom", `"to": "ada@example.com"`, "Failed"}},
		{"/search?q=" + id, "main", []string{id, "boom"}},
		{"/queues", "table.counts", []string{b.queue}},
		{"/recurring", "main", []string{schedule, "0 3 * * *"}},
		{"/batches/" + batchID.String(), "main", []string{batchID.String()}},
		{"/processors", "main", []string{"Processors"}},
	} {
		s := open(p.path, p.sel)
		for _, w := range p.want {
			if !strings.Contains(s, w) {
				t.Errorf("%s without JavaScript: %s lacks %q:\n%s", p.path, p.sel, w, s)
			}
		}
	}

	// An action is a form posted by the browser: it works without scripts.
	open("/jobs/"+id, "main")
	if _, err := chromedp.Run(br, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#action-requeue")))); err != nil {
		t.Fatalf("requeue without JavaScript: %v", err)
	}
	if s := text(".flash"); !strings.Contains(s, "requeued") {
		t.Errorf("after requeue without JavaScript the page says %q", s)
	}
	wantState(ctx, t, b.store, failed[0].ID, repo.StateScheduled)
}
