//go:build jobsharp_raw

// The adapter of raw gocql (build tag jobsharp_raw, from this tree): the
// statements this commit's store sends for a job's life, sent directly
// with gocql, with no repo, worker or gocqlx, so that ours / raw is the
// cost of the store's guarantees over the bare statements.
//
// What it sends, as the store does: jobs rows in home partitions, ids laid
// out as the store lays them out (bench/rawcql), inserts as conditional
// batches per partition (JobsCreate … IF version = NULL, empty optional
// columns unset); a claim reads a
// page of each partition from its frontier (JobsScan) and claims the due
// rows in one conditional batch (JobsClaim … IF version = ?), and reads
// every range its frontier passed again a second and Grace later
// (JobsScanBrief, then JobsGetMany for what is left), since a row can land
// behind it; a finished job's row is rewritten Succeeded with the retention
// TTL (JobsWriteKeep … IF version = ?, empty errors and metadata unset).
// Every conditional batch of a partition
// goes through one group commit: while a batch of the partition is in
// flight, the changes that come meanwhile (inserts, claims, completions)
// wait and go together in the next, at most MaxBatch each. The poll loop
// claims as the store's processor does: when half its slots are free, or
// after a 50 ms cooldown; after claims that found nothing, from 100 ms
// doubling to a second.
//
// What it leaves out, and the store pays for: the queue registry (the queue
// number is a hash of the name), the home directory (the processor reads
// every sub-shard of every home bucket since it started), the count logs
// and the count marks, the due and state indexes and their hints, retries,
// backoff and the settling of continuations and batches, heartbeats and
// rescue, validation and conversion, and any recovery: a batch that does not
// apply or times out fails the run.

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/bench/rawcql"
	"github.com/jobsharp/cassandra/bench/workload"
	"github.com/jobsharp/cassandra/schema"
)

// noopType is the job type of the benchmark's jobs.
const noopType = "bench.noop"

// The processor's pacing, as the worker's defaults.
const (
	claimCooldown = 50 * time.Millisecond
	pollInterval  = time.Second
	writeFanout   = 32 // partitions written at once by a bulk insert
	rereadPage    = 1000
)

// applySchema creates the keyspace and this commit's schema.
func applySchema(ctx context.Context, session *gocql.Session, keyspace string) error {
	_, err := schema.Apply(ctx, session, keyspace, &schema.Replication{Class: schema.SimpleStrategy, Factor: 1})
	return err
}

// open connects to the keyspace and returns raw gocql working queue.
func open(_ context.Context, cluster *gocql.ClusterConfig, keyspace, queue string) (workload.System, func(), error) {
	c := *cluster
	c.Keyspace = keyspace
	s, err := c.CreateSession()
	if err != nil {
		return nil, nil, fmt.Errorf("connect to keyspace %s: %w", keyspace, err)
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(queue))
	number := int32(h.Sum32()&(1<<20-1)) | 1 // never 0, which no job id carries
	host, _ := os.Hostname()
	sys := &system{
		s: s, queue: queue, number: number, owner: fmt.Sprintf("raw-%s-%d", host, os.Getpid()),
		place: rawcql.Placer{Queue: number, Salt: rand.Uint64()},
		first: rawcql.BucketStart(time.Now(), rawcql.HomeWidth),
		parts: map[part]*commitQueue{},
	}
	return sys, s.Close, nil
}

type system struct {
	s      *gocql.Session
	queue  string
	number int32
	owner  string
	place  rawcql.Placer
	// first is the first home bucket a job of this process can live in.
	first time.Time

	mu    sync.Mutex
	parts map[part]*commitQueue
}

// part is a partition of the jobs table.
type part struct {
	home  time.Time
	shard int32
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// newRows returns the rows of n new jobs due now.
func (s *system) newRows(n int) []*rawcql.Row {
	at := now()
	ids := s.place.IDs(at, n)
	rows := make([]*rawcql.Row, n)
	for i, id := range ids {
		home, shard := rawcql.Home(id)
		rows[i] = &rawcql.Row{Home: home, Shard: shard, ID: id, Queue: s.queue, Type: noopType, Args: []byte("{}"),
			State: rawcql.StateScheduled, Version: 1, CreatedAt: at, ScheduledAt: at, StateChangedAt: at, MaxRetries: 10}
	}
	return rows
}

func create(r *rawcql.Row) *change {
	return &change{id: r.ID, stmt: rawcql.JobsCreate, args: r.CreateArgs()}
}

func (s *system) InsertMany(ctx context.Context, n int) ([]string, error) {
	rows := s.newRows(n)
	groups := map[part][]*change{}
	var order []part
	ids := make([]string, n)
	for i, r := range rows {
		p := part{r.Home, r.Shard}
		if groups[p] == nil {
			order = append(order, p)
		}
		groups[p] = append(groups[p], create(r))
		ids[i] = r.ID.String()
	}
	err := workload.ForEach(ctx, len(order), writeFanout, func(ctx context.Context, i int) error {
		return s.commit(ctx, order[i], groups[order[i]]...)
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func (s *system) Insert(ctx context.Context) (string, error) {
	r := s.newRows(1)[0]
	if err := s.commit(ctx, part{r.Home, r.Shard}, create(r)); err != nil {
		return "", err
	}
	return r.ID.String(), nil
}

// busy is 1 when a batch of partition p is in flight, else 0.
func (s *system) busy(p part) int {
	s.mu.Lock()
	q := s.parts[p]
	s.mu.Unlock()
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.leading {
		return 1
	}
	return 0
}

// change is one conditional statement of a group commit.
type change struct {
	id   gocql.UUID
	stmt string
	args []any
	done chan error
}

// commitQueue is a partition's group commit: one conditional batch in
// flight at a time, the changes that come meanwhile go in the next.
type commitQueue struct {
	mu      sync.Mutex
	pending []*change
	leading bool
}

// commit sends changes of partition p in the partition's conditional
// batches and waits until they applied.
func (s *system) commit(ctx context.Context, p part, chs ...*change) error {
	s.mu.Lock()
	q := s.parts[p]
	if q == nil {
		q = &commitQueue{}
		s.parts[p] = q
	}
	s.mu.Unlock()
	for _, c := range chs {
		c.done = make(chan error, 1)
	}
	q.mu.Lock()
	q.pending = append(q.pending, chs...)
	lead := !q.leading
	q.leading = true
	q.mu.Unlock()
	if lead {
		go s.lead(p, q)
	}
	var errs []error
	for _, c := range chs {
		select {
		case err := <-c.done:
			errs = append(errs, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// lead sends the pending changes of a partition, a batch at a time, until
// none is left. A batch never holds two changes of one job.
func (s *system) lead(p part, q *commitQueue) {
	for {
		q.mu.Lock()
		seen := map[gocql.UUID]bool{}
		n := 0
		for n < len(q.pending) && n < rawcql.MaxBatch && !seen[q.pending[n].id] {
			seen[q.pending[n].id] = true
			n++
		}
		if n == 0 {
			q.leading = false
			q.mu.Unlock()
			return
		}
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		q.mu.Unlock()
		err := s.sendBatch(p, batch)
		for _, c := range batch {
			c.done <- err
		}
	}
}

func (s *system) sendBatch(p part, chs []*change) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*rawcql.Lease)
	defer cancel()
	b := s.s.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
	b.SerialConsistency(gocql.LocalSerial)
	for _, c := range chs {
		b.Query(c.stmt, c.args...)
	}
	applied, iter, err := s.s.ExecuteBatchCAS(b)
	if err == nil {
		_ = iter.Close()
		if !applied {
			err = errors.New("did not apply: a row changed under it")
		}
	}
	if err != nil {
		return &batchError{p: p, n: len(chs), err: err}
	}
	return nil
}

// batchError is a conditional batch that failed or did not apply.
type batchError struct {
	p   part
	n   int
	err error
}

func (e *batchError) Error() string {
	return fmt.Sprintf("raw: batch of %d changes of partition (%s, %d): %v", e.n, e.p.home.Format(time.RFC3339), e.p.shard, e.err)
}

func (e *batchError) Unwrap() error { return e.err }

// cursor is the processor's position in one home partition.
type cursor struct {
	p        part
	end      time.Time  // end of the home bucket
	after    gocql.UUID // rows up to here are resolved
	rereads  []reread
	finished bool // the bucket is over and read to its end
}

// reread is a range (after, until] to read again at a time.
type reread struct {
	after, until gocql.UUID
	at           time.Time
}

// processor claims jobs of the queue and runs them.
type processor struct {
	s       *system
	cursors map[part]*cursor
	h       workload.Hooks
	running sync.WaitGroup
	failed  chan error
}

func (s *system) Work(ctx context.Context, slots int, h workload.Hooks) error {
	pr := &processor{s: s, cursors: map[part]*cursor{}, h: h, failed: make(chan error, 1)}
	sem := make(chan struct{}, slots)
	// As the worker does, a job's slot is free once its handler returned,
	// while its outcome is written (at most slots outcomes at once).
	writing := make(chan struct{}, slots)
	var (
		empty     int // claims in a row that found nothing
		failures  int // claims in a row that failed
		lastClaim time.Time
		err       error
	)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-pr.failed:
			break loop
		case sem <- struct{}{}:
		}
		n := 1
		pause, busy := claimCooldown-time.Since(lastClaim), true
		switch {
		case failures > 0:
			pause, busy = min(pollInterval<<min(failures-1, 10), 30*time.Second), false
		case empty > 0:
			pause, busy = min(100*time.Millisecond<<min(empty-1, 10), pollInterval), false
		}
		if pause > 0 {
			t := time.NewTimer(pause)
		wait:
			for {
				slot := sem
				if !busy || n >= max(1, slots/2) {
					slot = nil
					if busy {
						break wait
					}
				}
				select {
				case <-ctx.Done():
					t.Stop()
					<-sem
					break loop
				case slot <- struct{}{}:
					n++
				case <-t.C:
					break wait
				}
			}
			t.Stop()
		}
	more:
		for n < slots {
			select {
			case sem <- struct{}{}:
				n++
			default:
				break more
			}
		}
		// A claim is not cut off half-way when ctx ends: jobs claimed by a
		// batch whose answer was lost would sit out their lease.
		lastClaim = time.Now()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*rawcql.Lease)
		jobs, cerr := pr.claim(cctx, n)
		cancel()
		for range n - len(jobs) {
			<-sem
		}
		for _, j := range jobs {
			pr.running.Go(func() { pr.run(j, sem, writing) })
		}
		var be *batchError
		switch {
		case errors.As(cerr, &be):
			// Its outcome is unknown, and raw gocql does not find out.
			err = cerr
			break loop
		case cerr != nil:
			// A read failed: nothing changed, so back off and read again, as
			// the worker does.
			failures++
			fmt.Fprintf(os.Stderr, "raw: claim failed; backing off: %v\n", cerr)
		default:
			failures = 0
		}
		if len(jobs) == 0 {
			empty++
		} else {
			empty = 0
		}
	}
	pr.running.Wait()
	if err == nil {
		select {
		case err = <-pr.failed:
		default:
		}
	}
	return err
}

// run runs a claimed job's no-op handler in one of the slots of sem, then
// completes it holding one of the writing tokens.
func (pr *processor) run(j *rawcql.Row, sem, writing chan struct{}) {
	pr.h.Handled(j.ID.String())
	writing <- struct{}{}
	<-sem
	defer func() { <-writing }()
	claimed := j.Version
	done := *j
	at := now()
	done.State, done.Version = rawcql.StateSucceeded, claimed+1
	done.StateChangedAt, done.FinishedAt = at, at
	done.LeaseOwner, done.LeaseToken, done.LeaseUntil = "", gocql.UUID{}, time.Time{}
	c := &change{id: j.ID, stmt: rawcql.JobsWriteKeep, args: done.WriteKeepArgs(int(rawcql.Retention/time.Second), claimed)}
	if err := pr.s.commit(context.Background(), part{j.Home, j.Shard}, c); err != nil {
		select {
		case pr.failed <- fmt.Errorf("complete job %s: %w", j.ID, err):
		default:
		}
		return
	}
	pr.h.Finished(true)
}

// partitions returns the cursors of every sub-shard of every home bucket
// from the first to now's, in a random order, dropping those done.
func (pr *processor) partitions(at time.Time) []*cursor {
	for b := pr.s.first; !b.After(at); b = b.Add(rawcql.HomeWidth) {
		for sub := range rawcql.HomeShards {
			p := part{b, rawcql.Shard(pr.s.number, sub)}
			if pr.cursors[p] == nil {
				pr.cursors[p] = &cursor{p: p, end: b.Add(rawcql.HomeWidth), after: rawcql.IDAt(b)}
			}
		}
	}
	var out []*cursor
	for p, c := range pr.cursors {
		if c.finished && len(c.rereads) == 0 {
			delete(pr.cursors, p)
			continue
		}
		out = append(out, c)
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	// Partitions with a batch in flight go last: a claim there would wait
	// behind it.
	slices.SortStableFunc(out, func(a, b *cursor) int { return cmp.Compare(pr.s.busy(a.p), pr.s.busy(b.p)) })
	return out
}

// claim claims up to need due jobs: from each partition's frontier, then
// the ranges read before whose second look is due. It fails at once when a
// batch fails, and when a read failed only if it claimed nothing.
func (pr *processor) claim(ctx context.Context, need int) ([]*rawcql.Row, error) {
	at := now()
	var out []*rawcql.Row
	var first error
	for _, c := range pr.partitions(at) {
		if len(out) >= need {
			break
		}
		got, err := pr.claimPartition(ctx, c, need-len(out), at)
		out = append(out, got...)
		var be *batchError
		if errors.As(err, &be) {
			return out, err
		} else if err != nil && first == nil {
			first = err // a read: the other partitions are read still
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	return nil, first
}

func (pr *processor) claimPartition(ctx context.Context, c *cursor, need int, at time.Time) ([]*rawcql.Row, error) {
	var out []*rawcql.Row
	if until := rawcql.IDAt(at.Add(time.Millisecond)); !c.finished {
		limit := max(need+need/2, 32)
		rows, err := pr.scan(ctx, rawcql.JobsScan, c.p, c.after, until, limit)
		if err != nil {
			return nil, err
		}
		got, upTo, err := pr.claimRows(ctx, c.p, rows, need, at)
		if err != nil {
			return nil, err
		}
		out = got
		if upTo != (gocql.UUID{}) {
			for _, d := range []time.Duration{time.Second, rawcql.Grace} {
				c.rereads = append(c.rereads, reread{after: c.after, until: upTo, at: at.Add(d)})
			}
			c.after = upTo
		}
		c.finished = len(rows) < limit && (len(rows) == 0 || upTo == rows[len(rows)-1].ID) && !c.end.After(at.Add(-rawcql.Grace))
	}
	keep := c.rereads[:0]
	for i, r := range c.rereads {
		if r.at.After(at) || len(out) >= need {
			keep = append(keep, r)
			continue
		}
		got, rest, err := pr.reread(ctx, c.p, r, need-len(out), at)
		out = append(out, got...)
		if err != nil {
			c.rereads = append(keep, c.rereads[i:]...)
			return out, err
		}
		if rest != nil {
			keep = append(keep, *rest)
		}
	}
	c.rereads = keep
	return out, nil
}

// scan reads rows of partition p whose ids lie in (after, until).
func (pr *processor) scan(ctx context.Context, stmt string, p part, after, until gocql.UUID, limit int) ([]*rawcql.Row, error) {
	iter := pr.s.s.Query(stmt, p.home, p.shard, after, until, limit).WithContext(ctx).Idempotent(true).Iter()
	var rows []*rawcql.Row
	for {
		r := &rawcql.Row{Home: p.home, Shard: p.shard}
		dest := r.Dest()
		if stmt == rawcql.JobsScanBrief {
			dest = []any{&r.ID, &r.Queue, &r.State, &r.Version, &r.ScheduledAt, &r.LeaseUntil}
		}
		if !iter.Scan(dest...) {
			break
		}
		rows = append(rows, r)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("raw: read partition (%s, %d): %w", p.home.Format(time.RFC3339), p.shard, err)
	}
	return rows, nil
}

func claimable(r *rawcql.Row, queue string, at time.Time) bool {
	return r.Queue == queue && (r.State == rawcql.StateScheduled || r.State == rawcql.StateFailed) && !r.ScheduledAt.After(at)
}

// claimRows claims the due rows among rows read in id order (at most need)
// in one conditional batch, and returns them with the id up to which every
// row is resolved (zero: none).
func (pr *processor) claimRows(ctx context.Context, p part, rows []*rawcql.Row, need int, at time.Time) ([]*rawcql.Row, gocql.UUID, error) {
	var out []*rawcql.Row
	var chs []*change
	stop := len(rows)
	for i, r := range rows {
		if !claimable(r, pr.s.queue, at) {
			continue
		}
		if len(out) == need {
			stop = i
			break
		}
		next := *r
		next.State, next.Version = rawcql.StateProcessing, r.Version+1
		next.StateChangedAt, next.StartedAt = at, at
		next.LeaseOwner, next.LeaseToken, next.LeaseUntil = pr.s.owner, gocql.MustRandomUUID(), at.Add(rawcql.Lease)
		chs = append(chs, &change{id: r.ID, stmt: rawcql.JobsClaim, args: []any{next.State, next.Version, next.StateChangedAt,
			next.StartedAt, next.LeaseOwner, next.LeaseToken, next.LeaseUntil, p.home, p.shard, r.ID, r.Version}})
		out = append(out, &next)
	}
	if len(chs) > 0 {
		if err := pr.s.commit(ctx, p, chs...); err != nil {
			return nil, gocql.UUID{}, fmt.Errorf("claim: %w", err)
		}
	}
	if stop == 0 {
		return out, gocql.UUID{}, nil
	}
	return out, rows[stop-1].ID, nil
}

// reread reads a range again with few columns, and claims the due jobs it
// finds, read whole. It returns what is left of the range when it stopped
// early.
func (pr *processor) reread(ctx context.Context, p part, r reread, need int, at time.Time) ([]*rawcql.Row, *reread, error) {
	var out []*rawcql.Row
	for after := r.after; ; {
		brief, err := pr.scan(ctx, rawcql.JobsScanBrief, p, after, rawcql.Next(r.until), rereadPage)
		if err != nil {
			return out, &reread{after: after, until: r.until, at: r.at}, err
		}
		var ids []gocql.UUID
		for _, b := range brief {
			if claimable(b, pr.s.queue, at) {
				ids = append(ids, b.ID)
			}
		}
		if len(ids) > 0 {
			if len(out) >= need {
				return out, &reread{after: after, until: r.until, at: r.at}, nil
			}
			rows, err := pr.getMany(ctx, p, ids)
			if err != nil {
				return out, &reread{after: after, until: r.until, at: r.at}, err
			}
			got, upTo, err := pr.claimRows(ctx, p, rows, need-len(out), at)
			out = append(out, got...)
			if err != nil {
				return out, &reread{after: after, until: r.until, at: r.at}, err
			}
			if len(rows) > 0 && upTo != rows[len(rows)-1].ID {
				if upTo == (gocql.UUID{}) {
					upTo = after
				}
				return out, &reread{after: upTo, until: r.until, at: r.at}, nil
			}
		}
		if len(brief) < rereadPage {
			return out, nil, nil
		}
		after = brief[len(brief)-1].ID
	}
}

// getMany reads whole rows of partition p by id, in id order.
func (pr *processor) getMany(ctx context.Context, p part, ids []gocql.UUID) ([]*rawcql.Row, error) {
	iter := pr.s.s.Query(rawcql.JobsGetMany, p.home, p.shard, ids).WithContext(ctx).Idempotent(true).Iter()
	var rows []*rawcql.Row
	for {
		r := &rawcql.Row{}
		if !iter.Scan(r.Dest()...) {
			break
		}
		rows = append(rows, r)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("raw: read jobs of partition (%s, %d): %w", p.home.Format(time.RFC3339), p.shard, err)
	}
	slices.SortFunc(rows, func(a, b *rawcql.Row) int { return compareIDs(a.ID, b.ID) })
	return rows, nil
}

func compareIDs(a, b gocql.UUID) int { return slices.Compare(a[:], b[:]) }

func (s *system) Records(ctx context.Context, ids []string) ([]workload.Record, error) {
	return workload.ReadRecords(ctx, ids, 64, func(ctx context.Context, id string) (*workload.Record, error) {
		uuid, err := gocql.ParseUUID(id)
		if err != nil {
			return nil, err
		}
		home, shard := rawcql.Home(uuid)
		var r rawcql.Row
		err = s.s.Query(rawcql.JobsGet, home, shard, uuid).WithContext(ctx).Idempotent(true).Scan(r.Dest()...)
		if errors.Is(err, gocql.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		return &workload.Record{ID: id, Succeeded: r.State == rawcql.StateSucceeded, Attempts: r.RetryCount + 1,
			Created: r.CreatedAt, Finished: r.FinishedAt}, nil
	})
}
