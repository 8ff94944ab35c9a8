package dashboard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/dashboard"
	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
)

func TestMain(m *testing.M) { cqltest.Main(m, queries.CreateStatements()...) }

// testBundle is a store on the package keyspace, a queue no other test
// uses, and the dashboard served by an httptest server.
type testBundle struct {
	store  *repo.Store
	queue  string
	dash   *dashboard.Dashboard
	srv    *httptest.Server
	client *http.Client
	prefix string
	// idle, unless nil, runs when a claim finds nothing (see finishMany).
	idle func()
}

// setup serves a dashboard under the prefix /admin/jobs.
func setup(t *testing.T, opts *dashboard.Options) *testBundle {
	t.Helper()
	store, err := repo.New(cqltest.Session(t), &repo.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("repo.New() error = %v", err)
	}
	return serve(t, store, opts)
}

func serve(t *testing.T, store *repo.Store, opts *dashboard.Options) *testBundle {
	t.Helper()
	var o dashboard.Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = "/admin/jobs"
	}
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	d, err := dashboard.New(store, &o)
	if err != nil {
		t.Fatalf("dashboard.New() error = %v", err)
	}
	t.Cleanup(d.Close)
	mux := http.NewServeMux()
	mux.Handle(o.Prefix+"/", d)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &testBundle{store: store, queue: cqltest.Queue(t), dash: d, srv: srv, client: client, prefix: o.Prefix}
}

// unknownID returns an id of the bundle's queue that names no job: minted
// by the store, so a lookup reads the partition it names, and never stored.
func (b *testBundle) unknownID(ctx context.Context, t *testing.T) gocql.UUID {
	t.Helper()
	id, err := b.store.Jobs.NewID(ctx, b.queue, time.Time{})
	if err != nil {
		t.Fatalf("Jobs.NewID() error = %v", err)
	}
	return id
}

// testLogger logs the dashboard's and the store's warnings to the test's
// log.
func testLogger(tb testing.TB) *slog.Logger { return cqltest.Logger(tb, slog.LevelWarn) }

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   string
}

func (b *testBundle) do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{resp.StatusCode, resp.Header, string(body)}
}

// get requests a path under the dashboard's prefix.
func (b *testBundle) get(t *testing.T, path string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+b.prefix+path, nil)
	return b.do(t, req)
}

// csrf returns the browser's CSRF token, loading the overview first if the
// jar has none yet.
func (b *testBundle) csrf(t *testing.T) string {
	t.Helper()
	u, _ := url.Parse(b.srv.URL + b.prefix + "/")
	for range 2 {
		for _, c := range b.client.Jar.Cookies(u) {
			if c.Name == "jobsharp_csrf" {
				return c.Value
			}
		}
		b.get(t, "/")
	}
	t.Fatal("the dashboard set no CSRF cookie")
	return ""
}

// post sends a form with the browser's CSRF token.
func (b *testBundle) post(t *testing.T, path string, form url.Values) response {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", b.csrf(t))
	}
	return b.postRaw(t, path, form, nil)
}

// postRaw sends a form as it is, with extra headers.
func (b *testBundle) postRaw(t *testing.T, path string, form url.Values, header http.Header) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL+b.prefix+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return b.do(t, req)
}

func (r response) want(t *testing.T, status int, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d; body:\n%s", r.status, status, abbreviate(r.body))
	}
	for _, s := range contains {
		if !strings.Contains(r.body, s) {
			t.Errorf("body lacks %q:\n%s", s, abbreviate(r.body))
		}
	}
}

func abbreviate(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "…"
	}
	return s
}

// jobOpts shape a job that test helpers store.
type jobOpts struct {
	Type     string
	Args     []byte
	Metadata map[string]string
	Delay    time.Duration
}

func (b *testBundle) insert(ctx context.Context, t *testing.T, o *jobOpts) *repo.Job {
	t.Helper()
	if o == nil {
		o = &jobOpts{}
	}
	nj := &repo.NewJob{Queue: b.queue, Type: o.Type, Args: o.Args, Metadata: o.Metadata}
	if nj.Type == "" {
		nj.Type = "test.job"
	}
	if nj.Args == nil {
		nj.Args = []byte(`{"n":1}`)
	}
	if o.Delay > 0 {
		nj.ScheduledAt = time.Now().Add(o.Delay)
	}
	job, err := b.store.Jobs.Insert(ctx, nj)
	if err != nil {
		t.Fatalf("Insert() error = %v", err)
	}
	return job
}

// claim claims the bundle queue's due jobs, at most n.
func (b *testBundle) claim(ctx context.Context, t *testing.T, n int, owner string) []*repo.Job {
	t.Helper()
	var out []*repo.Job
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n {
		jobs, err := b.store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: owner, Limit: n - len(out), Lease: time.Minute})
		if err != nil {
			t.Fatalf("Claim() error = %v", err)
		}
		out = append(out, jobs...)
		if time.Now().After(deadline) {
			t.Fatalf("claimed %d jobs of %d within 30s", len(out), n)
		}
		if len(jobs) == 0 {
			if b.idle != nil {
				b.idle()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return out
}

// finished stores n jobs and takes them to an outcome: "succeeded",
// "failed" (a retry pending in an hour), "abandoned" or "processing".
func (b *testBundle) finished(ctx context.Context, t *testing.T, n int, outcome string, o *jobOpts) []*repo.Job {
	t.Helper()
	for range n {
		b.insert(ctx, t, o)
	}
	claimed := b.claim(ctx, t, n, "test-worker")
	out := make([]*repo.Job, 0, n)
	for _, j := range claimed {
		var err error
		switch outcome {
		case "succeeded":
			j, err = b.store.Jobs.Complete(ctx, j, []byte(`{"ok":true}`))
		case "failed":
			j, err = b.store.Jobs.Fail(ctx, j, &repo.FailParams{Error: "boom", Trace: "goroutine 1 [running]:\nmain.work()", RetryAt: time.Now().Add(time.Hour)})
		case "abandoned":
			j, err = b.store.Jobs.Fail(ctx, j, &repo.FailParams{Error: "gave up", Abandon: true})
		case "processing":
		default:
			t.Fatalf("unknown outcome %q", outcome)
		}
		if err != nil {
			t.Fatalf("%s: %v", outcome, err)
		}
		out = append(out, j)
	}
	return out
}
