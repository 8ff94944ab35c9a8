//go:build jobsharp_previous

// The adapter of the previous design: the store and processor of commit
// e4a9c95 (bench's -previous default), on that commit's API. It is frozen:
// bench copies this directory into an archive of that commit and builds it
// there with -tags jobsharp_previous. This module never builds it, so
// nothing here has to follow the current API. Pin another commit only
// together with an adapter on its API.

package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/bench/workload"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/schema"
	"github.com/jobsharp/cassandra/worker"
)

// noopKind is the job type of the benchmark's jobs.
const noopKind = "bench.noop"

// noopArgs are the arguments of a job that does nothing.
type noopArgs struct{}

// applySchema creates the keyspace and this commit's schema.
func applySchema(ctx context.Context, session *gocql.Session, keyspace string) error {
	_, err := schema.Apply(ctx, session, keyspace, &schema.Replication{Class: schema.SimpleStrategy, Factor: 1})
	return err
}

// open connects a store as a user would and returns it as a system working
// queue.
func open(ctx context.Context, cluster *gocql.ClusterConfig, keyspace, queue string) (workload.System, func(), error) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := repo.ConnectCluster(ctx, cluster, keyspace, &repo.Options{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	return &system{store: store, queue: queue, logger: logger}, store.Close, nil
}

type system struct {
	store  *repo.Store
	queue  string
	logger *slog.Logger
}

func (s *system) InsertMany(ctx context.Context, n int) ([]string, error) {
	jobs, err := worker.EnqueueMany(ctx, s.store, noopKind, make([]noopArgs, n), &worker.EnqueueOpts{Queue: s.queue})
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID.String()
	}
	return ids, err
}

func (s *system) Insert(ctx context.Context) (string, error) {
	job, err := worker.Enqueue(ctx, s.store, noopKind, noopArgs{}, &worker.EnqueueOpts{Queue: s.queue})
	if err != nil {
		return "", err
	}
	return job.ID.String(), nil
}

func (s *system) Work(ctx context.Context, slots int, h workload.Hooks) error {
	p, err := worker.New(s.store, &worker.Config{
		Queues:  map[string]worker.QueueConfig{s.queue: {MaxWorkers: slots}},
		Logger:  s.logger,
		Metrics: metrics{h},
	})
	if err != nil {
		return err
	}
	err = worker.Handle(p, noopKind, func(_ context.Context, job *worker.Job[noopArgs]) error {
		h.Handled(job.ID.String())
		return nil
	}, nil)
	if err != nil {
		return err
	}
	return p.Run(ctx)
}

func (s *system) Records(ctx context.Context, ids []string) ([]workload.Record, error) {
	return workload.ReadRecords(ctx, ids, 64, func(ctx context.Context, id string) (*workload.Record, error) {
		uuid, err := gocql.ParseUUID(id)
		if err != nil {
			return nil, err
		}
		job, err := s.store.Jobs.Get(ctx, uuid)
		if errors.Is(err, repo.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		return &workload.Record{
			ID: id, Succeeded: job.State == repo.StateSucceeded, Attempts: job.RetryCount + 1,
			Created: job.CreatedAt, Finished: job.FinishedAt,
		}, nil
	})
}

// metrics reports finished jobs to the workload.
type metrics struct{ h workload.Hooks }

func (m metrics) JobClaimed(string, string, time.Duration) {}
func (m metrics) JobFinished(_, _ string, o worker.Outcome, _ time.Duration) {
	m.h.Finished(o == worker.OutcomeSucceeded)
}
func (m metrics) JobsRescued(string, int)       {}
func (m metrics) RecurringFired(string, string) {}
