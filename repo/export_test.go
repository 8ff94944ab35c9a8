package repo

import (
	"context"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// SetAfterHints makes every change of s stop after writing its hints and
// before its lightweight transaction when f returns an error: a crash at the
// worst moment, for tests.
func SetAfterHints(s *Store, f func(op string) error) { s.afterHints = f }

// SetAfterBatch sets a hook run after a change's batch applied and before
// what follows from it; an error stops the change there, as a crash would.
func SetAfterBatch(s *Store, f func(op string) error) { s.afterBatch = f }

// QueueShard returns the shard of a queue's first sub-shard in the jobs
// table (its number shifted left by 8).
func QueueShard(ctx context.Context, s *Store, queue string) (int32, error) {
	n, err := s.queueNumber(ctx, queue)
	return n << 8, err
}

// UniqueKeyHolder returns the id of the job that holds nj's unique key.
func UniqueKeyHolder(ctx context.Context, s *Store, nj *NewJob) (gocql.UUID, error) {
	key, _, err := uniqueKeyOf(ctx, s, nj)
	if err != nil {
		return gocql.UUID{}, err
	}
	return s.uniqueHolder(ctx, key)
}

// UniqueKey returns the key of nj's unique key row.
func UniqueKey(ctx context.Context, s *Store, nj *NewJob) ([]byte, error) {
	key, _, err := uniqueKeyOf(ctx, s, nj)
	return key, err
}

// ClaimUniqueKey makes holder the holder of nj's unique key, claimed at
// claimedAt, as a process that died before inserting its job leaves it.
func ClaimUniqueKey(ctx context.Context, s *Store, nj *NewJob, holder gocql.UUID, claimedAt time.Time) error {
	key, ttl, err := uniqueKeyOf(ctx, s, nj)
	if err != nil {
		return err
	}
	_, _, err = s.db.UniqueClaim(ctx, models.UniqueKeysRow{Key: key, JobID: holder, ClaimedAt: claimedAt}, ttl).Exec()
	return err
}

func uniqueKeyOf(ctx context.Context, s *Store, nj *NewJob) ([]byte, int32, error) {
	plain := *nj
	plain.Unique = nil
	job, err := s.newJob(ctx, &plain, s.now(), 0)
	if err != nil {
		return nil, 0, err
	}
	key, ttl := uniqueKey(job, nj.Unique, s.now())
	return key, ttl, nil
}

// AddCountLogEntry adds an entry of n jobs in state to the count log of the
// home partition of job id, as a change's batch does: with a negative n, as
// if the entry that counted those jobs in had been lost.
func AddCountLogEntry(ctx context.Context, s *Store, id gocql.UUID, state State, n int32) error {
	h, err := homeOf(id)
	if err != nil {
		return err
	}
	return s.exec(ctx, queries.CountLogActive, s.db.CountLogActive(ctx, gocql.TimeUUID(), map[int32]int32{int32(state): n}, h.Start, h.Shard))
}

// HomeOf returns the partition of the jobs table that holds job id.
func HomeOf(id gocql.UUID) (time.Time, int32, error) {
	h, err := homeOf(id)
	return h.Start, h.Shard, err
}
