package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jobsharp/cassandra/repo"
)

func queueListCommand() command {
	return jobCommand("queue list", "[connection flags]", "queues with their paused flag and jobs per state",
		`Lists every queue (in name order) with its paused flag and the number of
jobs in each state. Counts lag the jobs a little: see the README.`,
		false,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			return func(args []string) (jobRunner, error) {
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					queues, err := store.Queues.List(ctx)
					if err != nil {
						return err
					}
					if asJSON {
						out := make([]queueJSON, 0, len(queues))
						for _, q := range queues {
							out = append(out, queueToJSON(q))
						}
						return writeJSON(a.stdout, out)
					}
					return printQueues(a.stdout, queues)
				}, nil
			}
		})
}

func queuePauseCommand() command {
	return queueSetCommand("queue pause", "pause a queue: processors stop claiming its jobs",
		`Pauses the queue: it still accepts jobs, but every processor stops claiming
its jobs within one poll interval (PollInterval, 1s by default). Jobs
already running go on to their end. Exit code 4 when the queue does not
exist (a queue exists from its first job).`,
		func(ctx context.Context, store *repo.Store, queue string) error {
			return store.Queues.Pause(ctx, queue)
		})
}

func queueResumeCommand() command {
	return queueSetCommand("queue resume", "resume a paused queue",
		`Resumes the queue: every processor claims its jobs again within one poll
interval. Exit code 4 when the queue does not exist.`,
		func(ctx context.Context, store *repo.Store, queue string) error {
			return store.Queues.Resume(ctx, queue)
		})
}

// queueSetCommand is pause or resume: one queue name, checked before
// connecting; prints the queue as it now stands.
func queueSetCommand(name, summary, help string, set func(context.Context, *repo.Store, string) error) command {
	return jobCommand(name, "QUEUE [connection flags]", summary, help, true,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			return func(args []string) (jobRunner, error) {
				if len(args) != 1 {
					return nil, usagef("want one queue name, got %d arguments", len(args))
				}
				queue := args[0]
				if err := repo.ValidQueue(queue); err != nil {
					return nil, usagef("%v", err)
				}
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					if err := set(ctx, store, queue); err != nil {
						return err
					}
					queues, err := store.Queues.List(ctx)
					if err != nil {
						return err
					}
					i := slices.IndexFunc(queues, func(q repo.QueueInfo) bool { return q.Name == queue })
					if i < 0 {
						return &repo.QueueNotFoundError{Queue: queue}
					}
					q := queues[i]
					if asJSON {
						return writeJSON(a.stdout, queueToJSON(q))
					}
					if q.Paused {
						fmt.Fprintf(a.stdout, "queue %s paused: processors stop claiming its jobs within one poll interval; running jobs go on (%d Scheduled, %d Processing)\n",
							q.Name, q.Counts[repo.StateScheduled], q.Counts[repo.StateProcessing])
					} else {
						fmt.Fprintf(a.stdout, "queue %s resumed: processors claim its jobs again within one poll interval (%d Scheduled)\n", q.Name, q.Counts[repo.StateScheduled])
					}
					return nil
				}, nil
			}
		})
}

type queueJSON struct {
	Queue          string           `json:"queue"`
	Paused         bool             `json:"paused"`
	PausedAt       *time.Time       `json:"paused_at,omitempty"`
	CreatedAt      *time.Time       `json:"created_at,omitempty"`
	Counts         map[string]int64 `json:"counts"`
	CountsSettled  bool             `json:"counts_settled"`
	CountsFoldedAt *time.Time       `json:"counts_folded_at,omitempty"`
}

func queueToJSON(q repo.QueueInfo) queueJSON {
	out := queueJSON{Queue: q.Name, Paused: q.Paused, PausedAt: timePtr(q.PausedAt), CreatedAt: timePtr(q.CreatedAt),
		Counts: map[string]int64{}, CountsSettled: q.Settled, CountsFoldedAt: timePtr(q.FoldedAt)}
	for s, n := range q.Counts {
		out.Counts[s.String()] = n
	}
	return out
}

func printQueues(w io.Writer, queues []repo.QueueInfo) error {
	if len(queues) == 0 {
		fmt.Fprintln(w, "no queues yet")
		return nil
	}
	header := []any{"queue", "paused"}
	for _, s := range repo.States() {
		header = append(header, s.String())
	}
	t := newTable(w)
	t.Header(header...)
	for _, q := range queues {
		paused := "no"
		if q.Paused {
			paused = "PAUSED since " + formatTime(q.PausedAt)
		}
		row := []any{q.Name, paused}
		for _, s := range repo.States() {
			row = append(row, q.Counts[s])
		}
		if err := t.Append(row...); err != nil {
			return err
		}
	}
	return t.Render()
}

func processorsCommand() command {
	return jobCommand("processors", "[connection flags]", "running processors, as they report themselves",
		`Lists the running processors: each rewrites its row every report interval
(10s by default) with a TTL (3 intervals), and deletes it when it stops; the
row of a processor that died disappears when its TTL runs out. QUEUES shows
running/slots per queue.`,
		false,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			return func(args []string) (jobRunner, error) {
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					procs, err := store.Processors.List(ctx)
					if err != nil {
						return err
					}
					now := time.Now()
					if asJSON {
						out := make([]processorJSON, 0, len(procs))
						for _, p := range procs {
							out = append(out, processorToJSON(p, now))
						}
						return writeJSON(a.stdout, out)
					}
					return printProcessors(a.stdout, procs, now)
				}, nil
			}
		})
}

type processorJSON struct {
	Owner          string         `json:"owner"`
	Host           string         `json:"host"`
	PID            int            `json:"pid"`
	Version        string         `json:"version"`
	Queues         map[string]int `json:"queues"`
	Running        map[string]int `json:"running"`
	RunningTotal   int            `json:"running_total"`
	StartedAt      time.Time      `json:"started_at"`
	LastSeen       time.Time      `json:"last_seen"`
	LastSeenAgeSec float64        `json:"last_seen_age_seconds"`
	ExpiresAt      time.Time      `json:"expires_at"`
}

func processorToJSON(p repo.ProcessorInfo, now time.Time) processorJSON {
	return processorJSON{Owner: p.Owner, Host: p.Host, PID: p.PID, Version: p.Version, Queues: p.Queues, Running: p.Running,
		RunningTotal: p.TotalRunning(), StartedAt: p.StartedAt, LastSeen: p.LastSeen, LastSeenAgeSec: now.Sub(p.LastSeen).Seconds(), ExpiresAt: p.ExpiresAt}
}

// queueSlots is "queue running/slots" per queue, in name order.
func queueSlots(p repo.ProcessorInfo) string {
	var parts []string
	for _, q := range slices.Sorted(maps.Keys(p.Queues)) {
		parts = append(parts, fmt.Sprintf("%s %d/%d", q, p.Running[q], p.Queues[q]))
	}
	return strings.Join(parts, ", ")
}

func printProcessors(w io.Writer, procs []repo.ProcessorInfo, now time.Time) error {
	if len(procs) == 0 {
		fmt.Fprintln(w, "no processors running")
		return nil
	}
	t := newTable(w)
	t.Header("owner", "host", "pid", "version", "queues", "running", "up", "last seen")
	for _, p := range procs {
		if err := t.Append(p.Owner, p.Host, p.PID, p.Version, queueSlots(p), p.TotalRunning(),
			now.Sub(p.StartedAt).Round(time.Second).String(), now.Sub(p.LastSeen).Round(100*time.Millisecond).String()+" ago"); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d processors\n", len(procs))
	return nil
}
