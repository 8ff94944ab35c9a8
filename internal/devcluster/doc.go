// Package devcluster installs and runs a real Apache Cassandra 5.0 cluster
// of one to three nodes on the loopback addresses, for development, tests and
// CI. It is what scripts/cassandra runs.
//
// # Installation
//
// Debian has no Cassandra package, so the server comes from Maven Central:
// [Install] resolves org.apache.cassandra:cassandra-all (the newest 5.0.x that
// resolves, unless a version is pinned) with its runtime dependencies into a
// cache folder outside the repository, and runs it on the machine's JDK 17.
// A missing JDK 17 or Maven is installed through apt. Once the jars are cached,
// starting needs no network.
//
// # Nodes
//
// Node i listens on the i-th loopback address from Options.Addr (default
// 127.0.0.1), with storage port 7000, CQL port 9042 and JMX port 7099 + 100 ×
// the address's last byte. Clusters whose addresses do not overlap run side
// by side: the tests keep an authenticating node on 127.0.0.11, a TLS node
// on 127.0.0.12 and a node with Options.Features on 127.0.0.13 (512 MiB heap
// each) beside the default node. Each configuration (node count,
// authentication, TLS, features, address) has its own data
// folders, because Cassandra refuses to start on data written under another
// identity. Starts of one configuration are serialised across processes by
// a file lock, so parallel test binaries may all ask for the same node. The launcher writes its own cassandra.yaml and logback.xml,
// starts the JVM detached with a pid file, and returns only once a CQL query
// succeeds on every node and every node sees all its peers.
//
// Stop ends only the processes whose pid files it wrote, after checking that
// each pid still runs a Cassandra daemon on that node's folder; it never kills
// by name.
package devcluster
