package catalog

import (
	"errors"

	"github.com/jobsharp/cassandra/gen/cql"
)

// Error is a schema error with the position of the offending name or
// statement. It prints as "file:line:col: message" and wraps one of the
// Err… sentinels below, so callers can use errors.Is.
type Error = cql.Error

var (
	// ErrDuplicate reports a keyspace, table, view, type, index, column or
	// field that already exists.
	ErrDuplicate = errors.New("already exists")
	// ErrSystemKeyspace reports a change to one of Cassandra's system
	// keyspaces, which exist on every cluster and which a schema may not
	// create, drop or add objects to (only the replication of system_auth,
	// system_distributed and system_traces may be altered).
	ErrSystemKeyspace = errors.New("system keyspace")
	// ErrUnknownKeyspace reports a keyspace that does not exist.
	ErrUnknownKeyspace = errors.New("unknown keyspace")
	// ErrUnknownTable reports a table or view that does not exist.
	ErrUnknownTable = errors.New("unknown table")
	// ErrUnknownType reports a user-defined type that does not exist.
	ErrUnknownType = errors.New("unknown type")
	// ErrUnknownColumn reports a column or field that does not exist.
	ErrUnknownColumn = errors.New("unknown column")
	// ErrUnknownFunction reports a masking function that does not exist.
	ErrUnknownFunction = errors.New("unknown function")
	// ErrUnknownIndex reports an index that does not exist.
	ErrUnknownIndex = errors.New("unknown index")
	// ErrPrimaryKey reports a missing, doubled or malformed primary key.
	ErrPrimaryKey = errors.New("invalid primary key")
	// ErrKeyColumn reports an operation that primary key columns do not allow
	// (DROP, STATIC) or that only they allow (RENAME).
	ErrKeyColumn = errors.New("invalid use of primary key column")
	// ErrStatic reports a static column in a table without clustering columns.
	ErrStatic = errors.New("invalid static column")
	// ErrCounter reports counter columns mixed with other non-key columns, or
	// counters where Cassandra does not allow them.
	ErrCounter = errors.New("invalid counter column")
	// ErrClusteringOrder reports a CLUSTERING ORDER BY that names a
	// non-clustering column or breaks the key order.
	ErrClusteringOrder = errors.New("invalid clustering order")
	// ErrFrozen reports a non-frozen collection or UDT where only frozen ones
	// are allowed (primary key, inside collections, inside UDTs).
	ErrFrozen = errors.New("must be frozen")
	// ErrInvalidType reports a type that Cassandra rejects in that place.
	ErrInvalidType = errors.New("invalid type")
	// ErrUnknownOption reports a WITH option the dialect does not know.
	ErrUnknownOption = errors.New("unknown option")
	// ErrInvalidOption reports a WITH option value the server refuses: the
	// wrong type, out of range, an unknown class or sub-option.
	ErrInvalidOption = errors.New("invalid option")
	// ErrView reports a materialized view that breaks Cassandra's rules.
	ErrView = errors.New("invalid materialized view")
	// ErrDependency reports a DROP of something still in use.
	ErrDependency = errors.New("still in use")
	// ErrInvalidName reports a keyspace, table, view or index name Cassandra
	// rejects: empty, too long (a keyspace name over 48 characters, a table
	// or view name over 222), or with characters other than ASCII letters,
	// digits and underscores (quoting does not help).
	ErrInvalidName = errors.New("invalid name")
	// ErrUnsupported reports valid CQL the generator does not model.
	ErrUnsupported = cql.ErrUnsupported
)

var (
	// ErrRestriction reports a WHERE clause Cassandra would reject: a
	// partition key not fully restricted, a gap in the clustering columns, or
	// a non-key column without ALLOW FILTERING or an index.
	ErrRestriction = errors.New("invalid restriction")
	// ErrOrderBy reports an ORDER BY Cassandra would reject.
	ErrOrderBy = errors.New("invalid order by")
	// ErrBindName reports a bind marker name that is used twice by accident.
	ErrBindName = errors.New("ambiguous bind marker")
	// ErrQuery reports any other invalid named query.
	ErrQuery = errors.New("invalid query")
)
