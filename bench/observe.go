package bench

import (
	"github.com/jobsharp/cassandra/bench/cqlcount"
)

// counter counts the statements a session sends, by kind ("SELECT jobs",
// "UPDATE jobs IF", "BATCH of INSERT scheduled_jobs", …), and the rows they
// return (see [cqlcount.Counter]).
type counter struct{ *cqlcount.Counter }

func newCounter() *counter { return &counter{cqlcount.New()} }

// snapshot is the counts at one moment.
type snapshot = cqlcount.Counts

func (c *counter) snapshot() snapshot { return c.Snapshot() }

// since returns the statements per operation sent between s and now, for
// ops operations.
func (c *counter) since(s snapshot, ops int) RoundTrips {
	d := c.Snapshot().Sub(s)
	rt := RoundTrips{ByStatement: map[string]float64{}}
	for k, v := range d.ByKind {
		rt.ByStatement[k] = float64(v) / float64(ops)
	}
	rt.PerOp = float64(d.RoundTrips()) / float64(ops)
	rt.RowsPerOp = float64(d.Rows) / float64(ops)
	return rt
}
