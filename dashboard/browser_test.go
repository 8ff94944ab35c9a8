package dashboard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/jobsharp/cassandra/dashboard"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// installChromium is what the browser test's failure names.
const installChromium = "scripts/install-chromium   (it runs: apt-get install -y chromium)"

// browser starts one headless Chromium for the test, with a fresh profile
// and without the background traffic a closed network refuses, and
// collects the console's errors (script exceptions, CSP violations).
func browser(t *testing.T) (ctx context.Context, consoleErrors func() []string) {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatalf("Chromium is not installed; the browser tests need it. Install it with: %s", installChromium)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	var mu sync.Mutex
	var errs []string
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleType("error") || m.Type == chromedp.ConsoleType("exception") || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				errs = append(errs, string(m.Type)+": "+m.Text)
				mu.Unlock()
			}
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

// screenshots is where the browser test saves a PNG of every page:
// $JOBSHARP_SCREENSHOTS, or jobsharp-dashboard-screenshots in the temporary
// directory. `make screenshots` runs the test and copies the ones the
// README shows to docs/dashboard.
func screenshots(t *testing.T) string {
	dir := os.Getenv("JOBSHARP_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "jobsharp-dashboard-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// TestBrowser drives the dashboard in a real headless Chromium as an
// operator would, with a real processor working the queues: the overview,
// the failed jobs, one of them requeued and then succeeding, a bulk requeue
// with its confirmation and progress, the live chart updating without a
// reload, a queue paused and resumed, the processors, search, a recurring
// schedule triggered and paused, and the other pages. It saves a screenshot
// of each.
func TestBrowser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ks := newKeyspace(t)
	store, err := repo.New(observedSession(t, ks, &statements{}), &repo.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, store, &dashboard.Options{ChartInterval: 500 * time.Millisecond, ChartPoints: 40})
	base := b.srv.URL + b.prefix
	dir := screenshots(t)

	// A processor: mail to bounce@ fails while failing is set, and is
	// retried only an hour later, so it rests in Failed.
	var failing atomic.Bool
	failing.Store(true)
	p, err := worker.New(store, &worker.Config{
		Queues:       map[string]worker.QueueConfig{"mail": {MaxWorkers: 8}, "reports": {MaxWorkers: 2}},
		PollInterval: 100 * time.Millisecond, Backoff: func(int) time.Duration { return time.Hour }, Logger: testLogger(t),
		// The processors page shows the registry row as last reported:
		// report often, so the row follows the pause below within the test,
		// and keep the row a minute, so that a report slowed by a loaded
		// machine does not let it lapse (the default TTL, 3×ReportInterval,
		// is a second here) between the registry check and the page.
		ReportInterval: 250 * time.Millisecond, ReportTTL: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.HandleRaw(p, "email.send", func(ctx context.Context, job *worker.Job[[]byte]) error {
		if failing.Load() && bytes.Contains(job.Args, []byte("bounce@")) {
			return errors.New("550 5.1.1 mailbox unavailable: bounce@example.com")
		}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := worker.HandleRaw(p, "report.build", func(ctx context.Context, job *worker.Job[[]byte]) error { return nil }, nil); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-ran })

	mail := func(n int, to string) {
		njs := make([]*repo.NewJob, n)
		for i := range njs {
			njs[i] = &repo.NewJob{Queue: "mail", Type: "email.send", Args: fmt.Appendf(nil, `{"to":%q,"subject":"Your order #%d"}`, to, 1000+i), Metadata: map[string]string{"tenant": "acme"}}
		}
		if _, err := store.Jobs.InsertMany(ctx, njs); err != nil {
			t.Fatal(err)
		}
	}
	mail(30, "ada@example.com")
	mail(3, "bounce@example.com")
	batchID := repo.NewBatchID()
	var parts []*repo.NewJob
	for i := range 6 {
		nj := &repo.NewJob{Queue: "reports", Type: "report.build", Args: fmt.Appendf(nil, `{"region":%d}`, i)}
		if i >= 4 {
			nj.ScheduledAt = time.Now().Add(time.Hour) // the batch stays in progress
		}
		parts = append(parts, nj)
	}
	if _, err := store.Batches.Insert(ctx, batchID, parts); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Batches.InsertContinuation(ctx, batchID, &repo.NewJob{Queue: "reports", Type: "report.build", Args: []byte(`{"merge":true}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: "nightly-report", Cron: "0 3 * * *", Timezone: "Europe/Paris", Queue: "reports", Type: "report.build", Args: []byte(`{"full":true}`)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 failed and 30 succeeded mails", func() bool {
		f, err1 := store.Jobs.Count(ctx, "mail", repo.StateFailed)
		s, err2 := store.Jobs.Count(ctx, "mail", repo.StateSucceeded)
		return err1 == nil && err2 == nil && f == 3 && s == 30
	})

	br, consoleErrors := browser(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(br, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(br, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(br, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	// click clicks and waits for the page it loads.
	click := func(sel string) {
		t.Helper()
		if _, err := chromedp.Run(br, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}

	// 1. The overview.
	do("open the overview", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("table.counts")))
	if s := text("table.counts"); !strings.Contains(s, "mail") || !strings.Contains(s, "reports") {
		t.Errorf("the overview's table lacks the queues:\n%s", s)
	}
	shot("overview-start")

	// 2. The failed jobs.
	click(`header nav a[href$="/jobs?state=Failed"]`)
	if s := text("table.jobs tbody"); strings.Count(s, "email.send") != 3 || !strings.Contains(s, "550 5.1.1") {
		t.Errorf("the Failed list does not show the three bounced mails:\n%s", s)
	}
	shot("failed")

	// 3. One of them: its page, requeue, and it succeeds under the processor.
	click("table.jobs tbody a.id")
	jobURL, err := chromedp.Run(br, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if s := text("main"); !strings.Contains(s, "550 5.1.1 mailbox unavailable") || !strings.Contains(s, `"to": "bounce@example.com"`) {
		t.Errorf("the job page lacks the error or the arguments:\n%s", s)
	}
	shot("job")
	failing.Store(false)
	click("#action-requeue")
	if s := text(".flash"); !strings.Contains(s, "requeued") {
		t.Errorf("after requeue the page says %q", s)
	}
	waitFor(t, "the requeued job to succeed", func() bool {
		do("reload the job", chromedp.Navigate(jobURL), chromedp.WaitVisible(chromedp.CSS("h1 .state")))
		return text("h1 .state") == "Succeeded"
	})
	shot("job-succeeded")

	// A bulk requeue of the whole Failed list: confirmation, then progress.
	do("open the failed jobs", chromedp.Navigate(base+"/jobs?state=Failed&queue=mail"), chromedp.WaitVisible(chromedp.CSS("fieldset.bulk")))
	do("choose the whole list", chromedp.Click(chromedp.CSS(`input[name=all][value="1"]`)))
	click("fieldset.bulk button")
	if s := text("main"); !strings.Contains(s, "every Failed job of queue mail") {
		t.Errorf("the confirmation says:\n%s", s)
	}
	shot("bulk-confirm")
	click("#bulk-confirm")
	waitFor(t, "the bulk requeue to finish", func() bool { return text("#bulk-state") == "Finished" }) // updated by the script
	if s := text("#bulk-done"); s != "2" {
		t.Errorf("bulk requeue: %s done, want 2", s)
	}
	shot("bulk-progress")

	// 6. The live chart updates without a reload.
	do("open the overview", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#throughput")))
	before := atoi(t, text("#chart-total-succeeded"))
	failing.Store(true)
	for i := range 6 { // waves, so that the chart has a shape
		mail(8, "grace@example.com")
		if i%2 == 1 {
			mail(1, "bounce@example.com")
		}
		time.Sleep(400 * time.Millisecond)
	}
	waitFor(t, "the chart to show the new jobs without a reload", func() bool {
		upd, err := chromedp.Run(br, chromedp.AttributeValue(chromedp.CSS("#throughput"), "data-updates"))
		return err == nil && upd.Exists && atoi(t, upd.Value) >= 2 &&
			atoi(t, text("#chart-total-succeeded")) >= before+48 && atoi(t, text("#chart-total-failed")) >= 3
	})
	pts, err := chromedp.Run(br, chromedp.AttributeValue(chromedp.CSS("#chart-succeeded"), "points"))
	if err != nil || strings.Count(pts.Value, ",") < 2 {
		t.Errorf("the succeeded line has points %q (%v)", pts.Value, err)
	}
	do("reload the overview", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#throughput")))
	shot("overview") // the table and the chart of one moment

	// 7. Pause the mail queue (confirming the dialog): the processor stops
	// claiming within its poll interval and new mail waits, Scheduled; the
	// processors page shows the processor; resume, and the mail goes out.
	dialogs := chromedp.Events(br, page.JavascriptDialogOpening)
	var confirmed atomic.Value
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			confirmed.Store(ev.Message)
			if _, err := chromedp.Call(br, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				return
			}
		}
	}()
	do("open the queues", chromedp.Navigate(base+"/queues"), chromedp.WaitVisible(chromedp.CSS(`tr[data-queue="mail"] button.pause`)))
	click(`tr[data-queue="mail"] button.pause`)
	if msg, _ := confirmed.Load().(string); !strings.Contains(msg, "Pause queue mail?") {
		t.Errorf("the pause asked %q, want a confirmation naming the queue", msg)
	}
	if s := text(".flash"); !strings.Contains(s, "paused") {
		t.Errorf("after pause the page says %q", s)
	}
	if s := text(`tr[data-queue="mail"] .paused-flag`); s != "paused" {
		t.Errorf("the mail queue's paused column says %q", s)
	}
	waitFor(t, "the processor to see the pause", func() bool { return slices.Contains(p.Paused(), "mail") })
	var waiting []*repo.NewJob
	for i := range 5 {
		waiting = append(waiting, &repo.NewJob{Queue: "mail", Type: "email.send", Args: fmt.Appendf(nil, `{"to":"lin@example.com","subject":"held #%d"}`, i)})
	}
	held, err := store.Jobs.InsertMany(ctx, waiting)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // ten poll intervals
	for _, j := range held {
		if got, err := store.Jobs.Get(ctx, j.ID); err != nil || got.State != repo.StateScheduled {
			t.Errorf("mail enqueued while paused: %v, %v; want Scheduled", got, err)
		}
	}
	do("reload the queues", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`tr[data-queue="mail"] button.resume`)))
	if s := text(`tr[data-queue="mail"] td.due`); s != "5" {
		t.Errorf("the paused mail queue shows %q jobs due now, want the 5 held", s)
	}
	shot("queues")
	waitFor(t, "the registry to show no mail job running", func() bool {
		list, err := store.Processors.List(ctx)
		return err == nil && slices.ContainsFunc(list, func(pi repo.ProcessorInfo) bool {
			return pi.Owner == p.Owner() && pi.Running["mail"] == 0
		})
	})
	do("open the processors", chromedp.Navigate(base+"/processors"), chromedp.WaitVisible(chromedp.CSS("table.processors")))
	if s := text("table.processors tbody"); !strings.Contains(s, p.Owner()) || !strings.Contains(s, "mail 0/8") || !strings.Contains(s, "reports 0/2") {
		t.Errorf("the processors page lacks the processor %s with its slots:\n%s", p.Owner(), s)
	}
	shot("processors")
	do("open the queues", chromedp.Navigate(base+"/queues"), chromedp.WaitVisible(chromedp.CSS(`tr[data-queue="mail"] button.resume`)))
	click(`tr[data-queue="mail"] button.resume`)
	if s := text(".flash"); !strings.Contains(s, "resumed") {
		t.Errorf("after resume the page says %q", s)
	}
	waitFor(t, "the held mail to go out after the resume", func() bool {
		for _, j := range held {
			if got, err := store.Jobs.Get(ctx, j.ID); err != nil || got.State != repo.StateSucceeded {
				return false
			}
		}
		return true
	})

	// Search by id, then the other pages.
	do("search", chromedp.Navigate(base+"/"), chromedp.SendKeys(chromedp.CSS("form.search input"), strings.TrimPrefix(jobURL, base+"/jobs/")))
	click("form.search button")
	if loc, _ := chromedp.Run(br, chromedp.Location()); loc != jobURL {
		t.Errorf("search led to %s, want %s", loc, jobURL)
	}
	// A recurring schedule: trigger it now (the processor runs the job),
	// then pause it.
	do("open the recurring schedules", chromedp.Navigate(base+"/recurring"), chromedp.WaitVisible(chromedp.CSS("table.recurring")))
	click("table.recurring button.trigger")
	if s := text(".flash"); !strings.Contains(s, "due now") {
		t.Errorf("after trigger the page says %q", s)
	}
	waitFor(t, "the triggered job to succeed", func() bool {
		rj, err := store.Recurring.Get(ctx, "nightly-report")
		if err != nil || rj.TriggeredAt.IsZero() {
			return false
		}
		job, err := store.Jobs.Get(ctx, rj.TriggeredJobID)
		return err == nil && job.State == repo.StateSucceeded
	})
	click("table.recurring button.pause")
	if s := text("table.recurring tbody"); !strings.Contains(s, "paused") || !strings.Contains(s, "Resume") {
		t.Errorf("after pause the schedule shows:\n%s", s)
	}
	for _, pg := range []struct{ name, path, sel, want string }{
		{"queues-resumed", "/queues", "table.counts", "reports"},
		{"recurring", "/recurring", "table.recurring", "paused"},
		{"batches", "/batches", "table.batches", "4 of 6"},
		{"batch", "/batches/" + batchID.String(), ".batch-progress", "4 of 6 jobs finished"},
		{"succeeded", "/jobs?state=Succeeded", "table.jobs", "email.send"},
	} {
		do("open "+pg.path, chromedp.Navigate(base+pg.path), chromedp.WaitVisible(chromedp.CSS(pg.sel)))
		if s := text("main"); !strings.Contains(s, pg.want) {
			t.Errorf("%s lacks %q:\n%s", pg.path, pg.want, s)
		}
		shot(pg.name)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("the browser console reported errors:\n%s", strings.Join(errs, "\n"))
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after 60s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
