package repo

import "context"

// SetAfterHints makes every change of s stop after writing its hints and
// before its lightweight transaction when f returns an error: a crash at the
// worst moment, for tests.
func SetAfterHints(s *Store, f func(op string) error) { s.afterHints = f }

// QueueShard returns the shard of a queue's first sub-shard in the jobs
// table (its number shifted left by 8).
func QueueShard(ctx context.Context, s *Store, queue string) (int32, error) {
	n, err := s.queueNumber(ctx, queue)
	return n << 8, err
}
