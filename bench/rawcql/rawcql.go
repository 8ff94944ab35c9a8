// Package rawcql is what bench's raw gocql contenders share: the jobs
// table's statements as the store sends them, written by hand, a jobs row
// read and written by position, and the job id layout of repo/jobid.go
// reimplemented in a few lines. It imports gocql only, so that a contender
// built on it sends the bare statements, with no repo, worker or gocqlx in
// between. Its tests check each statement against the generated one and
// each id against the store's reading of it.
package rawcql

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/gocql/gocql"
)

// The jobs table's statements, as schema/queries.cql has them (the
// generated constants in queries/ are laid out over lines).
const (
	JobsCreate    = `UPDATE jobs SET queue = ?, type = ?, args = ?, state = ?, version = ?, created_at = ?, scheduled_at = ?, state_changed_at = ?, started_at = ?, finished_at = ?, retry_count = ?, max_retries = ?, last_error = ?, errors = ?, result = ?, batch_id = ?, parent_id = ?, continued = ?, recurring_id = ?, lease_owner = ?, lease_token = ?, lease_until = ?, metadata = ?, unique_key = ?, final_change = ?, succeeded_jobs = ? WHERE home = ? AND shard = ? AND id = ? IF version = NULL`
	JobsGet       = `SELECT ` + jobsColumns + ` FROM jobs WHERE home = ? AND shard = ? AND id = ?`
	JobsGetMany   = `SELECT ` + jobsColumns + ` FROM jobs WHERE home = ? AND shard = ? AND id IN ?`
	JobsScan      = `SELECT ` + jobsColumns + ` FROM jobs WHERE home = ? AND shard = ? AND id > ? AND id < ? LIMIT ?`
	JobsScanBrief = `SELECT id, queue, state, version, scheduled_at, lease_until FROM jobs WHERE home = ? AND shard = ? AND id > ? AND id < ? LIMIT ?`
	JobsClaim     = `UPDATE jobs SET state = ?, version = ?, state_changed_at = ?, started_at = ?, lease_owner = ?, lease_token = ?, lease_until = ? WHERE home = ? AND shard = ? AND id = ? IF version = ?`
	JobsWrite     = `UPDATE jobs USING TTL ? SET queue = ?, type = ?, args = ?, state = ?, version = ?, created_at = ?, scheduled_at = ?, state_changed_at = ?, started_at = ?, finished_at = ?, retry_count = ?, max_retries = ?, last_error = ?, errors = ?, result = ?, batch_id = ?, parent_id = ?, continued = ?, recurring_id = ?, lease_owner = ?, lease_token = ?, lease_until = ?, metadata = ?, unique_key = ?, final_change = ?, succeeded_jobs = ? WHERE home = ? AND shard = ? AND id = ? IF version = ?`
	// JobsWriteKeep is JobsWrite with empty errors and metadata left as they
	// are (WriteKeepArgs binds them unset), as the store writes a job's
	// outcome when it clears neither.
	JobsWriteKeep = JobsWrite

	jobsColumns = `home, shard, id, queue, type, args, state, version, created_at, scheduled_at, state_changed_at, started_at, finished_at, retry_count, max_retries, last_error, errors, result, batch_id, parent_id, continued, recurring_id, lease_owner, lease_token, lease_until, metadata, unique_key, final_change, succeeded_jobs`
)

// The other statements the store sends to store jobs (the store and layer
// scenarios' raw gocql sends them), as schema/queries.cql has them.
const (
	QueueNumberTake  = `INSERT INTO queue_numbers (number, name) VALUES (?, ?) IF NOT EXISTS`
	QueueCreate      = `INSERT INTO queues (shard, name, number, created_at) VALUES (?, ?, ?, ?) IF NOT EXISTS`
	HomeBucketInsert = `INSERT INTO home_buckets (queue, bucket, width_ms, shards) VALUES (?, ?, ?, ?)`
	CountHourDirty   = `UPDATE count_hours USING TIMESTAMP ? SET dirty_until = ? WHERE queue = ? AND hour = ?`
	CountLogActive   = `UPDATE jobs SET active_log[?] = ? WHERE home = ? AND shard = ?`
	DueInsert        = `INSERT INTO scheduled_jobs (queue, bucket, shard, due_at, job_id, last_id) VALUES (?, ?, ?, ?, ?, ?)`
	StateInsert      = `INSERT INTO jobs_by_state (queue, state, bucket, shard, entered_at, job_id) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?`
	DueScan          = `SELECT due_at, job_id, last_id FROM scheduled_jobs WHERE queue = ? AND bucket = ? AND shard = ? AND due_at >= ? AND due_at <= ? LIMIT ?`
)

// The job states raw gocql writes (repo.State).
const (
	StateScheduled  = 1
	StateProcessing = 2
	StateSucceeded  = 3
	StateFailed     = 4
)

// The store's defaults that raw gocql follows (repo.Default*; a test keeps
// them equal).
const (
	// HomeWidthCode is the default home bucket width as an id carries it:
	// 2^6 s = 64 s.
	HomeWidthCode = 6
	HomeWidth     = time.Duration(1<<HomeWidthCode) * time.Second
	HomeShards    = 8
	Lease         = 30 * time.Second
	Grace         = 15 * time.Second
	Retention     = 7 * 24 * time.Hour
	// InsertWindow is how long the store sends a queue's new jobs to one
	// sub-shard; MaxBatch the most changes of one conditional batch.
	InsertWindow = 10 * time.Millisecond
	MaxBatch     = 200
)

// AttemptError is the attempt_error type, read and written by hand.
type AttemptError struct {
	Attempt  int       `cql:"attempt"`
	FailedAt time.Time `cql:"failed_at"`
	Error    string    `cql:"error"`
	Trace    string    `cql:"trace"`
}

// Row is a jobs row, in the order JobsGet, JobsGetMany and JobsScan select
// its columns.
type Row struct {
	Home                                   time.Time
	Shard                                  int32
	ID                                     gocql.UUID
	Queue, Type                            string
	Args                                   []byte
	State                                  int
	Version                                int64
	CreatedAt, ScheduledAt, StateChangedAt time.Time
	StartedAt, FinishedAt                  time.Time
	RetryCount, MaxRetries                 int
	LastError                              string
	Errors                                 []AttemptError
	Result                                 []byte
	BatchID, ParentID                      gocql.UUID
	Continued                              bool
	RecurringID, LeaseOwner                string
	LeaseToken                             gocql.UUID
	LeaseUntil                             time.Time
	Metadata                               map[string]string
	UniqueKey                              []byte
	// A job's row never holds the finish log's columns; the statements
	// name them (unset) as the store's do.
	FinalChange   map[int]int
	SucceededJobs map[gocql.UUID]int64
}

// Dest returns the scan destinations of the row's columns.
func (r *Row) Dest() []any {
	return []any{&r.Home, &r.Shard, &r.ID, &r.Queue, &r.Type, &r.Args, &r.State, &r.Version, &r.CreatedAt, &r.ScheduledAt,
		&r.StateChangedAt, &r.StartedAt, &r.FinishedAt, &r.RetryCount, &r.MaxRetries, &r.LastError, &r.Errors, &r.Result,
		&r.BatchID, &r.ParentID, &r.Continued, &r.RecurringID, &r.LeaseOwner, &r.LeaseToken, &r.LeaseUntil, &r.Metadata, &r.UniqueKey, &r.FinalChange, &r.SucceededJobs}
}

// CreateArgs are the binds of JobsCreate for the row: its optional columns
// unset when empty, as the store's JobsCreate binds them (:unset in
// schema/queries.cql), so a new row holds no tombstone.
func (r *Row) CreateArgs() []any {
	v := r.values()
	for _, i := range []int{8, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23} { // started_at … unique_key but retry_count, max_retries
		if isZero(v[i]) {
			v[i] = gocql.UnsetValue
		}
	}
	return append(v, r.Home, r.Shard, r.ID)
}

// WriteKeepArgs are the binds of JobsWriteKeep: WriteArgs with empty errors
// and metadata unset.
func (r *Row) WriteKeepArgs(ttl int, expected int64) []any {
	a := r.WriteArgs(ttl, expected)
	for _, i := range []int{14, 23} { // errors, metadata (after the TTL)
		if isZero(a[i]) {
			a[i] = gocql.UnsetValue
		}
	}
	return a
}

// isZero reports whether a bound value is empty: a zero time, string, id or
// flag, or an empty blob or collection.
func isZero(v any) bool {
	switch x := v.(type) {
	case time.Time:
		return x.IsZero()
	case string:
		return x == ""
	case gocql.UUID:
		return x == gocql.UUID{}
	case bool:
		return !x
	case []byte:
		return len(x) == 0
	case []AttemptError:
		return len(x) == 0
	case map[string]string:
		return len(x) == 0
	}
	return false
}

// WriteArgs are the binds of JobsWrite: the whole row with a TTL, if its
// stored version is expected, an empty unique key unset (:unset).
func (r *Row) WriteArgs(ttl int, expected int64) []any {
	a := append(append([]any{ttl}, r.values()...), r.Home, r.Shard, r.ID, expected)
	if isZero(a[24]) { // unique_key (after the TTL)
		a[24] = gocql.UnsetValue
	}
	return a
}

// values are the row's regular columns in the order of JobsCreate and
// JobsWrite; the finish log's two are unset, as a job's row has none.
func (r *Row) values() []any {
	return []any{r.Queue, r.Type, r.Args, r.State, r.Version, r.CreatedAt, r.ScheduledAt, r.StateChangedAt, r.StartedAt,
		r.FinishedAt, r.RetryCount, r.MaxRetries, r.LastError, r.Errors, r.Result, r.BatchID, r.ParentID, r.Continued,
		r.RecurringID, r.LeaseOwner, r.LeaseToken, r.LeaseUntil, r.Metadata, r.UniqueKey, gocql.UnsetValue, gocql.UnsetValue}
}

// BucketStart is the start of the epoch-aligned bucket of width w holding t.
func BucketStart(t time.Time, w time.Duration) time.Time {
	m, wm := t.UnixMilli(), w.Milliseconds()
	r := m % wm
	if r < 0 {
		r += wm
	}
	return time.UnixMilli(m - r).UTC()
}

// JobID lays out a job id as the store does (repo/jobid.go): a UUID
// version 7 whose time is the job's home time, with the default home
// bucket's width code, the sub-shard and the queue number in its other bits.
// The job's partition is (BucketStart(at, HomeWidth), Shard(queue, sub)).
func JobID(at time.Time, sub int, queue int32) gocql.UUID {
	u := IDAt(at)
	_, _ = rand.Read(u[10:])
	u[6] |= HomeWidthCode
	u[7] = byte(sub)
	v := uint32(0b10)<<22 | (uint32(queue)&(1<<20-1))<<2 | uint32(u[10]&0b11)
	u[8], u[9], u[10] = byte(v>>16), byte(v>>8), byte(v)
	return u
}

// Placer places a queue's new jobs as the store does: one sub-shard per
// insert window, picked by a hash with a salt of the placer's own, and the
// jobs of one insert spread over the sub-shards of their home bucket in
// runs of at most MaxBatch.
type Placer struct {
	// Queue is the queue's number.
	Queue int32
	Salt  uint64
}

// IDs returns the ids of n jobs stored at now (whole milliseconds).
func (p Placer) IDs(now time.Time, n int) []gocql.UUID {
	h := fnv.New32a()
	_, _ = fmt.Fprintf(h, "%d\x00%d", p.Salt, now.UnixMilli()/InsertWindow.Milliseconds())
	first := int(h.Sum32() % HomeShards)
	run := max(1, min(MaxBatch, (n+HomeShards-1)/HomeShards))
	ids := make([]gocql.UUID, n)
	for i := range ids {
		ids[i] = JobID(now, (first+i/run)%HomeShards, p.Queue)
	}
	return ids
}

// Shard is the shard column of a queue's sub-shard.
func Shard(queue int32, sub int) int32 { return queue<<8 | int32(sub) }

// Home returns the partition of a job id JobID made: its home bucket (of
// width HomeWidth) and its shard.
func Home(id gocql.UUID) (time.Time, int32) {
	at := time.UnixMilli(int64(binary.BigEndian.Uint64(append([]byte{0, 0}, id[:6]...)))).UTC()
	queue := int32((uint32(id[8])<<16 | uint32(id[9])<<8 | uint32(id[10])) >> 2 & (1<<20 - 1))
	return BucketStart(at, HomeWidth), Shard(queue, int(id[7]))
}

// IDAt is the smallest id of the version 7 layout at time t: the bound of
// a home partition's rows at t (every job whose home time is before t
// sorts before it, every other after it), and the start of a job id.
func IDAt(t time.Time) gocql.UUID {
	var u gocql.UUID
	binary.BigEndian.PutUint64(u[:8], uint64(t.UnixMilli())<<16|0x7000)
	u[8] = 0x80
	return u
}

// Next is the id right after u: the exclusive bound that includes u.
func Next(u gocql.UUID) gocql.UUID {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]++
		if u[i] != 0 {
			break
		}
	}
	return u
}
