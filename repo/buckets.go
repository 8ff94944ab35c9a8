package repo

import (
	"hash/fnv"
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// bucketRef is one bucket of an index as its directory row records it: its
// start, width and shard count.
type bucketRef struct {
	Start  time.Time
	Width  time.Duration
	Shards int
}

// End is the first instant after the bucket.
func (b bucketRef) End() time.Time { return b.Start.Add(b.Width) }

// bucketOf returns the bucket of width w and the given shard count that
// holds t. Buckets are aligned to the Unix epoch, so every process computes
// the same key for the same instant.
func bucketOf(t time.Time, w time.Duration, shards int) bucketRef {
	wm := w.Milliseconds()
	m := t.UnixMilli()
	start := m - mod(m, wm)
	return bucketRef{Start: time.UnixMilli(start).UTC(), Width: w, Shards: shards}
}

func mod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}

// shardOf spreads jobs over shards by a hash of their id, so the shard of a
// job's hint can be computed again from the id alone.
func shardOf(id gocql.UUID, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write(id[:])
	return int(h.Sum32() % uint32(shards))
}

// dirCache remembers which directory rows this process has written, so a
// directory row costs one write per bucket and process rather than one per
// job. Forgetting is harmless: the write is idempotent.
type dirCache struct {
	mu   sync.Mutex
	seen map[dirKey]struct{}
}

type dirKey struct {
	table string
	queue string
	state State
	b     bucketRef
}

// add reports whether k is new, and remembers it.
func (c *dirCache) add(k dirKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil || len(c.seen) > 100_000 {
		c.seen = make(map[dirKey]struct{})
	}
	if _, ok := c.seen[k]; ok {
		return false
	}
	c.seen[k] = struct{}{}
	return true
}

// forget drops k, after a failed write.
func (c *dirCache) forget(k dirKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, k)
}
