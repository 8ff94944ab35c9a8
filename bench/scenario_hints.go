package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/bench/rawcql"
)

// HintResult is the time to write the hint rows of HintJobs jobs in one
// way: a strategy and a bound on statements in flight.
type HintResult struct {
	// Set is "due" (due-index rows over the shards of one bucket) or
	// "state" (state-index rows with the retention TTL).
	Set      string `json:"set"`
	Strategy string `json:"strategy"`
	// Parallelism bounds the statements in flight (0: one statement).
	Parallelism int `json:"parallelism"`
	// Statements is the number of statements (batches count once) per write.
	Statements int `json:"statements"`
	// MS is the time to write every row, in milliseconds.
	MS *Stat `json:"ms"`
	// LargestBatchBytes is the largest batch as Cassandra sizes it
	// (estimated, see batchBytes).
	LargestBatchBytes int `json:"largest_batch_bytes"`
	// Warnings is the number of batch-size warnings and errors the node
	// logged during these writes (-1: the node's log was not readable).
	Warnings int    `json:"warnings"`
	Err      string `json:"error,omitempty"`
}

// Hint strategies.
const (
	HintSingle       = "single statements"
	HintPerPartition = "one unlogged batch per partition (≤ 4 KiB each)"
	HintOneBatch     = "one unlogged multi-partition batch"
	HintMixedChunks  = "unlogged multi-partition batches (≤ 4 KiB each)"
)

// batchTarget bounds a batch as Cassandra sizes it, under the 5 KiB warn
// threshold (batch_size_warn_threshold) with a margin.
const batchTarget = 4 << 10

// hintRow is one hint row: its partition, statement and values, and its
// size as Cassandra counts a batch.
type hintRow struct {
	part  string
	stmt  string
	args  []any
	bytes int
}

// hintRows returns the hint rows of n new jobs in queue q: due-index rows
// spread over the shards of the current bucket, or state-index rows of
// Succeeded jobs with the retention TTL.
func hintRows(set, q string, n int, now time.Time) []hintRow {
	rows := make([]hintRow, n)
	now = now.UTC().Truncate(time.Millisecond)
	for i := range rows {
		id := gocql.UUID(mustV7())
		at := now.Add(time.Duration(i) * time.Millisecond)
		if set == "due" {
			b := rawcql.BucketStart(now, dueWidth)
			sh := shardOf(id, dueShards)
			rows[i] = hintRow{fmt.Sprint(sh), rawcql.DueInsert, []any{q, b, sh, at, id, gocql.UUID{}}, dueRowBytes}
		} else {
			b := rawcql.BucketStart(now, stateWidth)
			sh := shardOf(id, stateShards)
			rows[i] = hintRow{fmt.Sprint(sh), rawcql.StateInsert, []any{q, 3, b, sh, at, id, retentionSeconds}, stateRowBytes}
		}
	}
	return rows
}

// The size of a batch as Cassandra 5.0 measures it against
// batch_size_warn_threshold, calibrated on this schema from the sizes the
// node logs: 1,000 due-index rows over 8 partitions measure 79.3 KiB (with
// last_id written as the zero UUID, as the store writes an entry of one
// job; written as null it is a tombstone and measures 63.7 KiB), 1,000
// state-index rows with a TTL 55.9 KiB; each partition of a batch adds
// about 130 bytes more.
const (
	dueRowBytes       = 80
	stateRowBytes     = 58
	partitionOverhead = 140
)

// batchBytes estimates the size of a batch of rows as Cassandra measures it.
func batchBytes(rows []hintRow) int {
	parts := map[string]bool{}
	size := 0
	for _, r := range rows {
		size += r.bytes
		if !parts[r.part] {
			parts[r.part] = true
			size += partitionOverhead
		}
	}
	return size
}

// chunk splits rows into groups of at most target bytes, keeping order.
func chunk(rows []hintRow, target int) [][]hintRow {
	var out [][]hintRow
	var cur []hintRow
	parts := map[string]bool{}
	size := 0
	for _, r := range rows {
		add := r.bytes
		if !parts[r.part] {
			add += partitionOverhead
		}
		if len(cur) > 0 && size+add > target {
			out = append(out, cur)
			cur, size, parts = nil, 0, map[string]bool{}
			add = r.bytes + partitionOverhead
		}
		cur = append(cur, r)
		parts[r.part] = true
		size += add
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// plan groups rows into the statements of a strategy: one row each, one
// batch per partition chunk, one batch of all, or mixed chunks.
func plan(strategy string, rows []hintRow) [][]hintRow {
	switch strategy {
	case HintSingle:
		out := make([][]hintRow, len(rows))
		for i := range rows {
			out[i] = rows[i : i+1]
		}
		return out
	case HintOneBatch:
		return [][]hintRow{rows}
	case HintMixedChunks:
		return chunk(rows, batchTarget)
	}
	byPart := map[string][]hintRow{}
	var parts []string
	for _, r := range rows {
		if _, ok := byPart[r.part]; !ok {
			parts = append(parts, r.part)
		}
		byPart[r.part] = append(byPart[r.part], r)
	}
	var out [][]hintRow
	for _, p := range parts {
		out = append(out, chunk(byPart[p], batchTarget)...)
	}
	return out
}

// writeHints sends the statements of a plan with at most limit in flight.
func (e *env) writeHints(ctx context.Context, stmts [][]hintRow, limit int) error {
	return parallel(ctx, len(stmts), limit, func(ctx context.Context, i int) error {
		group := stmts[i]
		if len(group) == 1 {
			return e.raw.Query(group[0].stmt, group[0].args...).WithContext(ctx).Idempotent(true).Exec()
		}
		b := e.raw.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
		for _, r := range group {
			b.Query(r.stmt, r.args...)
		}
		return e.raw.ExecuteBatch(b)
	})
}

func (e *env) runHints(ctx context.Context, rep *Report) error {
	cfg := e.cfg
	type variant struct {
		strategy    string
		parallelism int
	}
	var variants []variant
	for _, p := range cfg.HintParallelism {
		variants = append(variants, variant{HintSingle, p})
	}
	for _, p := range cfg.HintParallelism {
		variants = append(variants, variant{HintPerPartition, p})
	}
	variants = append(variants, variant{HintOneBatch, 1}, variant{HintMixedChunks, writeConcurrency})
	var results []*HintResult
	watch := newLogWatch(cfg.ServerLog)
	rng := rand.New(rand.NewPCG(7, 11))
	for _, set := range []string{"due", "state"} {
		byVariant := map[variant]*HintResult{}
		for _, v := range variants {
			st := plan(v.strategy, hintRows(set, "x", cfg.HintJobs, time.Now()))
			largest := 0
			for _, g := range st {
				if len(g) > 1 {
					largest = max(largest, batchBytes(g))
				}
			}
			res := &HintResult{Set: set, Strategy: v.strategy, Parallelism: v.parallelism, Statements: len(st), MS: &Stat{}, LargestBatchBytes: largest}
			byVariant[v] = res
			results = append(results, res)
		}
		// Warm up: prepare the statement.
		if err := e.writeHints(ctx, plan(HintSingle, hintRows(set, e.queue("hints"), 10, e.clock.Now())), 8); err != nil {
			return err
		}
		for r := 0; r < cfg.Reps; r++ {
			// A new random order each repetition: with a fixed cycle each
			// variant would always follow the same one.
			order := slices.Clone(variants)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, v := range order {
				res := byVariant[v]
				stmts := plan(v.strategy, hintRows(set, e.queue("hints"), cfg.HintJobs, e.clock.Now()))
				watch.mark()
				start := time.Now()
				err := e.writeHints(ctx, stmts, v.parallelism)
				took := time.Since(start)
				if w := watch.batchWarnings(); w != 0 || res.Warnings == 0 {
					res.Warnings = max(res.Warnings, 0) + w
					if w < 0 {
						res.Warnings = -1
					}
				}
				if err != nil {
					res.Err = err.Error()
					continue
				}
				res.MS.add(float64(took.Microseconds()) / 1000)
			}
		}
		e.logf("hints: %s rows done", set)
	}
	rep.Hints = results
	return nil
}

// logWatch counts the batch warnings a local node writes to its log.
type logWatch struct {
	path string
	off  int64
}

// DefaultServerLog is where scripts/cassandra keeps the log of a local
// single node.
func DefaultServerLog() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "jobsharp-cassandra", "clusters", "nodes1", "node1", "logs", "system.log")
}

func newLogWatch(path string) *logWatch { return &logWatch{path: path} }

func (w *logWatch) mark() {
	if fi, err := os.Stat(w.path); err == nil {
		w.off = fi.Size()
	}
}

var reBatchWarn = regexp.MustCompile(`Batch for \[[^\]]*\] is of size ([0-9.]+)`)

// batchWarnings returns the batch-size warnings logged since mark, after a
// moment for the log to be written; -1 when the log is not readable.
func (w *logWatch) batchWarnings() int {
	if w.path == "" {
		return -1
	}
	time.Sleep(50 * time.Millisecond)
	f, err := os.Open(w.path)
	if err != nil {
		return -1
	}
	defer f.Close()
	if _, err := f.Seek(w.off, io.SeekStart); err != nil {
		return -1
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return -1
	}
	return len(reBatchWarn.FindAll(b, -1))
}
