// Package roundtrip is the fixture of the generator's round-trip test on a
// real Cassandra 5.0 node: Schema.cql and queries.cql, the models and queries
// packages generated from them, and roundtrip_test.go.
package roundtrip

//go:generate go run github.com/jobsharp/cassandra/gen -schema Schema.cql -queries-cql queries.cql -models models -queries queries

// The generator's golden fixtures too, so that every query they generate
// runs on the real node (fixtures_test.go).
//go:generate go run github.com/jobsharp/cassandra/gen -schema ../../testdata/types/Schema.cql -queries-cql ../../testdata/types/queries.cql -models fixtures/types/models -queries fixtures/types/queries
//go:generate go run github.com/jobsharp/cassandra/gen -schema ../../testdata/quoted/Schema.cql -queries-cql ../../testdata/quoted/queries.cql -models fixtures/quoted/models -queries fixtures/quoted/queries
//go:generate go run github.com/jobsharp/cassandra/gen -schema ../../testdata/views/Schema.cql -queries-cql ../../testdata/views/queries.cql -models fixtures/views/models -queries fixtures/views/queries
//go:generate go run github.com/jobsharp/cassandra/gen -schema ../../testdata/migrations/schema -queries-cql ../../testdata/migrations/queries.cql -models fixtures/migrations/models -queries fixtures/migrations/queries
//go:generate go run github.com/jobsharp/cassandra/gen -schema ../../testdata/vectors/Schema.cql -models fixtures/vectors/models -queries fixtures/vectors/queries
//go:generate go run github.com/jobsharp/cassandra/gen -schema ../../testdata/names/Schema.cql -queries-cql ../../testdata/names/queries.cql -models fixtures/names/models -queries fixtures/names/queries
//go:generate go run github.com/jobsharp/cassandra/gen -schema ../../testdata/keyspaces/Schema.cql -queries-cql ../../testdata/keyspaces/queries.cql -models fixtures/keyspaces/models -queries fixtures/keyspaces/queries
