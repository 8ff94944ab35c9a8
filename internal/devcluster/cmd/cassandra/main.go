// Command cassandra starts, stops and reports on the local Apache Cassandra
// 5.0 cluster used for development, tests and CI. scripts/cassandra runs it.
//
//	scripts/cassandra start [--nodes 1|2|3] [--addr 127.0.0.N] [--durable] [--auth] [--tls] [--features] [--heap MiB] [--version 5.0.x]
//	scripts/cassandra stop [--addr 127.0.0.N] [--wipe]
//	scripts/cassandra status [--addr 127.0.0.N]
//	scripts/cassandra kill|restart|pause|resume --addr 127.0.0.N
//	scripts/cassandra nodetool [--node N | --addr 127.0.0.N] ARGS…
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/jobsharp/cassandra/internal/devcluster"
)

const usage = `usage:
  scripts/cassandra start [--nodes 1|2|3] [--addr 127.0.0.N] [--durable] [--auth] [--tls] [--features] [--heap MiB] [--version 5.0.x] [--timeout 3m]
  scripts/cassandra stop [--addr 127.0.0.N] [--wipe] [--timeout 60s]
  scripts/cassandra status [--addr 127.0.0.N]
  scripts/cassandra kill --addr 127.0.0.N       SIGKILL one node, as a crash would
  scripts/cassandra restart --addr 127.0.0.N [--kill]
                                                stop one node (SIGTERM, or SIGKILL with --kill)
                                                or find it stopped, start it, wait until the
                                                others see it up
  scripts/cassandra pause --addr 127.0.0.N      SIGSTOP one node (a frozen process)
  scripts/cassandra resume --addr 127.0.0.N     SIGCONT it; wait until every node sees it up
  scripts/cassandra nodetool [--node N | --addr 127.0.0.N] ARGS...

Nodes listen on 127.0.0.N:9042, from 127.0.0.1 up unless --addr names the
first node's address; clusters on different addresses run side by side (the
tests keep an authenticating node on 127.0.0.11, a TLS node on 127.0.0.12,
a node with --features on 127.0.0.13 and a three-node fault cluster on
127.0.0.21-23). stop and status without --addr cover every cluster. A
cluster of several nodes (or one started with --durable) flushes its system
tables as Cassandra does by default, so a node killed and restarted keeps
its schema and data; a single node runs with -Dcassandra.unsafesystem=true
for fast schema changes, and kill refuses it. Jars and data live in
$JOBSHARP_CASSANDRA_DIR (default ~/.cache/jobsharp-cassandra).
Exit codes: 0 ok, 1 failure, 2 usage, 3 (status) not running.
`

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "start":
		return start(ctx, args[1:], stdout, stderr)
	case "stop":
		return stop(ctx, args[1:], stdout, stderr)
	case "status":
		return status(ctx, args[1:], stdout, stderr)
	case "nodetool":
		return nodetool(ctx, args[1:], stdout, stderr)
	case "kill", "restart", "pause", "resume":
		return control(ctx, args[0], args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
	return 2
}

func start(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts devcluster.Options
	fs.IntVar(&opts.Nodes, "nodes", 1, "number of nodes (1 to 3), on consecutive loopback addresses")
	fs.StringVar(&opts.Addr, "addr", devcluster.DefaultAddr, "loopback address of the first node")
	fs.BoolVar(&opts.Durable, "durable", false, "a single node that survives SIGKILL with its schema (several nodes always do)")
	fs.BoolVar(&opts.Auth, "auth", false, "PasswordAuthenticator; superuser cassandra/cassandra")
	fs.BoolVar(&opts.TLS, "tls", false, "TLS-only CQL port with a generated CA (ca.pem in the cluster's tls folder)")
	fs.BoolVar(&opts.Features, "features", false, "enable materialized views, SASI, data masking, UDFs and DROP COMPACT STORAGE")
	fs.IntVar(&opts.HeapMB, "heap", 0, "heap per node in MiB (default 1024, or 768 with several nodes)")
	fs.StringVar(&opts.Version, "version", os.Getenv("JOBSHARP_CASSANDRA_VERSION"), "cassandra-all 5.0.x release (default: newest cached, else newest on Maven Central)")
	fs.DurationVar(&opts.StartTimeout, "timeout", 3*time.Minute, "how long to wait for each node")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts.Log = stdout
	c, err := devcluster.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "scripts/cassandra start: %v\n", err)
		return 2
	}
	began := time.Now()
	res, err := c.Start(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "scripts/cassandra start: %v\n", err)
		return 1
	}
	if res.AlreadyRunning {
		fmt.Fprintf(stdout, "Cassandra %s already answers on %v; nothing to do\n", res.Version, c.Hosts())
		return 0
	}
	fmt.Fprintf(stdout, "Cassandra %s is up on %v (install %s, boot %s, total %s)\n", res.Version, c.Hosts(),
		res.Install.Round(100*time.Millisecond), res.Boot.Round(100*time.Millisecond), time.Since(began).Round(100*time.Millisecond))
	if opts.TLS {
		fmt.Fprintf(stdout, "clients trust %s\n", filepath.Join(c.TLSDir(), devcluster.CAFile))
	}
	return 0
}

func stop(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wipe := fs.Bool("wipe", false, "also delete the nodes' data")
	addr := fs.String("addr", "", "stop only the clusters with a node on this address (default: every cluster)")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait after SIGTERM before SIGKILL")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := devcluster.StopAddr(ctx, "", *addr, *timeout, *wipe, stdout); err != nil {
		fmt.Fprintf(stderr, "scripts/cassandra stop: %v\n", err)
		return 1
	}
	return 0
}

func status(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "report only the node on this address (default: every node)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	nodes, err := devcluster.Status(ctx, "")
	if err != nil {
		fmt.Fprintf(stderr, "scripts/cassandra status: %v\n", err)
		return 1
	}
	if *addr != "" {
		nodes = slices.DeleteFunc(nodes, func(n devcluster.NodeStatus) bool { return n.Addr != *addr })
	}
	if len(nodes) == 0 {
		fmt.Fprintln(stdout, "not running")
		return 3
	}
	code := 0
	for _, n := range nodes {
		if n.Err != nil {
			fmt.Fprintf(stdout, "%s node %d %s pid %d: not answering CQL: %v\n", n.Profile, n.Node, n.Addr, n.Pid, n.Err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s node %d %s:%d pid %d: Cassandra %s, %d peers\n", n.Profile, n.Node, n.Addr, devcluster.CQLPort, n.Pid, n.Version, n.Peers)
	}
	return code
}

// control kills, restarts, pauses or resumes the node on --addr.
func control(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "loopback address of the node (required)")
	kill := false
	if cmd == "restart" {
		fs.BoolVar(&kill, "kill", false, "stop the node with SIGKILL instead of SIGTERM")
	}
	timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait for the node to come back (restart)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *addr == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "scripts/cassandra %s: give the node's address with --addr, and nothing else\n", cmd)
		return 2
	}
	c, i, err := devcluster.FindNode("", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "scripts/cassandra %s: %v\n", cmd, err)
		return 1
	}
	opts := c.Options()
	opts.Log, opts.StartTimeout = stdout, *timeout
	c, err = devcluster.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "scripts/cassandra %s: %v\n", cmd, err)
		return 1
	}
	began := time.Now()
	switch cmd {
	case "kill":
		err = c.Kill(ctx, i)
	case "restart":
		err = c.Restart(ctx, i, kill)
	case "pause":
		err = c.Pause(i)
	case "resume":
		if err = c.Resume(i); err == nil {
			err = c.WaitUp(ctx)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "scripts/cassandra %s: %v\n", cmd, err)
		return 1
	}
	fmt.Fprintf(stdout, "node %d of %s (%s): %s done in %s\n", i, opts.Profile(), *addr, cmd, time.Since(began).Round(100*time.Millisecond))
	return 0
}

// nodetool runs Cassandra's NodeTool from the cached jars against one node's JMX port.
func nodetool(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	addr := devcluster.DefaultAddr
	switch {
	case len(args) >= 2 && args[0] == "--node":
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 || n > devcluster.MaxNodes {
			fmt.Fprintf(stderr, "--node must be 1 to %d\n", devcluster.MaxNodes)
			return 2
		}
		addr, args = fmt.Sprintf("127.0.0.%d", n), args[2:]
	case len(args) >= 2 && args[0] == "--addr":
		if _, err := devcluster.New(devcluster.Options{Addr: args[1]}); err != nil {
			fmt.Fprintf(stderr, "--addr: %v\n", err)
			return 2
		}
		addr, args = args[1], args[2:]
	}
	inst, err := devcluster.Install(ctx, devcluster.DefaultCacheDir(), os.Getenv("JOBSHARP_CASSANDRA_VERSION"), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "scripts/cassandra nodetool: %v\n", err)
		return 1
	}
	argv := append(devcluster.ToolJVMArgs(inst),
		"org.apache.cassandra.tools.NodeTool", "-h", "127.0.0.1", "-p", strconv.Itoa(devcluster.JMXPort(addr)))
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, inst.Java, argv...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(stderr, "scripts/cassandra nodetool: %v\n", err)
		return 1
	}
	return 0
}
