package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/bench/rawcql"
	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
	"github.com/jobsharp/cassandra/repo"
)

// Layer contenders: the generated typed methods of queries.DB (Params
// bound by position, rows scanned positionally), and hand-written gocql.
const (
	Generated = "generated"
	HandGocql = "hand-written gocql"
)

// LayerResult compares one operation through the generated layer and
// through hand-written gocql: wall time, client CPU time and allocations
// per operation.
type LayerResult struct {
	Op        string                `json:"op"`
	Statement string                `json:"statement"`
	LatencyUS map[string]*Stat      `json:"latency_us"`
	CPUUS     map[string]*Stat      `json:"cpu_us"`
	Allocs    map[string]*Stat      `json:"allocs"`
	RTs       map[string]RoundTrips `json:"round_trips"`

	ops map[string]func(context.Context, int) error
}

// layerBlock is the number of operations in one block of the comparison.
const layerBlock = 20

func (e *env) runLayer(ctx context.Context, rep *Report) error {
	cfg := e.cfg
	store, q := e.store(), e.queue("layer")
	job, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: q, Type: jobType, Args: []byte(jobsArgs)})
	if err != nil {
		return err
	}
	// One due-index partition with 100 entries to scan.
	now := e.clock.Now().UTC().Truncate(time.Millisecond)
	scanB := rawcql.BucketStart(now, dueWidth)
	for i := 0; i < 100; i++ {
		if err := e.raw.Query(rawcql.DueInsert, q+"-scan", scanB, 0, now.Add(time.Duration(i)*time.Millisecond), gocql.TimeUUID(), gocql.UUID{}).WithContext(ctx).Exec(); err != nil {
			return err
		}
	}
	db := queries.New(e.ours.Session).WithSerialConsistency(gocql.LocalSerial)
	home, shard, err := repo.Partition(job.ID)
	if err != nil {
		return err
	}
	// Ids for the jobs each contender creates, minted by the store (a job's
	// id names its partition), before the clock starts.
	newIDs := func() (func() (gocql.UUID, time.Time, int32), error) {
		ids, err := store.Jobs.NewIDs(ctx, q, time.Time{}, 20+cfg.Reps*cfg.LayerOps)
		if err != nil {
			return nil, err
		}
		homes := make([]time.Time, len(ids))
		shards := make([]int32, len(ids))
		for i, id := range ids {
			if homes[i], shards[i], err = repo.Partition(id); err != nil {
				return nil, err
			}
		}
		next := 0
		return func() (gocql.UUID, time.Time, int32) {
			i := next
			next++
			return ids[i], homes[i], shards[i]
		}, nil
	}
	genID, err := newIDs()
	if err != nil {
		return err
	}
	handID, err := newIDs()
	if err != nil {
		return err
	}
	results := []*LayerResult{
		{Op: "read a job by id", Statement: queries.JobsGetCQL, ops: map[string]func(context.Context, int) error{
			Generated: func(ctx context.Context, _ int) error {
				_, err := db.JobsGet(ctx, home, shard, job.ID).One()
				return err
			},
			HandGocql: func(ctx context.Context, _ int) error {
				var r rawcql.Row
				return e.raw.Query(rawcql.JobsGet, home, shard, job.ID).WithContext(ctx).Idempotent(true).Scan(r.Dest()...)
			},
		}},
		{Op: "write a due entry", Statement: queries.DueInsertCQL, ops: map[string]func(context.Context, int) error{
			Generated: func(ctx context.Context, i int) error {
				row := models.ScheduledJobsRow{Queue: q + "-w", Bucket: scanB, Shard: int32(i % dueShards), DueAt: now, JobID: gocql.TimeUUID()}
				return db.DueInsert(ctx, row).Exec()
			},
			HandGocql: func(ctx context.Context, i int) error {
				return e.raw.Query(rawcql.DueInsert, q+"-w", scanB, i%dueShards, now, gocql.TimeUUID(), gocql.UUID{}).WithContext(ctx).Idempotent(true).Exec()
			},
		}},
		{Op: "create a job (LWT)", Statement: queries.JobsCreateCQL, ops: map[string]func(context.Context, int) error{
			Generated: func(ctx context.Context, _ int) error {
				id, home, shard := genID()
				row := models.JobsRow{Home: home, Shard: shard, ID: id, Queue: q, Type: jobType, Args: []byte(jobsArgs), State: 1, Version: 1,
					CreatedAt: now, ScheduledAt: now, StateChangedAt: now, MaxRetries: 10}
				applied, _, err := db.JobsCreate(ctx, row).Exec()
				if err == nil && !applied {
					err = fmt.Errorf("not applied")
				}
				return err
			},
			HandGocql: func(ctx context.Context, _ int) error {
				id, home, shard := handID()
				// The empty optional columns are unset, as the generated
				// JobsCreate binds them (:unset), so both write the same cells.
				row := rawcql.Row{Home: home, Shard: shard, ID: id, Queue: q, Type: jobType, Args: []byte(jobsArgs), State: int(stateScheduled), Version: 1,
					CreatedAt: now, ScheduledAt: now, StateChangedAt: now, MaxRetries: 10}
				applied, err := e.raw.Query(rawcql.JobsCreate, row.CreateArgs()...).
					WithContext(ctx).SerialConsistency(gocql.LocalSerial).ScanCAS()
				if err == nil && !applied {
					err = fmt.Errorf("not applied")
				}
				return err
			},
		}},
		{Op: "scan 100 due entries", Statement: queries.DueScanCQL, ops: map[string]func(context.Context, int) error{
			Generated: func(ctx context.Context, _ int) error {
				rows, err := db.DueScan(ctx, q+"-scan", scanB, 0, now, now.Add(time.Second), 1000).All()
				if err == nil && len(rows) != 100 {
					err = fmt.Errorf("scanned %d rows, want 100", len(rows))
				}
				return err
			},
			HandGocql: func(ctx context.Context, _ int) error {
				iter := e.raw.Query(rawcql.DueScan, q+"-scan", scanB, 0, now, now.Add(time.Second), 1000).WithContext(ctx).Idempotent(true).Iter()
				type entry struct {
					at       time.Time
					id, last gocql.UUID
				}
				var rows []entry
				var en entry
				for iter.Scan(&en.at, &en.id, &en.last) {
					rows = append(rows, en)
				}
				if err := iter.Close(); err != nil {
					return err
				}
				if len(rows) != 100 {
					return fmt.Errorf("scanned %d rows, want 100", len(rows))
				}
				return nil
			},
		}},
	}
	counters := map[string]*counter{Generated: e.oursN, HandGocql: e.rawN}
	for _, res := range results {
		res.LatencyUS, res.CPUUS, res.Allocs, res.RTs = map[string]*Stat{}, map[string]*Stat{}, map[string]*Stat{}, map[string]RoundTrips{}
		for _, c := range []string{Generated, HandGocql} {
			res.LatencyUS[c], res.CPUUS[c], res.Allocs[c] = &Stat{}, &Stat{}, &Stat{}
			for i := 0; i < 20; i++ { // warm up: prepare, fill pools
				if err := res.ops[c](ctx, i); err != nil {
					return fmt.Errorf("%s %s: %w", c, res.Op, err)
				}
			}
		}
	}
	// Each repetition alternates the two in blocks of layerBlock operations,
	// so that a change of load hits both.
	for r := 0; r < cfg.Reps; r++ {
		for _, res := range results {
			type acc struct {
				wall, cpu time.Duration
				allocs    uint64
				ops       int
			}
			sums := map[string]*acc{Generated: {}, HandGocql: {}}
			snaps := map[string]snapshot{Generated: counters[Generated].snapshot(), HandGocql: counters[HandGocql].snapshot()}
			for b := 0; b*layerBlock < cfg.LayerOps; b++ {
				n := min(layerBlock, cfg.LayerOps-b*layerBlock)
				for _, c := range rotate([]string{Generated, HandGocql}, r+b) {
					var ms0, ms1 runtime.MemStats
					runtime.ReadMemStats(&ms0)
					cpu0, t0 := cpuTime(), time.Now()
					for i := 0; i < n; i++ {
						if err := res.ops[c](ctx, i); err != nil {
							return fmt.Errorf("%s %s: %w", c, res.Op, err)
						}
					}
					wall, cpu := time.Since(t0), cpuTime()-cpu0
					runtime.ReadMemStats(&ms1)
					a := sums[c]
					a.wall, a.cpu, a.allocs, a.ops = a.wall+wall, a.cpu+cpu, a.allocs+ms1.Mallocs-ms0.Mallocs, a.ops+n
				}
			}
			for c, a := range sums {
				n := float64(a.ops)
				res.LatencyUS[c].add(float64(a.wall.Microseconds()) / n)
				res.CPUUS[c].add(float64(a.cpu.Microseconds()) / n)
				res.Allocs[c].add(float64(a.allocs) / n)
				res.RTs[c] = counters[c].since(snaps[c], a.ops)
			}
		}
		e.logf("layer: rep %d/%d done", r+1, cfg.Reps)
	}
	rep.Layer = results
	return nil
}
