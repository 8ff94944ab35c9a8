package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// OriginalSchema is the schema of JobSharp.Cassandra as its README documents
// it: one partition per state, ten scheduled buckets chosen by a hash of the
// time, text ids, default table options.
var OriginalSchema = []string{
	`CREATE TABLE IF NOT EXISTS jobs (
    id text PRIMARY KEY,
    type_name text,
    arguments text,
    state int,
    created_at timestamp,
    scheduled_at timestamp,
    executed_at timestamp,
    retry_count int,
    max_retry_count int,
    error_message text,
    result text,
    batch_id text,
    parent_job_id text)`,
	`CREATE TABLE IF NOT EXISTS jobs_by_state (
    state int,
    created_at timestamp,
    job_id text,
    PRIMARY KEY (state, created_at, job_id)
) WITH CLUSTERING ORDER BY (created_at ASC, job_id ASC)`,
	`CREATE TABLE IF NOT EXISTS scheduled_jobs (
    bucket int,
    scheduled_at timestamp,
    job_id text,
    PRIMARY KEY (bucket, scheduled_at, job_id)
) WITH CLUSTERING ORDER BY (scheduled_at ASC, job_id ASC)`,
	`CREATE TABLE IF NOT EXISTS recurring_jobs (
    id text PRIMARY KEY,
    cron_expression text,
    job_type_name text,
    job_arguments text,
    max_retry_count int,
    created_at timestamp,
    next_execution timestamp,
    last_execution timestamp,
    is_enabled boolean)`,
}

// The original's job states (JobSharp's numbers, as ours).
const (
	origScheduled  = 1
	origProcessing = 2
	origSucceeded  = 3
)

// origBuckets is the original's number of scheduled buckets.
const origBuckets = 10

// OriginalJob is a job as the original stores it. Times keep the precision
// they were made with (.NET ticks: 100 ns) until they come back from
// Cassandra, which keeps milliseconds.
type OriginalJob struct {
	ID            string
	TypeName      string
	Arguments     string
	State         int
	CreatedAt     time.Time
	ScheduledAt   time.Time
	ExecutedAt    time.Time
	RetryCount    int
	MaxRetryCount int
	ErrorMessage  string
	Result        string
	BatchID       string
	ParentJobID   string
}

// Original is JobSharp.Cassandra's storage strategy, reimplemented
// faithfully in Go for comparison. It is not a job store to use: it keeps
// every defect DESIGN.md lists.
//
//   - StoreJob writes jobs, jobs_by_state and scheduled_jobs with three
//     separate awaited statements, no batch, no condition.
//   - UpdateJob reads the row, rewrites it, moves the jobs_by_state row,
//     and deletes the scheduled_jobs row at the bucket of the scheduled
//     time as read back from Cassandra. The bucket was computed from the
//     time at 100 ns precision when stored, and Cassandra keeps
//     milliseconds, so the delete usually goes to another partition and
//     the entry stays.
//   - GetScheduledJobs reads the ten buckets in turn, each from the
//     beginning of time (scheduled_at <= now), takes the first rows of each
//     up to the batch size, and reads every one of their jobs one by one
//     (N+1), keeping those still Scheduled.
//   - There is no claim: a worker reads scheduled jobs, then writes them as
//     Processing, so racing workers take the same job.
//
// Null fields are written as nulls, as the .NET mapper does.
type Original struct {
	s   *gocql.Session
	now func() time.Time
}

// NewOriginal returns the original strategy on a session bound to a
// keyspace holding [OriginalSchema].
func NewOriginal(s *gocql.Session, now func() time.Time) *Original {
	if now == nil {
		now = time.Now
	}
	return &Original{s: s, now: now}
}

// origBucket is the original's GetScheduledJobBucket:
// Math.Abs(scheduledAt.GetHashCode()) % 10, where a DateTimeOffset hashes
// its UTC ticks (100 ns since 0001-01-01) as (int)ticks ^ (int)(ticks >> 32).
// .NET's Math.Abs throws on int.MinValue; that case maps to bucket 8 here
// (|MinValue| mod 10), which no benchmark time reaches in practice.
func origBucket(t time.Time) int {
	ticks := dotnetTicks(t)
	h := int64(int32(ticks) ^ int32(ticks>>32))
	if h < 0 {
		h = -h
	}
	return int(h % origBuckets)
}

// dotnetTicks is t in .NET ticks.
func dotnetTicks(t time.Time) int64 {
	const unixEpochTicks = 621_355_968_000_000_000
	return t.UnixNano()/100 + unixEpochTicks
}

// nullable returns nil (a CQL null) for the zero value.
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

const origInsertJob = `INSERT INTO jobs (id, type_name, arguments, state, created_at, scheduled_at, executed_at, retry_count, max_retry_count, error_message, result, batch_id, parent_job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
const origUpdateJob = `UPDATE jobs SET type_name = ?, arguments = ?, state = ?, created_at = ?, scheduled_at = ?, executed_at = ?, retry_count = ?, max_retry_count = ?, error_message = ?, result = ?, batch_id = ?, parent_job_id = ? WHERE id = ?`
const origGetJob = `SELECT id, type_name, arguments, state, created_at, scheduled_at, executed_at, retry_count, max_retry_count, error_message, result, batch_id, parent_job_id FROM jobs WHERE id = ?`

func (j *OriginalJob) values() []any {
	return []any{j.ID, j.TypeName, nullable(j.Arguments), j.State, j.CreatedAt, nullTime(j.ScheduledAt), nullTime(j.ExecutedAt),
		j.RetryCount, j.MaxRetryCount, nullable(j.ErrorMessage), nullable(j.Result), nullable(j.BatchID), nullable(j.ParentJobID)}
}

// StoreJob is the original's StoreJobAsync: three awaited inserts.
func (o *Original) StoreJob(ctx context.Context, j *OriginalJob) error {
	if err := o.s.Query(origInsertJob, j.values()...).WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("insert jobs row: %w", err)
	}
	if err := o.s.Query(`INSERT INTO jobs_by_state (state, created_at, job_id) VALUES (?, ?, ?)`, j.State, j.CreatedAt, j.ID).WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("insert jobs_by_state row: %w", err)
	}
	if j.State == origScheduled && !j.ScheduledAt.IsZero() {
		err := o.s.Query(`INSERT INTO scheduled_jobs (bucket, scheduled_at, job_id) VALUES (?, ?, ?)`, origBucket(j.ScheduledAt), j.ScheduledAt, j.ID).WithContext(ctx).Exec()
		if err != nil {
			return fmt.Errorf("insert scheduled_jobs row: %w", err)
		}
	}
	return nil
}

// StoreBatch is the original's StoreBatchAsync: every job's StoreJob at
// once (Task.WhenAll), without a bound on concurrency.
func (o *Original) StoreBatch(ctx context.Context, jobs []*OriginalJob) error {
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Go(func() { errs[i] = o.StoreJob(ctx, j) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// GetJob is the original's GetJobAsync; nil when there is no such job.
func (o *Original) GetJob(ctx context.Context, id string) (*OriginalJob, error) {
	var j OriginalJob
	var args, errMsg, result, batch, parent *string
	err := o.s.Query(origGetJob, id).WithContext(ctx).Scan(&j.ID, &j.TypeName, &args, &j.State, &j.CreatedAt, &j.ScheduledAt, &j.ExecutedAt,
		&j.RetryCount, &j.MaxRetryCount, &errMsg, &result, &batch, &parent)
	if errors.Is(err, gocql.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	j.Arguments, j.ErrorMessage, j.Result, j.BatchID, j.ParentJobID = deref(args), deref(errMsg), deref(result), deref(batch), deref(parent)
	return &j, nil
}

// UpdateJob is the original's UpdateJobAsync.
func (o *Original) UpdateJob(ctx context.Context, j *OriginalJob) error {
	existing, err := o.GetJob(ctx, j.ID)
	if err != nil {
		return err
	}
	if existing == nil {
		return fmt.Errorf("job with id %s not found", j.ID)
	}
	v := j.values()
	if err := o.s.Query(origUpdateJob, append(v[1:], v[0])...).WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("update jobs row: %w", err)
	}
	if existing.State != j.State {
		err := o.s.Query(`DELETE FROM jobs_by_state WHERE state = ? AND created_at = ? AND job_id = ?`, existing.State, existing.CreatedAt, j.ID).WithContext(ctx).Exec()
		if err != nil {
			return fmt.Errorf("delete jobs_by_state row: %w", err)
		}
		if err := o.s.Query(`INSERT INTO jobs_by_state (state, created_at, job_id) VALUES (?, ?, ?)`, j.State, j.CreatedAt, j.ID).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("insert jobs_by_state row: %w", err)
		}
	}
	switch {
	case existing.State == origScheduled && j.State != origScheduled:
		at := existing.ScheduledAt
		if at.IsZero() {
			at = o.now()
		}
		// The bucket of the time as read back (milliseconds), not as stored.
		err := o.s.Query(`DELETE FROM scheduled_jobs WHERE bucket = ? AND scheduled_at = ? AND job_id = ?`, origBucket(at), nullTime(existing.ScheduledAt), j.ID).WithContext(ctx).Exec()
		if err != nil {
			return fmt.Errorf("delete scheduled_jobs row: %w", err)
		}
	case j.State == origScheduled && !j.ScheduledAt.IsZero():
		if err := o.s.Query(`INSERT INTO scheduled_jobs (bucket, scheduled_at, job_id) VALUES (?, ?, ?)`, origBucket(j.ScheduledAt), j.ScheduledAt, j.ID).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("insert scheduled_jobs row: %w", err)
		}
	}
	return nil
}

// GetScheduledJobs is the original's GetScheduledJobsAsync(batchSize).
func (o *Original) GetScheduledJobs(ctx context.Context, batchSize int) ([]*OriginalJob, error) {
	now := o.now()
	var jobs []*OriginalJob
	for bucket := 0; bucket < origBuckets && len(jobs) < batchSize; bucket++ {
		// The driver pages (5,000 rows a page); Take(n) stops enumerating
		// after n rows, so only the pages reaching them are fetched.
		iter := o.s.Query(`SELECT bucket, scheduled_at, job_id FROM scheduled_jobs WHERE bucket = ? AND scheduled_at <= ?`, bucket, now).
			WithContext(ctx).PageSize(5000).Iter()
		take := batchSize - len(jobs)
		var ids []string
		var b int
		var at time.Time
		var id string
		for len(ids) < take && iter.Scan(&b, &at, &id) {
			ids = append(ids, id)
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("read scheduled bucket %d: %w", bucket, err)
		}
		for _, id := range ids {
			job, err := o.GetJob(ctx, id)
			if err != nil {
				return nil, err
			}
			if job != nil && job.State == origScheduled {
				jobs = append(jobs, job)
			}
		}
	}
	slices.SortStableFunc(jobs, func(a, b *OriginalJob) int { return a.ScheduledAt.Compare(b.ScheduledAt) })
	if len(jobs) > batchSize {
		jobs = jobs[:batchSize]
	}
	return jobs, nil
}

// newOriginalJob is a Scheduled job due at the clock's now, as JobSharp
// creates it (times at full precision).
func (o *Original) newJob(typ string, args string) *OriginalJob {
	now := o.now()
	return &OriginalJob{ID: gocql.TimeUUID().String(), TypeName: typ, Arguments: args, State: origScheduled,
		CreatedAt: now, ScheduledAt: now, MaxRetryCount: 10}
}
