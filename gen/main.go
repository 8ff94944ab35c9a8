// Command gen generates the models and queries packages from the CQL schema.
//
//	go run ./gen -schema schema/Schema.cql -queries-cql schema/queries.cql -models models -queries queries [-check]
//
// See gen/README.md for the CQL to Go type mapping and the generated API.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/jobsharp/cassandra/gen/internal/run"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
