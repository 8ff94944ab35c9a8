// Command driver runs one workload of bench's throughput scenario against a
// Cassandra job store and prints the result as JSON on stdout. The bench
// command builds and runs it; it is not meant for people, though it can be
// run by hand:
//
//	go run ./bench/driver -keyspace bench_tp -setup
//	go run ./bench/driver -keyspace bench_tp -queue q1 -workload drain -jobs 2000
//	go run ./bench/driver -keyspace bench_tp -teardown
//
// This file is the part that stays the same whatever the store's API: flags,
// the session and its statement counter, the JSON. The store is reached
// through an adapter, ours.go for this commit's API. previous.go (build tag
// jobsharp_previous) is the adapter for the API of the previous design's
// commit: bench copies this directory into an archive of that commit and
// builds it there with the tag, so that one run measures both designs.
// raw.go (build tag jobsharp_raw, built from this tree) sends the
// statements of this commit's store through raw gocql, without the store.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/bench/cqlcount"
	"github.com/jobsharp/cassandra/bench/workload"
)

func main() { workload.Main("driver", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("driver", flag.ContinueOnError)
	var (
		hosts    = fs.String("hosts", "127.0.0.1", "Cassandra contact points, comma separated")
		port     = fs.Int("port", 9042, "CQL port")
		keyspace = fs.String("keyspace", "", "the keyspace of the store (required)")
		setup    = fs.Bool("setup", false, "create the keyspace and the schema, then exit")
		teardown = fs.Bool("teardown", false, "drop the keyspace, then exit")
		queue    = fs.String("queue", "bench", "the queue to use")
		p        workload.Params
	)
	p.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyspace == "" {
		return fmt.Errorf("-keyspace is required")
	}
	counter := cqlcount.New()
	cluster := gocql.NewCluster(strings.Split(*hosts, ",")...)
	cluster.Port = *port
	cluster.ConnectTimeout = 10 * time.Second
	cluster.Timeout = 30 * time.Second
	cluster.Consistency = gocql.LocalQuorum
	cluster.SerialConsistency = gocql.LocalSerial
	cluster.Logger = log.New(io.Discard, "", 0)
	cluster.QueryObserver = counter
	cluster.BatchObserver = counter

	if *setup || *teardown {
		session, err := cluster.CreateSession()
		if err != nil {
			return fmt.Errorf("connect to Cassandra at %s:%d: %w", *hosts, *port, err)
		}
		defer session.Close()
		if *teardown {
			return session.Query("DROP KEYSPACE IF EXISTS " + *keyspace).WithContext(ctx).Exec()
		}
		return applySchema(ctx, session, *keyspace)
	}

	sys, closeSys, err := open(ctx, cluster, *keyspace, *queue)
	if err != nil {
		return err
	}
	defer closeSys()
	return workload.RunAndPrint(ctx, stdout, counted{sys, counter}, p)
}

// counted adds the session's statement counts to a system.
type counted struct {
	workload.System
	c *cqlcount.Counter
}

func (c counted) Counts() workload.Counts {
	s := c.c.Snapshot()
	return workload.Counts{RoundTrips: s.RoundTrips(), LWTs: s.LWTs, Batches: s.Batches, BatchStatements: s.BatchStatements, ByKind: s.ByKind}
}
