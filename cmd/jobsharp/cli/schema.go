package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/schema"
)

func schemaApplyCommand() command {
	return command{
		name:     "schema apply",
		synopsis: "[--hosts H] [--keyspace K] [--replication R] [connection flags]",
		summary:  "create the keyspace and every table, idempotently",
		help: `Creates the keyspace if it does not exist, with the replication given by
--replication (required then):

  SimpleStrategy:1                          one data center, development
  NetworkTopologyStrategy:dc1=3,dc2=3       production: a factor per data center

then every type and table of the schema that does not exist (CREATE … IF NOT
EXISTS), waits until every node agrees on the schema, and prints what it
created and what existed. Running it again changes nothing. It never alters
or drops: an existing keyspace keeps its replication (a warning says so when
it differs), an existing table keeps its columns (schema verify shows what
differs). The role needs CREATE permission.`,
		setup: func(fs *flagSet, a *app) func(context.Context) error {
			conn := addConnFlags(fs)
			var replication string
			var asJSON bool
			fs.StringVar(&replication, "replication", "", "replication of a new keyspace: SimpleStrategy:N or NetworkTopologyStrategy:dc1=N,dc2=M")
			fs.fromEnv("replication", "JOBSHARP_REPLICATION")
			addJSONFlag(fs, &asJSON)
			return func(ctx context.Context) error {
				var repl *schema.Replication
				if replication != "" {
					r, err := schema.ParseReplication(replication)
					if err != nil {
						return usagef("--replication: %s", plain(err))
					}
					repl = &r
				}
				session, cfg, err := openSession(ctx, conn, a)
				if err != nil {
					return err
				}
				defer session.Close()
				res, err := schema.Apply(ctx, session, cfg.Keyspace, repl)
				if errors.Is(err, schema.ErrReplicationRequired) {
					return usagef("keyspace %s does not exist: give --replication to create it (SimpleStrategy:1 for development, NetworkTopologyStrategy:<dc>=3 for production)", cfg.Keyspace)
				}
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, applyJSON{
						Keyspace: res.Keyspace, KeyspaceCreated: res.KeyspaceCreated, Replication: res.Replication,
						Created: nonNil(res.Created), Existing: nonNil(res.Existing), Warnings: nonNil(res.Warnings),
						AgreementMS: res.Agreement.Milliseconds(),
					})
				}
				_, err = fmt.Fprint(a.stdout, res)
				return err
			}
		},
	}
}

type applyJSON struct {
	Keyspace        string   `json:"keyspace"`
	KeyspaceCreated bool     `json:"keyspace_created"`
	Replication     string   `json:"replication"`
	Created         []string `json:"created"`
	Existing        []string `json:"existing"`
	Warnings        []string `json:"warnings"`
	AgreementMS     int64    `json:"agreement_ms"`
}

func schemaVerifyCommand() command {
	return command{
		name:     "schema verify",
		synopsis: "[--hosts H] [--keyspace K] [connection flags]",
		summary:  "compare the live schema with this build's; exit 3 on differences",
		help: `Reads the keyspace's tables and columns from system_schema and compares them
with the schema this build expects: missing tables, missing columns, columns
of another type, kind, key position or clustering order, and columns this
build does not know. Each difference is printed on one line with what repairs
it (schema apply for missing tables, an ALTER TABLE statement for missing
columns), followed by a diff of the tables (-want +live). Tables the schema
does not own are ignored. Exits 3 when anything differs (a missing keyspace
included), 0 when everything matches.`,
		setup: func(fs *flagSet, a *app) func(context.Context) error {
			conn := addConnFlags(fs)
			var asJSON bool
			addJSONFlag(fs, &asJSON)
			return func(ctx context.Context) error {
				session, cfg, err := openSession(ctx, conn, a)
				if err != nil {
					return err
				}
				defer session.Close()
				rep, err := schema.Verify(ctx, session, cfg.Keyspace)
				if err != nil {
					return err
				}
				if asJSON {
					out := verifyJSON{Keyspace: rep.Keyspace, OK: rep.OK(), Differences: []differenceJSON{}, Diff: rep.Diff}
					for _, d := range rep.Differences {
						out.Differences = append(out.Differences, differenceJSON{Kind: string(d.Kind), Table: d.Table, Column: d.Column, Want: d.Want, Got: d.Got, Fix: d.Fix, Text: d.String()})
					}
					err = writeJSON(a.stdout, out)
				} else {
					_, err = fmt.Fprint(a.stdout, rep)
				}
				if err != nil {
					return err
				}
				if !rep.OK() {
					return &differsError{}
				}
				return nil
			}
		},
	}
}

type verifyJSON struct {
	Keyspace    string           `json:"keyspace"`
	OK          bool             `json:"ok"`
	Differences []differenceJSON `json:"differences"`
	Diff        string           `json:"diff,omitempty"`
}

type differenceJSON struct {
	Kind   string `json:"kind"`
	Table  string `json:"table,omitempty"`
	Column string `json:"column,omitempty"`
	Want   string `json:"want,omitempty"`
	Got    string `json:"got,omitempty"`
	Fix    string `json:"fix,omitempty"`
	Text   string `json:"text"`
}

func schemaPrintCommand() command {
	return command{
		name:     "schema print",
		synopsis: "[--keyspace K] [--replication R]",
		summary:  "print the schema's CQL, for cqlsh",
		help: `Prints the CQL that schema apply runs, qualified with the keyspace, for people
who apply schemas with cqlsh (cqlsh -f). With --replication it begins with
the CREATE KEYSPACE statement; without, with a commented template. It needs
no connection.`,
		setup: func(fs *flagSet, a *app) func(context.Context) error {
			var keyspace, replication string
			addKeyspaceFlag(fs, &keyspace)
			fs.StringVar(&replication, "replication", "", "also print CREATE KEYSPACE with this replication: SimpleStrategy:N or NetworkTopologyStrategy:dc1=N,dc2=M")
			fs.fromEnv("replication", "JOBSHARP_REPLICATION")
			return func(context.Context) error {
				if err := schema.ValidKeyspace(keyspace); err != nil {
					return usagef("--keyspace: %s", plain(err))
				}
				var repl *schema.Replication
				if replication != "" {
					r, err := schema.ParseReplication(replication)
					if err != nil {
						return usagef("--replication: %s", plain(err))
					}
					repl = &r
				}
				return schema.Print(a.stdout, keyspace, repl)
			}
		},
	}
}

// schemaTimeout is the least client timeout of the schema commands.
const schemaTimeout = time.Minute

// openSession connects without binding a keyspace (schema apply creates
// it).
func openSession(ctx context.Context, conn *connFlags, a *app) (*gocql.Session, repo.Config, error) {
	cfg, err := conn.config(a)
	if err != nil {
		return nil, cfg, err
	}
	cl, err := cfg.NewCluster()
	if err != nil {
		return nil, cfg, err
	}
	cl.Keyspace = ""
	// Schema changes wait for every node to agree and can take far longer
	// than a job's statement on a busy cluster.
	cl.Timeout = max(cl.Timeout, schemaTimeout)
	s, err := repo.CreateSession(ctx, cl)
	return s, cfg, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// isUsage reports whether err is a problem with the arguments (exit 2).
func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u) || errors.Is(err, repo.ErrInvalidConfig) || errors.Is(err, schema.ErrInvalid)
}

// hint says which flags fix a connection failure.
func hint(err error) string {
	switch {
	case errors.Is(err, repo.ErrNoHosts):
		return "check --hosts and --port (JOBSHARP_HOSTS, JOBSHARP_PORT); --connect-timeout bounds each attempt"
	case errors.Is(err, repo.ErrAuth):
		return "give --username and --password-file FILE (or JOBSHARP_USERNAME and JOBSHARP_PASSWORD)"
	case errors.Is(err, repo.ErrTLS):
		return "TLS flags: --tls (system CAs), --tls-ca FILE (your CA), --tls-insecure-skip-verify (testing only)"
	case errors.Is(err, repo.ErrUnauthorized):
		return "schema apply needs a role with CREATE permission (on ALL KEYSPACES to create the keyspace); verify needs only login"
	case errors.Is(err, repo.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "raise --timeout, or check the nodes' load"
	}
	return ""
}
