// Package cql reads CQL source: a lexer and a recursive-descent parser for
// the schema statements of Cassandra 5.0 and ScyllaDB (CREATE/ALTER/DROP of
// keyspaces, tables, types, indexes and materialized views, and USE) and for
// the SELECT, INSERT, UPDATE and DELETE statements of a queries file.
//
// Every node carries a [Position] (file, line, column), and every error is an
// [*Error] that prints as "file:line:col: message". Statements that do not
// shape the schema (DML in a schema file, functions, roles, grants, cqlsh
// commands) are returned as [*Skipped], so a schema dump can be read as is.
//
// The parser never panics: nesting is bounded and problems become errors.
package cql
