package repo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// UniqueOpts make an insert unique, as River's UniqueOpts: while a job with
// the same unique key exists in one of ByState's states, inserting another
// returns that job instead of storing a new one ([InsertResult].Existed).
// The key is always the job's type, plus whichever of the following are
// set.
//
// # Guarantee
//
// Any number of concurrent inserts of one unique key, from any number of
// processes, store at most one job while the holder stays in ByState; each
// caller gets that job back. The key's row in the unique_keys table is
// claimed by a lightweight transaction that records the holder's id, then
// the job is inserted. If the insert fails, the key is given back (deleted
// on the condition that it still names our job), so a failed insert leaves
// no key behind. If the process dies between the two writes, the key names
// a job that does not exist: other inserts wait for the job while the claim
// is younger than Options.Grace (the insert may be in flight), then take the
// key over. A key whose job has left ByState (or expired, or was deleted) is
// taken over by a conditional update on the old holder's id.
//
// # Cost
//
// An insert that claims a free key costs one lightweight transaction more
// than a plain insert (UPDATE IF job_id = null on unique_keys). An insert that
// finds the key held costs that transaction and one read of the holder,
// and stores nothing. Taking a key over costs one more lightweight
// transaction. Keys with ByPeriod expire by TTL at the end of their period.
// A key without one holds for good while its job has not finished; when
// the job finishes, settling rewrites the key, on the condition that it
// still names the job, with the retention TTL of the job's row (one
// lightweight transaction more per unique job), so the key expires with
// its job. A requeued job holds its key for good again; deleting a job
// gives its key back.
type UniqueOpts struct {
	// ByArgs adds the job's serialized arguments to the key, byte for byte
	// (encoding/json writes struct fields in order and map keys sorted, so
	// equal values give equal bytes).
	ByArgs bool
	// ByQueue adds the job's queue to the key.
	ByQueue bool
	// ByPeriod adds the period bucket of the job's scheduled time (now for
	// a job due now or in the past): with time.Hour, one job per clock hour (buckets are
	// aligned to the Unix epoch, so to UTC). At least a second; zero for
	// none.
	ByPeriod time.Duration
	// ByState lists the states in which an existing job holds the key.
	// Default: every state but Cancelled and Abandoned (a job that
	// succeeded holds its key until its row expires after
	// Options.Retention). It must include Scheduled, Processing and Failed
	// (and Created for a held job): a job that is still to run always holds
	// its key.
	ByState []State
}

// defaultUniqueStates are the states in which a job holds its unique key
// unless UniqueOpts.ByState says otherwise.
var defaultUniqueStates = []State{StateCreated, StateScheduled, StateProcessing, StateSucceeded, StateFailed, StateAwaitingContinuation, StateAwaitingBatch}

// InsertResult is what [Jobs.InsertOne] stored, or found.
type InsertResult struct {
	// Job is the job stored, or the one that was there already.
	Job *Job
	// Existed says that nothing was stored: a job held the unique key
	// (NewJob.Unique), or the insert was a retry of one that had stored the
	// job under the same id.
	Existed bool
}

// InsertOne stores a new job, as [Jobs.Insert] does, and says whether it
// existed already. With NewJob.Unique set, it returns the job that holds the
// unique key instead of storing a second one (see [UniqueOpts] for the
// guarantee and its cost). Errors are those of Insert.
func (j *Jobs) InsertOne(ctx context.Context, nj *NewJob) (*InsertResult, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	s := j.s
	if nj != nil && nj.Unique != nil {
		return s.insertUnique(ctx, nj)
	}
	job, err := s.newJob(ctx, nj, s.now(), s.subShard("", s.now()))
	if err != nil {
		return nil, err
	}
	stored, fresh, err := s.create(ctx, []*Job{job}, nil)
	if err != nil {
		return nil, err
	}
	return &InsertResult{Job: stored[0], Existed: !fresh[0]}, nil
}

// uniqueKey returns the key of a unique job and the TTL of its row in
// seconds (0: none).
func uniqueKey(job *Job, u *UniqueOpts, now time.Time) (key []byte, ttl int32) {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte("jobsharp unique v1"))
	field([]byte(job.Type))
	var flags byte
	if u.ByArgs {
		flags |= 1
	}
	if u.ByQueue {
		flags |= 2
	}
	field([]byte{flags})
	if u.ByArgs {
		field(job.Args)
	}
	if u.ByQueue {
		field([]byte(job.Queue))
	}
	if u.ByPeriod > 0 {
		start := bucketStart(maxTime(job.ScheduledAt, now), u.ByPeriod)
		field(binary.BigEndian.AppendUint64(nil, uint64(start.UnixMilli())))
		field(binary.BigEndian.AppendUint64(nil, uint64(u.ByPeriod.Milliseconds())))
		end := start.Add(u.ByPeriod)
		ttl = int32(min((end.Sub(now)+time.Second-1)/time.Second, 20*365*24*3600)) // Cassandra caps TTLs at 20 years
		ttl = max(ttl, 1)
	}
	return h.Sum(nil), ttl
}

// validUnique checks UniqueOpts for a job that starts in state first, and
// returns the states in which a job holds the key.
func validUnique(u *UniqueOpts, first State) ([]State, error) {
	switch {
	case u.ByPeriod < 0:
		return nil, invalid("unique", "ByPeriod %s is negative", u.ByPeriod)
	case u.ByPeriod > 0 && u.ByPeriod < time.Second:
		return nil, invalid("unique", "ByPeriod %s is under a second", u.ByPeriod)
	case u.ByPeriod%time.Millisecond != 0:
		return nil, invalid("unique", "ByPeriod %s is not a whole number of milliseconds", u.ByPeriod)
	}
	states := u.ByState
	if len(states) == 0 {
		return defaultUniqueStates, nil
	}
	for _, st := range states {
		if st < StateCreated || st > StateAwaitingBatch {
			return nil, invalid("unique", "ByState holds %d, which is no state", int(st))
		}
	}
	for _, st := range []State{first, StateScheduled, StateProcessing, StateFailed} {
		if !slices.Contains(states, st) {
			return nil, invalid("unique", "ByState lacks %s: a job still to run must hold its key", st)
		}
	}
	return states, nil
}

// insertUnique stores a unique job, or returns the job that holds its key.
func (s *Store) insertUnique(ctx context.Context, nj *NewJob) (*InsertResult, error) {
	plain := *nj
	plain.Unique = nil
	now := s.now()
	job, err := s.newJob(ctx, &plain, now, s.subShard("", now))
	if err != nil {
		return nil, err
	}
	states, err := validUnique(nj.Unique, job.State)
	if err != nil {
		return nil, err
	}
	key, ttl := uniqueKey(job, nj.Unique, now)
	if ttl == 0 {
		// No period: the key would stay for good; the job carries it, so
		// that its row gets the job's TTL when the job finishes.
		job.UniqueKey = key
	}
	wait := 2 * time.Millisecond
	for {
		row := models.UniqueKeysRow{Key: key, JobID: job.ID, ClaimedAt: s.now()}
		applied, cur, err := s.db.UniqueClaim(ctx, row, ttl).Exec()
		if err = s.interpret(ctx, queries.UniqueClaim.Name, err); err != nil {
			return nil, fmt.Errorf("claim unique key of job %s: %w", job.ID, err)
		}
		if applied || cur.JobID == job.ID {
			// Ours, or ours already: a retried insert with the same id.
			return s.insertHolding(ctx, job, key)
		}
		holder, err := s.get(ctx, cur.JobID, false)
		switch {
		case err == nil && slices.Contains(states, holder.State):
			return &InsertResult{Job: holder, Existed: true}, nil
		case err != nil && !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("read job %s holding the unique key: %w", cur.JobID, err)
		case err != nil && s.young(cur.ClaimedAt):
			// The holder's insert may be in flight: wait for its job, or
			// for the key to be given back.
			if !sleepCtx(ctx, wait) {
				return nil, fmt.Errorf("wait for job %s holding the unique key: %w", cur.JobID, ctx.Err())
			}
			wait = min(2*wait, 100*time.Millisecond)
			continue
		}
		// The holder left the unique states, or never came to exist.
		row.ClaimedAt = s.now()
		applied, _, err = s.db.UniqueTakeOver(ctx, row, ttl, cur.JobID).Exec()
		if err = s.interpret(ctx, queries.UniqueTakeOver.Name, err); err != nil {
			return nil, fmt.Errorf("take over unique key from job %s: %w", cur.JobID, err)
		}
		if applied {
			return s.insertHolding(ctx, job, key)
		}
		// Another insert took it first (or it expired): look again.
	}
}

// insertHolding inserts a job that holds its unique key. When the insert
// fails and the job is certainly not stored, the key is given back.
func (s *Store) insertHolding(ctx context.Context, job *Job, key []byte) (*InsertResult, error) {
	stored, fresh, err := s.create(ctx, []*Job{job}, nil)
	if err == nil {
		return &InsertResult{Job: stored[0], Existed: !fresh[0]}, nil
	}
	// The outcome may be unknown (a timeout): a serial read settles it. A
	// job that has our id is ours, unless the id was taken (ErrExists).
	rctx := context.WithoutCancel(ctx)
	if !errors.Is(err, ErrExists) { // ErrExists: another job has the id; ours was not stored
		got, gerr := s.getSerial(rctx, job.ID)
		switch {
		case gerr == nil:
			return &InsertResult{Job: got}, nil
		case !errors.Is(gerr, ErrNotFound):
			// Unknown: keep the key. If the job is missing, the next
			// insert takes the key over once the claim is older than
			// Grace.
			return nil, err
		}
	}
	_, _, rerr := s.db.UniqueRelease(rctx, key, job.ID).Exec()
	if rerr = s.interpret(rctx, queries.UniqueRelease.Name, rerr); rerr != nil {
		return nil, errors.Join(err, fmt.Errorf("give back the unique key of job %s: %w", job.ID, rerr))
	}
	return nil, err
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// uniqueHolder returns the id of the job holding a unique key, for tests.
func (s *Store) uniqueHolder(ctx context.Context, key []byte) (gocql.UUID, error) {
	row, err := s.db.UniqueGet(ctx, key).One()
	if err = s.interpret(ctx, queries.UniqueGet.Name, err); err != nil {
		return gocql.UUID{}, err
	}
	return row.JobID, nil
}
