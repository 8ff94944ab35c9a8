package golang

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
)

// syntheticSchema returns a schema of about 25 lines per table: types,
// collections, tuples, UDTs, compound keys and options, plus one named
// query per table.
func syntheticSchema(tables int) (schema, queries string) {
	var s, q strings.Builder
	s.WriteString("CREATE TYPE IF NOT EXISTS address (street text, city text, zip int, tags frozen<set<text>>);\n")
	for i := range tables {
		fmt.Fprintf(&s, `-- table %d
CREATE TABLE IF NOT EXISTS table_%d (
    tenant_id uuid,
    bucket int,
    created_at timestamp,
    seq timeuuid,
    owner text STATIC,
    name text,
    state int,
    payload blob,
    amount decimal,
    counter_like bigint,
    ratio double,
    tags set<text>,
    attrs map<text, frozen<list<int>>>,
    history list<frozen<tuple<timestamp, text>>>,
    home frozen<address>,
    extra map<int, frozen<address>>,
    ip inet,
    expires_at date,
    PRIMARY KEY ((tenant_id, bucket), created_at, seq)
) WITH CLUSTERING ORDER BY (created_at DESC, seq ASC)
    AND compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 1}
    AND default_time_to_live = 86400
    AND comment = 'synthetic table %d';
`, i, i, i)
		fmt.Fprintf(&q, "-- name: Table%dRecent\nSELECT name, state FROM table_%d WHERE tenant_id = ? AND bucket = ? AND created_at > ? LIMIT ?;\n", i, i)
	}
	return s.String(), q.String()
}

// BenchmarkGenerate parses, checks and renders a synthetic schema of about
// 5,000 lines (200 tables) with 200 named queries.
func BenchmarkGenerate(b *testing.B) {
	schema, queries := syntheticSchema(200)
	b.SetBytes(int64(len(schema) + len(queries)))
	ctx := context.Background()
	for b.Loop() {
		cat, err := catalog.Build(catalog.Source{Name: "s.cql", Text: schema})
		if err != nil {
			b.Fatal(err)
		}
		named, err := cql.ParseQueries("q.cql", queries)
		if err != nil {
			b.Fatal(err)
		}
		var opts Options
		for _, nq := range named {
			q, err := cat.Compile(nq)
			if err != nil {
				b.Fatal(err)
			}
			opts.Queries = append(opts.Queries, q)
		}
		if _, err := Generate(ctx, cat, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(strings.Count(schema, "\n")), "schema-lines")
}
