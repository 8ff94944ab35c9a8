package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/queries"
)

// NewJob describes a job to store.
type NewJob struct {
	// ID is the job's id. Zero: a new time-ordered id. Storing again with the
	// same id and the same queue, type and arguments returns the stored job,
	// so a retried insert creates nothing twice.
	ID gocql.UUID
	// Queue defaults to "default".
	Queue string
	// Type names the handler; required, at most 255 bytes.
	Type string
	// Args are the serialized arguments, at most Options.MaxArgsBytes.
	Args []byte
	// ScheduledAt is when the job may run; zero or past means now.
	ScheduledAt time.Time
	// MaxRetries is the number of retries after a failed first attempt.
	// Zero means Options.DefaultMaxRetries; negative means none.
	MaxRetries int
	// Hold stores the job in state Created instead of Scheduled: it does not
	// run until it is updated to Scheduled.
	Hold bool
	// Metadata is free-form data kept with the job.
	Metadata map[string]string
}

// Insert stores a new job (JobSharp's StoreJob) and returns it.
//
// It writes the job's hints (its due or state index entry) first and then
// creates the jobs row with a lightweight transaction, so a crash in between
// leaves a stray hint, never a lost job. Returns [ErrInvalid] (a
// [*ValidationError]) for bad input, having written nothing, and [ErrExists]
// if another job has the id.
func (j *Jobs) Insert(ctx context.Context, nj *NewJob) (*Job, error) {
	jobs, err := j.InsertMany(ctx, []*NewJob{nj})
	if err != nil {
		return nil, err
	}
	return jobs[0], nil
}

// InsertMany stores several jobs at once: their hints go out grouped with
// bounded parallelism, then the jobs rows, each a lightweight transaction on
// its own partition, in parallel (a logged batch cannot hold lightweight
// transactions on several partitions). Every job is validated before
// anything is written. When some rows fail, the jobs that were stored are
// returned with the joined errors; retrying with the same ids is safe.
func (j *Jobs) InsertMany(ctx context.Context, njs []*NewJob) ([]*Job, error) {
	jobs := make([]*Job, len(njs))
	for i, nj := range njs {
		job, err := j.s.newJob(nj)
		if err != nil {
			if len(njs) > 1 {
				return nil, fmt.Errorf("job %d: %w", i, err)
			}
			return nil, err
		}
		jobs[i] = job
	}
	stored, _, err := j.s.create(ctx, jobs, nil)
	return stored, err
}

// newJob validates a NewJob and returns the job to store.
func (s *Store) newJob(nj *NewJob) (*Job, error) {
	if nj == nil {
		return nil, invalid("job", "nil")
	}
	queue := nj.Queue
	if queue == "" {
		queue = DefaultQueue
	}
	if err := ValidQueue(queue); err != nil {
		return nil, err
	}
	if err := ValidJobType(nj.Type); err != nil {
		return nil, err
	}
	switch {
	case len(nj.Args) > s.set.maxArgs:
		return nil, invalid("args", "%d bytes, more than the limit of %d (Options.MaxArgsBytes)", len(nj.Args), s.set.maxArgs)
	}
	state := StateScheduled
	if nj.Hold {
		state = StateCreated
	}
	if err := validMetadata(nj.Metadata); err != nil {
		return nil, err
	}
	retries := nj.MaxRetries
	switch {
	case retries == 0:
		retries = s.set.maxRetries
	case retries < 0:
		retries = 0
	case retries > 1000:
		return nil, invalid("max retries", "%d, more than 1000", retries)
	}
	now := s.now()
	at := ms(nj.ScheduledAt)
	if at.IsZero() {
		at = now
	}
	id := nj.ID
	if id == (gocql.UUID{}) {
		id = NewID()
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
		size += len(k) + len(v)
	}
	if size > 64<<10 {
		return invalid("metadata", "%d bytes, more than 64 KiB", size)
	}
	return nil
}

// create stores new jobs: hints first, then the rows by LWT, then counts.
// extra writes further hints of the caller (batch or continuation lookups)
// before the jobs' own. fresh[i] is false when job i existed already (an
// insert retried with the same id).
func (s *Store) create(ctx context.Context, jobs []*Job, extra func(ctx context.Context) error) (stored []*Job, fresh []bool, err error) {
	if extra != nil {
		if err := extra(ctx); err != nil {
			return nil, nil, err
		}
	}
	stored = make([]*Job, len(jobs))
	fresh = make([]bool, len(jobs))
	// In chunks: a scanner leaves a hint whose job is missing alone for
	// Grace only, so no job's row may come much later than its hint. A
	// chunk's rows wait for its hints; the next chunk's hints are written
	// once this chunk's rows start, so rows go out without a pause at chunk
	// boundaries (1,000 jobs against raw gocql: 0.83-1.23x, from 0.72-0.89x
	// chunk by chunk; go run ./bench/cmd/bench -scenarios store).
	// When a chunk's hints fail, its rows and those of later chunks are not
	// written.
	chunks := make([]hintChunk, (len(jobs)+createChunk-1)/createChunk)
	for k := range chunks {
		chunks[k].done = make(chan struct{})
	}
	var writers sync.WaitGroup
	writeChunk := func(k int) {
		defer writers.Done()
		var h hintSet
		for _, job := range jobs[k*createChunk : min((k+1)*createChunk, len(jobs))] {
			s.hintsFor(&h, job)
		}
		err := s.writeHints(ctx, &h)
		if err != nil {
			err = fmt.Errorf("store jobs: %w", err)
		} else if s.afterHints != nil {
			err = s.afterHints("insert")
		}
		if err == nil {
			close(chunks[k].done)
			return
		}
		for j := k; j < len(chunks); j++ { // later chunks never start
			chunks[j].err = err
			close(chunks[j].done)
		}
	}
	if len(chunks) > 0 {
		writers.Add(1)
		go writeChunk(0)
	}
	err = forEach(ctx, len(jobs), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		k := i / createChunk
		<-chunks[k].done
		if chunks[k].err != nil {
			return nil
		}
		// The chunk's first job starts the next chunk's hints: jobs start
		// in order, so it runs whenever any job of the chunk does.
		if i%createChunk == 0 && k+1 < len(chunks) {
			writers.Add(1)
			go writeChunk(k + 1)
		}
		job, created, err := s.createRow(ctx, jobs[i])
		if err != nil {
			return fmt.Errorf("store job %s: %w", jobs[i].ID, err)
		}
		stored[i], fresh[i] = job, created
		return nil
	})
	writers.Wait() // a chunk's hints may still be in flight when ctx ended
	errs := []error{err}
	for _, c := range chunks {
		if c.err != nil {
			errs = append(errs, c.err) // the first failure; later chunks share it
			break
		}
	}
	counts := &countDeltas{}
	var out []*Job
	var outFresh []bool
	for i, job := range stored {
		if job != nil {
			out = append(out, job)
			outFresh = append(outFresh, fresh[i])
			if fresh[i] {
				counts.add(s, job, 1)
			}
		}
	}
	s.applyCounts(ctx, counts)
	return out, outFresh, errors.Join(errs...)
}

// createChunk is how many jobs create writes hints for before their rows.
const createChunk = 256

// hintChunk is the hints of one chunk of create: done is closed once they
// are written (err nil) or failed, or an earlier chunk's failed (err set).
type hintChunk struct {
	done chan struct{}
	err  error
}

// createRow creates one jobs row and reports whether this call created it.
// When a row with the id exists, it returns that job if it is the same job
// (same queue, type and arguments: an insert retried, or a recurring
// occurrence fired by several schedulers), else ErrExists.
func (s *Store) createRow(ctx context.Context, job *Job) (*Job, bool, error) {
	applied, err := s.cas(queries.JobsCreate, s.db.JobsCreate(ctx, rowFromJob(job)))
	if err != nil && !errors.Is(err, ErrTimeout) {
		return nil, false, err
	}
	if applied {
		return job, true, nil
	}
	// Not applied, or unknown after a timeout: a serial read settles it.
	cur, rerr := s.getSerial(ctx, job.ID)
	switch {
	case errors.Is(rerr, ErrNotFound) && err != nil:
		return nil, false, err
	case rerr != nil:
		return nil, false, rerr
	case err != nil && cur.Version == job.Version && cur.CreatedAt.Equal(job.CreatedAt) && cur.State == job.State:
		return cur, true, nil // the write that timed out did apply
	case cur.Queue == job.Queue && cur.Type == job.Type && bytes.Equal(cur.Args, job.Args):
		return cur, false, nil
	}
	return nil, false, fmt.Errorf("%w: %s", ErrExists, job.ID)
}

// Get returns the job with the given id (JobSharp's GetJob). Returns
// [ErrNotFound] if there is none.
func (j *Jobs) Get(ctx context.Context, id gocql.UUID) (*Job, error) {
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
	q := s.db.JobsGet(ctx, id)
	if serial {
		q = q.Consistency(gocql.Consistency(s.set.serial))
	}
	row, err := q.One()
	if err != nil {
		return nil, s.interpret(queries.JobsGet.Name, err)
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

// getMany reads jobs by id in parallel; missing ids are left out.
func (s *Store) getMany(ctx context.Context, ids []gocql.UUID) ([]*Job, error) {
	out := make([]*Job, len(ids))
	err := forEach(ctx, len(ids), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		job, err := s.get(ctx, ids[i], false)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		out[i] = job
		return err
	})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(j *Job) bool { return j == nil }), nil
}
