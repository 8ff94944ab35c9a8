package repo

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/jobsharp/cassandra/schema"
)

// Defaults of [Config].
const (
	DefaultPort           = 9042
	DefaultTimeout        = 12 * time.Second
	DefaultConnectTimeout = 5 * time.Second
	DefaultNumConns       = 2
)

// Config says how to reach Cassandra and which keyspace holds the store:
// the first three of the original's configuration forms (contact points and
// keyspace; the same with a port; a fully configured cluster). The zero
// value of every field but Hosts and Keyspace means its default.
//
// A Config printed with %v or %+v shows "<redacted>" for the password.
type Config struct {
	// Hosts are contact points, "host" or "host:port". The driver discovers
	// the other nodes from them. Required.
	Hosts []string
	// Port is the native transport port of hosts given without one.
	// Default 9042.
	Port int
	// Keyspace holds the schema (create it with `jobsharp schema apply`).
	// Required.
	Keyspace string

	// Username and Password log in with PasswordAuthenticator. Both or
	// neither. The password never appears in errors or logs.
	Username string
	Password string
	// TLS turns on client TLS with this configuration (RootCAs for a private
	// CA, Certificates for client certificates). Host names are verified
	// unless InsecureSkipVerify is set. Nil: plaintext.
	TLS *tls.Config

	// Consistency of reads and writes. Default gocql.LocalQuorum. The zero
	// value of gocql.Consistency is ANY, which the store never uses.
	Consistency gocql.Consistency
	// SerialConsistency of lightweight transactions: gocql.LocalSerial (the
	// default) or gocql.Serial. Options.SerialConsistency, when set, must
	// agree.
	SerialConsistency gocql.SerialConsistency

	// Timeout bounds each request from the client's side. Keep it above the
	// nodes' request timeouts (write_request_timeout, read_request_timeout,
	// cas_contention_timeout) so that their more precise errors arrive
	// first. Default 12s.
	Timeout time.Duration
	// ConnectTimeout bounds each connection attempt (TCP, TLS and the CQL
	// handshake). Default 5s: Connect fails within seconds when no host
	// answers.
	ConnectTimeout time.Duration
	// NumConns is the number of connections per host. Each carries up to
	// 32,768 concurrent requests, so few are needed. Default 2.
	NumConns int
	// LocalDC routes requests to this data center's nodes first (token-aware
	// over DC-aware round robin) and must name one of the cluster's data
	// centers. Empty: token-aware round robin over every node. Set it in
	// every multi-DC deployment, together with the LOCAL_ consistencies.
	LocalDC string

	// RetryPolicy retries idempotent statements that failed (a timeout,
	// unavailable replicas). The store never retries lightweight
	// transactions or counter updates this way: their outcome after a
	// timeout is unknown, and the store settles it itself. Nil: no retries.
	RetryPolicy gocql.RetryPolicy
	// ReconnectionPolicy paces connection attempts to a node. Its
	// GetMaxRetries must be at least 1. Default gocql's: 3 attempts, 1s
	// apart.
	ReconnectionPolicy gocql.ReconnectionPolicy
	// AddressTranslator maps the addresses nodes announce to the ones this
	// client must dial (NAT, containers). Nil: as announced. Give each node
	// an IP of its own: gocql v1.7.0 tells nodes apart by IP alone when it
	// picks one for a statement, so nodes translated to one IP with
	// different ports (port forwards, SSH tunnels, containers published on
	// localhost) count as one node, which then receives every statement
	// (no failover when it is unreachable: "no hosts available in the
	// pool"). Connect logs a warning when it sees that.
	AddressTranslator gocql.AddressTranslator
	// DriverLogger receives gocql's own log lines (connection failures and
	// the like). Nil: gocql's default, the standard log package.
	DriverLogger gocql.StdLogger

	// Options shape the store (bucket widths, shards, retention, …).
	Options Options
}

// String renders the configuration with the password redacted, so a Config
// can be logged.
func (c Config) String() string {
	type plain Config // no String method: no recursion
	p := plain(c)
	if p.Password != "" {
		p.Password = "<redacted>"
	}
	return fmt.Sprintf("%+v", p)
}

// GoString is String for %#v.
func (c Config) GoString() string { return "repo.Config" + c.String() }

// consistencies the store accepts for reads and writes.
var consistencies = []gocql.Consistency{gocql.One, gocql.Two, gocql.Three, gocql.Quorum, gocql.All, gocql.LocalQuorum, gocql.EachQuorum, gocql.LocalOne}

// validate checks every field and returns a copy with defaults applied.
func (c Config) validate() (Config, error) {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Consistency == 0 {
		c.Consistency = gocql.LocalQuorum
	}
	if c.SerialConsistency == 0 {
		c.SerialConsistency = c.Options.SerialConsistency
	}
	if c.SerialConsistency == 0 {
		c.SerialConsistency = gocql.LocalSerial
	}
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.ConnectTimeout = cmp.Or(c.ConnectTimeout, DefaultConnectTimeout)
	c.NumConns = cmp.Or(c.NumConns, DefaultNumConns)
	if c.ReconnectionPolicy == nil {
		c.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 3, Interval: time.Second}
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(c.Hosts) == 0 {
		bad("Hosts is empty: give at least one contact point, such as 127.0.0.1")
	}
	for i, h := range c.Hosts {
		if err := checkHost(h); err != nil {
			bad("Hosts[%d] %q: %v", i, h, err)
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("Port must be between 1 and 65535, got %d", c.Port)
	}
	if c.Keyspace == "" {
		bad("Keyspace is empty: name the keyspace that holds the schema (jobsharp schema apply creates it)")
	} else if err := schema.ValidKeyspace(c.Keyspace); err != nil {
		bad("Keyspace: %v", strings.TrimPrefix(err.Error(), schema.ErrInvalid.Error()+": "))
	}
	for _, f := range []struct{ name, value string }{{"Username", c.Username}, {"LocalDC", c.LocalDC}} {
		if !utf8.ValidString(f.value) {
			bad("%s %q is not valid UTF-8 (Cassandra's names and roles are text)", f.name, f.value)
		}
	}
	if (c.Username == "") != (c.Password == "") {
		if c.Username == "" {
			bad("Password is set but Username is empty")
		} else {
			bad("Username %q is set but Password is empty", c.Username)
		}
	}
	if !slices.Contains(consistencies, c.Consistency) {
		bad("Consistency must be one of ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE, got %s", c.Consistency)
	}
	if c.SerialConsistency != gocql.LocalSerial && c.SerialConsistency != gocql.Serial {
		bad("SerialConsistency must be LOCAL_SERIAL or SERIAL, got %s", c.SerialConsistency)
	}
	if o := c.Options.SerialConsistency; o != 0 && o != c.SerialConsistency {
		bad("SerialConsistency %s and Options.SerialConsistency %s disagree; set one of them", c.SerialConsistency, o)
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 10*time.Minute {
		bad("Timeout must be between 100ms and 10m, got %s", c.Timeout)
	}
	if c.ConnectTimeout < 100*time.Millisecond || c.ConnectTimeout > 2*time.Minute {
		bad("ConnectTimeout must be between 100ms and 2m, got %s", c.ConnectTimeout)
	}
	if c.NumConns < 1 || c.NumConns > 64 {
		bad("NumConns must be between 1 and 64, got %d", c.NumConns)
	}
	if err := checkReconnection(c.ReconnectionPolicy); err != nil {
		bad("ReconnectionPolicy: %v", err)
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return c, nil
}

func checkHost(h string) error {
	if strings.TrimSpace(h) != h || h == "" || strings.ContainsAny(h, " ,/") || !utf8.ValidString(h) {
		return errors.New("want a host name or address, optionally with :port")
	}
	if host, port, err := net.SplitHostPort(h); err == nil {
		if host == "" {
			return errors.New("the host is empty")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not between 1 and 65535", port)
		}
	}
	return nil
}

// checkReconnection rejects policies that gocql v1.7.0 cannot use: with no
// attempt it adds a nil connection to its pool and panics later.
func checkReconnection(p gocql.ReconnectionPolicy) error {
	if p == nil {
		return errors.New("nil; build the cluster with gocql.NewCluster, which sets one")
	}
	if n := p.GetMaxRetries(); n < 1 {
		return fmt.Errorf("GetMaxRetries() must be at least 1 (gocql v1.7.0 panics with %d)", n)
	}
	return nil
}

// NewCluster validates the configuration and returns the gocql cluster
// configuration it describes, bound to Config.Keyspace. Use it to open
// sessions the way the store does (the jobsharp command opens a session
// without a keyspace with it, for schema apply). Returns [ErrInvalidConfig]
// with every problem named.
func (c Config) NewCluster() (*gocql.ClusterConfig, error) {
	c, err := c.validate()
	if err != nil {
		return nil, err
	}
	cl := gocql.NewCluster(c.Hosts...)
	cl.Port = c.Port
	cl.Keyspace = c.Keyspace
	// Every Cassandra the store supports (4.0 and later, ScyllaDB) speaks v4:
	// no protocol discovery, so an unreachable host costs one dial, not two.
	cl.ProtoVersion = 4
	cl.Consistency = c.Consistency
	cl.SerialConsistency = c.SerialConsistency
	cl.Timeout = c.Timeout
	cl.ConnectTimeout = c.ConnectTimeout
	cl.NumConns = c.NumConns
	cl.RetryPolicy = c.RetryPolicy
	cl.ReconnectionPolicy = c.ReconnectionPolicy
	cl.AddressTranslator = c.AddressTranslator
	cl.Logger = c.DriverLogger
	if c.Username != "" {
		cl.Authenticator = gocql.PasswordAuthenticator{Username: c.Username, Password: c.Password}
	}
	if c.TLS != nil {
		cl.SslOpts = &gocql.SslOptions{Config: c.TLS.Clone(), EnableHostVerification: !c.TLS.InsecureSkipVerify}
	}
	if c.LocalDC != "" {
		cl.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy(c.LocalDC))
	} else {
		cl.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	}
	return cl, nil
}

// Connect opens a session as cfg says and returns a store on it that owns
// it ([Store.Close] closes it). It checks before returning that the keyspace
// holds every table and column the store uses, and that LocalDC is one of
// the cluster's data centers, so a wrong setup fails here rather than at the
// first job.
//
// Errors, each with a message that says what to do: [ErrInvalidConfig] (every
// bad field named), [ErrNoHosts] (*NoHostsError names the hosts and ports
// tried; it comes within about ConnectTimeout, or sooner when ctx ends),
// [ErrAuth], [ErrTLS], [ErrKeyspaceNotFound], [ErrTableNotFound] (naming the
// tables) and [ErrSchemaMismatch].
func Connect(ctx context.Context, cfg Config) (*Store, error) {
	// A nil ctx is refused by CreateSession, before anything uses it.
	cl, err := cfg.NewCluster()
	if err != nil {
		return nil, err
	}
	opts := cfg.Options
	opts.SerialConsistency = cl.SerialConsistency
	return connect(ctx, cl, cfg.LocalDC, &opts)
}

// ConnectCluster opens a session on a cluster configuration the caller built
// (the third form, for settings Config does not cover) bound to keyspace, and
// returns a store that owns it. The caller's configuration is copied, not
// changed; keyspace overrides its Keyspace unless empty. Its consistency is
// used as set (gocql.NewCluster's default is QUORUM; the store's advice is
// LOCAL_QUORUM), and its SerialConsistency applies to the store's
// lightweight transactions unless opts sets one. It checks the schema as
// [Connect] does and returns the same errors.
func ConnectCluster(ctx context.Context, cluster *gocql.ClusterConfig, keyspace string, opts *Options) (*Store, error) {
	// A nil ctx is refused by CreateSession, before anything uses it.
	if cluster == nil {
		return nil, InvalidArgument("cluster configuration", nilCluster)
	}
	cl := *cluster
	if keyspace != "" {
		cl.Keyspace = keyspace
	}
	var problems []string
	if cl.Keyspace == "" {
		problems = append(problems, "no keyspace: pass one or set the cluster's Keyspace")
	} else if err := schema.ValidKeyspace(cl.Keyspace); err != nil {
		problems = append(problems, "keyspace: "+strings.TrimPrefix(err.Error(), schema.ErrInvalid.Error()+": "))
	}
	if len(cl.Hosts) == 0 {
		problems = append(problems, "the cluster has no Hosts")
	}
	if err := checkReconnection(cl.ReconnectionPolicy); err != nil {
		problems = append(problems, "ReconnectionPolicy: "+err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.SerialConsistency == 0 && (cl.SerialConsistency == gocql.Serial || cl.SerialConsistency == gocql.LocalSerial) {
		o.SerialConsistency = cl.SerialConsistency
	}
	return connect(ctx, &cl, "", &o)
}

func connect(ctx context.Context, cl *gocql.ClusterConfig, localDC string, opts *Options) (*Store, error) {
	if _, err := opts.settings(); err != nil {
		return nil, err
	}
	session, err := CreateSession(ctx, cl)
	if err != nil {
		return nil, err
	}
	if localDC != "" {
		dcs, err := schema.DataCenters(ctx, session)
		if err != nil {
			session.Close()
			return nil, fmt.Errorf("connect: %w", interpretError(err))
		}
		if !slices.Contains(dcs, localDC) {
			session.Close()
			return nil, fmt.Errorf("%w: LocalDC %q is not a data center of the cluster (it has: %s)", ErrInvalidConfig, localDC, strings.Join(dcs, ", "))
		}
	}
	s, err := New(gocqlx.NewSession(session), opts)
	if err != nil {
		session.Close()
		return nil, err
	}
	s.owns = true
	s.conn = connInfo{hosts: contactPoints(cl), timeout: cl.Timeout, keyspace: cl.Keyspace}
	if err := s.Check(ctx); err != nil {
		session.Close()
		return nil, err
	}
	if cl.AddressTranslator != nil {
		s.checkTranslation(ctx, session, cl)
	}
	return s, nil
}

// checkTranslation logs a warning when the address translator maps two
// nodes to one IP with different ports: gocql v1.7.0's host selection
// policies tell hosts apart by IP alone (HostInfo.Equal compares addresses
// without the port, and their host lists refuse a host Equal to one they
// hold), so such nodes collapse into one, which receives every statement.
// It reads the nodes' addresses from system.local and system.peers (two
// reads, only when a translator is set); a failed read skips the check.
func (s *Store) checkTranslation(ctx context.Context, session *gocql.Session, cl *gocql.ClusterConfig) {
	var nodes []net.IP
	for _, stmt := range []string{"SELECT rpc_address FROM system.local", "SELECT rpc_address FROM system.peers"} {
		iter := session.Query(stmt).WithContext(ctx).Iter()
		var ip net.IP
		for iter.Scan(&ip) {
			nodes = append(nodes, ip)
		}
		if iter.Close() != nil {
			return
		}
	}
	if clash := sharedTranslation(nodes, cmp.Or(cl.Port, DefaultPort), cl.AddressTranslator); clash != "" {
		s.set.log.Warn("jobsharp: the address translator maps several nodes to one IP; gocql tells nodes apart by IP alone and will send every statement to one of them, with no failover: give each node an IP of its own", "nodes", clash)
	}
}

// sharedTranslation describes the nodes that translator maps to one IP
// with different ports ("127.0.0.21 → 127.0.0.1:40001, 127.0.0.22 →
// 127.0.0.1:40002"), or returns "" when there are none.
func sharedTranslation(nodes []net.IP, port int, translator gocql.AddressTranslator) string {
	groups := map[string][]string{} // translated IP → "node → ip:port"
	ports := map[string]map[int]bool{}
	seen := map[string]bool{}
	for _, n := range nodes {
		if n == nil || seen[n.String()] {
			continue
		}
		seen[n.String()] = true
		ip, p := translator.Translate(n, port)
		k := ip.String()
		groups[k] = append(groups[k], n.String()+" → "+net.JoinHostPort(k, strconv.Itoa(p)))
		if ports[k] == nil {
			ports[k] = map[int]bool{}
		}
		ports[k][p] = true
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		if len(ports[k]) > 1 {
			out = append(out, groups[k]...)
		}
	}
	return strings.Join(out, ", ")
}

// connInfo is what the store knows of how its session was opened, for error
// messages.
type connInfo struct {
	hosts    []string
	timeout  time.Duration
	keyspace string
}

// contactPoints lists the cluster's contact points as host:port.
func contactPoints(cl *gocql.ClusterConfig) []string {
	out := make([]string, 0, len(cl.Hosts))
	for _, h := range cl.Hosts {
		if _, _, err := net.SplitHostPort(h); err == nil {
			out = append(out, h)
			continue
		}
		out = append(out, net.JoinHostPort(h, strconv.Itoa(cl.Port)))
	}
	return out
}

// nilCluster is the problem of a nil cluster configuration.
const nilCluster = "nil (make one with gocql.NewCluster)"

// CreateSession opens a session on cl as Connect does, and maps a failure to
// an error that says what to do: [ErrNoHosts] (naming the hosts and ports
// tried), [ErrAuth], [ErrTLS] or [ErrKeyspaceNotFound]. Unlike
// cl.CreateSession it returns when ctx ends. It checks nothing about the
// schema.
func CreateSession(ctx context.Context, cl *gocql.ClusterConfig) (*gocql.Session, error) {
	if ctx == nil {
		return nil, InvalidArgument("context", nilContext)
	}
	if cl == nil {
		return nil, InvalidArgument("cluster configuration", nilCluster)
	}
	type result struct {
		s   *gocql.Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			// gocql v1.7.0 panics on some configurations, such as a host
			// selection policy already bound to another session.
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("%w: gocql refused the cluster configuration: %v (give every session its own ClusterConfig and host selection policy)", ErrInvalidConfig, r)}
			}
		}()
		s, err := cl.CreateSession()
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if errors.Is(r.err, ErrInvalidConfig) {
			return nil, r.err
		}
		if r.err != nil {
			return nil, classifyConnect(ctx, cl, r.err)
		}
		return r.s, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, &NoHostsError{Hosts: contactPoints(cl), Err: ctx.Err()}
	}
}

// classifyConnect turns gocql's session errors, which carry the cause as
// text only, into the store's errors. The password never reaches them.
func classifyConnect(ctx context.Context, cl *gocql.ClusterConfig, err error) error {
	hosts := contactPoints(cl)
	username, password := "", ""
	if a, ok := cl.Authenticator.(gocql.PasswordAuthenticator); ok {
		username, password = a.Username, a.Password
	}
	if password != "" && strings.Contains(err.Error(), password) {
		err = errors.New(strings.ReplaceAll(err.Error(), password, "<redacted>"))
	}
	text := err.Error()
	switch {
	case strings.Contains(text, "authentication required"):
		return &AuthError{Hosts: hosts, Err: err}
	case strings.Contains(text, "Provided username"), strings.Contains(text, "password are incorrect"), strings.Contains(text, "AuthenticationException"):
		return &AuthError{Username: username, Hosts: hosts, Err: err}
	case strings.Contains(text, "first record does not look like a TLS handshake"):
		return &TLSError{Hosts: hosts, Problem: "the node does not speak TLS on this port: remove Config.TLS, or enable client_encryption_options on the node", Err: err}
	case strings.Contains(text, "x509: certificate signed by unknown authority"):
		return &TLSError{Hosts: hosts, Problem: "the node's certificate is not signed by a CA the client trusts: add its CA to Config.TLS.RootCAs (--tls-ca)", Err: err}
	case strings.Contains(text, "x509: certificate is valid for"), strings.Contains(text, "x509: cannot validate certificate"):
		return &TLSError{Hosts: hosts, Problem: "the node's certificate does not name the address dialled: connect by a name the certificate lists, or set Config.TLS.ServerName", Err: err}
	case strings.Contains(text, "x509:"), strings.Contains(text, "tls:"):
		return &TLSError{Hosts: hosts, Problem: "check the client's and the node's TLS settings", Err: err}
	case unknownDC.MatchString(text):
		// The ScyllaDB fork checks LocalDC when the session starts.
		dc := unknownDC.FindStringSubmatch(text)[1]
		msg := fmt.Sprintf("LocalDC %q is not a data center of the cluster", dc)
		if s, perr := probeSession(cl); perr == nil {
			if dcs, derr := schema.DataCenters(ctx, s); derr == nil {
				msg += fmt.Sprintf(" (it has: %s)", strings.Join(dcs, ", "))
			}
			s.Close()
		}
		return fmt.Errorf("%w: %s", ErrInvalidConfig, msg)
	case errors.Is(err, gocql.ErrNoConnectionsStarted) && cl.Keyspace != "":
		// The control connection worked but no pool connection could USE the
		// keyspace: most often it does not exist.
		if missing, perr := keyspaceMissing(ctx, cl); perr == nil && missing {
			return &KeyspaceNotFoundError{Keyspace: cl.Keyspace, Hosts: hosts}
		}
	case cl.SslOpts == nil && (strings.Contains(text, "connection reset by peer") || strings.HasSuffix(text, "EOF")):
		if speaksTLS(ctx, cl) {
			return &TLSError{Hosts: hosts, Problem: "the node requires TLS (client_encryption_options): set Config.TLS (--tls or --tls-ca)", Err: err}
		}
	}
	return &NoHostsError{Hosts: hosts, Err: err}
}

var unknownDC = regexp.MustCompile(`datacenter (\S+) in the policy was not found in the topology`)

// probeSession opens a small session on cl's hosts, without keyspace and
// with a policy of its own (a policy serves one session only), to find out
// why the real one failed.
func probeSession(cl *gocql.ClusterConfig) (*gocql.Session, error) {
	probe := *cl
	probe.Keyspace = ""
	probe.NumConns = 1
	probe.PoolConfig.HostSelectionPolicy = gocql.RoundRobinHostPolicy()
	return probe.CreateSession()
}

// keyspaceMissing asks the cluster, on a session without keyspace, whether
// cl.Keyspace exists.
func keyspaceMissing(ctx context.Context, cl *gocql.ClusterConfig) (bool, error) {
	s, err := probeSession(cl)
	if err != nil {
		return false, err
	}
	defer s.Close()
	live, err := schema.Inspect(ctx, s, cl.Keyspace)
	if err != nil {
		return false, err
	}
	return !live.Exists, nil
}

// speaksTLS reports whether the first contact point completes a TLS
// handshake, for a client that tried plaintext and was cut off. It verifies
// nothing: it only tells the user which setting to change.
func speaksTLS(ctx context.Context, cl *gocql.ClusterConfig) bool {
	hosts := contactPoints(cl)
	if len(hosts) == 0 {
		return false
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: cl.ConnectTimeout}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a probe that sends nothing
	ctx, cancel := context.WithTimeout(ctx, cl.ConnectTimeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", hosts[0])
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// Check verifies that the store's keyspace holds every table and column the
// store uses, with the right types. Connect and ConnectCluster call it; call
// it after New to fail early on a session from your own factory. Extra
// tables and columns are fine.
//
// Returns [ErrKeyspaceNotFound], [ErrTableNotFound] (a *TableNotFoundError
// naming the tables) or [ErrSchemaMismatch] (a *SchemaMismatchError naming
// the columns and type fields), or the error of reading system_schema.
func (s *Store) Check(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	ks := s.keyspace()
	if ks == "" {
		return fmt.Errorf("%w: the session is bound to no keyspace; set the cluster's Keyspace", ErrInvalidConfig)
	}
	live, err := schema.Inspect(ctx, s.session.Session, ks)
	if err != nil {
		return fmt.Errorf("check schema: %w", s.interpret(ctx, "read system_schema", err))
	}
	rep := schema.Compare(live)
	var tables, columns []string
	for _, d := range rep.Differences {
		switch d.Kind {
		case schema.MissingKeyspace:
			return &KeyspaceNotFoundError{Keyspace: ks, Hosts: s.conn.hosts}
		case schema.MissingTable:
			tables = append(tables, d.Table)
		case schema.MissingColumn, schema.ChangedColumn, schema.MissingType, schema.MissingField, schema.ChangedField:
			columns = append(columns, d.String())
		}
	}
	if len(tables) > 0 {
		return &TableNotFoundError{Keyspace: ks, Tables: tables}
	}
	if len(columns) > 0 {
		return &SchemaMismatchError{Keyspace: ks, Differences: columns}
	}
	return nil
}

// keyspace is the keyspace the store's session is bound to.
func (s *Store) keyspace() string {
	if s.conn.keyspace != "" {
		return s.conn.keyspace
	}
	return s.session.Session.Query("").Keyspace()
}
