// Package cqlcount counts the statements a gocql session sends, with the
// driver's own observers: round trips, lightweight transactions, batches and
// the statements inside them, by kind ("SELECT jobs", "UPDATE jobs IF",
// "BATCH of INSERT due_index"). It depends on gocql alone, so that the
// throughput drivers can carry it into an archive of an earlier commit.
package cqlcount

import (
	"context"
	"maps"
	"regexp"
	"strings"
	"sync"

	"github.com/gocql/gocql"
)

// Counter counts what a session sends. Set it as the cluster's
// QueryObserver and BatchObserver. Each page of a paged read and each retry
// counts: every one is a round trip.
type Counter struct {
	mu sync.Mutex
	c  Counts
}

// Counts is what a Counter saw.
type Counts struct {
	// Queries are the statements sent alone; Batches the batches, and
	// BatchStatements the statements inside them.
	Queries         int64 `json:"queries"`
	Batches         int64 `json:"batches"`
	BatchStatements int64 `json:"batch_statements"`
	// LWTs are the lightweight transactions (one Paxos round each): the
	// conditional statements sent alone, and the batches holding one.
	LWTs int64 `json:"lwts"`
	// Rows are the rows the queries returned.
	Rows int64 `json:"rows"`
	// ByKind counts the queries and batches by [Kind].
	ByKind map[string]int64 `json:"by_kind"`
}

// New returns a counter at zero.
func New() *Counter { return &Counter{c: Counts{ByKind: map[string]int64{}}} }

// ObserveQuery implements gocql.QueryObserver.
func (c *Counter) ObserveQuery(_ context.Context, q gocql.ObservedQuery) {
	k := Kind(q.Statement)
	c.mu.Lock()
	c.c.Queries++
	c.c.Rows += int64(q.Rows)
	if IsLWT(q.Statement) {
		c.c.LWTs++
	}
	c.c.ByKind[k]++
	c.mu.Unlock()
}

// ObserveBatch implements gocql.BatchObserver.
func (c *Counter) ObserveBatch(_ context.Context, b gocql.ObservedBatch) {
	first := ""
	if len(b.Statements) > 0 {
		first = b.Statements[0]
	}
	lwt := false
	for _, s := range b.Statements {
		lwt = lwt || IsLWT(s)
	}
	c.mu.Lock()
	c.c.Batches++
	c.c.BatchStatements += int64(len(b.Statements))
	if lwt {
		c.c.LWTs++
	}
	c.c.ByKind["BATCH of "+Kind(first)]++
	c.mu.Unlock()
}

// Snapshot returns the counts so far.
func (c *Counter) Snapshot() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.c
	s.ByKind = maps.Clone(c.c.ByKind)
	return s
}

// Sub returns the counts between an earlier snapshot and c.
func (c Counts) Sub(earlier Counts) Counts {
	d := Counts{
		Queries: c.Queries - earlier.Queries, Batches: c.Batches - earlier.Batches,
		BatchStatements: c.BatchStatements - earlier.BatchStatements, LWTs: c.LWTs - earlier.LWTs,
		Rows: c.Rows - earlier.Rows, ByKind: map[string]int64{},
	}
	for k, v := range c.ByKind {
		if n := v - earlier.ByKind[k]; n > 0 {
			d.ByKind[k] = n
		}
	}
	return d
}

// RoundTrips is the queries and batches: the requests sent.
func (c Counts) RoundTrips() int64 { return c.Queries + c.Batches }

var (
	reFrom   = regexp.MustCompile(`(?i)\bFROM\s+([A-Za-z0-9_."]+)`)
	reInto   = regexp.MustCompile(`(?i)^\s*INSERT\s+INTO\s+([A-Za-z0-9_."]+)`)
	reUpdate = regexp.MustCompile(`(?i)^\s*UPDATE\s+([A-Za-z0-9_."]+)`)
	reIf     = regexp.MustCompile(`(?i)\bIF\s`)
)

// kinds caches what Kind and IsLWT found for each statement text: a store
// sends a few dozen distinct statements thousands of times, and matching
// the regular expressions each time cost the measured process ~9% of its
// CPU, more for a contender that sends more statements.
var kinds sync.Map // statement → kindOf

type kindOf struct {
	kind string
	lwt  bool
}

func lookup(stmt string) kindOf {
	if k, ok := kinds.Load(stmt); ok {
		return k.(kindOf)
	}
	k := kindOf{kind: kind(stmt), lwt: isLWT(stmt)}
	kinds.Store(stmt, k)
	return k
}

// Kind names a statement by its verb and table, with " IF" for a
// lightweight transaction: "SELECT jobs", "UPDATE jobs IF".
func Kind(stmt string) string { return lookup(stmt).kind }

// IsLWT reports whether stmt is a lightweight transaction: an INSERT,
// UPDATE or DELETE with an IF condition.
func IsLWT(stmt string) bool { return lookup(stmt).lwt }

func kind(stmt string) string {
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
	if isLWT(stmt) {
		k += " IF"
	}
	return k
}

func isLWT(stmt string) bool {
	verb := strings.ToUpper(strings.Fields(stmt + " ?")[0])
	return (verb == "INSERT" || verb == "UPDATE" || verb == "DELETE") && reIf.MatchString(stmt)
}
