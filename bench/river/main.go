// Command river runs one workload of bench's throughput scenario against
// River (github.com/riverqueue/river) on PostgreSQL and prints the result
// as JSON on stdout: the reference that users compare a job store with. It
// is a module of its own, so that River and pgx stay out of the job store's
// module; bench builds it with go build and runs it.
//
//	go run . -dsn postgres://postgres@127.0.0.1:55432/jobsharp_bench -schema bench_tp -setup
//	go run . -dsn ... -schema bench_tp -queue q1 -workload drain -jobs 2000
//	go run . -dsn ... -schema bench_tp -teardown
//
// River runs as its users run it: one client with its defaults (a pgxpool
// with pgx's default size, FetchCooldown 100 ms, FetchPollInterval 1 s,
// LISTEN/NOTIFY, the batch completer), one queue of Slots workers, a worker
// that does nothing, River's migrations applied to a schema of the run's
// own.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/jobsharp/cassandra/bench/workload"
)

func main() { workload.Main("river driver", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("river", flag.ContinueOnError)
	var (
		dsn      = fs.String("dsn", "postgres://postgres@127.0.0.1:55432/jobsharp_bench?sslmode=disable", "PostgreSQL connection string")
		schema   = fs.String("schema", "", "the PostgreSQL schema that holds River's tables (required)")
		setup    = fs.Bool("setup", false, "create the schema and apply River's migrations, then exit")
		teardown = fs.Bool("teardown", false, "drop the schema, then exit")
		version  = fs.Bool("version", false, "print River's and PostgreSQL's versions as JSON, then exit")
		queue    = fs.String("queue", "bench", "the queue to use")
		cooldown = fs.Duration("fetch-cooldown", 0, "River's FetchCooldown; 0 keeps its default (bench never sets it: this is for checking what the default costs)")
		p        workload.Params
	)
	p.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *schema == "" && !*version {
		return errors.New("-schema is required")
	}
	pool, err := pgxpool.New(ctx, *dsn)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("connect to PostgreSQL (start it with scripts/bench-setup): %w", err)
	}
	ident := pgx.Identifier{*schema}.Sanitize()
	switch {
	case *version:
		return printVersions(ctx, pool, stdout)
	case *teardown:
		_, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+ident+" CASCADE")
		return err
	case *setup:
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident); err != nil {
			return err
		}
		m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: *schema, Logger: warnLogger()})
		if err != nil {
			return err
		}
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	}

	sys, err := open(pool, *schema, *queue, p.Slots, *cooldown)
	if err != nil {
		return err
	}
	return workload.RunAndPrint(ctx, stdout, sys, p)
}

func warnLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func printVersions(ctx context.Context, pool *pgxpool.Pool, w io.Writer) error {
	v := map[string]string{"river": "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/riverqueue/river" {
				v["river"] = d.Version
			}
		}
	}
	var pg string
	if err := pool.QueryRow(ctx, "SHOW server_version").Scan(&pg); err != nil {
		return err
	}
	v["postgresql"] = pg
	return json.NewEncoder(w).Encode(v)
}

// noopArgs are the arguments of a job that does nothing.
type noopArgs struct{}

func (noopArgs) Kind() string { return "bench_noop" }

// noopWorker does nothing but tell the workload it ran.
type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	hooks *atomic.Pointer[workload.Hooks]
}

func (w *noopWorker) Work(_ context.Context, job *river.Job[noopArgs]) error {
	w.hooks.Load().Handled(strconv.FormatInt(job.ID, 10))
	return nil
}

type system struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	schema string
	queue  string
	slots  int
	hooks  atomic.Pointer[workload.Hooks]
}

// open returns one River client, working queue with slots workers, and
// inserting into it.
func open(pool *pgxpool.Pool, schema, queue string, slots int, fetchCooldown time.Duration) (*system, error) {
	s := &system{pool: pool, schema: schema, queue: queue, slots: slots}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &noopWorker{hooks: &s.hooks}); err != nil {
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:        map[string]river.QueueConfig{queue: {MaxWorkers: slots}},
		Workers:       workers,
		Schema:        schema,
		Logger:        warnLogger(),
		FetchCooldown: fetchCooldown,
	})
	if err != nil {
		return nil, err
	}
	s.client = client
	return s, nil
}

func (s *system) InsertMany(ctx context.Context, n int) ([]string, error) {
	params := make([]river.InsertManyParams, n)
	for i := range params {
		params[i] = river.InsertManyParams{Args: noopArgs{}, InsertOpts: &river.InsertOpts{Queue: s.queue}}
	}
	res, err := s.client.InsertMany(ctx, params)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(res))
	for i, r := range res {
		ids[i] = strconv.FormatInt(r.Job.ID, 10)
	}
	return ids, nil
}

func (s *system) Insert(ctx context.Context) (string, error) {
	res, err := s.client.Insert(ctx, noopArgs{}, &river.InsertOpts{Queue: s.queue})
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(res.Job.ID, 10), nil
}

func (s *system) Work(ctx context.Context, slots int, h workload.Hooks) error {
	if slots != s.slots {
		return fmt.Errorf("the client has %d workers, not %d", s.slots, slots)
	}
	s.hooks.Store(&h)
	// A large buffer: River drops events that do not fit, and its completer
	// reports up to 5,000 at once.
	events, unsubscribe := s.client.SubscribeConfig(&river.SubscribeConfig{
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed},
		ChanSize: 200_000,
	})
	defer unsubscribe()
	go func() {
		for ev := range events {
			h.Finished(ev.Kind == river.EventKindJobCompleted)
		}
	}()
	if err := s.client.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.client.Stop(stopCtx)
}

func (s *system) Records(ctx context.Context, ids []string) ([]workload.Record, error) {
	want := make([]int64, len(ids))
	for i, id := range ids {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, err
		}
		want[i] = n
	}
	rows, err := s.pool.Query(ctx, `SELECT id, state, attempt, created_at, finalized_at FROM `+pgx.Identifier{s.schema, "river_job"}.Sanitize()+` WHERE id = ANY($1)`, want)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []workload.Record
	for rows.Next() {
		var (
			id        int64
			state     string
			attempt   int
			created   time.Time
			finalized *time.Time
		)
		if err := rows.Scan(&id, &state, &attempt, &created, &finalized); err != nil {
			return nil, err
		}
		r := workload.Record{ID: strconv.FormatInt(id, 10), Succeeded: state == "completed", Attempts: attempt, Created: created}
		if finalized != nil {
			r.Finished = *finalized
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
