package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"github.com/olekukonko/tablewriter"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/jobsharp/cassandra/repo"
)

// jobRunner runs a job command on a connected store.
type jobRunner func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error

// jobCommand is the shape of the commands that act on jobs: connection
// flags, --json, their own flags (registered by flags), and a prepare step
// that checks the arguments before anything connects, so a usage error
// never waits for Cassandra. args says whether the command takes positional
// arguments (an ID); run refuses them otherwise.
func jobCommand(name, synopsis, summary, help string, args bool, flags func(fs *flagSet) func(args []string) (jobRunner, error)) command {
	return command{
		name: name, synopsis: synopsis, summary: summary, help: help, args: args,
		setup: func(fs *flagSet, a *app) func(context.Context) error {
			conn := addConnFlags(fs)
			var asJSON bool
			addJSONFlag(fs, &asJSON)
			prepare := flags(fs)
			return func(ctx context.Context) error {
				run, err := prepare(fs.positional)
				if err != nil {
					return err
				}
				store, err := conn.connect(ctx, a)
				if err != nil {
					return err
				}
				defer store.Close()
				return run(ctx, a, store, asJSON)
			}
		},
	}
}

func statsCommand() command {
	return jobCommand("stats", "[--queue Q] [connection flags]", "jobs per state, due backlog and oldest due job, per queue",
		`Prints, for each queue (or the one given), the number of jobs in each state,
the due backlog (entries of the due index from the watermark to now: jobs due
and not claimed, plus lease expiries and hints not yet cleaned) and the age of
the oldest job that is due and not claimed. Counts are counters: see the
README on when they can be off.`,
		false,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			queue := addQueueFlag(fs, "")
			return func(args []string) (jobRunner, error) {
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					stats, err := store.Jobs.Stats(ctx, *queue)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(a.stdout, statsToJSON(stats, time.Now()))
					}
					return printStats(a.stdout, stats, time.Now())
				}, nil
			}
		})
}

type queueStatsJSON struct {
	Queue           string           `json:"queue"`
	Counts          map[string]int64 `json:"counts"`
	Due             int              `json:"due"`
	DueCapped       bool             `json:"due_capped"`
	OldestDue       *time.Time       `json:"oldest_due,omitempty"`
	OldestDueAgeSec float64          `json:"oldest_due_age_seconds"`
	CountsSettled   bool             `json:"counts_settled"`
	CountsFoldedAt  *time.Time       `json:"counts_folded_at,omitempty"`
}

func statsToJSON(stats []repo.QueueStats, now time.Time) []queueStatsJSON {
	out := []queueStatsJSON{}
	for _, st := range stats {
		q := queueStatsJSON{Queue: st.Queue, Counts: map[string]int64{}, Due: st.Due, DueCapped: st.DueCapped, CountsSettled: st.Settled}
		if !st.FoldedAt.IsZero() {
			t := st.FoldedAt
			q.CountsFoldedAt = &t
		}
		for s, n := range st.Counts {
			q.Counts[s.String()] = n
		}
		if !st.OldestDue.IsZero() {
			t := st.OldestDue
			q.OldestDue, q.OldestDueAgeSec = &t, now.Sub(t).Seconds()
		}
		out = append(out, q)
	}
	return out
}

// countsStatus says whether a queue's counts are settled (exact as of their
// last fold) or still settling, with the age of the fold they show.
func countsStatus(st repo.QueueStats, now time.Time) string {
	status := "settling"
	if st.Settled {
		status = "settled"
	}
	if !st.FoldedAt.IsZero() {
		status += fmt.Sprintf(" (folded %s ago)", now.Sub(st.FoldedAt).Round(time.Second))
	}
	return status
}

func printStats(w io.Writer, stats []repo.QueueStats, now time.Time) error {
	if len(stats) == 0 {
		fmt.Fprintln(w, "no queues yet")
		return nil
	}
	header := []any{"queue"}
	for _, s := range repo.States() {
		header = append(header, s.String())
	}
	header = append(header, "due", "oldest due", "counts")
	t := newTable(w)
	t.Header(header...)
	for _, st := range stats {
		row := []any{st.Queue}
		for _, s := range repo.States() {
			row = append(row, st.Counts[s])
		}
		due := fmt.Sprint(st.Due)
		if st.DueCapped {
			due += "+"
		}
		oldest := "-"
		if !st.OldestDue.IsZero() {
			oldest = now.Sub(st.OldestDue).Round(time.Second).String() + " ago"
		}
		row = append(row, due, oldest, countsStatus(st, now))
		if err := t.Append(row...); err != nil {
			return err
		}
	}
	return t.Render()
}

func getCommand() command {
	return jobCommand("get", "ID [connection flags]", "print one job",
		`Prints the job with the given id. Exit code 4 when there is none.`,
		true,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			return func(args []string) (jobRunner, error) {
				id, err := oneID(args)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					job, err := store.Jobs.Get(ctx, id)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(a.stdout, jobToJSON(job))
					}
					printJob(a.stdout, job)
					return nil
				}, nil
			}
		})
}

func listCommand() command {
	return jobCommand("list", "--state S [--queue Q] [--limit N] [--cursor C] [connection flags]", "list jobs in a state",
		`Lists up to --limit jobs in a state, in one queue or all. Scheduled, Failed
and Processing jobs come soonest due first; others newest first. A list with
more jobs than --limit (up to 1,000) ends with the --cursor that lists the
next page; a deep page costs what the first does.`,
		false,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			queue := addQueueFlag(fs, "")
			state := fs.String("state", "", "the state: "+stateNames())
			limit := fs.Int("limit", 20, "the most jobs to list (1 to 10,000; pages of up to 1,000 give a --cursor to go on)")
			cursor := fs.String("cursor", "", "go on from the cursor a previous page printed")
			return func(args []string) (jobRunner, error) {
				st, err := parseState(*state)
				if err != nil {
					return nil, err
				}
				if *limit < 1 || *limit > 10_000 || *cursor != "" && *limit > 1000 {
					return nil, usagef("--limit %d: want 1 to 10,000 (1 to 1,000 with --cursor)", *limit)
				}
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					var jobs []*repo.Job
					next := ""
					if *limit <= 1000 {
						page, err := store.Jobs.ListPage(ctx, &repo.ListPageParams{Queue: *queue, State: st, Limit: *limit, Cursor: *cursor})
						if err != nil {
							return err
						}
						jobs, next = page.Jobs, page.Next
					} else {
						jobs, err = store.Jobs.ListByState(ctx, &repo.ListParams{Queue: *queue, State: st, Limit: *limit})
						if err != nil {
							return err
						}
					}
					if asJSON {
						out := make([]jobJSON, 0, len(jobs))
						for _, j := range jobs {
							out = append(out, jobToJSON(j))
						}
						if next != "" {
							fmt.Fprintf(a.stderr, "more: --cursor %s\n", next)
						}
						return writeJSON(a.stdout, out)
					}
					t := newTable(a.stdout)
					t.Header("id", "queue", "type", "state", "scheduled", "retries", "last error")
					for _, j := range jobs {
						if err := t.Append(j.ID.String(), j.Queue, j.Type, j.State.String(), formatTime(j.ScheduledAt),
							fmt.Sprintf("%d/%d", j.RetryCount, j.MaxRetries), shorten(j.LastError, 40)); err != nil {
							return err
						}
					}
					if err := t.Render(); err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "%d jobs\n", len(jobs))
					if next != "" {
						fmt.Fprintf(a.stdout, "more: --cursor %s\n", next)
					}
					return nil
				}, nil
			}
		})
}

func enqueueCommand() command {
	return jobCommand("enqueue", "--type T [--args JSON] [--queue Q] [--at TIME | --in DURATION] [--max-retries N] [connection flags]", "store a new job",
		`Stores a job of the given type with JSON arguments, due now, at --at (RFC 3339,
e.g. 2026-12-01T09:00:00Z) or --in a duration. Prints its id.`,
		false,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			queue := addQueueFlag(fs, repo.DefaultQueue)
			typ := fs.String("type", "", "the job type (names the handler)")
			args := fs.String("args", "{}", "the arguments, as JSON")
			at := fs.String("at", "", "when the job may run, RFC 3339")
			in := fs.Duration("in", 0, "run the job after this duration")
			retries := fs.Int("max-retries", 0, "retries after a failed first attempt (0: the store's default, -1: none)")
			return func(rest []string) (jobRunner, error) {
				if *typ == "" {
					return nil, usagef("--type is required")
				}
				if !json.Valid([]byte(*args)) {
					return nil, usagef("--args is not valid JSON: %s", shorten(*args, 60))
				}
				when, err := dueTime(*at, *in)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					job, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: *queue, Type: *typ, Args: []byte(*args), ScheduledAt: when, MaxRetries: *retries})
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(a.stdout, jobToJSON(job))
					}
					fmt.Fprintln(a.stdout, job.ID)
					return nil
				}, nil
			}
		})
}

func requeueCommand() command {
	return jobCommand("requeue", "ID [--at TIME | --in DURATION] [connection flags]", "schedule a finished or failed job again",
		`Schedules a Succeeded, Cancelled, Abandoned, Failed, Created or Scheduled job
to run again, now or at --at / --in, with its retries reset. Exit code 4 when
there is no such job, 5 when it is Processing or waiting for a parent.`,
		true,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			at := fs.String("at", "", "when the job may run, RFC 3339")
			in := fs.Duration("in", 0, "run the job after this duration")
			return func(args []string) (jobRunner, error) {
				id, err := oneID(args)
				if err != nil {
					return nil, err
				}
				when, err := dueTime(*at, *in)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					job, err := store.Jobs.Requeue(ctx, id, when)
					if err != nil {
						return err
					}
					return printChanged(a, job, asJSON)
				}, nil
			}
		})
}

func cancelCommand() command {
	return jobCommand("cancel", "ID [connection flags]", "cancel a job that has not finished",
		`Cancels a job. A running job's worker loses its lease and its handler's context
is cancelled; the job's continuations are cancelled with it. Exit code 4 when
there is no such job, 5 when it has finished already.`,
		true,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			return func(args []string) (jobRunner, error) {
				id, err := oneID(args)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					job, err := store.Jobs.Cancel(ctx, id)
					if err != nil {
						return err
					}
					return printChanged(a, job, asJSON)
				}, nil
			}
		})
}

func purgeCommand() command {
	return jobCommand("purge", "--state S --older-than D [--queue Q] [--dry-run] [connection flags]", "delete finished jobs older than a duration",
		`Deletes Succeeded, Cancelled or Abandoned jobs that finished more than
--older-than ago (e.g. 72h), oldest first, in one queue or all. With --dry-run
it counts them and deletes nothing. Progress shows on a terminal, and as a
line every few seconds otherwise. Finished jobs also expire on their own after
the store's retention (7 days by default).`,
		false,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			queue := addQueueFlag(fs, "")
			state := fs.String("state", "", "Succeeded, Cancelled or Abandoned")
			older := fs.Duration("older-than", 0, "purge jobs that finished more than this long ago")
			dry := fs.Bool("dry-run", false, "count, do not delete")
			return func(args []string) (jobRunner, error) {
				st, err := parseState(*state)
				if err != nil {
					return nil, err
				}
				if !st.Final() {
					return nil, usagef("--state %s: only Succeeded, Cancelled or Abandoned jobs are purged", st)
				}
				if *older <= 0 {
					return nil, usagef("--older-than is required, e.g. --older-than 72h")
				}
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					progress := newProgress(a.stderr, "purging", *dry || asJSON)
					n, err := store.Jobs.Purge(ctx, &repo.PurgeParams{Queue: *queue, State: st, OlderThan: *older, DryRun: *dry, Progress: progress.set})
					progress.done()
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(a.stdout, map[string]any{"state": st.String(), "older_than": older.String(), "dry_run": *dry, "jobs": n})
					}
					verb := "purged"
					if *dry {
						verb = "would purge"
					}
					fmt.Fprintf(a.stdout, "%s %d %s jobs older than %s\n", verb, n, st, *older)
					return nil
				}, nil
			}
		})
}

// progress shows a count going up: a live line on a terminal, a plain line
// now and then otherwise.
type progress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	label string
	quiet bool
	last  time.Time
}

func newProgress(w io.Writer, label string, quiet bool) *progress {
	p := &progress{w: w, label: label, quiet: quiet}
	if f, ok := w.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(), progressbar.OptionSpinnerType(14), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *progress) set(n int) {
	switch {
	case p.quiet:
	case p.bar != nil:
		_ = p.bar.Set(n)
	case time.Since(p.last) > 2*time.Second:
		p.last = time.Now()
		fmt.Fprintf(p.w, "%s: %d so far\n", p.label, n)
	}
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func addQueueFlag(fs *flagSet, def string) *string {
	help := "the queue (empty: every queue)"
	if def != "" {
		help = "the queue"
	}
	q := fs.String("queue", def, help)
	fs.fromEnv("queue", "JOBSHARP_QUEUE")
	return q
}

func oneID(args []string) (gocql.UUID, error) {
	if len(args) != 1 {
		return gocql.UUID{}, usagef("want one job id, got %d arguments", len(args))
	}
	id, err := gocql.ParseUUID(args[0])
	if err != nil {
		return gocql.UUID{}, usagef("%q is not a job id (a UUID)", args[0])
	}
	return id, nil
}

func parseState(s string) (repo.State, error) {
	if s == "" {
		return 0, usagef("--state is required: %s", stateNames())
	}
	st, err := repo.ParseState(s)
	if err != nil {
		return 0, usagef("--state %q: want one of %s", s, stateNames())
	}
	return st, nil
}

func stateNames() string {
	var names []string
	for _, s := range repo.States() {
		names = append(names, s.String())
	}
	return strings.Join(names, ", ")
}

func dueTime(at string, in time.Duration) (time.Time, error) {
	switch {
	case at != "" && in != 0:
		return time.Time{}, usagef("give --at or --in, not both")
	case at != "":
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return time.Time{}, usagef("--at %q: want RFC 3339, e.g. 2026-12-01T09:00:00Z", at)
		}
		return t, nil
	case in < 0:
		return time.Time{}, usagef("--in %s: want a positive duration", in)
	case in > 0:
		return time.Now().Add(in), nil
	}
	return time.Time{}, nil
}

// jobJSON is a job as --json prints it.
type jobJSON struct {
	ID          string            `json:"id"`
	Queue       string            `json:"queue"`
	Type        string            `json:"type"`
	State       string            `json:"state"`
	Version     int64             `json:"version"`
	Args        json.RawMessage   `json:"args,omitempty"`
	ArgsBase64  []byte            `json:"args_base64,omitempty"`
	CreatedAt   *time.Time        `json:"created_at,omitempty"`
	ScheduledAt *time.Time        `json:"scheduled_at,omitempty"`
	StartedAt   *time.Time        `json:"started_at,omitempty"`
	FinishedAt  *time.Time        `json:"finished_at,omitempty"`
	RetryCount  int               `json:"retry_count"`
	MaxRetries  int               `json:"max_retries"`
	LastError   string            `json:"last_error,omitempty"`
	BatchID     string            `json:"batch_id,omitempty"`
	ParentID    string            `json:"parent_id,omitempty"`
	RecurringID string            `json:"recurring_id,omitempty"`
	LeaseOwner  string            `json:"lease_owner,omitempty"`
	LeaseUntil  *time.Time        `json:"lease_until,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

func jobToJSON(j *repo.Job) jobJSON {
	out := jobJSON{
		ID: j.ID.String(), Queue: j.Queue, Type: j.Type, State: j.State.String(), Version: j.Version,
		CreatedAt: timePtr(j.CreatedAt), ScheduledAt: timePtr(j.ScheduledAt), StartedAt: timePtr(j.StartedAt),
		FinishedAt: timePtr(j.FinishedAt), RetryCount: j.RetryCount, MaxRetries: j.MaxRetries, LastError: j.LastError,
		BatchID: uuidString(j.BatchID), ParentID: uuidString(j.ParentID), RecurringID: j.RecurringID,
		LeaseOwner: j.Lease.Owner, LeaseUntil: timePtr(j.Lease.Until), Metadata: j.Metadata,
	}
	if json.Valid(j.Args) {
		out.Args = j.Args
	} else {
		out.ArgsBase64 = j.Args
	}
	return out
}

func printJob(w io.Writer, j *repo.Job) {
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-14s %s\n", k+":", v)
		}
	}
	row("id", j.ID.String())
	row("queue", j.Queue)
	row("type", j.Type)
	row("state", j.State.String())
	row("version", fmt.Sprint(j.Version))
	row("args", shorten(string(j.Args), 200))
	row("created", formatTime(j.CreatedAt))
	row("scheduled", formatTime(j.ScheduledAt))
	row("started", formatTime(j.StartedAt))
	row("finished", formatTime(j.FinishedAt))
	row("retries", fmt.Sprintf("%d of %d", j.RetryCount, j.MaxRetries))
	row("last error", j.LastError)
	row("batch", uuidString(j.BatchID))
	row("parent", uuidString(j.ParentID))
	row("recurring", j.RecurringID)
	if j.Lease.Owner != "" || !j.Lease.Until.IsZero() {
		row("lease", fmt.Sprintf("%s until %s", j.Lease.Owner, formatTime(j.Lease.Until)))
	}
	keys := make([]string, 0, len(j.Metadata))
	for k := range j.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		row("meta "+k, j.Metadata[k])
	}
}

func printChanged(a *app, job *repo.Job, asJSON bool) error {
	if asJSON {
		return writeJSON(a.stdout, jobToJSON(job))
	}
	fmt.Fprintf(a.stdout, "%s %s", job.ID, job.State)
	if job.State == repo.StateScheduled {
		fmt.Fprintf(a.stdout, " at %s", formatTime(job.ScheduledAt))
	}
	fmt.Fprintln(a.stdout)
	return nil
}

func newTable(w io.Writer) *tablewriter.Table { return tablewriter.NewTable(w) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func uuidString(id gocql.UUID) string {
	if id == (gocql.UUID{}) {
		return ""
	}
	return id.String()
}

func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
