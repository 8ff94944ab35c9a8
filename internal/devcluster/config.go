package devcluster

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MaxNodes is the largest cluster the launcher starts (one per loopback
// address, from Options.Addr up: 127.0.0.1 … 127.0.0.3 by default).
const MaxNodes = 3

// DefaultAddr is the loopback address of the first node unless
// Options.Addr says otherwise.
const DefaultAddr = "127.0.0.1"

// Ports every node uses on its own loopback address.
const (
	CQLPort     = 9042
	StoragePort = 7000
)

// Default superuser of a cluster started with Auth; Cassandra creates it.
const (
	SuperUser     = "cassandra"
	SuperPassword = "cassandra"
)

// Options says which cluster to run.
type Options struct {
	// CacheDir holds the jars and every node's folders. Default: DefaultCacheDir().
	CacheDir string
	// Version pins a cassandra-all 5.0.x release. Default: the newest cached, or
	// else the newest that resolves on Maven Central.
	Version string
	// Nodes is the number of nodes, 1 to MaxNodes. Default 1.
	Nodes int
	// Addr is the loopback address of the first node; node i listens on the
	// i-th address from there. Default DefaultAddr. Clusters on addresses
	// that do not overlap run side by side (the tests run an authenticating
	// node on 127.0.0.11 and a TLS node on 127.0.0.12 beside the default
	// one); each address also fixes the node's JMX port (7099 + 100 × the
	// last byte).
	Addr string
	// Auth turns on PasswordAuthenticator (superuser cassandra/cassandra).
	Auth bool
	// TLS makes the CQL port TLS-only, with a CA and certificate generated
	// under the cluster folder (see [Cluster.TLSDir]).
	TLS bool
	// Durable keeps a single node's system tables safe from SIGKILL (see
	// [Options.durable]): without it one node runs with
	// -Dcassandra.unsafesystem=true, which makes schema changes faster but
	// loses the schema of a node killed with SIGKILL. Clusters of several
	// nodes are always durable.
	Durable bool
	// Features turns on what Cassandra 5.0 ships disabled: materialized
	// views, SASI indexes, dynamic data masking, user-defined functions and
	// ALTER TABLE … DROP COMPACT STORAGE. The generator's corpus test runs
	// schema files that use them on such a node (127.0.0.13).
	Features bool
	// HeapMB is each node's Java heap. Default 1024 for one node, 768 for more.
	HeapMB int
	// StartTimeout bounds the wait for each node. Default 3 minutes.
	StartTimeout time.Duration
	// Log receives progress lines. Default io.Discard.
	Log io.Writer
}

// DefaultCacheDir is $JOBSHARP_CASSANDRA_DIR, or else
// $XDG_CACHE_HOME/jobsharp-cassandra (~/.cache/jobsharp-cassandra).
func DefaultCacheDir() string {
	if d := os.Getenv("JOBSHARP_CASSANDRA_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "jobsharp-cassandra")
	}
	return filepath.Join(os.TempDir(), "jobsharp-cassandra")
}

func (o *Options) withDefaults() (Options, error) {
	out := *o
	if out.CacheDir == "" {
		out.CacheDir = DefaultCacheDir()
	}
	if out.Nodes == 0 {
		out.Nodes = 1
	}
	if out.Nodes < 1 || out.Nodes > MaxNodes {
		return out, fmt.Errorf("nodes must be between 1 and %d, got %d", MaxNodes, out.Nodes)
	}
	if out.Addr == "" {
		out.Addr = DefaultAddr
	}
	if last, ok := loopbackLast(out.Addr); !ok || last < 1 || last+out.Nodes-1 > 254 {
		return out, fmt.Errorf("addr must be a loopback address 127.0.0.1 to 127.0.0.%d, got %q", 255-out.Nodes, out.Addr)
	}
	if out.Version != "" && !strings.HasPrefix(out.Version, "5.0.") {
		return out, fmt.Errorf("version must be a 5.0.x release, got %q", out.Version)
	}
	if out.HeapMB == 0 {
		out.HeapMB = 1024
		if out.Nodes > 1 {
			out.HeapMB = 768
		}
	}
	if out.HeapMB < 256 {
		return out, fmt.Errorf("heap must be at least 256 MiB, got %d", out.HeapMB)
	}
	if out.StartTimeout == 0 {
		out.StartTimeout = 3 * time.Minute
	}
	if out.Log == nil {
		out.Log = io.Discard
	}
	return out, nil
}

// durable reports whether the nodes flush their system tables as Cassandra
// does by default. A node started with -Dcassandra.unsafesystem=true never
// flushes system_schema after a schema change, and Cassandra 5.0 loads the
// schema from the system_schema SSTables before it replays the commit log
// (CassandraDaemon.setup: Schema.loadFromDisk, then
// CommitLog.recoverSegmentsOnDisk) and never reloads it: a node killed with
// SIGKILL comes back without every keyspace created since its last flush,
// drops their commit-log mutations as "unknown CF", and refuses their
// reads and writes. Its next schema change (at start already: it re-creates
// system_auth, system_distributed and system_traces, lost the same way)
// recomputes its schema version from the replayed tables, so the version
// agrees with its peers' and the node never pulls the schema. Several nodes exist to be killed and restarted, so they
// are always durable; a single node is fast unless Durable is set, and stays
// safe as long as it is stopped with SIGTERM (Cassandra flushes every table
// when it drains).
func (o Options) durable() bool { return o.Durable || o.Nodes > 1 }

// Profile names a cluster configuration; each has its own data folders.
// A cluster on another first address than DefaultAddr carries the address:
// nodes1-auth-127.0.0.11.
func (o Options) Profile() string {
	p := fmt.Sprintf("nodes%d", o.Nodes)
	if o.Auth {
		p += "-auth"
	}
	if o.TLS {
		p += "-tls"
	}
	if o.Features {
		p += "-features"
	}
	if o.Addr != "" && o.Addr != DefaultAddr {
		p += "-" + o.Addr
	}
	return p
}

// loopbackLast returns the last byte of a 127.0.0.x address.
func loopbackLast(addr string) (int, bool) {
	rest, ok := strings.CutPrefix(addr, "127.0.0.")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// nodeAddr is the loopback address of node i (from 1) of a cluster whose
// first node listens on first.
func nodeAddr(first string, i int) string {
	last, _ := loopbackLast(first)
	return fmt.Sprintf("127.0.0.%d", last+i-1)
}

// JMXPort is the local JMX port of the node on addr: 7099 + 100 × its last
// byte (7199, 7299, 7399 for the default cluster; 8199 for 127.0.0.11).
// Local JMX always binds 127.0.0.1, so every address needs its own port.
func JMXPort(addr string) int {
	last, _ := loopbackLast(addr)
	return 7099 + 100*last
}

// clusterName keeps clusters on different addresses apart: a node drops
// gossip from another cluster name.
func (o Options) clusterName() string {
	if o.Addr == "" || o.Addr == DefaultAddr {
		return "jobsharp-dev"
	}
	return "jobsharp-dev-" + o.Addr
}

// initialToken spreads single-token nodes evenly over the Murmur3 ring,
// whose tokens run from -2^63 to 2^63-1.
func initialToken(i, nodes int) string {
	step := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(int64(nodes)))
	t := new(big.Int).Mul(step, big.NewInt(int64(i-1)))
	t.Sub(t, new(big.Int).Lsh(big.NewInt(1), 63))
	return t.String()
}

type nodeConfig struct {
	index, nodes int
	dir          string
	opts         Options
	tlsDir       string
}

func (n nodeConfig) addr() string { return nodeAddr(n.opts.Addr, n.index) }

func (n nodeConfig) path(parts ...string) string {
	return filepath.Join(append([]string{n.dir}, parts...)...)
}

// yaml renders the node's cassandra.yaml. Every key is one Cassandra 5.0
// accepts; the comments say why a value differs from the shipped file.
func (n nodeConfig) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by scripts/cassandra (internal/devcluster); edits are overwritten.
cluster_name: %s
# One token per node, spread evenly: no vnode allocation, which would wait
# RING_DELAY (30 s) on a fresh node.
num_tokens: 1
initial_token: %s
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
# SimpleSnitch: data center "datacenter1", rack "rack1".
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      # Node 1 is the only seed: a seed that knows other seeds waits RING_DELAY
      # (30 s) for them in its gossip shadow round when it starts first.
      - seeds: "%s"
# The other nodes join without streaming: the cluster is empty at first start.
auto_bootstrap: false
# Nodes start one after the other, so the first never finds its peers
# connected; waiting for them (10 s by default) only delays the start.
block_for_peers_timeout_in_secs: 0
listen_address: %s
rpc_address: %s
storage_port: %d
native_transport_port: %d
start_native_transport: true
data_file_directories:
  - %s
commitlog_directory: %s
hints_directory: %s
saved_caches_directory: %s
commitlog_sync: periodic
commitlog_sync_period: 10000ms
# Throw-away data: DROP and TRUNCATE need no snapshot.
auto_snapshot: false
concurrent_compactors: 1
# A fresh 5.0 cluster needs no 4.x compatibility.
storage_compatibility_mode: NONE
# The memtable configurations of the shipped cassandra.yaml, so tables may
# name them (WITH memtable = 'trie').
memtable:
  configurations:
    skiplist:
      class_name: SkipListMemtable
    trie:
      class_name: TrieMemtable
    default:
      inherits: skiplist
# Paxos v2 needs fewer round trips per lightweight transaction; it is the
# recommended setting for LWT-heavy tables such as jobs.
paxos_variant: v2
# A little more lenient than the defaults: 2 shared cores run the node and
# the tests.
read_request_timeout: 5000ms
range_request_timeout: 10000ms
write_request_timeout: 5000ms
counter_write_request_timeout: 5000ms
cas_contention_timeout: 2000ms
request_timeout: 10000ms
`, n.opts.clusterName(), initialToken(n.index, n.nodes), fmt.Sprintf("%s:%d", nodeAddr(n.opts.Addr, 1), StoragePort), n.addr(), n.addr(), StoragePort, CQLPort,
		n.path("data", "data"), n.path("data", "commitlog"), n.path("data", "hints"), n.path("data", "saved_caches"))
	if n.opts.Auth {
		b.WriteString(`authenticator: PasswordAuthenticator
authorizer: CassandraAuthorizer
role_manager: CassandraRoleManager
roles_validity: 0ms
permissions_validity: 0ms
credentials_validity: 0ms
`)
	}
	if n.opts.Features {
		b.WriteString(`# Features Cassandra 5.0 ships disabled (scripts/cassandra start --features).
materialized_views_enabled: true
sasi_indexes_enabled: true
dynamic_data_masking_enabled: true
user_defined_functions_enabled: true
drop_compact_storage_enabled: true
`)
	}
	if n.opts.TLS {
		fmt.Fprintf(&b, `client_encryption_options:
  enabled: true
  # TLS only: a plaintext client is refused.
  optional: false
  ssl_context_factory:
    class_name: org.apache.cassandra.security.PEMBasedSslContextFactory
  keystore: %s
  require_client_auth: false
`, filepath.Join(n.tlsDir, "server.pem"))
	}
	return b.String()
}

const logbackXML = `<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
    <target>System.err</target>
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter"><level>ERROR</level></filter>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="FILE"/>
    <appender-ref ref="STDERR"/>
  </root>
</configuration>
`

// jvmArgs is the java command line of the node: the flags of Cassandra 5.0's
// conf/jvm-server.options and jvm17-server.options that matter off a
// tarball, a small fixed heap and test-friendly system properties.
func (n nodeConfig) jvmArgs(inst *Installation) []string {
	heap := fmt.Sprintf("%dm", n.opts.HeapMB)
	args := []string{
		"-Xms" + heap, "-Xmx" + heap, "-Xss256k",
		"-XX:+UseG1GC", "-XX:+ParallelRefProcEnabled", "-XX:MaxTenuringThreshold=1", "-XX:G1HeapRegionSize=16m",
		"-XX:MaxGCPauseMillis=300", "-XX:InitiatingHeapOccupancyPercent=70",
		"-XX:+HeapDumpOnOutOfMemoryError", "-XX:HeapDumpPath=" + n.path("logs"), "-XX:+ExitOnOutOfMemoryError",
		"-ea", "-da:net.openhft...", "-XX:+UseThreadPriorities", "-XX:+UseTLAB", "-XX:+ResizeTLAB", "-XX:+PerfDisableSharedMem",
		"-Djava.net.preferIPv4Stack=true", "-Djdk.attach.allowAttachSelf=true", "-Dchronicle.analytics.disable=true",
		"-Dio.netty.tryReflectionSetAccessible=true", "-Dio.netty.allocator.useCacheForAllThreads=true", "-Dio.netty.allocator.maxOrder=11",
	}
	args = append(args, moduleFlags()...)
	if !n.opts.durable() {
		// No blocking flush of the system tables after each schema change:
		// fast DDL for the single test node, which is never killed (see
		// Options.durable for what a SIGKILL would cost).
		args = append(args, unsafeSystemFlag)
	}
	args = append(args,
		"-javaagent:"+filepath.Join(inst.LibDir, "jamm-0.4.0.jar"),
		"-Dcassandra.config=file://"+n.path("conf", "cassandra.yaml"),
		"-Dlogback.configurationFile=file://"+n.path("conf", "logback.xml"),
		"-Dcassandra.logdir="+n.path("logs"),
		"-Dcassandra.storagedir="+n.path("data"),
		"-Dcassandra-foreground=yes",
		fmt.Sprintf("-Dcassandra.jmx.local.port=%d", JMXPort(n.addr())),
		"-Dcom.sun.management.jmxremote.authenticate=false",
		// Test-friendly start: no gossip settle wait, no superuser delay, no
		// fsync (a killed process loses nothing the kernel holds; the commit
		// log still marks what it wrote every 100 ms, so a SIGKILL loses at
		// most that much on the killed node, as with Cassandra's defaults).
		"-Dcassandra.skip_wait_for_gossip_to_settle=0",
		// The default role is set up after this delay and re-tried after it
		// while peers are down; 0 would spin a core while later nodes boot.
		fmt.Sprintf("-Dcassandra.superuser_setup_delay_ms=%d", superuserDelay(n.nodes)),
		"-Dcassandra.skip_sync=true",
		// On a restart node 1 knows its peers and waits RING_DELAY (30 s) in
		// the gossip shadow round for the ones not started yet.
		"-Dcassandra.ring_delay_ms=5000",
		"-Djna.tmpdir="+n.path("jna"),
		"-Djava.io.tmpdir="+n.path("tmp"),
		"-cp", n.path("conf")+":"+filepath.Join(inst.LibDir, "*"),
		"org.apache.cassandra.service.CassandraDaemon",
	)
	return args
}

// unsafeSystemFlag skips the flush of system tables after schema changes.
const unsafeSystemFlag = "-Dcassandra.unsafesystem=true"

func superuserDelay(nodes int) int {
	if nodes == 1 {
		return 0
	}
	return 1000
}

// moduleFlags are the --add-exports and --add-opens flags of Cassandra 5.0's
// jvm17-server.options and bin/cassandra.in.sh: the daemon and its tools
// reach into JDK internals and abort without them.
func moduleFlags() []string {
	var args []string
	for _, e := range []string{
		"java.base/jdk.internal.misc", "java.management.rmi/com.sun.jmx.remote.internal.rmi",
		"java.management/com.sun.jmx.remote.security", "java.rmi/sun.rmi.registry", "java.rmi/sun.rmi.server",
		"java.sql/java.sql", "java.base/java.lang.ref", "jdk.unsupported/sun.misc", "jdk.attach/sun.tools.attach",
		"jdk.compiler/com.sun.tools.javac.file",
	} {
		args = append(args, "--add-exports", e+"=ALL-UNNAMED")
	}
	for _, o := range []string{
		"java.base/java.lang.module", "java.base/jdk.internal.loader", "java.base/jdk.internal.ref",
		"java.base/jdk.internal.reflect", "java.base/jdk.internal.math", "java.base/jdk.internal.module",
		"java.base/jdk.internal.util.jar", "jdk.management/com.sun.management.internal", "java.base/sun.nio.ch",
		"java.base/java.io", "java.base/java.lang.reflect", "java.base/java.lang", "java.base/java.util",
		"java.base/java.nio", "jdk.compiler/com.sun.tools.javac",
	} {
		args = append(args, "--add-opens", o+"=ALL-UNNAMED")
	}
	return args
}

// ToolJVMArgs is the start of a java command line that runs one of
// Cassandra's tools (such as NodeTool) from the installation's jars.
func ToolJVMArgs(inst *Installation) []string {
	return append([]string{"-Xmx256m", "-cp", filepath.Join(inst.LibDir, "*")}, moduleFlags()...)
}

// writeFiles creates the node's folders and configuration.
func (n nodeConfig) writeFiles() error {
	for _, d := range []string{"conf", "logs", "jna", "tmp", "data/data", "data/commitlog", "data/hints", "data/saved_caches"} {
		if err := os.MkdirAll(n.path(d), 0o755); err != nil {
			return err
		}
	}
	// Keep the previous run's log beside the new one; the new log starts empty
	// so a failure report shows this run only.
	for _, f := range []string{"system.log", "console.log"} {
		p := n.path("logs", f)
		if _, err := os.Stat(p); err == nil {
			if err := os.Rename(p, p+".prev"); err != nil {
				return err
			}
		}
	}
	return errors.Join(
		os.WriteFile(n.path("conf", "cassandra.yaml"), []byte(n.yaml()), 0o644),
		os.WriteFile(n.path("conf", "logback.xml"), []byte(logbackXML), 0o644),
	)
}
