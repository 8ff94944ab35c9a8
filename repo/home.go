package repo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// queueNumbers caches the numbers of the queue registry. A queue's number
// never changes once given, so an entry is never stale.
type queueNumbers struct {
	mu sync.Mutex
	m  map[string]int32
}

func (q *queueNumbers) get(name string) (int32, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, ok := q.m[name]
	return n, ok
}

func (q *queueNumbers) put(name string, n int32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.m == nil {
		q.m = map[string]int32{}
	}
	q.m[name] = n
}

// queueNumber returns the number of a queue, registering the queue when it
// is new: a number is taken by lightweight transaction in queue_numbers
// (the first queue to take it owns it), then the queue's row is created by
// lightweight transaction; when another process registered the queue first,
// its number is used and the one taken here stays unused.
func (s *Store) queueNumber(ctx context.Context, queue string) (int32, error) {
	if n, ok := s.queues.get(queue); ok {
		return n, nil
	}
	row, err := s.db.QueueGet(ctx, 0, queue).One()
	switch err = s.interpret(ctx, queries.QueueGet.Name, err); {
	case err == nil && row.Number > 0:
		s.queues.put(queue, row.Number)
		return row.Number, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return 0, fmt.Errorf("read queue %s: %w", queue, err)
	}
	for range 20 {
		n := 1 + rand.Int32N(maxQueueNumber)
		applied, _, err := s.db.QueueNumberTake(ctx, models.QueueNumbersRow{Number: n, Name: queue}).Exec()
		if err = s.interpret(ctx, queries.QueueNumberTake.Name, err); err != nil {
			return 0, fmt.Errorf("register queue %s: %w", queue, err)
		}
		if !applied {
			continue // another queue has n
		}
		applied, cur, err := s.db.QueueCreate(ctx, 0, queue, n, s.now()).Exec()
		if err = s.interpret(ctx, queries.QueueCreate.Name, err); err != nil {
			return 0, fmt.Errorf("register queue %s: %w", queue, err)
		}
		if !applied {
			if cur.Number <= 0 {
				return 0, fmt.Errorf("register queue %s: the registry row has no number", queue)
			}
			n = cur.Number // registered by another process first
		}
		s.queues.put(queue, n)
		return n, nil
	}
	return 0, fmt.Errorf("register queue %s: no free queue number after 20 tries", queue)
}

// Partition returns the partition key of the jobs table row of job id
// (home, shard), for code that reads jobs rows through the generated
// queries package directly. It fails for an id this store did not make.
func Partition(id gocql.UUID) (home time.Time, shard int32, err error) {
	h, err := homeOf(id)
	if err != nil {
		return time.Time{}, 0, invalid("id", "%v", err)
	}
	return h.Start, h.Shard, nil
}

// homeOf returns the partition of the jobs table that holds job id.
func homeOf(id gocql.UUID) (homeRef, error) {
	info, err := parseID(id)
	if err != nil {
		return homeRef{}, err
	}
	return info.home(), nil
}

// subShard picks the sub-shard of new jobs of a queue: the same one for
// every insert of this store in a short window, so that concurrent inserts
// share a partition and go out as one conditional batch, and another one in
// the next window (and in another process), so that partitions fill evenly.
func (s *Store) subShard(queue string, now time.Time) int {
	if s.set.homeShards == 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = fmt.Fprintf(h, "%s\x00%d\x00%d", queue, s.salt, now.UnixMilli()/insertWindowMS)
	return int(h.Sum32() % uint32(s.set.homeShards))
}

// insertWindowMS is how long a store sends a queue's new jobs to one
// sub-shard.
const insertWindowMS = 10

// mintJobID returns a new id for a job of queue (number qn) whose home time
// is at, in sub-shard sub.
func (s *Store) mintJobID(qn int32, at time.Time, sub int) gocql.UUID {
	return mintID(idInfo{At: ms(at), WidthCode: s.set.homeWidthCode, Sub: sub, Queue: qn})
}

// NewID returns an id for a job of queue that is first due at runAt (zero:
// now), for callers that need ids before they store jobs (to match stored
// jobs to their inputs, or to retry an insert without creating the job
// twice). A job's id says where its row lives, so a [NewJob.ID] must come
// from here, for the same queue. It registers the queue on first use.
func (j *Jobs) NewID(ctx context.Context, queue string, runAt time.Time) (gocql.UUID, error) {
	if err := j.check(ctx); err != nil {
		return gocql.UUID{}, err
	}
	if queue == "" {
		queue = DefaultQueue
	}
	if err := ValidQueue(queue); err != nil {
		return gocql.UUID{}, err
	}
	if !runAt.IsZero() && runAt.After(maxHomeTime) {
		return gocql.UUID{}, invalid("run at", "%s is after the year 9999", runAt.Format(time.RFC3339))
	}
	qn, err := j.s.queueNumber(ctx, queue)
	if err != nil {
		return gocql.UUID{}, err
	}
	now := j.s.now()
	at := maxTime(ms(runAt), now)
	return j.s.mintJobID(qn, at, j.s.subShard(queue, now)), nil
}

// NewIDs returns n ids for jobs of queue first due at runAt (zero: now),
// spread over the queue's partitions in runs, so that an insert of many
// jobs fills every partition of their bucket with batches of a useful size.
func (j *Jobs) NewIDs(ctx context.Context, queue string, runAt time.Time, n int) ([]gocql.UUID, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if n < 0 || n > 1_000_000 {
		return nil, invalid("n", "%d, want 0 to 1,000,000", n)
	}
	first, err := j.NewID(ctx, queue, runAt)
	if err != nil || n == 0 {
		return nil, err
	}
	info, _ := parseID(first)
	run := max(1, min(maxBatchChanges, (n+j.s.set.homeShards-1)/j.s.set.homeShards))
	out := make([]gocql.UUID, n)
	out[0] = first
	for i := 1; i < n; i++ {
		out[i] = j.s.mintJobID(info.Queue, info.At, (info.Sub+i/run)%j.s.set.homeShards)
	}
	return out, nil
}

// homeDirKey is a home directory row.
type homeDirKey struct {
	queue  string
	bucket time.Time
	width  time.Duration
	shards int
}

// homeDir returns the directory row of a new job's home bucket.
func (s *Store) homeDir(queue string, id gocql.UUID) (homeDirKey, error) {
	info, err := parseID(id)
	if err != nil {
		return homeDirKey{}, err
	}
	w := widthOf(info.WidthCode)
	shards := s.set.homeShards
	if info.Sub >= shards {
		shards = info.Sub + 1 // an id minted under another setting
	}
	return homeDirKey{queue: queue, bucket: bucketStart(info.At, w), width: w, shards: shards}, nil
}

// homeDirRefresh is how often a store writes a home directory row again:
// the count sweeper removes rows of buckets that hold no job, and a bucket
// can get a job long after (a recurring occurrence caught up late).
const homeDirRefresh = time.Hour

// writeHomeDirs writes the directory rows of new jobs' home buckets that
// this store has not written lately; each is written before its bucket's
// first job, so scanners and the count sweeper find every partition.
func (s *Store) writeHomeDirs(ctx context.Context, keys []homeDirKey) error {
	var todo []homeDirKey
	now := s.now()
	s.homeDirsMu.Lock()
	if s.homeDirs == nil || len(s.homeDirs) > 100_000 {
		s.homeDirs = map[homeDirKey]time.Time{}
	}
	for _, k := range keys {
		if at, ok := s.homeDirs[k]; ok && now.Sub(at) < homeDirRefresh {
			continue
		}
		s.homeDirs[k] = now
		todo = append(todo, k)
	}
	s.homeDirsMu.Unlock()
	return forEach(ctx, len(todo), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		k := todo[i]
		err := s.exec(ctx, queries.HomeBucketInsert, s.db.HomeBucketInsert(ctx, models.HomeBucketsRow{
			Queue: k.queue, Bucket: k.bucket, WidthMs: int32(k.width.Milliseconds()), Shards: int32(k.shards),
		}))
		if err != nil {
			s.homeDirsMu.Lock()
			delete(s.homeDirs, k)
			s.homeDirsMu.Unlock()
			return fmt.Errorf("write home bucket of queue %s: %w", k.queue, err)
		}
		return nil
	})
}

// homeBuckets reads the home directory of a queue between from and to (by
// bucket start).
func (s *Store) homeBuckets(ctx context.Context, queue string, from, to time.Time) ([]homeDirKey, error) {
	rows, err := s.db.HomeBucketsRange(ctx, queue, from, to).All()
	if err != nil {
		return nil, fmt.Errorf("read home buckets of queue %s: %w", queue, s.interpret(ctx, queries.HomeBucketsRange.Name, err))
	}
	out := make([]homeDirKey, 0, len(rows))
	for _, r := range rows {
		if r.WidthMs <= 0 || r.Shards <= 0 {
			continue
		}
		out = append(out, homeDirKey{queue: queue, bucket: r.Bucket.UTC(), width: time.Duration(r.WidthMs) * time.Millisecond, shards: int(r.Shards)})
	}
	return out, nil
}

// partitions lists the partitions of the jobs table a directory row names.
func (k homeDirKey) partitions(qn int32) []homeRef {
	out := make([]homeRef, k.shards)
	for i := range out {
		out[i] = homeRef{Start: k.bucket, Shard: qn<<8 | int32(i)}
	}
	return out
}

// jobsOfPartition reads jobs of one partition by id; missing ids are left
// out. serial reads at the serial consistency (settling lightweight
// transactions in flight).
func (s *Store) jobsOfPartition(ctx context.Context, h homeRef, ids []gocql.UUID, serial bool) ([]*Job, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	q := s.db.JobsGetMany(ctx, h.Start, h.Shard, ids)
	if serial {
		q = q.Consistency(gocql.Consistency(s.set.serial))
	}
	rows, err := q.All()
	if err != nil {
		return nil, s.interpret(ctx, queries.JobsGetMany.Name, err)
	}
	out := make([]*Job, 0, len(rows))
	for i := range rows {
		if rows[i].Version == 0 {
			continue // only a tombstoned or expiring shell is left
		}
		out = append(out, jobFromRow(&rows[i]))
	}
	return out, nil
}

// getJobs reads jobs by id, a statement per home partition in parallel;
// missing ids (and ids this store did not make) are left out.
func (s *Store) getJobs(ctx context.Context, ids []gocql.UUID, serial bool) ([]*Job, error) {
	groups := map[homeRef][]gocql.UUID{}
	var order []homeRef
	for _, id := range ids {
		h, err := homeOf(id)
		if err != nil {
			continue
		}
		if _, ok := groups[h]; !ok {
			order = append(order, h)
		}
		groups[h] = append(groups[h], id)
	}
	results := make([][]*Job, len(order))
	err := forEach(ctx, len(order), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		var err error
		results[i], err = s.jobsOfPartition(ctx, order[i], groups[order[i]], serial)
		return err
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[gocql.UUID]*Job, len(ids))
	for _, r := range results {
		for _, j := range r {
			byID[j.ID] = j
		}
	}
	out := make([]*Job, 0, len(byID))
	for _, id := range ids {
		if j := byID[id]; j != nil {
			out = append(out, j)
			delete(byID, id)
		}
	}
	return out, nil
}

// rowKey returns the partition key and id of a job's row.
func rowKey(j *Job) (homeRef, error) {
	h, err := homeOf(j.ID)
	if err != nil {
		return homeRef{}, invalid("id", "%v", err)
	}
	return h, nil
}
