package golang

import (
	"go/token"
	"strings"

	"github.com/jobsharp/cassandra/gen/catalog"
	"github.com/jobsharp/cassandra/gen/cql"
)

// KeyspaceDir returns the folder, and package name, of a keyspace's
// packages when a schema gets a package per keyspace: the name in lower
// case without underscores or leading digits (my_app → myapp), with "ks"
// appended when that is a Go keyword or a folder the go tool treats
// specially (internal, testdata, vendor).
func KeyspaceDir(keyspace string) string {
	dir := PackageName(keyspace)
	if token.IsKeyword(dir) || dir == "internal" || dir == "testdata" || dir == "vendor" {
		dir += "ks"
	}
	return dir
}

// keyspacesWithObjects returns the keyspaces of cat that hold tables,
// views or types, in catalog order.
func keyspacesWithObjects(cat *catalog.Catalog) []*catalog.Keyspace {
	var out []*catalog.Keyspace
	for _, ks := range cat.Keyspaces {
		if len(ks.Tables) > 0 || len(ks.Types) > 0 {
			out = append(out, ks)
		}
	}
	return out
}

// queriesIn returns the queries on tables of keyspace.
func queriesIn(queries []*catalog.Query, keyspace string) []*catalog.Query {
	var out []*catalog.Query
	for _, q := range queries {
		if q.Table.Keyspace == keyspace {
			out = append(out, q)
		}
	}
	return out
}

// keyspaceList names the keyspaces of cat for messages.
func keyspaceList(cat *catalog.Catalog) string {
	var names []string
	for _, ks := range cat.Keyspaces {
		if ks.Name == "" {
			names = append(names, "the session keyspace")
		} else {
			names = append(names, cql.QuoteIdent(ks.Name))
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
