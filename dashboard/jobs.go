package dashboard

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
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
		return "soonest lease expiry first"
	}
	return "newest first"
}

// before reports whether job a comes before b in a list of state s.
func before(s repo.State) func(a, b *repo.Job) int {
	return func(a, b *repo.Job) int {
		var c int
		switch {
		case s.Claimable():
			c = a.ScheduledAt.Compare(b.ScheduledAt)
		case s == repo.StateProcessing:
			c = a.Lease.Until.Compare(b.Lease.Until)
		default:
			c = b.StateChangedAt.Compare(a.StateChangedAt)
		}
		return cmp.Or(c, cmp.Compare(a.ID.String(), b.ID.String()))
	}
}

// listResult is one window of a list.
type listResult struct {
	Jobs []*repo.Job
	// Capped: some queue had more jobs than the window read, so jobs
	// matching a type filter may lie deeper.
	Capped bool
	// Read is how many jobs were read to find Jobs.
	Read int
}

// listJobs returns the first n jobs of a filtered list, in the list's order.
// Each queue's list is read from the store's indexes (ListByState, newest or
// soonest first) with a window of n jobs, or ScanLimit jobs when a type
// filter drops some, and the queues are merged.
func (d *Dashboard) listJobs(ctx context.Context, f listFilter, n int) (*listResult, error) {
	queues := []string{f.Queue}
	if f.Queue == "" {
		var err error
		if queues, err = d.store.Jobs.Queues(ctx); err != nil {
			return nil, err
		}
	}
	window := n
	if f.Type != "" {
		window = min(max(n, d.set.scanLimit), maxListDepth)
	}
	per := make([][]*repo.Job, len(queues))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for i, q := range queues {
		g.Go(func() error {
			jobs, err := d.store.Jobs.ListByState(gctx, &repo.ListParams{Queue: q, State: f.State, Limit: window})
			per[i] = jobs
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res := &listResult{}
	for _, jobs := range per {
		res.Read += len(jobs)
		res.Capped = res.Capped || (f.Type != "" && len(jobs) == window)
		for _, j := range jobs {
			if f.Type == "" || j.Type == f.Type {
				res.Jobs = append(res.Jobs, j)
			}
		}
	}
	slices.SortFunc(res.Jobs, before(f.State))
	if len(res.Jobs) > n {
		res.Jobs = res.Jobs[:n]
	}
	return res, nil
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
	Filter  listFilter
	Query   string // the filter as a query string, for links
	Queues  []string
	Counts  map[repo.State]int64
	Jobs    []*repo.Job
	Order   string
	Page    int
	Prev    int
	Next    int
	First   int // position of the first job shown, from 1
	Capped  bool
	Read    int
	Actions []bulkAction
}

// jobList is GET /jobs?state=&queue=&type=&page=: one page of a state's
// jobs, with the counters of every state as tabs and the bulk actions the
// state allows.
func (d *Dashboard) jobList(c *call) error {
	q := c.r.URL.Query()
	f, err := parseFilter(q)
	if err != nil {
		return err
	}
	page := 1
	if s := q.Get("page"); s != "" {
		if page, err = strconv.Atoi(s); err != nil || page < 1 {
			return errorf(http.StatusBadRequest, "page %q: want a number from 1", s)
		}
	}
	size := d.set.pageSize
	offset := (page - 1) * size
	if offset+size+1 > maxListDepth {
		return errorf(http.StatusBadRequest, "page %d is too deep: a list reaches its first %d jobs; filter by queue or type to see others", page, maxListDepth-1)
	}
	ctx := c.r.Context()
	g, gctx := errgroup.WithContext(ctx)
	var (
		res    *listResult
		counts map[repo.State]int64
		queues []string
	)
	g.Go(func() (err error) { res, err = d.listJobs(gctx, f, offset+size+1); return })
	g.Go(func() (err error) { counts, err = d.countStates(gctx, f.Queue); return })
	g.Go(func() (err error) { queues, err = d.store.Jobs.Queues(gctx); return })
	if err := g.Wait(); err != nil {
		return err
	}
	p := jobsPage{
		base: d.base(c, f.State.String()+" jobs", "jobs"), Filter: f, Query: f.values().Encode(), Queues: queues,
		Counts: counts, Order: order(f.State), Page: page, First: offset + 1, Capped: res.Capped, Read: res.Read,
		Actions: bulkActionsFor(f.State),
	}
	if len(res.Jobs) > offset {
		p.Jobs = res.Jobs[offset:min(len(res.Jobs), offset+size)]
	}
	if len(res.Jobs) > offset+size {
		p.Next = page + 1
	}
	p.Prev = page - 1
	return d.render(c, http.StatusOK, "jobs", p)
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
