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

	"github.com/jobsharp/cassandra/bench/rawcql"
	"github.com/jobsharp/cassandra/repo"
)

// The layout our store uses with default Options; raw gocql computes the
// same keys.
const (
	dueWidth         = repo.DefaultDueBucketWidth
	dueShards        = repo.DefaultDueShards
	stateWidth       = repo.DefaultStateBucketWidth
	stateShards      = repo.DefaultStateShards
	homeWidth        = repo.DefaultHomeBucketWidth
	homeShards       = repo.DefaultHomeShards
	foldInterval     = repo.DefaultFoldInterval
	writeConcurrency = repo.DefaultWriteConcurrency
	retentionSeconds = int(repo.DefaultRetention / time.Second)
	// maxBatchJobs is the most jobs of one conditional batch.
	maxBatchJobs = rawcql.MaxBatch
	// stateScheduled is the state of a new job.
	stateScheduled = int32(repo.StateScheduled)
)

// shardOf spreads ids over shards by FNV-1a: the hint rows of the hints
// scenario.
func shardOf(id gocql.UUID, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write(id[:])
	return int(h.Sum32() % uint32(shards))
}

// rawStore stores jobs of our schema with hand-written gocql: the same
// statements the store sends, in the same order (the directory row of a
// new home bucket and the mark of a count hour, each once and cached as the
// store caches them, then one conditional batch per home partition: the
// jobs' rows, each created only if absent, and one entry of the partition's
// count log), with positional binds and no validation, conversion or
// generated layer.
type rawStore struct {
	s     *gocql.Session
	now   func() time.Time
	queue string
	salt  uint64
	// number is the queue's number, from the queue registry.
	number int32

	mu    sync.Mutex
	dirs  map[time.Time]bool      // home buckets whose directory row is written
	marks map[time.Time]time.Time // count hours marked dirty, and until when
}

// newRawStore registers queue as the store does (a number taken by
// lightweight transaction, then the queue's row) and returns a raw store of
// its jobs.
func newRawStore(ctx context.Context, s *gocql.Session, now func() time.Time, queue string) (*rawStore, error) {
	r := &rawStore{s: s, now: now, queue: queue, salt: rand.Uint64(), dirs: map[time.Time]bool{}, marks: map[time.Time]time.Time{}}
	for range 20 {
		n := 1 + rand.Int32N(1<<20-1)
		applied, err := s.Query(rawcql.QueueNumberTake, n, queue).WithContext(ctx).MapScanCAS(map[string]any{})
		if err != nil {
			return nil, fmt.Errorf("raw: register queue %s: %w", queue, err)
		}
		if !applied {
			continue
		}
		cur := map[string]any{}
		applied, err = s.Query(rawcql.QueueCreate, 0, queue, n, now().UTC().Truncate(time.Millisecond)).WithContext(ctx).MapScanCAS(cur)
		if err != nil {
			return nil, fmt.Errorf("raw: register queue %s: %w", queue, err)
		}
		if !applied {
			n, _ = cur["number"].(int32)
		}
		r.number = n
		return r, nil
	}
	return nil, fmt.Errorf("raw: register queue %s: no free queue number", queue)
}

// rawJob is what raw gocql stores: our jobs row's values for a new job.
type rawJob struct {
	id    gocql.UUID
	home  time.Time
	shard int32
	typ   string
	arg   []byte
	at    time.Time
}

// newJobs returns n new jobs due now, placed as the store places the jobs
// of one insert.
func (r *rawStore) newJobs(typ string, args []byte, n int) []rawJob {
	now := r.now().UTC().Truncate(time.Millisecond)
	ids := rawcql.Placer{Queue: r.number, Salt: r.salt}.IDs(now, n)
	jobs := make([]rawJob, n)
	for i, id := range ids {
		home, shard := rawcql.Home(id)
		jobs[i] = rawJob{id: id, home: home, shard: shard, typ: typ, arg: args, at: now}
	}
	return jobs
}

func (r *rawStore) newJob(typ string, args []byte) rawJob { return r.newJobs(typ, args, 1)[0] }

// homePart is a partition of the jobs table.
type homePart struct {
	home  time.Time
	shard int32
}

// prepare writes what the store writes before the rows of new jobs: the
// directory rows of the home buckets it has not written, then the marks of
// the count hours whose marks run out within a fold.
func (r *rawStore) prepare(ctx context.Context, homes []time.Time) error {
	now := r.now()
	until := now.Add(2*foldInterval + time.Second)
	var dirs, marks [][]any
	r.mu.Lock()
	for _, h := range homes {
		if !r.dirs[h] {
			r.dirs[h] = true
			dirs = append(dirs, []any{rawcql.HomeBucketInsert, r.queue, h, int(homeWidth.Milliseconds()), homeShards})
		}
		hour := h.Truncate(time.Hour)
		if !r.marks[hour].After(now.Add(foldInterval)) {
			r.marks[hour] = until
			marks = append(marks, []any{rawcql.CountHourDirty, until.UnixMicro(), until, r.queue, hour})
		}
	}
	r.mu.Unlock()
	for _, stmts := range [][][]any{dirs, marks} {
		err := parallel(ctx, len(stmts), writeConcurrency, func(ctx context.Context, i int) error {
			return r.s.Query(stmts[i][0].(string), stmts[i][1:]...).WithContext(ctx).Idempotent(true).Exec()
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// create sends one conditional batch: the rows of jobs (all of partition
// p), each created only if absent, and the count log entry for them.
func (r *rawStore) create(ctx context.Context, p homePart, jobs []rawJob) error {
	var (
		zeroT time.Time
		zeroU gocql.UUID
	)
	b := r.s.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
	b.SerialConsistency(gocql.LocalSerial)
	for _, j := range jobs {
		b.Query(rawcql.JobsCreate, r.queue, j.typ, j.arg, stateScheduled, int64(1), j.at, j.at, j.at, zeroT, zeroT, 0, 10, "",
			nil, []byte(nil), zeroU, zeroU, false, "", "", zeroU, zeroT, map[string]string(nil), gocql.UnsetValue, gocql.UnsetValue, gocql.UnsetValue, p.home, p.shard, j.id)
	}
	b.Query(rawcql.CountLogActive, gocql.TimeUUID(), map[int32]int32{stateScheduled: int32(len(jobs))}, p.home, p.shard)
	applied, iter, err := r.s.ExecuteBatchCAS(b)
	if err != nil {
		return err
	}
	_ = iter.Close()
	if !applied {
		return errors.New("a job exists")
	}
	return nil
}

// insert stores one job as the store's Insert does.
func (r *rawStore) insert(ctx context.Context, j rawJob) error {
	return r.insertMany(ctx, []rawJob{j})
}

// insertMany stores jobs as the store's InsertMany does: the directory row
// and count mark first, then per home partition (in parallel) conditional
// batches of at most maxBatchJobs jobs, one after the other.
func (r *rawStore) insertMany(ctx context.Context, jobs []rawJob) error {
	var order []homePart
	groups := map[homePart][]rawJob{}
	var homes []time.Time
	for _, j := range jobs {
		p := homePart{j.home, j.shard}
		if _, ok := groups[p]; !ok {
			order = append(order, p)
			homes = append(homes, j.home)
		}
		groups[p] = append(groups[p], j)
	}
	if err := r.prepare(ctx, homes); err != nil {
		return fmt.Errorf("raw: directory and count mark: %w", err)
	}
	return parallel(ctx, len(order), writeConcurrency, func(ctx context.Context, i int) error {
		for g := groups[order[i]]; len(g) > 0; g = g[min(len(g), maxBatchJobs):] {
			if err := r.create(ctx, order[i], g[:min(len(g), maxBatchJobs)]); err != nil {
				return fmt.Errorf("raw: create: %w", err)
			}
		}
		return nil
	})
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
