package bench

import (
	"context"
	"maps"
	"regexp"
	"strings"
	"sync"

	"github.com/gocql/gocql"
)

// counter counts the statements a session sends, by kind ("SELECT jobs",
// "UPDATE jobs IF", "BATCH UNLOGGED", …), and the rows they return. Each page
// of a paged read and each retry counts: every one is a round trip.
type counter struct {
	mu    sync.Mutex
	stmts map[string]int64
	rows  int64
}

func newCounter() *counter { return &counter{stmts: map[string]int64{}} }

// ObserveQuery implements gocql.QueryObserver.
func (c *counter) ObserveQuery(_ context.Context, q gocql.ObservedQuery) {
	k := statementKind(q.Statement)
	c.mu.Lock()
	c.stmts[k]++
	c.rows += int64(q.Rows)
	c.mu.Unlock()
}

// ObserveBatch implements gocql.BatchObserver.
func (c *counter) ObserveBatch(_ context.Context, b gocql.ObservedBatch) {
	c.mu.Lock()
	c.stmts["BATCH of "+statementKind(firstOr(b.Statements))]++
	c.mu.Unlock()
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// snapshot is the counts at one moment.
type snapshot struct {
	stmts map[string]int64
	rows  int64
}

func (c *counter) snapshot() snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return snapshot{stmts: maps.Clone(c.stmts), rows: c.rows}
}

// since returns the statements per operation sent between s and now, for
// ops operations.
func (c *counter) since(s snapshot, ops int) RoundTrips {
	now := c.snapshot()
	rt := RoundTrips{ByStatement: map[string]float64{}}
	var total int64
	for k, v := range now.stmts {
		if d := v - s.stmts[k]; d > 0 {
			rt.ByStatement[k] = float64(d) / float64(ops)
			total += d
		}
	}
	rt.PerOp = float64(total) / float64(ops)
	rt.RowsPerOp = float64(now.rows-s.rows) / float64(ops)
	return rt
}

var (
	reFrom   = regexp.MustCompile(`(?i)\bFROM\s+([A-Za-z0-9_."]+)`)
	reInto   = regexp.MustCompile(`(?i)^\s*INSERT\s+INTO\s+([A-Za-z0-9_."]+)`)
	reUpdate = regexp.MustCompile(`(?i)^\s*UPDATE\s+([A-Za-z0-9_."]+)`)
	reIf     = regexp.MustCompile(`(?i)\bIF\s`)
)

// statementKind names a statement by its verb and table, with " IF" for a
// lightweight transaction: "SELECT jobs", "UPDATE jobs IF".
func statementKind(stmt string) string {
	verb := strings.ToUpper(strings.Fields(stmt + " ?")[0])
	var table string
	for _, re := range []*regexp.Regexp{reInto, reUpdate, reFrom} {
		if m := re.FindStringSubmatch(stmt); m != nil {
			table = m[1]
			break
		}
	}
	if i := strings.LastIndexByte(table, '.'); i >= 0 {
		table = table[i+1:]
	}
	k := verb + " " + table
	if (verb == "INSERT" || verb == "UPDATE" || verb == "DELETE") && reIf.MatchString(stmt) {
		k += " IF"
	}
	return k
}
