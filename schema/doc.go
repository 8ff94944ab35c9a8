// Package schema creates and checks the job store's schema in a keyspace:
// the DDL of schema/Schema.cql (as generated into package queries) qualified
// with a keyspace, the keyspace itself with the replication the operator
// chooses, and a comparison of the live schema (system_schema) with the one
// this build expects.
//
// It runs DDL and reads system_schema only; the job tables are read and
// written by package repo alone. The jobsharp command (schema apply, verify,
// print) is a thin layer over [Apply], [Verify] and [Print], and
// repo.Connect uses [Inspect] and [Compare] to refuse a keyspace that lacks
// tables or columns.
//
// # Applying
//
//	repl, err := schema.ParseReplication("NetworkTopologyStrategy:dc1=3,dc2=3")
//	res, err := schema.Apply(ctx, session, "jobsharp", &repl)
//	fmt.Print(res) // what was created, what existed, warnings, schema agreement
//
// Apply is idempotent: every statement is CREATE … IF NOT EXISTS, and a
// second run reports everything as existing. It never alters or drops: a
// keyspace that exists keeps its replication (Apply warns when it differs
// from the one asked for), and a table that exists keeps its columns
// ([Verify] reports what differs and the ALTER statements that repair what
// can be repaired).
//
// # Verifying
//
//	rep, err := schema.Verify(ctx, session, "jobsharp")
//	if !rep.OK() {
//		fmt.Print(rep) // one line per difference, then a go-cmp diff (-want +live)
//	}
//
// Verify compares tables and columns (kind, key position, clustering order
// and type). It does not compare table options (compaction, TTLs,
// gc_grace_seconds) or the fields of user-defined types.
package schema
