// Package roundtrip is the fixture of the generator's round-trip test on a
// real Cassandra 5.0 node: Schema.cql and queries.cql, the models and queries
// packages generated from them, and roundtrip_test.go.
package roundtrip

//go:generate go run github.com/jobsharp/cassandra/gen -schema Schema.cql -queries-cql queries.cql -models models -queries queries
