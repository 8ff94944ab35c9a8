// Package dashboard is the web interface to a job store: an [http.Handler]
// to mount in your own server, behind your own middleware, or to run on its
// own with `jobsharp dashboard`.
//
// # Mounting it
//
//	d, err := dashboard.New(store, &dashboard.Options{
//		Prefix:    "/admin/jobs",
//		Authorize: func(r *http.Request, a dashboard.Action) error { … }, // optional
//	})
//	defer d.Close()
//	mux.Handle("/admin/jobs/", requireLogin(d)) // your authentication
//
// # Pages
//
//   - Overview: jobs per queue and state, the processors online, and a
//     live throughput chart.
//   - Jobs: one list per state, with paging and filters by queue and type;
//     a job's page shows its arguments (indented JSON, or a hex dump), its
//     metadata and result, every failed attempt with its trace, its lease,
//     and links to its batch, its parent and its continuations.
//   - Queues: paused flag, counts, due backlog and the oldest due job per
//     queue, with pause and resume.
//   - Processors: every running processor as it reports itself (owner,
//     host, pid, version, running jobs and slots per queue, started, last
//     seen, when its row expires).
//   - Recurring: every schedule with its cron expression, zone, last and
//     next fire time.
//   - Batches: the batches met among the jobs that wait or run, each with
//     its progress (finished of size, [repo.Batches.Progress]); a batch's
//     page with its progress, jobs and continuations.
//   - Search: a job id, a batch id or a recurring schedule id.
//
// Actions: requeue, cancel, delete and run now per job, and in bulk on a
// selection or on a whole filtered list (confirmed first, then run in the
// background in chunks of [Options.BulkChunk] with a progress page; a whole
// list is read by position to its end, with no cap);
// pausing and resuming a queue (processors notice within one poll
// interval; running jobs go on); removing a recurring schedule. Run now makes a Scheduled or Failed job
// due now and keeps its attempts; a held (Created) job is scheduled now; a
// finished one is requeued.
//
// Every page is server-rendered HTML (html/template, so every value is
// escaped) and works without JavaScript; one embedded script adds the live
// chart, the live progress of bulk actions, "select all" and confirmations.
//
// # Security
//
//   - Every state-changing request is a POST checked by
//     [http.CrossOriginProtection] (Sec-Fetch-Site and Origin) and by a
//     double-submit token: a random HttpOnly, SameSite=Strict cookie that
//     the form repeats. A wrong method gets 405.
//   - [Options.ReadOnly] hides the actions and refuses them with 403.
//   - [Options.Authorize] is asked before every request (but those for the
//     static script, style sheet and icon), with the [Action] it would take.
//   - Each response carries a Content-Security-Policy that allows only the
//     dashboard's own script and style sheet (no inline script), forbids
//     framing and lets forms post only to the dashboard.
//
// The dashboard authenticates no one itself: put it behind your login, or
// use `jobsharp dashboard --basic-auth`.
//
// # Cost
//
// Every page sends a bounded number of statements, whatever the history
// and however deep: counts come from the store's counters
// ([repo.Jobs.Count], [repo.Jobs.Stats]), lists from the bucketed indexes
// read by position ([repo.Jobs.ListPage]), a job from its row. No statement
// uses COUNT(*), ALLOW FILTERING or a scan of a table. A list page's "next"
// link carries the cursor of the position where the next page starts (a
// link whose cursor belongs to no page of that list gets 400 Bad Request),
// so a deep page reads what the first does: the jobs it shows and the
// stale index rows between them. A type filter reads at most
// [Options.ScanLimit] jobs for one page; a page that stops there links to
// the next, which goes on from there. A whole-list bulk action pages its
// list by cursor, [Options.BulkChunk] jobs at a time, to the end of the
// list: no cap. A batch page reads the batch's jobs (at most the store's
// MaxBatchSize); the batches page reads at most 50 batches' progress, one
// partition each.
//
// # The throughput chart
//
// The store keeps counts per state, not their history, so the dashboard
// samples the counters every [Options.ChartInterval] and plots the
// differences: per interval, how much the Succeeded count grew
// ("succeeded") and how much the Failed plus Abandoned count grew
// ("failed": jobs that failed and wait for a retry, or failed for good).
// These are net changes of counters shared by every processor, so
//   - a job that fails and is retried within one interval can offset
//     another failure, and drops (expiry after the retention period, purge,
//     delete, requeue) show as zero, never as negative;
//   - the samples live in the dashboard process's memory: the chart starts
//     empty when it starts, each process has its own, and sampling runs only
//     while someone looks at the dashboard (it stops after ten intervals,
//     at least a minute, without a request), leaving a gap;
//   - a sample costs 1 + 3 × queues counter reads.
package dashboard
