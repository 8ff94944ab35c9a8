package repo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	// NextRunAt is the next occurrence not yet fired or skipped (in the
	// past when no scheduler has run since it came due); zero while paused.
	NextRunAt time.Time
	// LastRunAt is the last occurrence that created a job, and LastJobID
	// that job.
	LastRunAt time.Time
	LastJobID gocql.UUID

	// The fields below are the operator controls' state. Upsert ignores
	// them (a replaced schedule keeps its own); [Recurring.Pause], Resume
	// and Trigger change them.
	//
	// Paused says the schedule creates no jobs ([Recurring.Pause]); PausedAt
	// is when it was paused, ResumedAt when it was last resumed.
	Paused    bool
	PausedAt  time.Time
	ResumedAt time.Time
	// SkipUntil: occurrences at or before it create no job (a resume sets
	// it, so that those passed while paused are skipped).
	SkipUntil time.Time
	// TriggeredAt is when [Recurring.Trigger] last created a job out of
	// schedule, and TriggeredJobID that job.
	TriggeredAt    time.Time
	TriggeredJobID gocql.UUID
}

// ErrScheduleNotFound: no recurring schedule has the given id. Errors that
// match it are [*ScheduleNotFoundError]s and also match [ErrNotFound].
var ErrScheduleNotFound = errors.New("jobsharp: recurring schedule not found")

// ScheduleNotFoundError names a recurring schedule that does not exist. It
// matches [ErrScheduleNotFound] and [ErrNotFound].
type ScheduleNotFoundError struct{ ID string }

func (e *ScheduleNotFoundError) Error() string {
	return fmt.Sprintf("jobsharp: no recurring schedule %q", e.ID)
}

// Is reports whether target is ErrScheduleNotFound or ErrNotFound.
func (e *ScheduleNotFoundError) Is(target error) bool {
	return target == ErrScheduleNotFound || target == ErrNotFound
}

// cronParser accepts the standard five fields and descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// schedule parses a recurring job's expression in its time zone.
func (rj *RecurringJob) schedule() (cron.Schedule, *time.Location, error) {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(rj.Cron), "@every "); ok {
		// robfig/cron runs any interval under a second, zero and negative
		// ones included, every second: refuse what cannot be meant.
		if d, err := time.ParseDuration(strings.TrimSpace(rest)); err == nil && d <= 0 {
			return nil, nil, invalid("cron", "%q: the interval must be positive", rj.Cron)
		} else if err == nil && d < time.Second {
			return nil, nil, invalid("cron", "%q: the interval is under a second, the scheduler's resolution", rj.Cron)
		}
	}
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
	if next(sched, loc, s.now()).IsZero() {
		// robfig/cron gives up after five years without a match.
		return nil, invalid("cron", "%q never fires (no time matches it)", rj.Cron)
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
	out.Paused, out.PausedAt, out.ResumedAt, out.SkipUntil = false, time.Time{}, time.Time{}, time.Time{}
	out.TriggeredAt, out.TriggeredJobID = time.Time{}, gocql.UUID{}
	if cur, err := r.Get(ctx, rj.ID); err == nil {
		out.CreatedAt, out.LastRunAt, out.LastJobID = cur.CreatedAt, cur.LastRunAt, cur.LastJobID
		// Upsert does not write the operator controls; report them as stored.
		out.Paused, out.PausedAt, out.ResumedAt, out.SkipUntil = cur.Paused, cur.PausedAt, cur.ResumedAt, cur.SkipUntil
		out.TriggeredAt, out.TriggeredJobID = cur.TriggeredAt, cur.TriggeredJobID
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	out.NextRunAt = next(sched, loc, maxTime(out.LastRunAt, now))
	if out.Paused {
		out.NextRunAt = time.Time{}
	}
	// The operator controls (paused, triggered) are not written: a replaced
	// schedule keeps them.
	w := s.db.RecurringUpsert(ctx, 0, out.ID, out.Queue, out.Cron, out.Timezone, out.Type, out.Args, int32(out.MaxRetries),
		out.Metadata, ms(out.CreatedAt), ms(out.UpdatedAt), ms(out.NextRunAt), ms(out.LastRunAt), out.LastJobID)
	if err := s.exec(ctx, queries.RecurringUpsert, w); err != nil {
		return nil, fmt.Errorf("store recurring job %s: %w", rj.ID, err)
	}
	return &out, nil
}

func recurringFromRow(r *models.RecurringJobsRow) *RecurringJob {
	return &RecurringJob{
		ID: r.ID, Queue: r.Queue, Cron: r.Cron, Timezone: r.Timezone, Type: r.Type, Args: r.Args,
		MaxRetries: int(r.MaxRetries), Metadata: r.Metadata, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
		NextRunAt: utc(r.NextRunAt), LastRunAt: utc(r.LastRunAt), LastJobID: r.LastJobID,
		Paused: r.Paused, PausedAt: utc(r.PausedAt), ResumedAt: utc(r.ResumedAt), SkipUntil: utc(r.SkipUntil),
		TriggeredAt: utc(r.TriggeredAt), TriggeredJobID: r.TriggeredJobID,
	}
}

// Get returns one schedule, or a [*ScheduleNotFoundError].
func (r *Recurring) Get(ctx context.Context, id string) (*RecurringJob, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if err := validRecurringID(id); err != nil {
		return nil, err
	}
	row, err := r.s.db.RecurringGet(ctx, 0, id).One()
	err = r.s.interpret(ctx, queries.RecurringGet.Name, err)
	if errors.Is(err, ErrNotFound) || err == nil && row.Cron == "" {
		// No row, or only the run times of a schedule removed while it fired.
		return nil, &ScheduleNotFoundError{ID: id}
	}
	if err != nil {
		return nil, fmt.Errorf("get recurring job %s: %w", id, err)
	}
	return recurringFromRow(&row), nil
}

// List returns every schedule in id order (JobSharp's GetRecurringJobs),
// each with its last occurrence (LastRunAt, LastJobID) and its next one
// (NextRunAt): the first occurrence after the last one fired or skipped,
// which is in the past when no scheduler has run since it came due, and zero
// while the schedule is paused.
func (r *Recurring) List(ctx context.Context) ([]*RecurringJob, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	rows, err := r.s.db.RecurringList(ctx, 0).All()
	if err != nil {
		return nil, fmt.Errorf("list recurring jobs: %w", r.s.interpret(ctx, queries.RecurringList.Name, err))
	}
	out := make([]*RecurringJob, 0, len(rows))
	for i := range rows {
		if rows[i].Cron == "" {
			// Only the run times of a schedule removed while it fired.
			_ = r.remove(ctx, rows[i].ID)
			continue
		}
		rj := recurringFromRow(&rows[i])
		rj.NextRunAt = time.Time{}
		if sched, loc, err := rj.schedule(); err == nil && !rj.Paused {
			rj.NextRunAt = next(sched, loc, rj.firedUntil())
		}
		out = append(out, rj)
	}
	return out, nil
}

// firedUntil is the time up to which the schedule's occurrences are done:
// fired, or skipped by a resume.
func (rj *RecurringJob) firedUntil() time.Time {
	from := rj.LastRunAt
	if from.IsZero() {
		from = rj.CreatedAt
	}
	return maxTime(from, rj.SkipUntil)
}

// Remove deletes a schedule (JobSharp's RemoveRecurringJob). Jobs it already
// created stay. Returns a [*ScheduleNotFoundError] when there is no such
// schedule.
func (r *Recurring) Remove(ctx context.Context, id string) error {
	if err := r.check(ctx); err != nil {
		return err
	}
	if err := validRecurringID(id); err != nil {
		return err
	}
	if _, err := r.Get(ctx, id); err != nil {
		return err
	}
	return r.remove(ctx, id)
}

func (r *Recurring) remove(ctx context.Context, id string) error {
	if err := r.s.exec(ctx, queries.RecurringDelete, r.s.db.RecurringDelete(ctx, 0, id)); err != nil {
		return fmt.Errorf("remove recurring job %s: %w", id, err)
	}
	return nil
}

// Pause stops a schedule: schedulers create no job for its occurrences
// until [Recurring.Resume]. It does not touch jobs already created, nor
// [Recurring.Trigger], which works on a paused schedule. Schedulers read
// the flag on each pass, so a pause takes effect at their next pass; an
// occurrence a scheduler is firing at that very moment may still become a
// job. Pausing a paused schedule changes nothing. Returns a
// [*ScheduleNotFoundError] for an unknown id.
func (r *Recurring) Pause(ctx context.Context, id string) (*RecurringJob, error) {
	rj, err := r.Get(ctx, id)
	if err != nil || rj.Paused {
		return rj, err
	}
	now := r.s.now()
	if err := r.s.exec(ctx, queries.RecurringPause, r.s.db.RecurringPause(ctx, true, now, 0, id)); err != nil {
		return nil, fmt.Errorf("pause recurring job %s: %w", id, err)
	}
	rj.Paused, rj.PausedAt, rj.NextRunAt = true, now, time.Time{}
	return rj, nil
}

// ResumeOpts tune [Recurring.Resume]. nil means the defaults.
type ResumeOpts struct {
	// CatchUp treats the occurrences that passed while the schedule was
	// paused as missed during downtime: the scheduler's [MissedPolicy]
	// decides which become jobs (FireLatest, the default, creates one for
	// the latest). Without it they are skipped and the schedule fires again
	// from its next occurrence after the resume.
	CatchUp bool
}

// Resume lets a paused schedule fire again. Occurrences that passed while it
// was paused are skipped unless opts.CatchUp. Resuming a schedule that is
// not paused changes nothing. Returns a [*ScheduleNotFoundError] for an
// unknown id.
func (r *Recurring) Resume(ctx context.Context, id string, opts *ResumeOpts) (*RecurringJob, error) {
	rj, err := r.Get(ctx, id)
	if err != nil || !rj.Paused {
		return rj, err
	}
	sched, loc, err := rj.schedule()
	if err != nil {
		return nil, fmt.Errorf("resume recurring job %s: %w", id, err)
	}
	now := r.s.now()
	if opts == nil || !opts.CatchUp {
		rj.SkipUntil = maxTime(rj.SkipUntil, now)
	}
	rj.Paused, rj.ResumedAt = false, now
	rj.NextRunAt = next(sched, loc, rj.firedUntil())
	if err := r.s.exec(ctx, queries.RecurringResume, r.s.db.RecurringResume(ctx, false, now, ms(rj.SkipUntil), rj.NextRunAt, 0, id)); err != nil {
		return nil, fmt.Errorf("resume recurring job %s: %w", id, err)
	}
	return rj, nil
}

// Trigger creates one job of the schedule now, in addition to its
// occurrences (paused or not), and returns it. Its metadata holds
// recurring_trigger (the time) instead of recurring_occurrence. Its id
// never equals an occurrence's: occurrences fall on whole seconds and their
// ids carry that time, while a triggered job's id carries a time that is
// not a whole second. Each call creates a new job. Returns a
// [*ScheduleNotFoundError] for an unknown id.
func (r *Recurring) Trigger(ctx context.Context, id string) (*Job, error) {
	rj, err := r.Get(ctx, id) // checks the receiver first
	if err != nil {
		return nil, err
	}
	s := r.s
	qn, err := s.queueNumber(ctx, rj.Queue)
	if err != nil {
		return nil, fmt.Errorf("trigger recurring job %s: %w", id, err)
	}
	now := s.now()
	at := now
	if at.UnixMilli()%1000 == 0 {
		at = at.Add(time.Millisecond)
	}
	meta := maps.Clone(rj.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	meta["recurring_trigger"] = at.Format(time.RFC3339Nano)
	nj := &NewJob{ID: s.mintJobID(qn, at, s.subShard(rj.Queue, now)), Queue: rj.Queue, Type: rj.Type, Args: rj.Args, MaxRetries: rj.MaxRetries, ScheduledAt: at, Metadata: meta}
	job, err := s.newJob(ctx, nj, now, 0)
	if err != nil {
		return nil, fmt.Errorf("trigger recurring job %s: %w", id, err)
	}
	job.RecurringID = rj.ID
	created, _, err := s.create(ctx, []*Job{job}, nil)
	if err != nil {
		return nil, fmt.Errorf("trigger recurring job %s: %w", id, err)
	}
	if err := s.exec(ctx, queries.RecurringTriggered, s.db.RecurringTriggered(ctx, now, created[0].ID, 0, id)); err != nil {
		return created[0], fmt.Errorf("trigger recurring job %s: the job %s was created, recording it failed: %w", id, created[0].ID, err)
	}
	return created[0], nil
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
		if rj.Paused || len(p.Queues) > 0 && !slices.Contains(p.Queues, rj.Queue) {
			continue
		}
		sched, loc, err := rj.schedule()
		if err != nil {
			errs = append(errs, fmt.Errorf("recurring job %s: %w", rj.ID, err))
			continue
		}
		due, last := occurrences(sched, loc, rj.firedUntil(), now, catchUp, p.Missed, s.set.grace)
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
		if err := s.exec(ctx, queries.RecurringAdvance, s.db.RecurringAdvance(ctx, nextRun, last, lastJob, 0, rj.ID)); err != nil {
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
