package repo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/queries"
)

// NewJob describes a job to store.
type NewJob struct {
	// ID is the job's id. Zero: a new id. A job's id says where its row
	// lives, so an id given here must come from [Jobs.NewID] for the same
	// queue. Storing again with the same id and the same queue, type and
	// arguments returns the stored job, so a retried insert creates nothing
	// twice.
	ID gocql.UUID
	// Queue defaults to "default".
	Queue string
	// Type names the handler; required, at most 255 bytes.
	Type string
	// Args are the serialized arguments, at most Options.MaxArgsBytes.
	Args []byte
	// ScheduledAt is when the job may run; zero or past means now. At the
	// latest the end of the year 9999.
	ScheduledAt time.Time
	// MaxRetries is the number of retries after a failed first attempt.
	// Zero means Options.DefaultMaxRetries; negative means none.
	MaxRetries int
	// Hold stores the job in state Created instead of Scheduled: it does not
	// run until it is updated to Scheduled.
	Hold bool
	// Metadata is free-form data kept with the job.
	Metadata map[string]string
	// Unique makes the insert unique (see [UniqueOpts]): while a job with
	// the same unique key exists in one of its states, Insert returns that
	// job, and [Jobs.InsertOne] says so. Only for single inserts (Insert,
	// InsertOne), not for InsertMany, batches or continuations.
	Unique *UniqueOpts
}

// Insert stores a new job (JobSharp's StoreJob) and returns it.
//
// The job's row is created by a lightweight transaction in its home
// partition (where scanners find it when it is due), together with the
// other jobs this store inserts into that partition at the same moment: one
// conditional batch, one Paxos round. Hints it needs (a state index row for
// a held job, a due entry for one due later than its home time) are written
// first, so a crash in between leaves a stray hint, never a lost job.
// Returns [ErrInvalid] (a [*ValidationError]) for bad input, having written
// nothing, and [ErrExists] if another job has the id.
//
// With nj.Unique set, it returns the job that holds the unique key, if any,
// instead of storing another; use [Jobs.InsertOne] to learn which happened.
func (j *Jobs) Insert(ctx context.Context, nj *NewJob) (*Job, error) {
	r, err := j.InsertOne(ctx, nj)
	if err != nil {
		return nil, err
	}
	return r.Job, nil
}

// InsertMany stores several jobs at once: jobs due at the same time share
// home partitions, and each partition's jobs go out as conditional batches
// of up to 200 (one Paxos round each), partitions in parallel. Every job is
// validated before anything is written. When some fail, the jobs that were
// stored are returned with the joined errors; retrying with the same ids is
// safe.
func (j *Jobs) InsertMany(ctx context.Context, njs []*NewJob) ([]*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	jobs, err := j.s.newJobs(ctx, njs)
	if err != nil {
		return nil, err
	}
	stored, _, err := j.s.create(ctx, jobs, nil)
	return stored, err
}

// newJobs validates NewJobs and returns the jobs to store, with their ids.
func (s *Store) newJobs(ctx context.Context, njs []*NewJob) ([]*Job, error) {
	jobs := make([]*Job, len(njs))
	now := s.now()
	// Jobs due now are spread over the sub-shards in runs, so that a big
	// insert fills every partition of the bucket with batches of a useful
	// size.
	run := max(1, min(maxBatchChanges, (len(njs)+s.set.homeShards-1)/s.set.homeShards))
	sub := s.subShard("", now)
	// Every job is checked before any is built: building registers queues.
	for i, nj := range njs {
		if err := s.checkNewJob(nj); err != nil {
			if len(njs) > 1 {
				return nil, fmt.Errorf("job %d: %w", i, err)
			}
			return nil, err
		}
	}
	for i, nj := range njs {
		job, err := s.newJob(ctx, nj, now, (sub+i/run)%s.set.homeShards)
		if err != nil {
			if len(njs) > 1 {
				return nil, fmt.Errorf("job %d: %w", i, err)
			}
			return nil, err
		}
		jobs[i] = job
	}
	return jobs, nil
}

// checkNewJob validates a NewJob without touching the database.
func (s *Store) checkNewJob(nj *NewJob) error {
	if nj == nil {
		return invalid("job", "nil")
	}
	if nj.Queue != "" {
		if err := ValidQueue(nj.Queue); err != nil {
			return err
		}
	}
	if err := ValidJobType(nj.Type); err != nil {
		return err
	}
	switch {
	case len(nj.Args) > s.set.maxArgs:
		return invalid("args", "%d bytes, more than the limit of %d (Options.MaxArgsBytes)", len(nj.Args), s.set.maxArgs)
	case nj.MaxRetries > 1000:
		return invalid("max retries", "%d, more than 1000", nj.MaxRetries)
	}
	if err := validTime("scheduled at", nj.ScheduledAt); err != nil {
		return err
	}
	return validMetadata(nj.Metadata)
}

// newJob validates a NewJob and returns the job to store.
func (s *Store) newJob(ctx context.Context, nj *NewJob, now time.Time, sub int) (*Job, error) {
	if err := s.checkNewJob(nj); err != nil {
		return nil, err
	}
	if nj.Unique != nil {
		return nil, invalid("unique", "unique jobs are stored one at a time, by Jobs.Insert or Jobs.InsertOne")
	}
	queue := nj.Queue
	if queue == "" {
		queue = DefaultQueue
	}
	state := StateScheduled
	if nj.Hold {
		state = StateCreated
	}
	retries := nj.MaxRetries
	switch {
	case retries == 0:
		retries = s.set.maxRetries
	case retries < 0:
		retries = 0
	}
	at := ms(nj.ScheduledAt)
	if at.IsZero() {
		at = now
	}
	qn, err := s.queueNumber(ctx, queue)
	if err != nil {
		return nil, err
	}
	id := nj.ID
	if id == (gocql.UUID{}) {
		// The job's home is when it is first due, now for a time past.
		id = s.mintJobID(qn, maxTime(at, now), sub)
	} else if info, err := parseID(id); err != nil {
		return nil, invalid("id", "%v", err)
	} else if info.Queue != qn {
		return nil, invalid("id", "%s was made for another queue than %s (use Jobs.NewID with this queue)", id, queue)
	} else if nj.ScheduledAt.IsZero() {
		// Due at once, with an id minted before: the job is due at its home
		// time, when the id was made, so scanners find it in its home
		// partition and it needs no due entry (with now, a moment later,
		// every job of an insert with ids from Jobs.NewIDs had one).
		at = info.At
	}
	return &Job{
		ID: id, Queue: queue, Type: nj.Type, Args: slices.Clone(nj.Args), State: state, Version: 1,
		CreatedAt: now, ScheduledAt: at, StateChangedAt: now, MaxRetries: retries, Metadata: maps.Clone(nj.Metadata),
	}, nil
}

func validMetadata(m map[string]string) error {
	size := 0
	for k, v := range m {
		if k == "" {
			return invalid("metadata", "empty key")
		}
		if err := validText("metadata key", k); err != nil {
			return err
		}
		if err := validText(fmt.Sprintf("metadata value of %q", k), v); err != nil {
			return err
		}
		size += len(k) + len(v)
	}
	if size > 64<<10 {
		return invalid("metadata", "%d bytes, more than 64 KiB", size)
	}
	return nil
}

// create stores new jobs, each by lightweight transaction in its home
// partition (see apply). extra writes further hints of the caller (batch or
// continuation lookups) before the jobs. fresh[i] is false when job i
// existed already (an insert retried with the same id).
func (s *Store) create(ctx context.Context, jobs []*Job, extra func(ctx context.Context) error) (stored []*Job, fresh []bool, err error) {
	if hook := s.set.insertHook; hook != nil && len(jobs) > 0 {
		var end func([]*Job, error)
		ctx, end = hook.BeforeInsert(ctx, jobs)
		defer func() { end(stored, err) }()
		for _, job := range jobs {
			if err := validMetadata(job.Metadata); err != nil {
				return nil, nil, fmt.Errorf("job %s after Options.InsertHook: %w", job.ID, err)
			}
		}
	}
	if extra != nil {
		if err := extra(ctx); err != nil {
			return nil, nil, err
		}
	}
	chs := make([]*change, len(jobs))
	for i, job := range jobs {
		chs[i] = newChange(nil, job, opInsert)
	}
	aerr := s.apply(ctx, chs...)
	var errs []error
	for _, c := range chs {
		switch {
		case c.err != nil:
			errs = append(errs, fmt.Errorf("store job %s: %w", c.next.ID, c.err))
		case c.out != nil:
			stored = append(stored, c.out)
			fresh = append(fresh, !c.existed)
		}
	}
	if aerr != nil {
		errs = append(errs, aerr)
	}
	return stored, fresh, errors.Join(errs...)
}

// Get returns the job with the given id (JobSharp's GetJob): one read of
// the job's home partition, which the id names. Returns [ErrNotFound] if
// there is none.
func (j *Jobs) Get(ctx context.Context, id gocql.UUID) (*Job, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	job, err := j.s.get(ctx, id, false)
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	return job, nil
}

func (s *Store) get(ctx context.Context, id gocql.UUID, serial bool) (*Job, error) {
	h, err := homeOf(id)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNotFound, err)
	}
	q := s.db.JobsGet(ctx, h.Start, h.Shard, id)
	if serial {
		q = q.Consistency(gocql.Consistency(s.set.serial))
	}
	row, err := q.One()
	if err != nil {
		return nil, s.interpret(ctx, queries.JobsGet.Name, err)
	}
	if row.Version == 0 {
		// Only a tombstoned or expiring shell is left.
		return nil, ErrNotFound
	}
	return jobFromRow(&row), nil
}

// getSerial reads a job at serial consistency: it sees every lightweight
// transaction that completed, and completes one left in progress, so it
// settles the outcome of an LWT that timed out.
func (s *Store) getSerial(ctx context.Context, id gocql.UUID) (*Job, error) {
	return s.get(ctx, id, true)
}

// getMany reads jobs by id, one statement per home partition; missing ids
// are left out.
func (s *Store) getMany(ctx context.Context, ids []gocql.UUID) ([]*Job, error) {
	return s.getJobs(ctx, ids, false)
}
