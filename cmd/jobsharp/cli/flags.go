package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/schema"
)

// flagSet is a flag.FlagSet whose flags may also come from environment
// variables.
type flagSet struct {
	*flag.FlagSet
	a   *app
	env map[string]string // flag name → environment variable
	// positional are the arguments that are not flags, wherever they stood
	// (jobsharp get ID --json as well as jobsharp get --json ID).
	positional []string
}

func newFlagSet(c command, a *app) *flagSet {
	fs := flag.NewFlagSet("jobsharp "+c.name, flag.ContinueOnError)
	// Parse errors are reported by Run, help is printed by commandHelp.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, a: a, env: map[string]string{}}
}

// fromEnv makes flag name read environment variable env when it is not on
// the command line, and names the variable in the flag's help.
func (fs *flagSet) fromEnv(name, env string) {
	fs.env[name] = env
	f := fs.Lookup(name)
	f.Usage += " (env " + env + ")"
}

// parse parses args, then fills the flags not given from their environment
// variables. A bad environment value is reported with the variable's name.
func (fs *flagSet) parse(args []string) error {
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		fs.positional = append(fs.positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, env := range fs.env {
		if given[name] {
			continue
		}
		if v := fs.a.getenv(env); v != "" {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("invalid value %q for %s: %v", v, env, err)
			}
		}
	}
	return nil
}

// connFlags are the flags of every command that connects to Cassandra.
type connFlags struct {
	hosts, keyspace, username, passwordFile string
	port                                    int
	tls, tlsInsecure                        bool
	tlsCA, localDC, consistency             string
	timeout, connectTimeout                 time.Duration
	verbose                                 bool
}

func addConnFlags(fs *flagSet) *connFlags {
	c := &connFlags{}
	fs.StringVar(&c.hosts, "hosts", "127.0.0.1", "contact points, comma separated, each host or host:port")
	fs.fromEnv("hosts", "JOBSHARP_HOSTS")
	fs.IntVar(&c.port, "port", repo.DefaultPort, "native transport port of hosts given without one")
	fs.fromEnv("port", "JOBSHARP_PORT")
	addKeyspaceFlag(fs, &c.keyspace)
	fs.StringVar(&c.username, "username", "", "log in as this role (PasswordAuthenticator)")
	fs.fromEnv("username", "JOBSHARP_USERNAME")
	fs.StringVar(&c.passwordFile, "password-file", "", "read the password from this file (first line); without it, the password comes from JOBSHARP_PASSWORD. There is no --password flag")
	fs.fromEnv("password-file", "JOBSHARP_PASSWORD_FILE")
	fs.BoolVar(&c.tls, "tls", false, "connect with TLS, trusting the system's CAs")
	fs.fromEnv("tls", "JOBSHARP_TLS")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "connect with TLS, trusting the CA certificates in this PEM file")
	fs.fromEnv("tls-ca", "JOBSHARP_TLS_CA")
	fs.BoolVar(&c.tlsInsecure, "tls-insecure-skip-verify", false, "connect with TLS without checking the nodes' certificates (testing only)")
	fs.fromEnv("tls-insecure-skip-verify", "JOBSHARP_TLS_INSECURE_SKIP_VERIFY")
	fs.StringVar(&c.localDC, "local-dc", "", "prefer this data center's nodes")
	fs.fromEnv("local-dc", "JOBSHARP_LOCAL_DC")
	fs.StringVar(&c.consistency, "consistency", "LOCAL_QUORUM", "consistency of reads and writes")
	fs.fromEnv("consistency", "JOBSHARP_CONSISTENCY")
	c.timeout, c.connectTimeout = repo.DefaultTimeout, repo.DefaultConnectTimeout
	fs.Var((*durationValue)(&c.timeout), "timeout", "the `duration` the client waits for each request")
	fs.fromEnv("timeout", "JOBSHARP_TIMEOUT")
	fs.Var((*durationValue)(&c.connectTimeout), "connect-timeout", "the `duration` each connection attempt may take")
	fs.fromEnv("connect-timeout", "JOBSHARP_CONNECT_TIMEOUT")
	fs.BoolVar(&c.verbose, "verbose", false, "print the driver's log lines to stderr")
	fs.fromEnv("verbose", "JOBSHARP_VERBOSE")
	return c
}

func addKeyspaceFlag(fs *flagSet, p *string) {
	fs.StringVar(p, "keyspace", "jobsharp", "keyspace of the job store")
	fs.fromEnv("keyspace", "JOBSHARP_KEYSPACE")
}

func addJSONFlag(fs *flagSet, p *bool) {
	fs.BoolVar(p, "json", false, "print the result as JSON")
	fs.fromEnv("json", "JOBSHARP_JSON")
}

// config turns the flags into a repo.Config. Problems are usage errors.
func (c *connFlags) config(a *app) (repo.Config, error) {
	cfg := repo.Config{Port: c.port, Keyspace: c.keyspace, Username: c.username, LocalDC: c.localDC, Timeout: c.timeout, ConnectTimeout: c.connectTimeout}
	for h := range strings.SplitSeq(c.hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.Hosts = append(cfg.Hosts, h)
		}
	}
	var cons gocql.Consistency
	if err := cons.UnmarshalText([]byte(strings.ToUpper(c.consistency))); err != nil {
		return cfg, usagef("--consistency %q: want ONE, QUORUM, LOCAL_QUORUM, LOCAL_ONE, EACH_QUORUM, ALL, TWO or THREE", c.consistency)
	}
	cfg.Consistency = cons

	password := ""
	if c.passwordFile != "" {
		b, err := os.ReadFile(c.passwordFile)
		if err != nil {
			return cfg, usagef("read --password-file: %v", err)
		}
		password, _, _ = strings.Cut(string(b), "\n")
		password = strings.TrimSuffix(password, "\r")
		if password == "" {
			return cfg, usagef("--password-file %s: the first line is empty", c.passwordFile)
		}
	} else {
		password = a.getenv("JOBSHARP_PASSWORD")
	}
	switch {
	case c.username != "" && password == "":
		return cfg, usagef("--username %s needs a password: give --password-file FILE or set JOBSHARP_PASSWORD", c.username)
	case c.username == "" && password != "":
		return cfg, usagef("a password is given (--password-file or JOBSHARP_PASSWORD) but no --username")
	}
	cfg.Password = password

	if c.tls || c.tlsCA != "" || c.tlsInsecure {
		t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.tlsInsecure} //nolint:gosec // only when asked for
		if c.tlsCA != "" {
			pemBytes, err := os.ReadFile(c.tlsCA)
			if err != nil {
				return cfg, usagef("read --tls-ca: %v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemBytes) {
				return cfg, usagef("--tls-ca %s holds no PEM certificate", c.tlsCA)
			}
			t.RootCAs = pool
		}
		cfg.TLS = t
	}
	cfg.DriverLogger = log.New(io.Discard, "", 0)
	if c.verbose {
		cfg.DriverLogger = log.New(a.stderr, "", log.LstdFlags)
	}
	return cfg, nil
}

// connect opens the store the flags describe; the caller closes it.
func (c *connFlags) connect(ctx context.Context, a *app) (*repo.Store, error) {
	cfg, err := c.config(a)
	if err != nil {
		return nil, err
	}
	return repo.Connect(ctx, cfg)
}

// durationValue is a time.Duration flag whose error says what it wants.
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("want a positive duration such as 10s or 1m30s")
	}
	*d = durationValue(v)
	return nil
}

// plain drops the "schema: invalid argument: " prefix from a message that
// is shown after a flag name.
func plain(err error) string {
	return strings.TrimPrefix(err.Error(), schema.ErrInvalid.Error()+": ")
}
