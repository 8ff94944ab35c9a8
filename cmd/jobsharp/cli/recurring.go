package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jobsharp/cassandra/repo"
)

// recurringJSON is a schedule as `recurring list --json` and the other
// recurring commands print it.
type recurringJSON struct {
	ID             string            `json:"id"`
	Cron           string            `json:"cron"`
	Timezone       string            `json:"timezone,omitempty"`
	Queue          string            `json:"queue"`
	Type           string            `json:"type"`
	Args           json.RawMessage   `json:"args,omitempty"`
	ArgsBase64     []byte            `json:"args_base64,omitempty"`
	MaxRetries     int               `json:"max_retries"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Paused         bool              `json:"paused"`
	PausedAt       *time.Time        `json:"paused_at,omitempty"`
	LastRunAt      *time.Time        `json:"last_run_at,omitempty"`
	LastJobID      string            `json:"last_job_id,omitempty"`
	NextRunAt      *time.Time        `json:"next_run_at,omitempty"`
	TriggeredAt    *time.Time        `json:"triggered_at,omitempty"`
	TriggeredJobID string            `json:"triggered_job_id,omitempty"`
	CreatedAt      *time.Time        `json:"created_at,omitempty"`
	UpdatedAt      *time.Time        `json:"updated_at,omitempty"`
}

func recurringToJSON(rj *repo.RecurringJob) recurringJSON {
	out := recurringJSON{
		ID: rj.ID, Cron: rj.Cron, Timezone: rj.Timezone, Queue: rj.Queue, Type: rj.Type, MaxRetries: rj.MaxRetries,
		Metadata: rj.Metadata, Paused: rj.Paused, PausedAt: timePtr(rj.PausedAt), LastRunAt: timePtr(rj.LastRunAt),
		LastJobID: uuidString(rj.LastJobID), NextRunAt: timePtr(rj.NextRunAt), TriggeredAt: timePtr(rj.TriggeredAt),
		TriggeredJobID: uuidString(rj.TriggeredJobID), CreatedAt: timePtr(rj.CreatedAt), UpdatedAt: timePtr(rj.UpdatedAt),
	}
	if json.Valid(rj.Args) {
		out.Args = rj.Args
	} else {
		out.ArgsBase64 = rj.Args
	}
	return out
}

// oneSchedule returns the schedule id of a recurring command's arguments.
func oneSchedule(args []string) (string, error) {
	if len(args) != 1 || args[0] == "" {
		return "", usagef("want one schedule id, got %d arguments", len(args))
	}
	return args[0], nil
}

func recurringListCommand() command {
	return jobCommand("recurring list", "[--queue Q] [connection flags]", "recurring schedules with their last and next fire",
		`Lists the recurring schedules (of one queue, or all): their cron expression,
the last occurrence that created a job, the next one (blank while paused; in
the past when no scheduler has run since it came due), whether they are
paused, and the last job created by 'recurring trigger'.`,
		false,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			queue := addQueueFlag(fs, "")
			return func(args []string) (jobRunner, error) {
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					all, err := store.Recurring.List(ctx)
					if err != nil {
						return err
					}
					var shown []*repo.RecurringJob
					for _, rj := range all {
						if *queue == "" || rj.Queue == *queue {
							shown = append(shown, rj)
						}
					}
					if asJSON {
						out := make([]recurringJSON, 0, len(shown))
						for _, rj := range shown {
							out = append(out, recurringToJSON(rj))
						}
						return writeJSON(a.stdout, out)
					}
					t := newTable(a.stdout)
					t.Header("id", "cron", "queue", "type", "last fire", "next fire", "paused", "triggered")
					for _, rj := range shown {
						cron := rj.Cron
						if rj.Timezone != "" {
							cron += " (" + rj.Timezone + ")"
						}
						paused := ""
						if rj.Paused {
							paused = "since " + formatTime(rj.PausedAt)
						}
						if err := t.Append(rj.ID, cron, rj.Queue, rj.Type, formatTime(rj.LastRunAt), formatTime(rj.NextRunAt), paused, formatTime(rj.TriggeredAt)); err != nil {
							return err
						}
					}
					if err := t.Render(); err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "%d schedules\n", len(shown))
					return nil
				}, nil
			}
		})
}

// recurringCommand is a command that acts on one schedule by id.
func recurringCommand(name, summary, help string, flags func(fs *flagSet) func(ctx context.Context, a *app, store *repo.Store, id string, asJSON bool) error) command {
	return jobCommand("recurring "+name, "ID [connection flags]", summary, help, true,
		func(fs *flagSet) func([]string) (jobRunner, error) {
			run := flags(fs)
			return func(args []string) (jobRunner, error) {
				id, err := oneSchedule(args)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, a *app, store *repo.Store, asJSON bool) error {
					return run(ctx, a, store, id, asJSON)
				}, nil
			}
		})
}

// printSchedule prints a schedule after a change: the line of a list, or
// its JSON.
func printSchedule(a *app, rj *repo.RecurringJob, asJSON bool) error {
	if asJSON {
		return writeJSON(a.stdout, recurringToJSON(rj))
	}
	if rj.Paused {
		_, err := fmt.Fprintf(a.stdout, "%s paused since %s\n", rj.ID, formatTime(rj.PausedAt))
		return err
	}
	_, err := fmt.Fprintf(a.stdout, "%s active, next fire %s\n", rj.ID, formatTime(rj.NextRunAt))
	return err
}

func recurringPauseCommand() command {
	return recurringCommand("pause", "stop a schedule from firing",
		`Pauses a recurring schedule: its occurrences create no job until it is
resumed. Jobs it created already are not touched. Schedulers notice at their
next pass. Exit code 4 when there is no such schedule.`,
		func(fs *flagSet) func(ctx context.Context, a *app, store *repo.Store, id string, asJSON bool) error {
			return func(ctx context.Context, a *app, store *repo.Store, id string, asJSON bool) error {
				rj, err := store.Recurring.Pause(ctx, id)
				if err != nil {
					return err
				}
				return printSchedule(a, rj, asJSON)
			}
		})
}

func recurringResumeCommand() command {
	return recurringCommand("resume", "let a paused schedule fire again",
		`Resumes a paused recurring schedule. The occurrences that passed while it was
paused are skipped; with --catch-up the schedulers treat them as missed during
downtime (their missed-occurrence policy decides: by default one job, for the
latest). Exit code 4 when there is no such schedule.`,
		func(fs *flagSet) func(ctx context.Context, a *app, store *repo.Store, id string, asJSON bool) error {
			catchUp := fs.Bool("catch-up", false, "fire what was missed while paused, by the schedulers' missed-occurrence policy")
			return func(ctx context.Context, a *app, store *repo.Store, id string, asJSON bool) error {
				rj, err := store.Recurring.Resume(ctx, id, &repo.ResumeOpts{CatchUp: *catchUp})
				if err != nil {
					return err
				}
				return printSchedule(a, rj, asJSON)
			}
		})
}

func recurringTriggerCommand() command {
	return recurringCommand("trigger", "create one job of a schedule now",
		`Creates one job of the schedule's type, arguments and queue, due now, in
addition to its occurrences (also while paused). Prints the job's id and
state (--json: the job). Exit code 4 when there is no such schedule.`,
		func(fs *flagSet) func(ctx context.Context, a *app, store *repo.Store, id string, asJSON bool) error {
			return func(ctx context.Context, a *app, store *repo.Store, id string, asJSON bool) error {
				job, err := store.Recurring.Trigger(ctx, id)
				if err != nil {
					return err
				}
				return printChanged(a, job, asJSON)
			}
		})
}

func recurringRemoveCommand() command {
	return recurringCommand("remove", "delete a schedule",
		`Deletes a recurring schedule. Jobs it created stay. Exit code 4 when there is
no such schedule.`,
		func(fs *flagSet) func(ctx context.Context, a *app, store *repo.Store, id string, asJSON bool) error {
			return func(ctx context.Context, a *app, store *repo.Store, id string, asJSON bool) error {
				if err := store.Recurring.Remove(ctx, id); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, map[string]any{"id": id, "removed": true})
				}
				_, err := fmt.Fprintf(a.stdout, "%s removed\n", id)
				return err
			}
		})
}
