package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gocql/gocql"
	"golang.org/x/sync/errgroup"

	"github.com/jobsharp/cassandra/repo"
)

// queueRow is a queue's line in the tables of the overview and the queues
// page.
type queueRow struct {
	repo.QueueStats
	// Paused: processors claim none of the queue's jobs.
	Paused bool
}

type overviewPage struct {
	base
	Queues []queueRow
	Totals map[repo.State]int64
	Chart  chart
	// Processors is the number of processors online (overview only).
	Processors int
}

// overview is GET /: jobs per queue and state from the counters, the
// processors online, and the live throughput chart.
func (d *Dashboard) overview(c *call) error {
	d.chart.touch()
	rows, totals, err := d.queueRows(c)
	if err != nil {
		return err
	}
	procs, err := d.store.Processors.List(c.r.Context())
	if err != nil {
		return err
	}
	return d.render(c, http.StatusOK, "overview", overviewPage{
		base: d.base(c, "Overview", "overview"), Queues: rows, Totals: totals, Chart: d.chart.chart(), Processors: len(procs),
	})
}

// queueRows reads Jobs.Stats for every queue (counters, due backlog,
// oldest due job) and the paused queues (one read of the registry).
func (d *Dashboard) queueRows(c *call) ([]queueRow, map[repo.State]int64, error) {
	stats, err := d.store.Jobs.Stats(c.r.Context(), "")
	if err != nil {
		return nil, nil, err
	}
	paused, err := d.store.Queues.Paused(c.r.Context())
	if err != nil {
		return nil, nil, err
	}
	totals := map[repo.State]int64{}
	rows := make([]queueRow, len(stats))
	for i, st := range stats {
		rows[i] = queueRow{QueueStats: st, Paused: slices.Contains(paused, st.Queue)}
		for s, n := range st.Counts {
			totals[s] += n
		}
	}
	return rows, totals, nil
}

// queuePause is POST /queues/{queue}/pause and queueResume POST
// /queues/{queue}/resume.
func (d *Dashboard) queuePause(c *call) error  { return d.queueSet(c, true) }
func (d *Dashboard) queueResume(c *call) error { return d.queueSet(c, false) }

func (d *Dashboard) queueSet(c *call, pause bool) error {
	queue := c.r.PathValue("queue")
	set, done := d.store.Queues.Resume, "resume-queue"
	if pause {
		set, done = d.store.Queues.Pause, "pause-queue"
	}
	if err := set(c.r.Context(), queue); err != nil {
		if errors.Is(err, repo.ErrQueueNotFound) {
			return errorf(http.StatusNotFound, "no queue %q", queue)
		}
		return err
	}
	return d.redirect(c, "/queues", url.Values{"done": {done}})
}

// processorsPage is GET /processors: the processors online, as they report
// themselves (one partition read).
func (d *Dashboard) processorsPage(c *call) error {
	procs, err := d.store.Processors.List(c.r.Context())
	if err != nil {
		return err
	}
	return d.render(c, http.StatusOK, "processors", struct {
		base
		Processors []repo.ProcessorInfo
	}{d.base(c, "Processors", "processors"), procs})
}

// queuesPage is GET /queues: each queue's paused flag (with pause and
// resume), counts, due backlog and oldest due job.
func (d *Dashboard) queuesPage(c *call) error {
	d.chart.touch()
	rows, totals, err := d.queueRows(c)
	if err != nil {
		return err
	}
	return d.render(c, http.StatusOK, "queues", overviewPage{base: d.base(c, "Queues", "queues"), Queues: rows, Totals: totals})
}

type recurringRow struct {
	*repo.RecurringJob
	Args formatted
}

// recurringPage is GET /recurring: every schedule (one partition), with
// its last and next fire, whether it is paused, and its last triggered job.
func (d *Dashboard) recurringPage(c *call) error {
	all, err := d.store.Recurring.List(c.r.Context())
	if err != nil {
		return err
	}
	rows := make([]recurringRow, len(all))
	for i, rj := range all {
		rows[i] = recurringRow{rj, formatBytes(rj.Args)}
	}
	return d.render(c, http.StatusOK, "recurring", struct {
		base
		Schedules []recurringRow
		Selected  string // a schedule found by search
	}{d.base(c, "Recurring", "recurring"), rows, c.r.URL.Query().Get("id")})
}

// recurringAction serves POST /recurring/{id}/remove, /pause, /resume and
// /trigger, and returns to the recurring page with a flash.
func (d *Dashboard) recurringAction(a Action) handlerFunc {
	return func(c *call) error {
		id := c.r.PathValue("id")
		ctx := c.r.Context()
		var err error
		switch a {
		case ActionRecurringRemove:
			err = d.store.Recurring.Remove(ctx, id)
		case ActionRecurringPause:
			_, err = d.store.Recurring.Pause(ctx, id)
		case ActionRecurringResume:
			_, err = d.store.Recurring.Resume(ctx, id, nil)
		case ActionRecurringTrigger:
			_, err = d.store.Recurring.Trigger(ctx, id)
		default:
			err = fmt.Errorf("unknown recurring action %s", a)
		}
		if errors.Is(err, repo.ErrScheduleNotFound) {
			return errorf(http.StatusNotFound, "no recurring schedule %q", id)
		}
		if err != nil {
			return err
		}
		v := url.Values{"done": {strings.TrimPrefix(string(a), "recurring.")}}
		if a != ActionRecurringRemove {
			v.Set("id", id)
		}
		return d.redirect(c, "/recurring", v)
	}
}

// batchSeen is a batch met among the jobs that wait or run, with its
// progress (nil when the batch's partition is gone).
type batchSeen struct {
	ID            gocql.UUID
	Jobs          map[repo.State]int
	Continuations int
	Progress      *repo.BatchProgress
}

// maxBatchesListed bounds the batches the batches page shows, each with its
// progress (one partition read each).
const maxBatchesListed = 50

// batchStates are the lists the batches page reads batch ids from: the jobs
// that wait or run, and the continuations that wait for a batch.
var batchStates = []repo.State{repo.StateScheduled, repo.StateProcessing, repo.StateFailed, repo.StateAwaitingBatch}

// batchesPage is GET /batches: a batch lookup, and the batches met on the
// first page of the Scheduled, Processing, Failed and AwaitingBatch lists
// (at most maxBatchesListed), each with its progress (Batches.Progress: one
// partition read). The store has no index of batches by time, so this is
// the active batches' most recent part, not every batch.
func (d *Dashboard) batchesPage(c *call) error {
	ctx := c.r.Context()
	lists := make([]*listResult, len(batchStates))
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range batchStates {
		g.Go(func() (err error) {
			lists[i], err = d.listJobs(gctx, listFilter{State: s}, d.set.pageSize, "")
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	seen := map[gocql.UUID]*batchSeen{}
	var order []gocql.UUID
	get := func(id gocql.UUID) *batchSeen {
		b, ok := seen[id]
		if !ok {
			b = &batchSeen{ID: id, Jobs: map[repo.State]int{}}
			seen[id] = b
			order = append(order, id)
		}
		return b
	}
	for _, l := range lists {
		for _, j := range l.Jobs {
			if j.BatchID != (gocql.UUID{}) {
				get(j.BatchID).Jobs[j.State]++
			}
			if j.State == repo.StateAwaitingBatch {
				get(j.ParentID).Continuations++
			}
		}
	}
	out := make([]*batchSeen, min(len(order), maxBatchesListed))
	more := len(order) - len(out)
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for i, id := range order[:len(out)] {
		out[i] = seen[id]
		g.Go(func() error {
			p, err := d.store.Batches.Progress(gctx, id)
			if errors.Is(err, repo.ErrNotFound) {
				return nil // expired with its last jobs: no progress to show
			}
			out[i].Progress = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return d.render(c, http.StatusOK, "batches", struct {
		base
		Batches []*batchSeen
		More    int
		States  []repo.State
		PerList int
	}{d.base(c, "Batches", "batches"), out, more, batchStates, d.set.pageSize})
}

// maxBatchJobsShown bounds the jobs a batch page lists.
const maxBatchJobsShown = 500

// batchPage is GET /batches/{id}: progress (Batches.Status), the jobs and
// the continuations waiting for the batch.
func (d *Dashboard) batchPage(c *call) error {
	id, err := parseID(c.r.PathValue("id"), "batch")
	if err != nil {
		return err
	}
	ctx := c.r.Context()
	st, err := d.store.Batches.Status(ctx, id)
	if err != nil {
		if errors.Is(err, repo.ErrNotFound) {
			return errorf(http.StatusNotFound, "no batch %s", id)
		}
		return err
	}
	jobs, err := d.store.Batches.Jobs(ctx, id)
	if err != nil {
		return err
	}
	conts, err := d.store.Jobs.Continuations(ctx, id)
	if err != nil {
		return err
	}
	slices.SortFunc(jobs, func(a, b *repo.Job) int { return a.CreatedAt.Compare(b.CreatedAt) })
	more := max(0, len(jobs)-maxBatchJobsShown)
	jobs = jobs[:min(len(jobs), maxBatchJobsShown)]
	finished := 0
	for s, n := range st.States {
		if s.Final() {
			finished += n
		}
	}
	return d.render(c, http.StatusOK, "batch", struct {
		base
		Status        *repo.BatchStatus
		Finished      int
		Jobs          []*repo.Job
		More          int
		Continuations []*repo.Job
	}{d.base(c, "Batch "+id.String(), "batches"), st, finished, jobs, more, conts})
}

// search is GET /search?q=: a job id, a batch id or a recurring schedule id
// leads to its page.
func (d *Dashboard) search(c *call) error {
	q := strings.TrimSpace(c.r.URL.Query().Get("q"))
	if q == "" {
		return errorf(http.StatusBadRequest, "search for what? Give a job id, a batch id or a recurring schedule id")
	}
	ctx := c.r.Context()
	if id, err := gocql.ParseUUID(q); err == nil {
		if _, err := d.store.Jobs.Get(ctx, id); err == nil {
			return d.redirect(c, "/jobs/"+id.String(), nil)
		} else if !errors.Is(err, repo.ErrNotFound) {
			return err
		}
		if _, err := d.store.Batches.Status(ctx, id); err == nil {
			return d.redirect(c, "/batches/"+id.String(), nil)
		} else if !errors.Is(err, repo.ErrNotFound) {
			return err
		}
		return errorf(http.StatusNotFound, "no job or batch has the id %s (finished jobs expire after the store's retention period)", id)
	}
	if _, err := d.store.Recurring.Get(ctx, q); err == nil {
		return d.redirect(c, "/recurring", url.Values{"id": {q}})
	} else if !errors.Is(err, repo.ErrNotFound) {
		return err
	}
	return errorf(http.StatusNotFound, "%q is not a job or batch id (a UUID) nor the id of a recurring schedule", q)
}
