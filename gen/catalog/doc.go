// Package catalog is the keyspace model the generator works from: keyspaces,
// user-defined types, tables and materialized views with their columns (kind
// partition_key, clustering, regular or static, key position, clustering
// order), options and indexes.
//
// A catalog is built by folding parsed statements in order with
// [Catalog.Update], so a single schema file and a folder of migrations work
// the same way. Update makes the checks Cassandra makes when it runs the
// statement (primary key shape, unknown types and columns, counters, static
// columns, frozen collections, clustering order, ALTER and DROP rules) and
// reports each as an [*Error] at the offending position, wrapping one of the
// Err… sentinels.
package catalog
