package dashboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gocql/gocql"
	"golang.org/x/sync/errgroup"

	"github.com/jobsharp/cassandra/repo"
)

// bulkAction is a job action offered on a list.
type bulkAction struct {
	Action Action
	Label  string
}

var allBulkActions = []bulkAction{
	{ActionJobRequeue, "Requeue"}, {ActionJobRunNow, "Run now"}, {ActionJobCancel, "Cancel"}, {ActionJobDelete, "Delete"},
}

// bulkActionsFor lists the actions jobs in state s allow.
func bulkActionsFor(s repo.State) []bulkAction {
	can := actionsFor(s)
	var out []bulkAction
	for _, a := range allBulkActions {
		if (a.Action == ActionJobRequeue && can.Requeue) || (a.Action == ActionJobRunNow && can.RunNow) ||
			(a.Action == ActionJobCancel && can.Cancel) || a.Action == ActionJobDelete {
			out = append(out, a)
		}
	}
	return out
}

func bulkActionNamed(name string) (bulkAction, error) {
	for _, a := range allBulkActions {
		if string(a.Action) == name {
			return a, nil
		}
	}
	return bulkAction{}, errorf(http.StatusBadRequest, "unknown bulk action %q (want job.requeue, job.run-now, job.cancel or job.delete)", name)
}

// maxSelected bounds the ids one bulk request may name (a whole list has no
// bound).
const maxSelected = 10_000

// bulkRequest is a bulk action as a form describes it: the action and
// either selected ids or a whole filtered list (all=1).
type bulkRequest struct {
	Action bulkAction
	IDs    []gocql.UUID
	All    bool
	Filter listFilter
}

func parseBulk(r *http.Request) (*bulkRequest, error) {
	if err := r.ParseForm(); err != nil {
		return nil, errorf(http.StatusBadRequest, "bad form: %v", err)
	}
	f := r.PostForm
	a, err := bulkActionNamed(f.Get("action"))
	if err != nil {
		return nil, err
	}
	filter, err := parseFilter(f)
	if err != nil {
		return nil, err
	}
	b := &bulkRequest{Action: a, All: f.Get("all") == "1", Filter: filter}
	if !b.All {
		if len(f["id"]) > maxSelected {
			return nil, errorf(http.StatusBadRequest, "%d jobs selected, more than %d: use the whole list instead", len(f["id"]), maxSelected)
		}
		for _, s := range f["id"] {
			id, err := parseID(s, "job")
			if err != nil {
				return nil, err
			}
			if !slices.Contains(b.IDs, id) {
				b.IDs = append(b.IDs, id)
			}
		}
		if len(b.IDs) == 0 {
			return nil, errorf(http.StatusBadRequest, "no job selected: tick some jobs, or choose the whole list")
		}
	}
	return b, nil
}

func bulkActionOf(r *http.Request) (Action, error) {
	if err := r.ParseForm(); err != nil {
		return "", errorf(http.StatusBadRequest, "bad form: %v", err)
	}
	a, err := bulkActionNamed(r.PostForm.Get("action"))
	return a.Action, err
}

type confirmPage struct {
	base
	Req      *bulkRequest
	Estimate int64
	Chunk    int
	Order    string // the list's order, for a whole list
}

// bulkConfirm is POST /bulk: the confirmation step. It changes nothing; it
// shows what the action will touch and asks again.
func (d *Dashboard) bulkConfirm() http.Handler {
	return d.changeBy(bulkActionOf, func(c *call) error {
		b, err := parseBulk(c.r)
		if err != nil {
			return err
		}
		p := confirmPage{base: d.base(c, "Confirm: "+b.Action.Label, "jobs"), Req: b, Estimate: int64(len(b.IDs)), Chunk: d.set.bulkChunk, Order: order(b.Filter.State)}
		if b.All {
			if p.Estimate, err = d.store.Jobs.Count(c.r.Context(), b.Filter.Queue, b.Filter.State); err != nil {
				return err
			}
		}
		return d.render(c, http.StatusOK, "confirm", p)
	})
}

// bulkStart is POST /bulk/start: it starts the action in the background and
// redirects to its progress page.
func (d *Dashboard) bulkStart() http.Handler {
	return d.changeBy(bulkActionOf, func(c *call) error {
		b, err := parseBulk(c.r)
		if err != nil {
			return err
		}
		estimate := int64(len(b.IDs))
		if b.All {
			if estimate, err = d.store.Jobs.Count(c.r.Context(), b.Filter.Queue, b.Filter.State); err != nil {
				return err
			}
		}
		t := d.bulk.start(b, estimate)
		return d.redirect(c, "/bulk/"+t.ID, nil)
	})
}

// bulkTask is one bulk action running (or run) in the background.
type bulkTask struct {
	ID       string
	Req      *bulkRequest
	Estimate int64
	Started  time.Time
	cancel   context.CancelFunc

	mu       sync.Mutex
	done     int
	failed   int
	errs     []string
	finished time.Time
	stopped  string
}

// bulkStatus is a task's progress as the page and the JSON endpoint show it.
type bulkStatus struct {
	ID       string    `json:"id"`
	Action   Action    `json:"action"`
	Done     int       `json:"done"`
	Failed   int       `json:"failed"`
	Estimate int64     `json:"estimate"`
	Percent  int       `json:"percent"`
	Running  bool      `json:"running"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Stopped  string    `json:"stopped,omitempty"`
	Errors   []string  `json:"errors,omitempty"`
}

func (t *bulkTask) status() bulkStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := bulkStatus{
		ID: t.ID, Action: t.Req.Action.Action, Done: t.done, Failed: t.failed, Estimate: t.Estimate,
		Running: t.finished.IsZero(), Started: t.Started, Finished: t.finished, Stopped: t.stopped, Errors: slices.Clone(t.errs),
	}
	switch {
	case !st.Running:
		st.Percent = 100
	case t.Estimate > 0:
		st.Percent = min(99, int(int64(t.done+t.failed)*100/t.Estimate))
	}
	return st
}

func (t *bulkTask) record(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.done++
		return
	}
	t.failed++
	if len(t.errs) < 20 {
		t.errs = append(t.errs, err.Error())
	}
}

func (t *bulkTask) finish(stopped string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finished, t.stopped = time.Now(), stopped
}

// bulkRunner runs bulk tasks and remembers the last maxTasks of them.
type bulkRunner struct {
	ctx context.Context
	d   *Dashboard
	wg  sync.WaitGroup

	mu    sync.Mutex
	tasks map[string]*bulkTask
	order []string
}

const maxTasks = 100

func newBulkRunner(ctx context.Context, d *Dashboard) *bulkRunner {
	return &bulkRunner{ctx: ctx, d: d, tasks: map[string]*bulkTask{}}
}

func (br *bulkRunner) wait() { br.wg.Wait() }

func (br *bulkRunner) get(id string) (*bulkTask, error) {
	br.mu.Lock()
	defer br.mu.Unlock()
	t, ok := br.tasks[id]
	if !ok {
		return nil, errorf(http.StatusNotFound, "no bulk action %q in this dashboard process (they are kept in memory, the last %d)", id, maxTasks)
	}
	return t, nil
}

func (br *bulkRunner) start(b *bulkRequest, estimate int64) *bulkTask {
	raw := make([]byte, 8)
	_, _ = rand.Read(raw)
	ctx, cancel := context.WithCancel(br.ctx)
	t := &bulkTask{ID: hex.EncodeToString(raw), Req: b, Estimate: estimate, Started: time.Now(), cancel: cancel}
	br.mu.Lock()
	br.tasks[t.ID] = t
	br.order = append(br.order, t.ID)
	if len(br.order) > maxTasks {
		if old := br.tasks[br.order[0]]; !old.status().Running {
			delete(br.tasks, br.order[0])
			br.order = br.order[1:]
		}
	}
	br.mu.Unlock()
	br.wg.Add(1)
	go func() {
		defer br.wg.Done()
		defer cancel()
		t.finish(br.run(ctx, t))
	}()
	return t
}

// run applies the task's action in chunks and returns why it stopped
// early, or "" when it went through.
func (br *bulkRunner) run(ctx context.Context, t *bulkTask) string {
	d, chunk := br.d, br.d.set.bulkChunk
	apply := func(ids []gocql.UUID) {
		g := errgroup.Group{}
		g.SetLimit(fanOut)
		for _, id := range ids {
			g.Go(func() error {
				err := d.applyJob(ctx, t.Req.Action.Action, id)
				if ctx.Err() != nil {
					return nil // stopped: this job is neither done nor failed
				}
				if err != nil {
					err = fmt.Errorf("job %s: %w", id, err)
				}
				t.record(err)
				return nil
			})
		}
		_ = g.Wait()
	}
	if !t.Req.All {
		for ids := range slices.Chunk(t.Req.IDs, chunk) {
			if ctx.Err() != nil {
				return "cancelled"
			}
			apply(ids)
		}
		return ""
	}
	return br.runList(ctx, t, apply)
}

// runList applies the task's action to its whole filtered list: it pages
// the list by position (repo.Jobs.ListPage), BulkChunk jobs a read, until
// the list ends, so there is no cap and each chunk costs a bounded number
// of statements. Jobs the action moves out of the list are behind the
// position and never read again; so are the jobs a Run now makes due in a
// newest-first list. In a soonest-first list (Scheduled, Failed) a job Run
// now makes due may come up again ahead of the position: a job already due
// is not changed again (it is counted as done when it was due before the
// action began), so every job is written once and the position reaches the
// end.
func (br *bulkRunner) runList(ctx context.Context, t *bulkTask, apply func([]gocql.UUID)) string {
	d, f, chunk := br.d, t.Req.Filter, br.d.set.bulkChunk
	runNow := t.Req.Action.Action == ActionJobRunNow
	cursor := ""
	for {
		if ctx.Err() != nil {
			return "cancelled"
		}
		page, err := d.store.Jobs.ListPage(ctx, &repo.ListPageParams{Queue: f.Queue, State: f.State, Limit: chunk, Cursor: cursor})
		if err != nil {
			if ctx.Err() != nil {
				return "cancelled"
			}
			t.record(fmt.Errorf("list jobs: %w", err))
			return "stopped: the list could not be read"
		}
		var ids []gocql.UUID
		now := time.Now()
		for _, j := range page.Jobs {
			switch {
			case f.Type != "" && j.Type != f.Type:
			case runNow && j.State.Claimable() && !j.ScheduledAt.After(t.Started):
				t.record(nil) // due already: run now changes nothing
			case runNow && j.State.Claimable() && !j.ScheduledAt.After(now):
				// Made due since the action began (by it, or meanwhile).
			default:
				ids = append(ids, j.ID)
			}
		}
		apply(ids)
		if page.Next == "" {
			return ""
		}
		cursor = page.Next
	}
}

// bulkPage is GET /bulk/{id}: a bulk action's progress.
func (d *Dashboard) bulkPage(c *call) error {
	t, err := d.bulk.get(c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return d.render(c, http.StatusOK, "bulk", struct {
		base
		Task   *bulkTask
		Status bulkStatus
		Back   string
	}{d.base(c, t.Req.Action.Label+" – progress", "jobs"), t, t.status(), t.Req.Filter.values().Encode()})
}

// bulkJSON is GET /api/bulk/{id}.
func (d *Dashboard) bulkJSON(c *call) error {
	t, err := d.bulk.get(c.r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, t.status())
	return nil
}

// bulkCancel is POST /bulk/{id}/cancel: stop a running bulk action after
// its current chunk.
func (d *Dashboard) bulkCancel(c *call) error {
	t, err := d.bulk.get(c.r.PathValue("id"))
	if err != nil {
		return err
	}
	t.cancel()
	return d.redirect(c, "/bulk/"+t.ID, url.Values{})
}
