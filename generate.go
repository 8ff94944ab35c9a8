package cassandra

//go:generate go run ./gen -schema schema/Schema.cql -queries-cql schema/queries.cql -models models -queries queries
