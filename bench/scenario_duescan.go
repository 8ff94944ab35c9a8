package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/bench/rawcql"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
)

// DueScanResult is the latency of fetching DueFetch due jobs once History
// jobs have been processed, per contender.
type DueScanResult struct {
	History int `json:"history"`
	// SimulatedSpan is the simulated time the history spans.
	SimulatedSpan time.Duration    `json:"simulated_span_ns"`
	LatencyMS     map[string]*Stat `json:"latency_ms"`
	// EmptyMS is the same scan of an empty history, measured alongside
	// (interleaved in the same repetitions): ours on a fresh queue, the
	// original in a keyspace of its own; kept in the report beside
	// LatencyMS.
	EmptyMS map[string]*Stat `json:"empty_ms"`
	// VsEmpty is the latency over the empty history's, repetition by
	// repetition (each pair measured back to back); its median is the
	// "× empty" figure, robust to load that drifts between repetitions.
	VsEmpty map[string]*Stat `json:"vs_empty"`
	// Found is the number of the due jobs the scan returned (all of them is
	// DueFetch).
	Found map[string]*Stat      `json:"found"`
	RTs   map[string]RoundTrips `json:"round_trips_per_scan"`
	// Read is what the node read to find the due jobs of one scan, from
	// query traces of the same statements: ours, the index reads and the
	// home partitions from the watermark (where new jobs are found); the
	// original, its scheduled index. Reads of jobs by id are not counted.
	Read map[string]ReadCost `json:"read"`
	// IndexMS and JobsMS split our scan: the index reads ListDue makes
	// (watermark, due-bucket directory, due partitions, home-bucket
	// directory; sent the same way), and reading the jobs (the home
	// partitions from the watermark until the due jobs are found, then the
	// jobs of due entries by id, 32 in flight).
	IndexMS *Stat `json:"index_ms,omitempty"`
	JobsMS  *Stat `json:"jobs_ms,omitempty"`
}

// historyChunk is the number of jobs processed together while history is
// built.
const historyChunk = 1000

// dueScan holds the state of the due-scan scenario: one queue of ours and
// the original's tables, both growing history on one simulated clock.
type dueScan struct {
	e     *env
	store *repo.Store
	queue string
	orig  *Original
	built int
	began time.Time

	oursDue []gocql.UUID
	origDue []*OriginalJob
	// number is our queue's number in the queue registry.
	number int32
}

func (e *env) runDueScan(ctx context.Context, rep *Report) error {
	cfg := e.cfg
	if err := e.truncateOriginal(ctx); err != nil {
		return err
	}
	d := &dueScan{e: e, store: e.store(), queue: e.queue("due"), orig: e.original(), began: e.clock.Now()}
	for _, h := range cfg.Histories {
		for d.built < h {
			n := min(historyChunk, h-d.built)
			if err := d.process(ctx, n); err != nil {
				return err
			}
			d.built += n
			e.clock.Advance(time.Duration(float64(n) / cfg.HistoryRate * float64(time.Second)))
			if d.built%10_000 == 0 || d.built == h {
				e.logf("duescan: history %d", d.built)
			}
		}
		res, err := d.measure(ctx)
		if err != nil {
			return err
		}
		res.History = d.built
		rep.DueScan = append(rep.DueScan, res)
		e.logf("duescan: history %d: ours %.1f ms (found %.0f), original %.1f ms (found %.0f)", res.History,
			res.LatencyMS[Ours].Median, res.Found[Ours].Median, res.LatencyMS[Orig].Median, res.Found[Orig].Median)
		// The measured jobs become history too.
		if err := d.process(ctx, 0); err != nil {
			return err
		}
		d.built += cfg.DueFetch
		e.clock.Advance(time.Duration(float64(cfg.DueFetch) / cfg.HistoryRate * float64(time.Second)))
	}
	return nil
}

// process adds n jobs to both histories (and the due jobs of the last
// measurement), ours and the original's at once: building is not measured,
// and the two overlap on the two cores.
func (d *dueScan) process(ctx context.Context, n int) error {
	var wg sync.WaitGroup
	var errOurs, errOrig error
	wg.Go(func() { errOurs = d.processOurs(ctx, n) })
	wg.Go(func() { errOrig = d.processOriginal(ctx, n) })
	wg.Wait()
	if errOurs != nil {
		return fmt.Errorf("build our history: %w", errOurs)
	}
	if errOrig != nil {
		return fmt.Errorf("build the original's history: %w", errOrig)
	}
	return nil
}

// processOurs stores n jobs due now, claims them (and the due jobs of the
// last measurement) and completes them, through the public API.
func (d *dueScan) processOurs(ctx context.Context, n int) error {
	want := n + len(d.oursDue)
	d.oursDue = nil
	if n > 0 {
		njs := make([]*repo.NewJob, n)
		for i := range njs {
			njs[i] = &repo.NewJob{Queue: d.queue, Type: jobType, Args: []byte(jobsArgs)}
		}
		if _, err := d.store.Jobs.InsertMany(ctx, njs); err != nil {
			return err
		}
	}
	for done, empty := 0, 0; done < want; {
		jobs, err := d.store.Jobs.Claim(ctx, &repo.ClaimParams{Queue: d.queue, Owner: "history", Limit: min(1000, want-done)})
		if err != nil {
			return err
		}
		if len(jobs) == 0 {
			if empty++; empty > 20 {
				return fmt.Errorf("claimed %d of %d jobs, then nothing", done, want)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		empty = 0
		if err := parallel(ctx, len(jobs), writeConcurrency, func(ctx context.Context, i int) error {
			_, err := d.store.Jobs.Complete(ctx, jobs[i], nil)
			return err
		}); err != nil {
			return err
		}
		done += len(jobs)
	}
	return nil
}

// processOriginal stores n jobs due now and moves them (and the due jobs of
// the last measurement) out of Scheduled the original's way: UpdateJob to
// Processing, then to Succeeded.
func (d *dueScan) processOriginal(ctx context.Context, n int) error {
	o := d.orig
	jobs := d.origDue
	d.origDue = nil
	fresh := make([]*OriginalJob, n)
	for i := range fresh {
		fresh[i] = o.newJob(jobType, jobsArgs)
	}
	if err := parallel(ctx, n, writeConcurrency, func(ctx context.Context, i int) error { return o.StoreJob(ctx, fresh[i]) }); err != nil {
		return err
	}
	jobs = append(jobs, fresh...)
	return parallel(ctx, len(jobs), writeConcurrency, func(ctx context.Context, i int) error {
		j := *jobs[i]
		j.State, j.ExecutedAt = origProcessing, o.now()
		if err := o.UpdateJob(ctx, &j); err != nil {
			return err
		}
		j.State = origSucceeded
		return o.UpdateJob(ctx, &j)
	})
}

// measure stores DueFetch due jobs for each contender and times fetching
// them, interleaved.
func (d *dueScan) measure(ctx context.Context) (*DueScanResult, error) {
	e, cfg := d.e, d.e.cfg
	res := &DueScanResult{SimulatedSpan: e.clock.Now().Sub(d.began),
		LatencyMS: map[string]*Stat{Ours: {}, Orig: {}}, EmptyMS: map[string]*Stat{Ours: {}, Orig: {}}, VsEmpty: map[string]*Stat{Ours: {}, Orig: {}}, Found: map[string]*Stat{Ours: {}, Orig: {}},
		RTs: map[string]RoundTrips{}, Read: map[string]ReadCost{}, IndexMS: &Stat{}, JobsMS: &Stat{}}
	njs := make([]*repo.NewJob, cfg.DueFetch)
	for i := range njs {
		njs[i] = &repo.NewJob{Queue: d.queue, Type: jobType, Args: []byte(jobsArgs)}
	}
	stored, err := d.store.Jobs.InsertMany(ctx, njs)
	if err != nil {
		return nil, err
	}
	for _, j := range stored {
		d.oursDue = append(d.oursDue, j.ID)
	}
	for range cfg.DueFetch {
		d.origDue = append(d.origDue, d.orig.newJob(jobType, jobsArgs))
	}
	if err := d.orig.StoreBatch(ctx, d.origDue); err != nil {
		return nil, err
	}
	// The controls: the same due jobs with no history.
	emptyQ, emptyOrig := e.queue("due-empty"), NewOriginal(e.emptyOrig, e.clock.Now)
	if err := truncate(ctx, e.emptyOrig); err != nil {
		return nil, err
	}
	for i := range njs {
		njs[i] = &repo.NewJob{Queue: emptyQ, Type: jobType, Args: []byte(jobsArgs)}
	}
	if _, err := d.store.Jobs.InsertMany(ctx, njs); err != nil {
		return nil, err
	}
	emptyJobs := make([]*OriginalJob, cfg.DueFetch)
	for i := range emptyJobs {
		emptyJobs[i] = emptyOrig.newJob(jobType, jobsArgs)
	}
	if err := emptyOrig.StoreBatch(ctx, emptyJobs); err != nil {
		return nil, err
	}
	e.clock.Advance(time.Second) // every one of them is due
	controls := map[string]func(ctx context.Context) error{
		Ours: func(ctx context.Context) error { _, err := d.store.Jobs.ListDue(ctx, emptyQ, cfg.DueFetch); return err },
		Orig: func(ctx context.Context) error { _, err := emptyOrig.GetScheduledJobs(ctx, cfg.DueFetch); return err },
	}
	scans := map[string]func(ctx context.Context) (int, error){
		Ours: func(ctx context.Context) (int, error) {
			jobs, err := d.store.Jobs.ListDue(ctx, d.queue, cfg.DueFetch)
			return len(jobs), err
		},
		Orig: func(ctx context.Context) (int, error) {
			jobs, err := d.orig.GetScheduledJobs(ctx, cfg.DueFetch)
			return len(jobs), err
		},
	}
	counters := map[string]*counter{Ours: e.oursN, Orig: e.origN}
	for r := 0; r < cfg.DueReps; r++ {
		for _, c := range rotate([]string{Ours, Orig}, r) {
			snap := counters[c].snapshot()
			start := time.Now()
			found, err := scans[c](ctx)
			took := time.Since(start)
			if err != nil {
				return nil, fmt.Errorf("%s: due scan: %w", c, err)
			}
			res.LatencyMS[c].add(float64(took.Microseconds()) / 1000)
			res.Found[c].add(float64(found))
			res.RTs[c] = counters[c].since(snap, 1)
			start = time.Now()
			if err := controls[c](ctx); err != nil {
				return nil, fmt.Errorf("%s: due scan of an empty history: %w", c, err)
			}
			empty := time.Since(start)
			res.EmptyMS[c].add(float64(empty.Microseconds()) / 1000)
			res.VsEmpty[c].add(ratio(float64(took), float64(empty)))
		}
		start := time.Now()
		idx, err := d.indexReads(ctx, nil)
		if err != nil {
			return nil, err
		}
		res.IndexMS.add(float64(time.Since(start).Microseconds()) / 1000)
		start = time.Now()
		found, err := d.jobReads(ctx, idx, nil)
		if err != nil {
			return nil, err
		}
		res.JobsMS.add(float64(time.Since(start).Microseconds()) / 1000)
		if found < cfg.DueFetch {
			return nil, fmt.Errorf("our scan's split found %d of the %d due jobs at home: it no longer reads what ListDue reads", found, cfg.DueFetch)
		}
	}
	var err1, err2 error
	res.Read[Ours], err1 = d.traceOurs(ctx)
	res.Read[Orig], err2 = d.traceOriginal(ctx)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("trace the scans: %v %v", err1, err2)
	}
	return res, nil
}

// ourIndex is what the index reads of our ListDue found: the due entries
// (a job, or a range of jobs of one home partition) and the home partitions
// to read from the watermark on.
type ourIndex struct {
	now     time.Time
	entries []dueRow
	homes   []homeScan
}

type dueRow struct{ id, last gocql.UUID }

// homeScan is a home partition of the queue and the id to read it after.
type homeScan struct {
	homePart
	after gocql.UUID
}

// maxHomeWidth is the widest home bucket a job id can name (2^15 s): the
// store reads the home directory from this long before the watermark.
const maxHomeWidth = (1 << 15) * time.Second

// homePage is the rows one read of a home partition returns, as ListDue
// reads them.
const homePage = 1000

// queueNumber reads the number of the queue from the queue registry once,
// as the store caches it.
func (d *dueScan) queueNumber(ctx context.Context) (int32, error) {
	if d.number != 0 {
		return d.number, nil
	}
	var name string
	var created, swept time.Time
	err := d.e.raw.Query(queries.QueueGetCQL, 0, d.queue).WithContext(ctx).Scan(&name, &d.number, &created, &swept)
	return d.number, err
}

// query is a read of ours through raw gocql, traced with t unless nil.
func (d *dueScan) query(ctx context.Context, t gocql.Tracer, stmt string, args ...any) *gocql.Query {
	q := d.e.raw.Query(stmt, args...).WithContext(ctx).Idempotent(true)
	if t != nil {
		q = q.Trace(t)
	}
	return q
}

// indexReads makes the index reads of our ListDue: the watermark, the
// due-bucket directory, every due-index partition from the watermark to
// now (32 in flight) and the home-bucket directory, with the same
// statements, through raw gocql (tracing each with t unless nil).
func (d *dueScan) indexReads(ctx context.Context, t gocql.Tracer) (*ourIndex, error) {
	now := d.e.clock.Now()
	query := func(stmt string, args ...any) *gocql.Query { return d.query(ctx, t, stmt, args...) }
	qn, err := d.queueNumber(ctx)
	if err != nil {
		return nil, err
	}
	var wm time.Time
	if err := query(queries.DueWatermarkGetCQL, d.queue).Scan(&wm); err != nil && err != gocql.ErrNotFound {
		return nil, err
	}
	if wm.IsZero() {
		wm = time.UnixMilli(0)
	}
	type part struct {
		start, lo, hi time.Time
		shard         int
	}
	var parts []part
	iter := query(queries.DueBucketsRangeCQL, d.queue, wm.Add(-24*time.Hour), now).Iter()
	var start time.Time
	var width, shards int
	for iter.Scan(&start, &width, &shards) {
		end := start.Add(time.Duration(width) * time.Millisecond)
		if !end.After(wm) || start.After(now) {
			continue
		}
		lo, hi := start, end.Add(-time.Millisecond)
		if wm.After(lo) {
			lo = wm
		}
		if now.Before(hi) {
			hi = now
		}
		for sh := 0; sh < shards; sh++ {
			parts = append(parts, part{start, lo, hi, sh})
		}
	}
	if err := iter.Close(); err != nil {
		return nil, err
	}
	found := make([][]dueRow, len(parts))
	err = parallel(ctx, len(parts), writeConcurrency, func(ctx context.Context, i int) error {
		p := parts[i]
		iter := query(rawcql.DueScan, d.queue, p.start, p.shard, p.lo, p.hi, d.e.cfg.DueFetch+1).Iter()
		var at time.Time
		var r dueRow
		for iter.Scan(&at, &r.id, &r.last) {
			found[i] = append(found[i], r)
		}
		return iter.Close()
	})
	if err != nil {
		return nil, err
	}
	idx := &ourIndex{now: now}
	for _, f := range found {
		idx.entries = append(idx.entries, f...)
	}
	iter = query(queries.HomeBucketsRangeCQL, d.queue, wm.Add(-maxHomeWidth), now).Iter()
	for iter.Scan(&start, &width, &shards) {
		if !start.Add(time.Duration(width) * time.Millisecond).After(wm) {
			continue
		}
		after := rawcql.IDAt(start)
		if wm.After(start) {
			after = rawcql.IDAt(wm)
		}
		for sh := 0; sh < shards; sh++ {
			idx.homes = append(idx.homes, homeScan{homePart{start, qn<<8 | int32(sh)}, after})
		}
	}
	if err := iter.Close(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(idx.homes, func(a, b homeScan) int { return a.home.Compare(b.home) })
	return idx, nil
}

// jobReads reads the jobs ListDue reads after its index reads: the home
// partitions from the watermark, one after the other in home-time order, a
// page at a time, until DueFetch due jobs are found (tracing each read with
// t unless nil), and the jobs of the due entries by id, a statement per
// home partition, 32 in flight. It returns the due jobs found at home.
func (d *dueScan) jobReads(ctx context.Context, idx *ourIndex, t gocql.Tracer) (int, error) {
	query := func(stmt string, args ...any) *gocql.Query { return d.query(ctx, t, stmt, args...) }
	var r rawcql.Row
	dest := r.Dest()
	until := rawcql.IDAt(idx.now.Add(time.Millisecond))
	due := 0
	for _, h := range idx.homes {
		for after := h.after; due < d.e.cfg.DueFetch; {
			iter := query(queries.JobsScanCQL, h.home, h.shard, after, until, homePage).Iter()
			n := 0
			for iter.Scan(dest...) {
				n++
				after = r.ID
				if r.Queue == d.queue && repo.State(r.State).Claimable() && !r.ScheduledAt.After(idx.now) {
					due++
				}
			}
			if err := iter.Close(); err != nil {
				return due, err
			}
			if n < homePage {
				break
			}
		}
		if due >= d.e.cfg.DueFetch {
			break
		}
	}
	groups := map[homePart][]gocql.UUID{}
	var order []homePart
	for _, e := range idx.entries {
		home, shard, err := repo.Partition(e.id)
		if err != nil {
			continue
		}
		p := homePart{home, shard}
		if _, ok := groups[p]; !ok {
			order = append(order, p)
		}
		groups[p] = append(groups[p], e.id)
	}
	err := parallel(ctx, len(order), writeConcurrency, func(ctx context.Context, i int) error {
		p := order[i]
		return query(queries.JobsGetManyCQL, p.home, p.shard, groups[p]).Iter().Close()
	})
	return due, err
}

// traceOurs traces the reads our ListDue makes to find the due jobs (the
// index reads and the home partitions from the watermark) and returns what
// the node read.
func (d *dueScan) traceOurs(ctx context.Context) (ReadCost, error) {
	var t traceIDs
	idx, err := d.indexReads(ctx, &t)
	if err != nil {
		return ReadCost{}, err
	}
	idx.entries = nil // reads by id: not part of finding
	if _, err := d.jobReads(ctx, idx, &t); err != nil {
		return ReadCost{}, err
	}
	return t.cost(ctx, d.e.raw), nil
}

// traceOriginal traces the original's bucket reads (the first page of each)
// and returns what the node read.
func (d *dueScan) traceOriginal(ctx context.Context) (ReadCost, error) {
	s, now := d.e.orig, d.e.clock.Now()
	var t traceIDs
	for b := 0; b < origBuckets; b++ {
		iter := s.Query(`SELECT bucket, scheduled_at, job_id FROM scheduled_jobs WHERE bucket = ? AND scheduled_at <= ?`, b, now).
			WithContext(ctx).PageSize(5000).Trace(&t).Iter()
		if err := iter.Close(); err != nil {
			return ReadCost{}, err
		}
	}
	return t.cost(ctx, s), nil
}
