package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"
	"golang.org/x/sync/errgroup"

	"github.com/jobsharp/cassandra/dashboard"
	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/schema"
)

// statements counts the statements a session sends, through the driver's
// observers, and keeps their text.
type statements struct {
	mu    sync.Mutex
	n     int
	texts []string
}

func (s *statements) ObserveQuery(_ context.Context, q gocql.ObservedQuery) {
	s.add(q.Statement)
}

func (s *statements) ObserveBatch(_ context.Context, b gocql.ObservedBatch) {
	s.add("BATCH " + strings.Join(b.Statements, "; "))
}

func (s *statements) add(stmt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.texts = append(s.texts, stmt)
}

func (s *statements) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n, s.texts = 0, nil
}

func (s *statements) take() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.texts
}

// newKeyspace creates a keyspace of its own with the schema (for tests
// that must see every queue of their keyspace) and drops it at the end.
func newKeyspace(t testing.TB) string {
	t.Helper()
	s := cqltest.AdminSession(t)
	ks := cqltest.UniqueKeyspace(t)
	repl, _ := schema.ParseReplication("SimpleStrategy:1")
	cqltest.DropKeyspaceAtEnd(t, s, ks)
	if _, err := schema.Apply(context.Background(), s, ks, &repl); err != nil {
		t.Fatalf("schema apply %s: %v", ks, err)
	}
	return ks
}

// observedSession opens a session on ks whose statements obs counts.
func observedSession(t testing.TB, ks string, obs *statements) gocqlx.Session {
	t.Helper()
	c := cqltest.Cluster()
	c.Keyspace = ks
	c.QueryObserver = obs
	c.BatchObserver = obs
	s, err := gocqlx.WrapSession(c.CreateSession())
	if err != nil {
		t.Fatalf("connect to %s: %v", ks, err)
	}
	t.Cleanup(s.Close)
	return s
}

// fillLease is the lease of finishMany's claims: the jobs finish within it,
// and the deleted lease entries it leaves pass behind the due index's
// watermark soon after.
const fillLease = time.Minute

// finishMany stores n jobs in a queue and completes them (claim +
// complete, in parallel), or fails them for good when abandon is set. idle,
// unless nil, runs when a claim finds nothing: a store whose test clock
// stands still needs it moved on, as claims read the ranges of a home
// partition they read again a second later by the store's clock (for jobs
// stored in the same millisecond), and reuse the home directory they read
// for a quarter of a second.
func finishMany(ctx context.Context, t testing.TB, store *repo.Store, queue string, n int, abandon bool, idle func()) []*repo.Job {
	t.Helper()
	njs := make([]*repo.NewJob, n)
	for i := range njs {
		njs[i] = &repo.NewJob{Queue: queue, Type: "history", Args: []byte(`{"i":` + fmt.Sprint(i) + `}`)}
	}
	for chunk := range chunks(njs, 5_000) {
		if _, err := store.Jobs.InsertMany(ctx, chunk); err != nil {
			t.Fatalf("InsertMany: %v", err)
		}
	}
	var out []*repo.Job
	var mu sync.Mutex
	for empty := 0; len(out) < n; {
		claimed, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: queue, Owner: "history", Limit: min(1_000, n-len(out)), Lease: fillLease})
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		if len(claimed) == 0 {
			if empty++; empty > 100 {
				t.Fatalf("claimed %d of %d jobs", len(out), n)
			}
			if idle != nil {
				idle()
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		g := errgroup.Group{}
		g.SetLimit(32)
		for _, j := range claimed {
			g.Go(func() error {
				var err error
				if abandon {
					j, err = store.Jobs.Fail(ctx, j, &repo.FailParams{Error: "gave up", Abandon: true})
				} else {
					j, err = store.Jobs.Complete(ctx, j, nil)
				}
				mu.Lock()
				out = append(out, j)
				mu.Unlock()
				return err
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatalf("finish: %v", err)
		}
	}
	return out
}

func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// TestStatementsPerPage counts the statements each page sends, with three
// hours of history and again after twenty more hours at the same rate:
// every page must cost the same (counters for counts, the newest buckets of
// the indexes for lists), stay under a fixed bound, and send no ALLOW
// FILTERING, no COUNT(*) and no SELECT without a WHERE clause.
func TestStatementsPerPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ks := newKeyspace(t)
	obs := &statements{}
	clk := cqltest.NewClock(time.Now().UTC().Add(-30 * time.Hour))
	// The store folds its count logs in the background (FoldInterval), on
	// the same session: off here, so that only the pages' own statements
	// are counted.
	store, err := repo.New(observedSession(t, ks, obs), &repo.Options{Now: clk.Now, Logger: testLogger(t), FoldInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, store, &dashboard.Options{ChartInterval: -1, ScanLimit: 60})
	const queue, other = "mail", "reports"
	b.queue = queue
	// The clock stands still but when a claim finds nothing (see finishMany).
	idle := func() { clk.Advance(time.Second) }
	b.idle = idle

	// History at a steady rate: every hour 55 succeeded and 25 abandoned
	// jobs, each hour in a state bucket of its own. Three hours of it hold
	// more than two pages and more than a type filter's window.
	hour := func() {
		finishMany(ctx, t, store, queue, 55, false, idle)
		finishMany(ctx, t, store, queue, 25, true, idle)
		clk.Advance(time.Hour)
	}
	finishMany(ctx, t, store, other, 5, false, idle)
	succeeded := finishMany(ctx, t, store, queue, 1, false, idle)
	for range 3 {
		hour()
	}
	// Failed and scheduled jobs, a batch and a schedule.
	for range 3 {
		j := b.claimOne(ctx, t, b.insert(ctx, t, nil))
		if _, err := store.Jobs.Fail(ctx, j, &repo.FailParams{Error: "later", RetryAt: clk.Now().Add(30 * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		b.insert(ctx, t, &jobOpts{Delay: 30 * 24 * time.Hour})
	}
	batchID := repo.NewBatchID()
	if _, err := store.Batches.Insert(ctx, batchID, []*repo.NewJob{{Queue: queue, Type: "part", ScheduledAt: clk.Now().Add(30 * 24 * time.Hour)}, {Queue: queue, Type: "part", ScheduledAt: clk.Now().Add(30 * 24 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Recurring.Upsert(ctx, &repo.RecurringJob{ID: "nightly", Cron: "@daily", Queue: queue, Type: "report"}); err != nil {
		t.Fatal(err)
	}
	job := succeeded[0].ID.String()

	// bounds: the most statements each page may send (measured with two
	// queues and nine states; see the log for the counts).
	pages := []struct {
		path  string
		bound int
	}{
		{"/", 60},
		{"/queues", 60},
		{"/processors", 5},
		{"/jobs?state=Succeeded&queue=" + queue, 40},
		{deepPage, 40}, // the third page, by its "older" links
		{"/jobs?state=Succeeded", 70},
		{"/jobs?state=Abandoned&queue=" + queue + "&type=history", 70},
		{"/jobs?state=Failed&queue=" + queue, 60},
		{"/jobs?state=Scheduled&queue=" + queue, 60},
		{"/jobs/" + job, 5},
		{"/recurring", 5},
		{"/batches", 200},
		{"/batches/" + batchID.String(), 20},
		{"/search?q=" + job, 5}, // 303 to the job
	}
	measure := func() []int {
		// As running workers would: time passes and the queues are polled,
		// which moves the due index's watermark past what was claimed.
		clk.Advance(time.Minute)
		for _, q := range []string{queue, other} {
			if _, err := store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: q, Owner: "poller", Limit: 1}); err != nil {
				t.Fatal(err)
			}
		}
		out := make([]int, len(pages))
		for i, p := range pages {
			path := p.path
			if path == deepPage {
				path = "/jobs?state=Succeeded&queue=" + queue
				for range 2 {
					if path = b.nextLink(b.get(t, path).body); path == "" {
						t.Fatalf("the Succeeded list of %s has no third page", queue)
					}
				}
			}
			obs.reset()
			r := b.get(t, path)
			if r.status != http.StatusOK && r.status != http.StatusSeeOther {
				t.Errorf("GET %s: status %d", p.path, r.status)
			}
			n, texts := obs.take()
			out[i] = n
			for _, s := range texts {
				u := strings.Join(strings.Fields(strings.ToUpper(s)), " ") // statements span lines
				if strings.Contains(u, "ALLOW FILTERING") || strings.Contains(u, "COUNT(") ||
					(strings.HasPrefix(strings.TrimSpace(u), "SELECT") && !strings.Contains(u, " WHERE ")) {
					t.Errorf("GET %s sent %q", p.path, s)
				}
			}
		}
		return out
	}
	short := measure()

	// Twenty more hours of history.
	for range 20 {
		hour()
	}
	long := measure()

	// A deep page costs what the first does (keyset paging: it reads from
	// the position its link carries), give or take the tie read and a
	// bucket crossed.
	for _, cost := range [][]int{short, long} {
		if cost[4] > cost[3]+4 {
			t.Errorf("the third page of a list sent %d statements, its first page %d", cost[4], cost[3])
		}
	}
	for i, p := range pages {
		t.Logf("%-60s %4d statements, %4d after 20 more hours of history (bound %d)", p.path, short[i], long[i], p.bound)
		if long[i] > p.bound || short[i] > p.bound {
			t.Errorf("GET %s sent %d and %d statements, more than its bound of %d", p.path, short[i], long[i], p.bound)
		}
		if long[i] > short[i]+2 {
			t.Errorf("GET %s sent %d statements with a short history and %d with a long one: its cost grows with history", p.path, short[i], long[i])
		}
	}
}

// deepPage stands for the third page of the Succeeded list, reached by
// its links.
const deepPage = "deep"

// claimOne claims the given job (the queue's only due one).
func (b *testBundle) claimOne(ctx context.Context, t *testing.T, j *repo.Job) *repo.Job {
	t.Helper()
	for _, c := range b.claim(ctx, t, 1, "test-worker") {
		if c.ID == j.ID {
			return c
		}
		t.Fatalf("claimed %s, want %s", c.ID, j.ID)
	}
	return nil
}
