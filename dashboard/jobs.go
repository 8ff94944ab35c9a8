package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gocql/gocql"
	"golang.org/x/sync/errgroup"

	"github.com/jobsharp/cassandra/repo"
)

// fanOut bounds the statements a page sends at once (one per queue, or per
// queue and state).
const fanOut = 8

// listFilter is what a list of jobs shows: a state, optionally one queue and
// one job type.
type listFilter struct {
	State repo.State
	Queue string
	Type  string
}

func (f listFilter) values() url.Values {
	v := url.Values{"state": {f.State.String()}}
	if f.Queue != "" {
		v.Set("queue", f.Queue)
	}
	if f.Type != "" {
		v.Set("type", f.Type)
	}
	return v
}

// parseFilter reads state, queue and type from a query or form. The state
// defaults to Failed; a bad state or queue name is a 400.
func parseFilter(v url.Values) (listFilter, error) {
	f := listFilter{State: repo.StateFailed, Queue: v.Get("queue"), Type: v.Get("type")}
	if s := v.Get("state"); s != "" {
		st, err := repo.ParseState(s)
		if err != nil {
			return f, errorf(http.StatusBadRequest, "%v", err)
		}
		f.State = st
	}
	if f.Queue != "" {
		if err := repo.ValidQueue(f.Queue); err != nil {
			return f, errorf(http.StatusBadRequest, "%v", err)
		}
	}
	if f.Type != "" {
		if err := repo.ValidJobType(f.Type); err != nil {
			return f, errorf(http.StatusBadRequest, "%v", err)
		}
	}
	return f, nil
}

// order says how a state's list is sorted, in the words the page shows.
func order(s repo.State) string {
	switch {
	case s.Claimable():
		return "soonest due first"
	case s == repo.StateProcessing:
		return "soonest lease expiry first (by claim)"
	case s == repo.StateSucceeded:
		return "newest first, by home bucket, then by finish time"
	}
	return "newest first"
}

// laterWord names the jobs a list's next page holds.
func laterWord(s repo.State) string {
	if s.Claimable() || s == repo.StateProcessing {
		return "later"
	}
	return "older"
}

// maxListCalls bounds the store reads one list page makes: a type filter
// reads page after page until it has a page of matches, ScanLimit jobs, or
// this many reads.
const maxListCalls = 16

// listResult is one page of a list.
type listResult struct {
	Jobs []*repo.Job
	// Next is the cursor of the following page ("" at the end of the list).
	Next string
	// Read is how many jobs were read to find Jobs; Searched says the type
	// filter stopped at ScanLimit jobs (or maxListCalls reads) before it
	// filled the page.
	Read     int
	Searched bool
}

// listJobs returns up to n jobs of a filtered list from the position cursor
// names ("" for the head), in the list's order, and the cursor after them.
// It pages the store's indexes by position (repo.Jobs.ListPage, every queue
// merged when the filter names none), so a deep page costs what the first
// does. A type filter reads exactly as many jobs as the page still needs at
// each read, so the cursor never skips a match.
func (d *Dashboard) listJobs(ctx context.Context, f listFilter, n int, cursor string) (*listResult, error) {
	res := &listResult{}
	for calls := 1; ; calls++ {
		page, err := d.store.Jobs.ListPage(ctx, &repo.ListPageParams{Queue: f.Queue, State: f.State, Limit: n - len(res.Jobs), Cursor: cursor})
		if err != nil {
			return nil, err
		}
		res.Read += len(page.Jobs)
		for _, j := range page.Jobs {
			if f.Type == "" || j.Type == f.Type {
				res.Jobs = append(res.Jobs, j)
			}
		}
		cursor, res.Next = page.Next, page.Next
		if cursor == "" || len(res.Jobs) >= n {
			return res, nil
		}
		if res.Read >= d.set.scanLimit || calls >= maxListCalls {
			res.Searched = f.Type != ""
			return res, nil
		}
	}
}

// countStates reads the counters of every state for one queue or all.
func (d *Dashboard) countStates(ctx context.Context, queue string) (map[repo.State]int64, error) {
	queues := []string{queue}
	if queue == "" {
		var err error
		if queues, err = d.store.Jobs.Queues(ctx); err != nil {
			return nil, err
		}
	}
	states := repo.States()
	counts := make([]int64, len(queues)*len(states))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for i := range counts {
		g.Go(func() error {
			n, err := d.store.Jobs.Count(gctx, queues[i/len(states)], states[i%len(states)])
			counts[i] = n
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := map[repo.State]int64{}
	for i, n := range counts {
		out[states[i%len(states)]] += n
	}
	return out, nil
}

type jobsPage struct {
	base
	Filter   listFilter
	Query    string // the filter as a query string, for links
	Queues   []string
	Counts   map[repo.State]int64
	Jobs     []*repo.Job
	Order    string
	Later    string // "older" or "later": what the next page holds
	Cursor   string // this page's position ("" for the head)
	Next     string // the next page's cursor
	First    int    // position of the first job shown, from 1
	NextPos  int    // position of the next page's first job
	Searched bool
	Read     int
	Actions  []bulkAction
}

// jobList is GET /jobs?state=&queue=&type=&after=&pos=: one page of a
// state's jobs from the position the cursor `after` names (the head when
// absent), with the counters of every state as tabs and the bulk actions
// the state allows. pos only numbers the rows shown.
func (d *Dashboard) jobList(c *call) error {
	q := c.r.URL.Query()
	f, err := parseFilter(q)
	if err != nil {
		return err
	}
	first := 1
	if s := q.Get("pos"); s != "" {
		if first, err = strconv.Atoi(s); err != nil || first < 1 {
			return errorf(http.StatusBadRequest, "pos %q: want a number from 1", s)
		}
	}
	cursor := q.Get("after")
	ctx := c.r.Context()
	g, gctx := errgroup.WithContext(ctx)
	var (
		res    *listResult
		counts map[repo.State]int64
		queues []string
	)
	g.Go(func() (err error) { res, err = d.listJobs(gctx, f, d.set.pageSize, cursor); return })
	g.Go(func() (err error) { counts, err = d.countStates(gctx, f.Queue); return })
	g.Go(func() (err error) { queues, err = d.store.Jobs.Queues(gctx); return })
	if err := g.Wait(); err != nil {
		var ce *repo.CursorError
		if errors.As(err, &ce) {
			return errorf(http.StatusBadRequest, "the page link's position (after=) is not valid for this list: %s; start again from the first page", ce.Problem)
		}
		return err
	}
	return d.render(c, http.StatusOK, "jobs", jobsPage{
		base: d.base(c, f.State.String()+" jobs", "jobs"), Filter: f, Query: f.values().Encode(), Queues: queues,
		Counts: counts, Jobs: res.Jobs, Order: order(f.State), Later: laterWord(f.State), Cursor: cursor, Next: res.Next,
		First: first, NextPos: first + len(res.Jobs), Searched: res.Searched, Read: res.Read, Actions: bulkActionsFor(f.State),
	})
}

type jobView struct {
	base
	Job           *repo.Job
	Args, Result  formatted
	Continuations []*repo.Job
	Can           jobActions
}

// jobActions says which actions a job's state allows.
type jobActions struct{ Requeue, Cancel, Delete, RunNow bool }

func actionsFor(s repo.State) jobActions {
	return jobActions{
		Requeue: s.Final() || s == repo.StateFailed || s == repo.StateCreated,
		Cancel:  !s.Final(),
		Delete:  true,
		RunNow:  s.Claimable() || s == repo.StateCreated,
	}
}

// jobPage is GET /jobs/{id}: everything the store holds about one job, and
// its continuations.
func (d *Dashboard) jobPage(c *call) error {
	id, err := parseID(c.r.PathValue("id"), "job")
	if err != nil {
		return err
	}
	ctx := c.r.Context()
	job, err := d.store.Jobs.Get(ctx, id)
	if err != nil {
		return err
	}
	conts, err := d.store.Jobs.Continuations(ctx, id)
	if err != nil {
		return err
	}
	return d.render(c, http.StatusOK, "job", jobView{
		base: d.base(c, "Job "+id.String(), "jobs"), Job: job, Args: formatBytes(job.Args), Result: formatBytes(job.Result),
		Continuations: conts, Can: actionsFor(job.State),
	})
}

// jobAction serves POST /jobs/{id}/requeue, cancel, delete and run, then
// redirects to the job (or, after a delete, to the list it was in).
func (d *Dashboard) jobAction(a Action) handlerFunc {
	return func(c *call) error {
		id, err := parseID(c.r.PathValue("id"), "job")
		if err != nil {
			return err
		}
		ctx := c.r.Context()
		if a == ActionJobDelete {
			f, _ := parseFilter(c.r.PostForm) // where to go back to; a bad value only loses the filter
			if err := d.applyJob(ctx, a, id); err != nil {
				return err
			}
			v := f.values()
			v.Set("done", "delete")
			return d.redirect(c, "/jobs", v)
		}
		if err := d.applyJob(ctx, a, id); err != nil {
			return err
		}
		return d.redirect(c, "/jobs/"+id.String(), url.Values{"done": {flashKey[a]}})
	}
}

var flashKey = map[Action]string{ActionJobRequeue: "requeue", ActionJobCancel: "cancel", ActionJobDelete: "delete", ActionJobRunNow: "run"}

// applyJob performs a job action through the store's public API.
func (d *Dashboard) applyJob(ctx context.Context, a Action, id gocql.UUID) error {
	var err error
	switch a {
	case ActionJobRequeue:
		_, err = d.store.Jobs.Requeue(ctx, id, time.Time{})
	case ActionJobCancel:
		_, err = d.store.Jobs.Cancel(ctx, id)
	case ActionJobDelete:
		err = d.store.Jobs.Delete(ctx, id)
	case ActionJobRunNow:
		err = d.runNow(ctx, id)
	default:
		err = errorf(http.StatusBadRequest, "unknown job action %q", a)
	}
	return err
}

// runNow makes a job due now. A Scheduled or Failed job keeps its state and
// attempts and gets ScheduledAt = now; a Created (held) job is scheduled
// now; a finished job is requeued (Jobs.Requeue: attempts reset). A job
// that changed meanwhile is read again, up to five times.
func (d *Dashboard) runNow(ctx context.Context, id gocql.UUID) error {
	for attempt := 0; ; attempt++ {
		job, err := d.store.Jobs.Get(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case job.State.Final():
			_, err := d.store.Jobs.Requeue(ctx, id, time.Time{})
			return err
		case job.State.Claimable() || job.State == repo.StateCreated:
			next := *job
			if next.State == repo.StateCreated {
				next.State = repo.StateScheduled
			}
			next.ScheduledAt = time.Now()
			_, err := d.store.Jobs.Update(ctx, &next)
			if errors.Is(err, repo.ErrConflict) && attempt < 5 {
				continue
			}
			return err
		}
		return errorf(http.StatusConflict, "job %s is %s: only Scheduled, Failed, Created or finished jobs can run now", id, job.State)
	}
}
