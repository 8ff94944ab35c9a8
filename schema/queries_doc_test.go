package schema_test

import (
	"os"
	"strings"
	"testing"

	"github.com/jobsharp/cassandra/gen/cql"
)

// TestEveryQueryHasADoc requires a comment right above every "-- name:"
// line of queries.cql: the generator makes it the doc comment of the
// query's method of queries.DB, which is all a reader of the generated
// package sees of what the statement is for.
func TestEveryQueryHasADoc(t *testing.T) {
	t.Parallel()

	src, err := os.ReadFile("queries.cql")
	if err != nil {
		t.Fatal(err)
	}
	named, err := cql.ParseQueries("schema/queries.cql", string(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(named) == 0 {
		t.Fatal("schema/queries.cql has no named queries")
	}
	for _, q := range named {
		if strings.TrimSpace(q.Doc) == "" {
			t.Errorf("%s: query %s has no comment right above its -- name: line; write what it is for (it becomes the doc comment of queries.DB.%s)", q.NamePos, q.Name, q.Name)
		}
	}
}
