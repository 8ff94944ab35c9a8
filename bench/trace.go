package bench

import (
	"context"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// ReadCost is what the node read to answer some statements, from its
// query traces: partitions read, live rows and tombstone cells.
type ReadCost struct {
	Statements int    `json:"statements"`
	LiveRows   int    `json:"live_rows"`
	Tombstones int    `json:"tombstones"`
	Err        string `json:"error,omitempty"`
}

// traceIDs collects the trace sessions of traced statements.
type traceIDs struct {
	mu  sync.Mutex
	ids [][]byte
}

// Trace implements gocql.Tracer.
func (t *traceIDs) Trace(id []byte) {
	t.mu.Lock()
	t.ids = append(t.ids, append([]byte(nil), id...))
	t.mu.Unlock()
}

var reTraceRead = regexp.MustCompile(`Read (\d+) live rows and (\d+) tombstone cells`)

// cost reads the traces' events and adds up what the node read. Traces are
// written asynchronously, so it waits a moment first.
func (t *traceIDs) cost(ctx context.Context, s *gocql.Session) ReadCost {
	time.Sleep(500 * time.Millisecond)
	t.mu.Lock()
	ids := t.ids
	t.mu.Unlock()
	c := ReadCost{Statements: len(ids)}
	for _, id := range ids {
		iter := s.Query(`SELECT activity FROM system_traces.events WHERE session_id = ?`, gocql.UUID(id)).
			WithContext(ctx).Consistency(gocql.One).Iter() // system_traces has replication factor 2
		var activity string
		for iter.Scan(&activity) {
			if m := reTraceRead.FindStringSubmatch(activity); m != nil {
				live, _ := strconv.Atoi(m[1])
				tomb, _ := strconv.Atoi(m[2])
				c.LiveRows += live
				c.Tombstones += tomb
			}
		}
		if err := iter.Close(); err != nil {
			c.Err = err.Error()
		}
	}
	return c
}
