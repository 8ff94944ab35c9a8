package repo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	_ "time/tzdata" // schedules name time zones; do not depend on the host's zoneinfo

	"github.com/gocql/gocql"
	"github.com/robfig/cron/v3"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// Recurring stores cron schedules and turns their occurrences into jobs. Get
// it from [Store.Recurring].
type Recurring struct{ s *Store }

// RecurringJob is a cron schedule and the job each occurrence creates.
type RecurringJob struct {
	// ID names the schedule; 1 to 255 bytes.
	ID string
	// Cron is a standard five-field expression ("*/5 * * * *") or a
	// descriptor ("@hourly", "@every 90s").
	Cron string
	// Timezone the expression is read in (IANA name); default UTC.
	Timezone string
	// Queue, Type, Args, MaxRetries and Metadata are those of every job the
	// schedule creates (see [NewJob]).
	Queue      string
	Type       string
	Args       []byte
	MaxRetries int
	Metadata   map[string]string

	CreatedAt time.Time
	UpdatedAt time.Time
	// NextRunAt is the next occurrence after LastRunAt.
	NextRunAt time.Time
	// LastRunAt is the last occurrence that created a job, and LastJobID
	// that job.
	LastRunAt time.Time
	LastJobID gocql.UUID
}

// cronParser accepts the standard five fields and descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// schedule parses a recurring job's expression in its time zone.
func (rj *RecurringJob) schedule() (cron.Schedule, *time.Location, error) {
	sched, err := cronParser.Parse(rj.Cron)
	if err != nil {
		return nil, nil, invalid("cron", "%q: %v", rj.Cron, err)
	}
	loc := time.UTC
	if rj.Timezone != "" {
		if loc, err = time.LoadLocation(rj.Timezone); err != nil {
			return nil, nil, invalid("timezone", "%q: %v", rj.Timezone, err)
		}
	}
	return sched, loc, nil
}

// next returns the first occurrence after t, in UTC and milliseconds.
func next(sched cron.Schedule, loc *time.Location, t time.Time) time.Time {
	return ms(sched.Next(t.In(loc)))
}

// Upsert stores or replaces a schedule (JobSharp's StoreRecurringJob). A
// replaced schedule keeps its last run, so changing it does not fire an
// occurrence twice. Returns [ErrInvalid] for a bad expression, time zone or
// job.
func (r *Recurring) Upsert(ctx context.Context, rj *RecurringJob) (*RecurringJob, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	s := r.s
	if rj == nil {
		return nil, invalid("recurring job", "nil")
	}
	if err := validRecurringID(rj.ID); err != nil {
		return nil, err
	}
	if err := validText("cron", rj.Cron); err != nil {
		return nil, err
	}
	if err := validText("timezone", rj.Timezone); err != nil {
		return nil, err
	}
	sched, loc, err := rj.schedule()
	if err != nil {
		return nil, err
	}
	if _, err := s.newJob(ctx, &NewJob{Queue: rj.Queue, Type: rj.Type, Args: rj.Args, MaxRetries: rj.MaxRetries, Metadata: rj.Metadata}, s.now(), 0); err != nil {
		return nil, err
	}
	out := *rj
	out.Args, out.Metadata = slices.Clone(rj.Args), maps.Clone(rj.Metadata)
	if out.Queue == "" {
		out.Queue = DefaultQueue
	}
	now := s.now()
	out.UpdatedAt = now
	out.CreatedAt, out.LastRunAt, out.LastJobID = now, time.Time{}, gocql.UUID{}
	if cur, err := r.Get(ctx, rj.ID); err == nil {
		out.CreatedAt, out.LastRunAt, out.LastJobID = cur.CreatedAt, cur.LastRunAt, cur.LastJobID
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	out.NextRunAt = next(sched, loc, maxTime(out.LastRunAt, now))
	if err := s.exec(queries.RecurringUpsert, s.db.RecurringUpsert(ctx, recurringRow(&out))); err != nil {
		return nil, fmt.Errorf("store recurring job %s: %w", rj.ID, err)
	}
	return &out, nil
}

func recurringRow(rj *RecurringJob) models.RecurringJobsRow {
	return models.RecurringJobsRow{
		Shard: 0, ID: rj.ID, Queue: rj.Queue, Cron: rj.Cron, Timezone: rj.Timezone, Type: rj.Type, Args: rj.Args,
		MaxRetries: int32(rj.MaxRetries), Metadata: rj.Metadata, CreatedAt: ms(rj.CreatedAt), UpdatedAt: ms(rj.UpdatedAt),
		NextRunAt: ms(rj.NextRunAt), LastRunAt: ms(rj.LastRunAt), LastJobID: rj.LastJobID,
	}
}

func recurringFromRow(r *models.RecurringJobsRow) *RecurringJob {
	return &RecurringJob{
		ID: r.ID, Queue: r.Queue, Cron: r.Cron, Timezone: r.Timezone, Type: r.Type, Args: r.Args,
		MaxRetries: int(r.MaxRetries), Metadata: r.Metadata, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
		NextRunAt: utc(r.NextRunAt), LastRunAt: utc(r.LastRunAt), LastJobID: r.LastJobID,
	}
}

// Get returns one schedule, or [ErrNotFound].
func (r *Recurring) Get(ctx context.Context, id string) (*RecurringJob, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if err := validRecurringID(id); err != nil {
		return nil, err
	}
	row, err := r.s.db.RecurringGet(ctx, 0, id).One()
	if err != nil {
		return nil, fmt.Errorf("get recurring job %s: %w", id, r.s.interpret(queries.RecurringGet.Name, err))
	}
	return recurringFromRow(&row), nil
}

// List returns every schedule in id order (JobSharp's GetRecurringJobs).
func (r *Recurring) List(ctx context.Context) ([]*RecurringJob, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	rows, err := r.s.db.RecurringList(ctx, 0).All()
	if err != nil {
		return nil, fmt.Errorf("list recurring jobs: %w", r.s.interpret(queries.RecurringList.Name, err))
	}
	out := make([]*RecurringJob, 0, len(rows))
	for i := range rows {
		if rows[i].Cron == "" {
			// Only the run times of a schedule removed while it fired.
			_ = r.Remove(ctx, rows[i].ID)
			continue
		}
		out = append(out, recurringFromRow(&rows[i]))
	}
	return out, nil
}

// Remove deletes a schedule (JobSharp's RemoveRecurringJob). Jobs it already
// created stay. Removing a missing schedule is not an error.
func (r *Recurring) Remove(ctx context.Context, id string) error {
	if err := r.check(ctx); err != nil {
		return err
	}
	if err := validRecurringID(id); err != nil {
		return err
	}
	if err := r.s.exec(queries.RecurringDelete, r.s.db.RecurringDelete(ctx, 0, id)); err != nil {
		return fmt.Errorf("remove recurring job %s: %w", id, err)
	}
	return nil
}

// MissedPolicy says what happens to occurrences that passed while no
// scheduler ran.
type MissedPolicy int

const (
	// FireLatest creates one job, for the most recent missed occurrence
	// (the default, as Hangfire does).
	FireLatest MissedPolicy = iota
	// FireAll creates a job for every missed occurrence, up to
	// FireParams.MaxCatchUp.
	FireAll
	// SkipMissed creates no job for missed occurrences; the schedule resumes
	// with the next one. An occurrence less than Grace old is not missed.
	SkipMissed
)

// FireParams tune [Recurring.Fire].
type FireParams struct {
	// Queues limits firing to schedules of these queues; empty fires all.
	Queues []string
	// Missed is the policy for occurrences missed during downtime.
	Missed MissedPolicy
	// MaxCatchUp bounds FireAll; default 100.
	MaxCatchUp int
}

// Fire creates the jobs of every occurrence that is due, and returns them.
// Each occurrence's job id is derived from the schedule id and the
// occurrence time and created only if absent, so any number of schedulers
// may call Fire at once: each occurrence becomes exactly one job. Run it
// periodically from every worker; no leader is needed.
func (r *Recurring) Fire(ctx context.Context, p *FireParams) ([]*Job, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	s := r.s
	if p == nil {
		p = &FireParams{}
	}
	for _, q := range p.Queues {
		if err := ValidQueue(q); err != nil {
			return nil, err
		}
	}
	catchUp := p.MaxCatchUp
	if catchUp <= 0 {
		catchUp = 100
	}
	all, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var fired []*Job
	var errs []error
	for _, rj := range all {
		if len(p.Queues) > 0 && !slices.Contains(p.Queues, rj.Queue) {
			continue
		}
		sched, loc, err := rj.schedule()
		if err != nil {
			errs = append(errs, fmt.Errorf("recurring job %s: %w", rj.ID, err))
			continue
		}
		from := rj.LastRunAt
		if from.IsZero() {
			from = rj.CreatedAt
		}
		due, last := occurrences(sched, loc, from, now, catchUp, p.Missed, s.set.grace)
		if last.IsZero() {
			continue
		}
		lastJob := rj.LastJobID
		qn, err := s.queueNumber(ctx, rj.Queue)
		if err != nil {
			errs = append(errs, fmt.Errorf("recurring job %s: %w", rj.ID, err))
			continue
		}
		for _, t := range due {
			meta := maps.Clone(rj.Metadata)
			if meta == nil {
				meta = map[string]string{}
			}
			meta["recurring_occurrence"] = t.Format(time.RFC3339)
			job, err := s.newJob(ctx, &NewJob{ID: occurrenceID(rj.ID, t, qn), Queue: rj.Queue, Type: rj.Type, Args: rj.Args, MaxRetries: rj.MaxRetries, ScheduledAt: t, Metadata: meta}, s.now(), 0)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			job.RecurringID = rj.ID
			created, fresh, err := s.create(ctx, []*Job{job}, nil)
			if err != nil {
				errs = append(errs, fmt.Errorf("fire recurring job %s at %s: %w", rj.ID, t, err))
				last = t.Add(-time.Millisecond) // retry from here next time
				break
			}
			lastJob = created[0].ID
			if fresh[0] {
				fired = append(fired, created[0])
			}
		}
		nextRun := next(sched, loc, maxTime(last, now))
		if err := s.exec(queries.RecurringAdvance, s.db.RecurringAdvance(ctx, nextRun, last, lastJob, 0, rj.ID)); err != nil {
			errs = append(errs, fmt.Errorf("advance recurring job %s: %w", rj.ID, err))
		}
	}
	return fired, errors.Join(errs...)
}

// occurrences returns the occurrences of sched (in loc) after from and not
// after now that get a job under the missed policy, oldest first, and the
// latest occurrence (zero when none passed). FireAll keeps the latest
// catchUp occurrences, FireLatest the latest one, SkipMissed those less
// than grace before now.
func occurrences(sched cron.Schedule, loc *time.Location, from, now time.Time, catchUp int, missed MissedPolicy, grace time.Duration) (due []time.Time, last time.Time) {
	for t := next(sched, loc, from); !t.IsZero() && !t.After(now); t = next(sched, loc, t) {
		due = append(due, t)
		if len(due) > catchUp {
			due = due[1:]
		}
	}
	if len(due) == 0 {
		return nil, time.Time{}
	}
	last = due[len(due)-1]
	switch missed {
	case FireLatest:
		due = due[len(due)-1:]
	case SkipMissed:
		due = slices.DeleteFunc(due, func(t time.Time) bool { return now.Sub(t) > grace })
	}
	return due, last
}

// validRecurringID refuses a schedule id that is empty, longer than 255
// bytes or not valid UTF-8.
func validRecurringID(id string) error {
	if id == "" || len(id) > 255 {
		return invalid("id", "must be 1 to 255 bytes, got %d", len(id))
	}
	return validText("id", id)
}
