package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// The statements our store sends to store a job, written by hand. A test
// checks that each equals the generated constant in queries/ (which is laid
// out over lines; whitespace aside), so raw gocql and the store send the
// very same CQL.
const (
	rawQueueInsert     = `INSERT INTO queues (shard, name, created_at) VALUES (?, ?, ?)`
	rawDueBucketInsert = `INSERT INTO scheduled_buckets (queue, bucket, width_ms, shards) VALUES (?, ?, ?, ?)`
	rawDueInsert       = `INSERT INTO scheduled_jobs (queue, bucket, shard, due_at, job_id) VALUES (?, ?, ?, ?, ?)`
	rawStateInsert     = `INSERT INTO jobs_by_state (queue, state, bucket, shard, entered_at, job_id) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?`
	rawJobsCreate      = `UPDATE jobs SET queue = ?, type = ?, args = ?, state = ?, version = ?, created_at = ?, scheduled_at = ?, state_changed_at = ?, started_at = ?, finished_at = ?, retry_count = ?, max_retries = ?, last_error = ?, errors = ?, result = ?, batch_id = ?, parent_id = ?, recurring_id = ?, lease_owner = ?, lease_token = ?, lease_until = ?, metadata = ? WHERE id = ? IF version = NULL`
	rawCountAdd        = `UPDATE job_counts SET jobs = jobs + ? WHERE queue = ? AND state = ? AND bucket = ? AND shard = ?`
	rawJobsGet         = `SELECT id, queue, type, args, state, version, created_at, scheduled_at, state_changed_at, started_at, finished_at, retry_count, max_retries, last_error, errors, result, batch_id, parent_id, recurring_id, lease_owner, lease_token, lease_until, metadata FROM jobs WHERE id = ?`
	rawDueScan         = `SELECT due_at, job_id FROM scheduled_jobs WHERE queue = ? AND bucket = ? AND shard = ? AND due_at >= ? AND due_at <= ? LIMIT ?`
)

// The layout our store uses with default Options; raw gocql computes the
// same keys.
const (
	dueWidth         = time.Minute
	dueShards        = 8
	stateWidth       = time.Hour
	stateShards      = 8
	countShards      = 8
	writeConcurrency = 32
	retentionSeconds = 7 * 24 * 3600
)

// bucketStart is the start of the epoch-aligned bucket of width w holding t.
func bucketStart(t time.Time, w time.Duration) time.Time {
	m, wm := t.UnixMilli(), w.Milliseconds()
	r := m % wm
	if r < 0 {
		r += wm
	}
	return time.UnixMilli(m - r).UTC()
}

// shardOf spreads ids over shards by FNV-1a, as the store does.
func shardOf(id gocql.UUID, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write(id[:])
	return int(h.Sum32() % uint32(shards))
}

// rawStore stores jobs of our schema with hand-written gocql: the same
// statements the store sends, in the same order (hints, then the row by
// lightweight transaction, then the count), with positional binds and no
// validation, conversion or generated layer.
type rawStore struct {
	s     *gocql.Session
	now   func() time.Time
	mu    sync.Mutex
	dirs  map[string]bool // queue and bucket directory rows written
	queue string
}

func newRawStore(s *gocql.Session, now func() time.Time, queue string) *rawStore {
	return &rawStore{s: s, now: now, dirs: map[string]bool{}, queue: queue}
}

// rawJob is what raw gocql stores: our jobs row's values for a new job.
type rawJob struct {
	id  gocql.UUID
	typ string
	arg []byte
	at  time.Time
}

func (r *rawStore) newJob(typ string, args []byte) rawJob {
	now := r.now().UTC().Truncate(time.Millisecond)
	return rawJob{id: gocql.UUID(mustV7()), typ: typ, arg: args, at: now}
}

// dirRows returns the directory statements not yet written for a bucket.
func (r *rawStore) dirRows(b time.Time) [][]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]any
	if k := "q"; !r.dirs[k] {
		r.dirs[k] = true
		out = append(out, []any{rawQueueInsert, 0, r.queue, r.now().UTC().Truncate(time.Millisecond)})
	}
	if k := b.String(); !r.dirs[k] {
		r.dirs[k] = true
		out = append(out, []any{rawDueBucketInsert, r.queue, b, int(dueWidth.Milliseconds()), dueShards})
	}
	return out
}

func (r *rawStore) exec(ctx context.Context, stmt string, args ...any) error {
	return r.s.Query(stmt, args...).WithContext(ctx).Idempotent(true).Exec()
}

func (r *rawStore) hint(ctx context.Context, j rawJob) error {
	b := bucketStart(j.at, dueWidth)
	for _, d := range r.dirRows(b) {
		if err := r.exec(ctx, d[0].(string), d[1:]...); err != nil {
			return err
		}
	}
	return r.exec(ctx, rawDueInsert, r.queue, b, shardOf(j.id, dueShards), j.at, j.id)
}

func (r *rawStore) create(ctx context.Context, j rawJob) error {
	var (
		zeroT time.Time
		zeroU gocql.UUID
	)
	q := r.s.Query(rawJobsCreate, r.queue, j.typ, j.arg, 1, int64(1), j.at, j.at, j.at, zeroT, zeroT, 0, 10, "",
		nil, []byte(nil), zeroU, zeroU, "", "", zeroU, zeroT, map[string]string(nil), j.id).
		WithContext(ctx).SerialConsistency(gocql.LocalSerial)
	applied, err := q.ScanCAS()
	if err != nil {
		return err
	}
	if !applied {
		return errors.New("job exists")
	}
	return nil
}

func (r *rawStore) count(ctx context.Context, n int) error {
	return r.s.Query(rawCountAdd, int64(n), r.queue, 1, time.UnixMilli(0).UTC(), rand.IntN(countShards)).WithContext(ctx).Exec()
}

// insert stores one job: its due entry, the row, the count.
func (r *rawStore) insert(ctx context.Context, j rawJob) error {
	if err := r.hint(ctx, j); err != nil {
		return fmt.Errorf("raw hint: %w", err)
	}
	if err := r.create(ctx, j); err != nil {
		return fmt.Errorf("raw create: %w", err)
	}
	return r.count(ctx, 1)
}

// insertMany stores jobs as the store's InsertMany does: the hints as one
// unlogged batch per due partition (at most 50 rows each), then every row,
// then one count, each step with bounded parallelism.
func (r *rawStore) insertMany(ctx context.Context, jobs []rawJob) error {
	type part struct {
		b     time.Time
		shard int
	}
	var order []part
	groups := map[part][]rawJob{}
	for _, j := range jobs {
		p := part{bucketStart(j.at, dueWidth), shardOf(j.id, dueShards)}
		if _, ok := groups[p]; !ok {
			order = append(order, p)
			for _, d := range r.dirRows(p.b) {
				if err := r.exec(ctx, d[0].(string), d[1:]...); err != nil {
					return err
				}
			}
		}
		groups[p] = append(groups[p], j)
	}
	var chunks [][]rawJob
	for _, p := range order {
		for g := groups[p]; len(g) > 0; g = g[min(len(g), 50):] {
			chunks = append(chunks, g[:min(len(g), 50)])
		}
	}
	err := parallel(ctx, len(chunks), writeConcurrency, func(ctx context.Context, i int) error {
		b := r.s.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
		for _, j := range chunks[i] {
			b.Query(rawDueInsert, r.queue, bucketStart(j.at, dueWidth), shardOf(j.id, dueShards), j.at, j.id)
		}
		return r.s.ExecuteBatch(b)
	})
	if err != nil {
		return err
	}
	if err := parallel(ctx, len(jobs), writeConcurrency, func(ctx context.Context, i int) error { return r.create(ctx, jobs[i]) }); err != nil {
		return err
	}
	return r.count(ctx, len(jobs))
}

// parallel runs fn for i in [0, n) with at most limit in flight and returns
// the first error.
func parallel(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, max(limit, 1))
	)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}
