package catalog

import "fmt"

// Dialect is the server whose rules the catalog applies.
type Dialect int

// Dialects.
const (
	// Cassandra is Apache Cassandra 5.0.
	Cassandra Dialect = iota
	// Scylla is ScyllaDB: it also accepts the table and keyspace options
	// only ScyllaDB knows (tablets, cdc maps, tombstone_gc, …).
	Scylla
)

// String returns the dialect's name as the -dialect flag spells it.
func (d Dialect) String() string {
	if d == Scylla {
		return "scylla"
	}
	return "cassandra"
}

// ParseDialect reads a -dialect flag value: "cassandra" or "scylla".
func ParseDialect(s string) (Dialect, error) {
	switch s {
	case "cassandra", "":
		return Cassandra, nil
	case "scylla", "scylladb":
		return Scylla, nil
	}
	return Cassandra, fmt.Errorf("unknown dialect %q: want cassandra or scylla", s)
}
