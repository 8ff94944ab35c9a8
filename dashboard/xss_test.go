package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/jobsharp/cassandra/dashboard"
	"github.com/jobsharp/cassandra/repo"
)

// The payloads: a script element, an attribute breakout with an event
// handler, and a javascript: URL.
const (
	xssScript = `<script>alert("xss-script")</script>`
	xssAttr   = `"><img src=x onerror=alert("xss-attr")>`
	xssURL    = `javascript:alert("xss-url")`
	xssAll    = xssScript + xssAttr + "'" + xssURL
)

// TestNoExecutableMarkup stores jobs whose every field the store lets
// hold text holds the payloads (type, arguments as JSON and as bytes,
// metadata keys and values, error, trace, result, lease owner, recurring
// schedule id, type and arguments; the queue name allows only
// [A-Za-z0-9_.:-], so it gets "javascript:alert"), renders every page
// that shows them and parses each one: no script element but the
// dashboard's own, no event-handler attribute, no javascript: URL, no
// injected element.
func TestNoExecutableMarkup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	b.queue = "javascript:alert"
	if err := repo.ValidQueue(b.queue); err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{xssScript: xssAttr, "note": xssAll}
	jsonArgs := []byte(fmt.Sprintf(`{"script":%q,"attr":%q,"url":%q}`, xssScript, xssAttr, xssURL))
	opts := &jobOpts{Type: xssAll, Args: jsonArgs, Metadata: meta}

	var jobs []*repo.Job
	// Failed, with the payloads in the error and the trace.
	for range 1 {
		b.insert(ctx, t, opts)
		j := b.claim(ctx, t, 1, xssAll)[0]
		j, err := b.store.Jobs.Fail(ctx, j, &repo.FailParams{Error: xssAll, Trace: xssAll, RetryAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	// Succeeded, with the payloads in the result; arguments not JSON.
	b.insert(ctx, t, &jobOpts{Type: xssAll, Args: []byte(xssAll + "\x00\xff"), Metadata: meta})
	j := b.claim(ctx, t, 1, "w")[0]
	j, err := b.store.Jobs.Complete(ctx, j, []byte(xssAll))
	if err != nil {
		t.Fatal(err)
	}
	jobs = append(jobs, j)
	// Processing, with the payloads as the lease owner.
	b.insert(ctx, t, opts)
	jobs = append(jobs, b.claim(ctx, t, 1, xssAll)[0])
	// A batch and a continuation waiting for it.
	batchID := repo.NewBatchID()
	bj, err := b.store.Batches.Insert(ctx, batchID, []*repo.NewJob{{Queue: b.queue, Type: xssAll, Args: jsonArgs, Metadata: meta, ScheduledAt: time.Now().Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	cont, err := b.store.Batches.InsertContinuation(ctx, batchID, &repo.NewJob{Queue: b.queue, Type: xssAll, Args: jsonArgs, Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	jobs = append(jobs, bj[0], cont)
	// A recurring schedule.
	recID := xssScript + xssAttr
	if _, err := b.store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: recID, Cron: "@hourly", Queue: b.queue, Type: xssAll, Args: jsonArgs, Metadata: meta}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.store.Recurring.Remove(context.Background(), recID) })

	// A paused queue, and a processor whose report carries the payloads.
	if err := b.store.Queues.Pause(ctx, b.queue); err != nil {
		t.Fatal(err)
	}
	xssOwner := "xss-" + xssAll
	if err := b.store.Processors.Report(ctx, &repo.ProcessorInfo{Owner: xssOwner, Host: xssAll, Version: xssScript, Queues: map[string]int{xssAll: 1, b.queue: 2}, Running: map[string]int{xssAttr: 1}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.store.Processors.Remove(context.Background(), xssOwner) })

	q := url.QueryEscape(b.queue)
	tq := url.QueryEscape(xssAll)
	paths := []string{"/", "/queues", "/processors", "/recurring", "/recurring?id=" + url.QueryEscape(recID), "/batches", "/batches/" + batchID.String(),
		"/search?q=" + tq, "/jobs/" + url.PathEscape(xssAll), "/jobs?state=Failed&type=" + tq}
	for _, s := range repo.States() {
		paths = append(paths, "/jobs?state="+s.String()+"&queue="+q, "/jobs?state="+s.String())
	}
	for _, j := range jobs {
		paths = append(paths, "/jobs/"+j.ID.String())
	}
	seenPayload := 0
	for _, p := range paths {
		r := b.get(t, p)
		if r.status != http.StatusOK && r.status != http.StatusNotFound && r.status != http.StatusBadRequest {
			t.Errorf("GET %s: status %d\n%s", p, r.status, abbreviate(r.body))
		}
		for _, problem := range executableMarkup(t, r.body, b.prefix) {
			t.Errorf("GET %s: %s", p, problem)
		}
		if strings.Contains(r.body, "xss-script") {
			seenPayload++
		}
	}
	// The pages must have shown the payloads (escaped), or the test proves
	// nothing.
	if seenPayload < len(paths)/2 {
		t.Errorf("only %d of %d pages show the payloads", seenPayload, len(paths))
	}

	// The POST pages: a confirmation with payloads in the filter.
	form := url.Values{"action": {string(dashboard.ActionJobCancel)}, "all": {"1"}, "state": {"Failed"}, "queue": {b.queue}, "type": {xssAll}}
	r := b.post(t, "/bulk", form)
	r.want(t, http.StatusOK, "please confirm")
	for _, problem := range executableMarkup(t, r.body, b.prefix) {
		t.Errorf("POST /bulk: %s", problem)
	}
}

// executableMarkup parses a page and lists what could run: script elements
// other than the dashboard's own script, event-handler attributes, URLs
// with a javascript:, vbscript: or data: scheme, and elements that load or
// embed content, which the dashboard never renders.
func executableMarkup(t *testing.T, page, prefix string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	var problems []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				if attr(n, "src") != prefix+"/static/dashboard.js" || n.FirstChild != nil {
					problems = append(problems, fmt.Sprintf("script element %s", render(n)))
				}
			case "img", "iframe", "object", "embed", "base", "frame", "svg:script", "link":
				if n.Data == "link" && (attr(n, "href") == prefix+"/static/dashboard.css" || attr(n, "href") == prefix+"/static/favicon.svg") {
					break
				}
				problems = append(problems, fmt.Sprintf("%s element %s", n.Data, render(n)))
			case "meta":
				if strings.Contains(strings.ToLower(attr(n, "content")), "url=") {
					problems = append(problems, fmt.Sprintf("meta redirect %s", render(n)))
				}
			}
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				if strings.HasPrefix(key, "on") {
					problems = append(problems, fmt.Sprintf("event handler %s=%q on <%s>", a.Key, a.Val, n.Data))
				}
				switch key {
				case "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background":
					v := strings.ToLower(strings.Join(strings.Fields(a.Val), ""))
					for _, scheme := range []string{"javascript:", "vbscript:", "data:"} {
						if strings.HasPrefix(v, scheme) {
							problems = append(problems, fmt.Sprintf("%s URL %s=%q on <%s>", scheme, a.Key, a.Val, n.Data))
						}
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return problems
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func render(n *html.Node) string {
	var sb strings.Builder
	_ = html.Render(&sb, n)
	return sb.String()
}

// TestExecutableMarkupFinds checks the checker: each page holds one thing
// that could run, and it must be found.
func TestExecutableMarkupFinds(t *testing.T) {
	t.Parallel()
	const prefix = "/admin/jobs"
	for name, page := range map[string]string{
		"inline script":  `<p>hi</p><script>alert(1)</script>`,
		"foreign script": `<script src="https://cdn.example/x.js"></script>`,
		"event handler":  `<p><a href="/" onclick="alert(1)">x</a></p>`,
		"breakout img":   `<td>"><img src=x onerror=alert(1)></td>`,
		"javascript URL": `<a href=" JavaScript:alert(1)">x</a>`,
		"form action":    `<form action="javascript:alert(1)"></form>`,
		"svg handler":    `<svg><polyline onload="alert(1)"/></svg>`,
		"meta redirect":  `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
	} {
		if got := executableMarkup(t, page, prefix); len(got) == 0 {
			t.Errorf("%s: nothing found in %s", name, page)
		}
	}
	own := `<html><head><link rel="stylesheet" href="/admin/jobs/static/dashboard.css"><script src="/admin/jobs/static/dashboard.js" defer></script></head><body><p>&lt;script&gt;</p></body></html>`
	if got := executableMarkup(t, own, prefix); len(got) != 0 {
		t.Errorf("the dashboard's own assets are reported: %v", got)
	}
}
