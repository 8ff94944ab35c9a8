package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/jobsharp/cassandra/cmd/jobsharp/cli"
	"github.com/jobsharp/cassandra/internal/cqltest"
)

// Set up a keyspace with schema apply, then check it with schema verify.
// Both read JOBSHARP_HOSTS and friends, or take flags.
func Example_applyAndVerify() {
	ctx := context.Background()
	ks := "example_" + strings.ReplaceAll(fmt.Sprint(os.Getpid()), "-", "")
	hosts := strings.Join(cqltest.Hosts(), ",")
	defer dropKeyspace(ks)

	var out bytes.Buffer
	code := cli.Run(ctx, []string{"schema", "apply", "--hosts", hosts, "--keyspace", ks, "--replication", "SimpleStrategy:1"}, &out, os.Stderr)
	fmt.Println("apply:", code, firstLine(out.String(), ks))

	out.Reset()
	code = cli.Run(ctx, []string{"schema", "verify", "--hosts", hosts, "--keyspace", ks}, &out, os.Stderr)
	fmt.Println("verify:", code, firstLine(out.String(), ks))
	// Output:
	// apply: 0 keyspace <ks>: created (SimpleStrategy:1)
	// verify: 0 keyspace <ks> matches the schema of this build
}

// Verify exits 3 when the keyspace differs from the schema, here because it
// does not exist.
func Example_verifyMissingKeyspace() {
	var out bytes.Buffer
	code := cli.Run(context.Background(), []string{"schema", "verify", "--hosts", strings.Join(cqltest.Hosts(), ","), "--keyspace", "no_such_jobs"}, &out, os.Stderr)
	fmt.Print(out.String())
	fmt.Println("exit code:", code)
	// Output:
	// keyspace no_such_jobs differs from the schema of this build in 1 place:
	//   missing keyspace: run jobsharp schema apply --keyspace no_such_jobs --replication …
	// exit code: 3
}

func firstLine(s, ks string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.ReplaceAll(line, ks, "<ks>")
}

func dropKeyspace(ks string) {
	s, err := cqltest.Cluster().CreateSession()
	if err != nil {
		return
	}
	defer s.Close()
	_ = s.Query("DROP KEYSPACE IF EXISTS " + ks).Exec()
}
