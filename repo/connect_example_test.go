package repo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
)

// The first form: contact points and a keyspace. Consistency is
// LOCAL_QUORUM, lightweight transactions LOCAL_SERIAL. The store owns the
// session: Close closes it.
func ExampleConnect() {
	ctx := context.Background()
	store, err := repo.Connect(ctx, repo.Config{
		Hosts:    cqltest.Hosts(), // e.g. []string{"10.0.0.1", "10.0.0.2"}
		Keyspace: cqltest.PackageKeyspace(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	job, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: "example-connect", Type: "report.build"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.Type, job.State)
	// Output: report.build Scheduled
}

// The second form: the same with the nodes' native transport port, for
// every host (Port) or per host ("host:port").
func ExampleConnect_port() {
	store, err := repo.Connect(context.Background(), repo.Config{
		Hosts:    []string{cqltest.Hosts()[0]},
		Port:     9042, // the default; a cluster on another port names it here
		Keyspace: cqltest.PackageKeyspace(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	fmt.Println("connected")
	// Output: connected
}

// The third form: a cluster configured in full. TLS and credentials are
// set the same way (see the README's "Authentication and TLS").
func ExampleConnect_fullyConfigured() {
	store, err := repo.Connect(context.Background(), repo.Config{
		Hosts:    cqltest.Hosts(),
		Keyspace: cqltest.PackageKeyspace(),
		// Username: "jobsharp_app", Password: os.Getenv("CASSANDRA_PASSWORD"),
		// TLS: &tls.Config{RootCAs: pool},
		LocalDC:            "datacenter1", // token-aware over DC-aware round robin
		Consistency:        gocql.LocalQuorum,
		SerialConsistency:  gocql.LocalSerial,
		Timeout:            10 * time.Second,
		ConnectTimeout:     3 * time.Second,
		NumConns:           2,
		RetryPolicy:        &gocql.ExponentialBackoffRetryPolicy{NumRetries: 3, Min: 100 * time.Millisecond, Max: 2 * time.Second},
		ReconnectionPolicy: &gocql.ExponentialReconnectionPolicy{MaxRetries: 5, InitialInterval: 500 * time.Millisecond},
		Options:            repo.Options{Retention: 72 * time.Hour},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	fmt.Println("connected")
	// Output: connected
}

// ConnectCluster takes a gocql cluster configuration built by hand, for
// settings Config does not cover (here a query observer).
func ExampleConnectCluster() {
	cluster := gocql.NewCluster(cqltest.Hosts()...)
	cluster.Consistency = gocql.LocalQuorum
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	cluster.QueryObserver = nil // your metrics here
	store, err := repo.ConnectCluster(context.Background(), cluster, cqltest.PackageKeyspace(), &repo.Options{DueShards: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	fmt.Println("connected")
	// Output: connected
}

// The fourth form: a session from your own factory. The store does not own
// it; Check verifies the schema as Connect does.
func ExampleNew() {
	cluster := gocql.NewCluster(cqltest.Hosts()...)
	cluster.Keyspace = cqltest.PackageKeyspace()
	session, err := gocqlx.WrapSession(cluster.CreateSession())
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()

	store, err := repo.New(session, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Check(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("schema ok")
	// Output: schema ok
}

// Connection problems are sentinels for errors.Is, with messages that say
// what to do.
func ExampleConnect_keyspaceNotFound() {
	_, err := repo.Connect(context.Background(), repo.Config{
		Hosts: []string{"127.0.0.1"}, Keyspace: "no_such_keyspace",
		DriverLogger: log.New(io.Discard, "", 0), // gocql also logs each failed attempt
	})
	if errors.Is(err, repo.ErrKeyspaceNotFound) {
		fmt.Println(err)
	}
	// Output:
	// jobsharp: keyspace "no_such_keyspace" not found: create it and its tables with: jobsharp schema apply --hosts 127.0.0.1:9042 --keyspace no_such_keyspace --replication SimpleStrategy:1 (in production: --replication NetworkTopologyStrategy:<dc>=3)
}
