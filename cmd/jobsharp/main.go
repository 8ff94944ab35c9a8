// Command jobsharp sets up and inspects the job store's schema on Cassandra
// or ScyllaDB: jobsharp schema apply|verify|print. `jobsharp help` lists the
// commands; package cli holds them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobsharp/cassandra/cmd/jobsharp/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
