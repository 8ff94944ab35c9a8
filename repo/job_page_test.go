package repo_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
)

// pageAll follows a list's cursor to its end, limit jobs a page, and
// returns the jobs in order and the pages read.
func pageAll(ctx context.Context, t *testing.T, store *repo.Store, p repo.ListPageParams) ([]*repo.Job, int) {
	t.Helper()
	var out []*repo.Job
	pages := 0
	for {
		res, err := store.Jobs.ListPage(ctx, &p)
		if err != nil {
			t.Fatalf("ListPage(%s, page %d) error = %v", p.State, pages+1, err)
		}
		pages++
		out = append(out, res.Jobs...)
		if res.Next == "" {
			return out, pages
		}
		if pages > 10_000 {
			t.Fatalf("ListPage(%s) did not end after %d pages", p.State, pages)
		}
		p.Cursor = res.Next
	}
}

// onceEach fails unless got holds every job of want exactly once.
func onceEach(t *testing.T, what string, got []*repo.Job, want []gocql.UUID) {
	t.Helper()
	seen := map[gocql.UUID]int{}
	for _, j := range got {
		seen[j.ID]++
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Errorf("%s: job %s listed %d times, want once", what, id, seen[id])
		}
		delete(seen, id)
	}
	for id, n := range seen {
		t.Errorf("%s: job %s listed %d times, want none (not in the list)", what, id, n)
	}
}

func TestJobsListPage(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("StateIndexAcrossBucketsAndTies", func(t *testing.T) {
		t.Parallel()

		b := setup(t, &repo.Options{StateBucketWidth: time.Minute, StateShards: 4})
		// Six groups of ten held jobs; each group enters Created at one
		// instant (ties on entered_at), 25 s apart: four state buckets.
		var want []*repo.Job
		for g := 0; g < 6; g++ {
			var njs []*repo.NewJob
			for range 10 {
				njs = append(njs, &repo.NewJob{Queue: b.queue, Type: "held", Hold: true})
			}
			jobs, err := b.store.Jobs.InsertMany(ctx, njs)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, jobs...)
			b.clock.Advance(25 * time.Second)
		}
		// Newest first, and in a tie by id (the index's clustering order).
		slices.SortFunc(want, func(x, y *repo.Job) int {
			return cmp.Or(y.StateChangedAt.Compare(x.StateChangedAt), strings.Compare(x.ID.String(), y.ID.String()))
		})
		for _, limit := range []int{1, 7, 10, 60, 100} {
			got, pages := pageAll(ctx, t, b.store, repo.ListPageParams{Queue: b.queue, State: repo.StateCreated, Limit: limit})
			if len(got) != len(want) {
				t.Fatalf("limit %d: %d jobs in %d pages, want %d", limit, len(got), pages, len(want))
			}
			for i := range want {
				if got[i].ID != want[i].ID {
					t.Fatalf("limit %d: job %d is %s (entered %s), want %s (entered %s)", limit, i, got[i].ID, got[i].StateChangedAt, want[i].ID, want[i].StateChangedAt)
				}
			}
			if wantPages := (len(want) + limit - 1) / limit; limit < len(want) && pages != wantPages {
				t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
			}
		}
	})

	t.Run("SucceededFromFinishLogs", func(t *testing.T) {
		t.Parallel()

		// One partition per home bucket, so that its finish log holds every
		// row below; start just after a bucket begins, so they share one.
		b := setup(t, &repo.Options{HomeShards: 1})
		w := int64(repo.DefaultHomeBucketWidth / time.Millisecond)
		b.clock.Advance(time.Duration(w-b.clock.Now().UnixMilli()%w)*time.Millisecond + time.Second)
		for range 14 {
			b.insert(ctx, t, &repo.NewJob{})
		}
		var done []*repo.Job
		for _, j := range b.claim(ctx, t, 14) {
			b.clock.Advance(time.Millisecond)
			out, err := b.store.Jobs.Complete(ctx, j, nil)
			if err != nil {
				t.Fatal(err)
			}
			done = append(done, out)
		}
		// Newer rows that name no Succeeded job: twelve cancellations, more
		// than a round reads of one partition at the smallest limit.
		for range 12 {
			held := b.insert(ctx, t, &repo.NewJob{Hold: true})
			b.clock.Advance(time.Millisecond)
			if _, err := b.store.Jobs.Cancel(ctx, held.ID); err != nil {
				t.Fatal(err)
			}
		}
		// A requeued job leaves the list; an updated one is listed once,
		// at its update.
		b.clock.Advance(time.Millisecond)
		if _, err := b.store.Jobs.Requeue(ctx, done[0].ID, time.Time{}); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(time.Millisecond)
		upd := *done[5]
		upd.Metadata = map[string]string{"note": "checked"}
		if _, err := b.store.Jobs.Update(ctx, &upd); err != nil {
			t.Fatal(err)
		}
		var want []gocql.UUID // newest finish first
		want = append(want, done[5].ID)
		for i := len(done) - 1; i >= 1; i-- {
			if i != 5 {
				want = append(want, done[i].ID)
			}
		}
		check := func(what string, want []gocql.UUID) {
			t.Helper()
			for _, limit := range []int{1, 3, 5, 100} {
				got, pages := pageAll(ctx, t, b.store, repo.ListPageParams{Queue: b.queue, State: repo.StateSucceeded, Limit: limit})
				if !slices.Equal(ids(got), want) {
					t.Fatalf("%s, limit %d: ListPage in %d pages = %v, want %v", what, limit, pages, ids(got), want)
				}
			}
			all, err := b.store.Jobs.ListByState(ctx, &repo.ListParams{Queue: b.queue, State: repo.StateSucceeded, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(all), want) {
				t.Fatalf("%s: ListByState = %v, want %v", what, ids(all), want)
			}
		}
		check("after a requeue and an update", want)

		// The requeued job runs again: it is listed once, first.
		b.clock.Advance(time.Millisecond)
		again := b.claim(ctx, t, 1)
		if len(again) != 1 || again[0].ID != done[0].ID {
			t.Fatalf("claim after the requeue = %v, want %s", ids(again), done[0].ID)
		}
		b.clock.Advance(time.Millisecond)
		if _, err := b.store.Jobs.Complete(ctx, again[0], nil); err != nil {
			t.Fatal(err)
		}
		check("after it ran again", append([]gocql.UUID{done[0].ID}, want...))
		if c := b.count(ctx, t, repo.StateSucceeded); c != 14 {
			t.Errorf("Count(Succeeded) = %d, want 14", c)
		}
		if c := b.count(ctx, t, repo.StateCancelled); c != 12 {
			t.Errorf("Count(Cancelled) = %d, want 12", c)
		}
	})

	t.Run("JobsThatLeaveOrArriveWhilePaging", func(t *testing.T) {
		t.Parallel()

		b := setup(t, &repo.Options{StateBucketWidth: time.Minute})
		var jobs []*repo.Job
		for range 20 {
			jobs = append(jobs, b.insert(ctx, t, &repo.NewJob{Hold: true}))
			b.clock.Advance(7 * time.Second)
		}
		first, err := b.store.Jobs.ListPage(ctx, &repo.ListPageParams{Queue: b.queue, State: repo.StateCreated, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		// The newest five were returned. Cancel the five oldest, and hold a
		// new job (newer than the cursor).
		for _, j := range jobs[:5] {
			if _, err := b.store.Jobs.Cancel(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}
		b.insert(ctx, t, &repo.NewJob{Hold: true})
		rest, _ := pageAll(ctx, t, b.store, repo.ListPageParams{Queue: b.queue, State: repo.StateCreated, Limit: 5, Cursor: first.Next})
		var want []gocql.UUID
		for _, j := range jobs[5:15] {
			want = append(want, j.ID)
		}
		onceEach(t, "pages after the first", rest, want)
	})

	t.Run("DueIndexedStates", func(t *testing.T) {
		t.Parallel()

		b := setup(t, &repo.Options{HomeBucketWidth: 16 * time.Second})
		now := b.clock.Now()
		var sched, failed []gocql.UUID
		// At home: due in an hour, 7 s apart (over several home buckets).
		for i := range 30 {
			sched = append(sched, b.insert(ctx, t, &repo.NewJob{ScheduledAt: now.Add(time.Hour + time.Duration(i)*7*time.Second)}).ID)
		}
		// Through the due index: moved later than their home time.
		for i := range 10 {
			j := b.insert(ctx, t, &repo.NewJob{ScheduledAt: now.Add(2*time.Hour + time.Duration(i)*time.Second)})
			j.ScheduledAt = now.Add(90*time.Minute + time.Duration(i)*11*time.Second)
			if _, err := b.store.Jobs.Update(ctx, j); err != nil {
				t.Fatal(err)
			}
			sched = append(sched, j.ID)
		}
		// Moved earlier than its home time: it keeps waiting at home (where
		// a claim finds it at the latest) and has a due entry too; listed
		// once.
		early := b.insert(ctx, t, &repo.NewJob{ScheduledAt: now.Add(3 * time.Hour)})
		early.ScheduledAt = now.Add(30 * time.Minute)
		if _, err := b.store.Jobs.Update(ctx, early); err != nil {
			t.Fatal(err)
		}
		sched = append(sched, early.ID)
		// Failed with a retry pending.
		for i := range 7 {
			j := b.insert(ctx, t, &repo.NewJob{ScheduledAt: now.Add(time.Hour + time.Duration(i)*3*time.Second)})
			j.State, j.ScheduledAt = repo.StateFailed, now.Add(4*time.Hour-time.Duration(i)*time.Minute)
			if _, err := b.store.Jobs.Update(ctx, j); err != nil {
				t.Fatal(err)
			}
			failed = append(failed, j.ID)
		}
		// Processing: three claims, so three lease entries.
		var running []gocql.UUID
		for range 12 {
			b.insert(ctx, t, &repo.NewJob{})
		}
		for range 3 {
			for _, j := range b.claim(ctx, t, 4) {
				running = append(running, j.ID)
			}
		}
		if len(running) != 12 {
			t.Fatalf("claimed %d jobs, want 12", len(running))
		}
		for _, limit := range []int{1, 3, 5, 100} {
			got, _ := pageAll(ctx, t, b.store, repo.ListPageParams{Queue: b.queue, State: repo.StateScheduled, Limit: limit})
			onceEach(t, fmt.Sprintf("Scheduled, limit %d", limit), got, sched)
			// Soonest due first: by run time, but for the job moved earlier,
			// listed at its home time.
			var last time.Time
			for _, j := range got {
				if j.ID == early.ID {
					continue
				}
				if j.ScheduledAt.Before(last) {
					t.Errorf("Scheduled, limit %d: %s due %s after one due %s", limit, j.ID, j.ScheduledAt, last)
				}
				last = j.ScheduledAt
			}
			got, _ = pageAll(ctx, t, b.store, repo.ListPageParams{Queue: b.queue, State: repo.StateFailed, Limit: limit})
			onceEach(t, fmt.Sprintf("Failed, limit %d", limit), got, failed)
			if !slices.IsSortedFunc(got, func(x, y *repo.Job) int { return x.ScheduledAt.Compare(y.ScheduledAt) }) {
				t.Errorf("Failed, limit %d: not soonest retry first", limit)
			}
			got, _ = pageAll(ctx, t, b.store, repo.ListPageParams{Queue: b.queue, State: repo.StateProcessing, Limit: limit})
			onceEach(t, fmt.Sprintf("Processing, limit %d", limit), got, running)
		}
	})

	t.Run("BadCursor", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		for range 3 {
			b.insert(ctx, t, &repo.NewJob{Hold: true})
		}
		res, err := b.store.Jobs.ListPage(ctx, &repo.ListPageParams{Queue: b.queue, State: repo.StateCreated, Limit: 1})
		if err != nil || res.Next == "" {
			t.Fatalf("ListPage() = %v, %v; want a page and a cursor", res, err)
		}
		altered := []byte(res.Next)
		altered[len(altered)/2] ^= 1
		cases := []struct {
			name  string
			p     repo.ListPageParams
			inMsg string
		}{
			{"NotBase64", repo.ListPageParams{Queue: b.queue, State: repo.StateCreated, Cursor: "%%%"}, "not base64url"},
			{"Short", repo.ListPageParams{Queue: b.queue, State: repo.StateCreated, Cursor: "AAAA"}, "truncated or altered"},
			{"Truncated", repo.ListPageParams{Queue: b.queue, State: repo.StateCreated, Cursor: res.Next[:len(res.Next)-3]}, "not a cursor ListPage made"},
			{"Altered", repo.ListPageParams{Queue: b.queue, State: repo.StateCreated, Cursor: string(altered)}, "not a cursor ListPage made"},
			{"OtherState", repo.ListPageParams{Queue: b.queue, State: repo.StateSucceeded, Cursor: res.Next}, "not the Succeeded jobs"},
			{"OtherQueue", repo.ListPageParams{Queue: b.queue + "-other", State: repo.StateCreated, Cursor: res.Next}, "not the Created jobs of queue " + b.queue + "-other"},
			{"EveryQueue", repo.ListPageParams{State: repo.StateCreated, Cursor: res.Next}, "of every queue"},
		}
		for _, c := range cases {
			c.p.Limit = 1
			_, err := b.store.Jobs.ListPage(ctx, &c.p)
			var ce *repo.CursorError
			if !errors.As(err, &ce) || !errors.Is(err, repo.ErrInvalid) || !strings.Contains(err.Error(), c.inMsg) {
				t.Errorf("%s: ListPage() error = %v, want a *CursorError matching ErrInvalid that says %q", c.name, err, c.inMsg)
			}
		}
		for _, limit := range []int{0, 1001} {
			_, err := b.store.Jobs.ListPage(ctx, &repo.ListPageParams{Queue: b.queue, State: repo.StateCreated, Limit: limit})
			if !errors.Is(err, repo.ErrInvalid) {
				t.Errorf("Limit %d: error = %v, want ErrInvalid", limit, err)
			}
		}
	})
}

// TestListPageCost counts, with the driver's observers, the statements of
// every page of a list of 300 jobs over ten state buckets: a deep page costs
// what an early one does.
func TestListPageCost(t *testing.T) {
	ctx := context.Background()
	b := setup(t, &repo.Options{StateBucketWidth: time.Minute, HomeShards: 1})
	// One home partition (one run time, one sub-shard), so that each page
	// reads its jobs with one statement; 300 jobs entering Created 2 s
	// apart, over ten state buckets.
	runAt := b.clock.Now().Add(24 * time.Hour)
	for range 300 {
		b.insert(ctx, t, &repo.NewJob{Hold: true, ScheduledAt: runAt})
		b.clock.Advance(2 * time.Second)
	}
	store, counter := countingStore(t)
	p := repo.ListPageParams{Queue: b.queue, State: repo.StateCreated, Limit: 10}
	var costs []int64
	n := 0
	for {
		before := counter.Snapshot()
		res, err := store.Jobs.ListPage(ctx, &p)
		if err != nil {
			t.Fatal(err)
		}
		d := counter.Snapshot().Sub(before)
		costs = append(costs, d.RoundTrips())
		n += len(res.Jobs)
		if res.Next == "" {
			break
		}
		p.Cursor = res.Next
	}
	t.Logf("statements per page of 10 (%d pages): %v", len(costs), costs)
	if n != 300 {
		t.Fatalf("listed %d jobs, want 300", n)
	}
	// A page inside a bucket costs a tie read, a read of every shard and
	// one read of its jobs (the first page no tie read, and a page that
	// ends exactly at its bucket's end can cost less); a page that also
	// meets the end of its bucket reads the directory and the next bucket
	// (and its jobs) as well: 3 more. Nothing grows with depth. The typical
	// page is the median: where the pages fall in the buckets depends on
	// the clock's start, so the cheapest page is not always one inside a
	// bucket.
	typical := slices.Sorted(slices.Values(costs))[len(costs)/2]
	for i, c := range costs {
		if c > typical+3 {
			t.Errorf("page %d cost %d statements, more than %d (a typical page, %d, and a bucket crossed)", i+1, c, typical+3, typical)
		}
	}
	third := len(costs) / 3
	if early, deep := slices.Max(costs[:third]), slices.Max(costs[len(costs)-third:]); deep > early {
		t.Errorf("the deepest pages cost up to %d statements, the first ones up to %d", deep, early)
	}
}
