package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/jobsharp/cassandra/dashboard"
	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/schema"
)

// The page benchmark's stores, in keyspaces of their own that later runs
// reuse: one holding 100,000 finished jobs, and the baseline holding only
// the jobs the pages show (one page of them: an empty store has no job page
// to show). Drop them with DROP KEYSPACE when done.
const (
	benchQueue       = "bench"
	benchHistory     = 100_000
	benchKeyspace    = "jobsharp_bench_dashboard_100k"
	baselineKeyspace = "jobsharp_bench_dashboard_page"
)

type benchStore struct {
	name  string
	store *repo.Store
	d     *dashboard.Dashboard
	job   gocql.UUID // a job on the first page of the Succeeded list
}

var benchStores struct {
	once            sync.Once
	baseline, large *benchStore
	err             error
}

// openBenchStore connects to a benchmark keyspace (created when missing)
// and fills it with n succeeded jobs unless it holds them already.
func openBenchStore(b *testing.B, ks string, n int) *benchStore {
	b.Helper()
	ctx := context.Background()
	admin := cqltest.AdminSession(b)
	repl, _ := schema.ParseReplication("SimpleStrategy:1")
	if _, err := schema.Apply(ctx, admin, ks, &repl); err != nil {
		b.Fatalf("schema apply %s: %v", ks, err)
	}
	c := cqltest.Cluster()
	c.Keyspace = ks
	session, err := gocqlx.WrapSession(c.CreateSession())
	if err != nil {
		b.Fatal(err)
	}
	store, err := repo.New(session, &repo.Options{Logger: testLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	have, err := store.Jobs.Count(ctx, benchQueue, repo.StateSucceeded)
	if err != nil {
		b.Fatal(err)
	}
	if have < int64(n) {
		start := time.Now()
		finishMany(ctx, b, store, benchQueue, n-int(have), false)
		fmt.Printf("filled %s with %d succeeded jobs in %s\n", ks, n-int(have), time.Since(start).Round(time.Second))
		// The fill's deleted lease entries lie up to a lease ahead of its
		// end: wait until they are history, as the benchmark measures
		// history, not the traffic of the last minute.
		time.Sleep(fillLease + repo.DefaultGrace + time.Minute)
	}
	first, err := store.Jobs.ListByState(ctx, &repo.ListParams{Queue: benchQueue, State: repo.StateSucceeded, Limit: 1})
	if err != nil || len(first) == 0 {
		b.Fatalf("list the newest job of %s: %v", ks, err)
	}
	d, err := dashboard.New(store, &dashboard.Options{ChartInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	return &benchStore{name: ks, store: store, d: d, job: first[0].ID}
}

// BenchmarkPages measures page latency with 100,000 finished jobs in the
// store against a store that holds only the jobs the pages show, side by
// side: each iteration serves the page from both stores, in alternating
// order, after one poll of the queue as workers would do. It reports the
// median of each and their ratio (x-baseline).
//
//	go test ./dashboard -run '^$' -bench Pages -benchtime 200x
//
// The first run fills the 100,000 jobs (Jobs.InsertMany, then claim and
// complete in bulk); later runs reuse the keyspace.
func BenchmarkPages(b *testing.B) {
	benchStores.once.Do(func() {
		benchStores.baseline = openBenchStore(b, baselineKeyspace, dashboard.DefaultPageSize+1)
		benchStores.large = openBenchStore(b, benchKeyspace, benchHistory)
	})
	small, large := benchStores.baseline, benchStores.large
	for _, page := range []struct {
		name string
		path func(*benchStore) string
	}{
		{"overview", func(*benchStore) string { return "/" }},
		{"list", func(*benchStore) string { return "/jobs?state=Succeeded&queue=" + benchQueue }},
		{"job", func(s *benchStore) string { return "/jobs/" + s.job.String() }},
	} {
		b.Run(page.name, func(b *testing.B) {
			// Poll the queue once, as running workers do all the time: the
			// scan moves the due index's watermark past the claims of the
			// fill, whose deleted entries Stats would read otherwise.
			for _, s := range []*benchStore{small, large} {
				if _, err := s.store.Jobs.Claim(context.Background(), &repo.ClaimParams{Queue: benchQueue, Owner: "bench-poller", Limit: 1}); err != nil {
					b.Fatal(err)
				}
			}
			serve := func(s *benchStore) time.Duration {
				req := httptest.NewRequest(http.MethodGet, page.path(s), nil)
				w := httptest.NewRecorder()
				start := time.Now()
				s.d.ServeHTTP(w, req)
				took := time.Since(start)
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s on %s: %d\n%s", page.path(s), s.name, w.Code, w.Body.String())
				}
				return took
			}
			var tSmall, tLarge []time.Duration
			i := 0
			for b.Loop() {
				if i%2 == 0 {
					tSmall = append(tSmall, serve(small))
					tLarge = append(tLarge, serve(large))
				} else {
					tLarge = append(tLarge, serve(large))
					tSmall = append(tSmall, serve(small))
				}
				i++
			}
			ms, ml := median(tSmall), median(tLarge)
			b.ReportMetric(float64(ms.Microseconds())/1000, "ms-baseline")
			b.ReportMetric(float64(ml.Microseconds())/1000, "ms-100k")
			b.ReportMetric(float64(ml)/float64(ms), "x-baseline")
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
