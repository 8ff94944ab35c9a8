// Package golang renders the catalog as Go: the models package (one struct
// per table, view and user-defined type, plus the Tuple, Vector and Inet
// helper types) and the queries package (gocqlx tables, typed column sets and
// builders, named queries, Tables, CreateStatements and Columns).
//
// [Generate] is pure: it returns the files as a map and writes nothing.
// Names that collide in Go are rejected before anything is rendered, with
// the position of the schema object at fault. Templates are text/template
// files embedded in the binary; every file passes through go/format.
//
// See gen/README.md for the CQL to Go mapping and the generated API.
package golang
