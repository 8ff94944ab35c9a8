// Package corpus is the generator's truth test: real schema files from
// public projects (testdata/files, provenance in testdata/sources.json),
// applied statement by statement to a real Cassandra 5.0 node and to the
// generator, which must agree on every statement's verdict and on the
// resulting tables, views and user-defined types.
//
// The server's side is recorded in testdata/server/<entry>.json by
// TestServerRecords, which runs every file against the node on
// cqltest.FeaturesAddr (started when absent) and fails when a record is
// stale; go test ./gen/internal/corpus -update rewrites them.
// TestGeneratorAgrees compares the generator with the records, and
// TestAgreementTable keeps the table in gen/README.md current.
package corpus
