package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/internal/devcluster"
	"github.com/jobsharp/cassandra/queries"
)

// The tests print every run of the command with t.Logf; go test -v shows
// them.

func TestMain(m *testing.M) { cqltest.Main(m) }

// result is what one run of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// jobsharp runs the command with env as its whole environment.
func jobsharp(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return env[k] }}
	code := run(context.Background(), args, a)
	t.Logf("jobsharp %s → %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return result{code, stdout.String(), stderr.String()}
}

func (r result) want(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code = %d, want %d", r.code, code)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q", s)
		}
	}
}

// hostEnv points the command at the test node.
func hostEnv(keyspace string) map[string]string {
	return map[string]string{"JOBSHARP_HOSTS": strings.Join(cqltest.Hosts(), ","), "JOBSHARP_KEYSPACE": keyspace}
}

// appliedKeyspace creates a keyspace with `jobsharp schema apply`, dropped
// when the test ends, and returns it with the environment that names it.
func appliedKeyspace(t *testing.T) (string, map[string]string) {
	t.Helper()
	ks := cqltest.UniqueKeyspace(t)
	cqltest.DropKeyspaceAtEnd(t, adminSession(t), ks)
	env := hostEnv(ks)
	jobsharp(t, env, "schema", "apply", "--replication", "SimpleStrategy:1").want(t, ExitOK, nil, nil)
	return ks, env
}

// adminSession is a session on the test node without keyspace, with a
// timeout long enough for schema changes on a busy node.
func adminSession(t *testing.T) *gocql.Session {
	t.Helper()
	return cqltest.AdminSession(t)
}

func TestSchemaApplyAndVerify(t *testing.T) {
	t.Parallel()

	s := adminSession(t)
	ks := cqltest.UniqueKeyspace(t)
	cqltest.DropKeyspaceAtEnd(t, s, ks)
	env := hostEnv(ks)

	// Verify before anything exists.
	jobsharp(t, env, "schema", "verify").want(t, ExitDiffers,
		[]string{"keyspace " + ks + " differs from the schema of this build in 1 place:", "missing keyspace: run jobsharp schema apply --keyspace " + ks}, nil)

	// No replication for a keyspace that does not exist.
	jobsharp(t, env, "schema", "apply").want(t, ExitUsage, nil,
		[]string{"keyspace " + ks + " does not exist: give --replication to create it"})

	first := jobsharp(t, env, "schema", "apply", "--replication", "SimpleStrategy:1")
	var created []string
	for _, m := range queries.Tables() {
		created = append(created, "table "+m.Name+": created\n")
	}
	first.want(t, ExitOK, append(created, "keyspace "+ks+": created (SimpleStrategy:1)\n", "type attempt_error: created\n", "schema agreement: reached in"), nil)

	second := jobsharp(t, env, "schema", "apply", "--replication", "SimpleStrategy:1")
	second.want(t, ExitOK, []string{"keyspace " + ks + ": exists (SimpleStrategy:1)\n", "table jobs: exists\n", "table queues: exists\n"}, nil)
	if strings.Contains(second.stdout, "created") || strings.Contains(second.stdout, "warning") {
		t.Errorf("second apply created something or warned:\n%s", second.stdout)
	}

	jobsharp(t, env, "schema", "verify").want(t, ExitOK, []string{"keyspace " + ks + " matches the schema of this build"}, nil)

	for _, stmt := range []string{"ALTER TABLE " + ks + ".jobs DROP lease_owner", "DROP TABLE " + ks + ".queues", "ALTER TABLE " + ks + ".batch_jobs DROP size"} {
		if err := s.Query(stmt).Exec(); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	drifted := jobsharp(t, env, "schema", "verify")
	drifted.want(t, ExitDiffers, []string{
		"keyspace " + ks + " differs from the schema of this build in 3 places:\n",
		"  missing column jobs.lease_owner (text): ALTER TABLE " + ks + ".jobs ADD lease_owner text;\n",
		"  missing column batch_jobs.size (int, static): ALTER TABLE " + ks + ".batch_jobs ADD size int STATIC;\n",
		"  missing table queues: run jobsharp schema apply --keyspace " + ks + "\n",
		"diff (-want +live):\n",
	}, nil)
	// go-cmp varies its spaces on purpose; match the removed lines loosely.
	for _, removed := range []string{`"lease_owner":[\s\x{00a0}]+"text"`, `"queues":[\s\x{00a0}]+\{`} {
		if !regexp.MustCompile(`(?m)^-[\s\x{00a0}]+` + removed).MatchString(drifted.stdout) {
			t.Errorf("the diff does not show %s as missing", removed)
		}
	}

	// The same as JSON, for scripts.
	asJSON := jobsharp(t, env, "schema", "verify", "--json")
	var got struct {
		Keyspace    string `json:"keyspace"`
		OK          bool   `json:"ok"`
		Differences []struct {
			Kind, Table, Column, Fix string
		} `json:"differences"`
	}
	if err := json.Unmarshal([]byte(asJSON.stdout), &got); err != nil {
		t.Fatalf("verify --json printed no JSON: %v", err)
	}
	var kinds []string
	for _, d := range got.Differences {
		kinds = append(kinds, d.Kind+" "+d.Table+"."+d.Column)
	}
	slices.Sort(kinds)
	want := []string{"missing column batch_jobs.size", "missing column jobs.lease_owner", "missing table queues."}
	if asJSON.code != ExitDiffers || got.OK || got.Keyspace != ks || !cmp.Equal(want, kinds) {
		t.Errorf("verify --json = code %d, %+v; want exit 3 and %v", asJSON.code, got, want)
	}

	// Apply brings the table back; the columns need the printed ALTERs.
	jobsharp(t, env, "schema", "apply").want(t, ExitOK, []string{"table queues: created\n"}, nil)
	for _, stmt := range []string{"ALTER TABLE " + ks + ".jobs ADD lease_owner text", "ALTER TABLE " + ks + ".batch_jobs ADD size int STATIC"} {
		if err := s.Query(stmt).Exec(); err != nil {
			t.Fatalf("the fix verify printed fails: %s: %v", stmt, err)
		}
	}
	jobsharp(t, env, "schema", "verify").want(t, ExitOK, []string{"matches"}, nil)
}

func TestSchemaApplyJSONAndFlagsOverEnv(t *testing.T) {
	t.Parallel()

	s := adminSession(t)
	ks := cqltest.UniqueKeyspace(t)
	cqltest.DropKeyspaceAtEnd(t, s, ks)
	// The environment names an unreachable port and another keyspace; the
	// flags win.
	env := map[string]string{"JOBSHARP_HOSTS": "127.0.0.1", "JOBSHARP_PORT": "1", "JOBSHARP_KEYSPACE": "not_this_one", "JOBSHARP_JSON": "true"}
	r := jobsharp(t, env, "schema", "apply", "--hosts", strings.Join(cqltest.Hosts(), ","), "--port", "9042", "--keyspace", ks,
		"--replication", "NetworkTopologyStrategy:datacenter1=1", "--consistency", "local_one", "--timeout", "30s")
	var got struct {
		Keyspace        string   `json:"keyspace"`
		KeyspaceCreated bool     `json:"keyspace_created"`
		Replication     string   `json:"replication"`
		Created         []string `json:"created"`
		Existing        []string `json:"existing"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("apply with JOBSHARP_JSON printed no JSON: %v", err)
	}
	if r.code != ExitOK || got.Keyspace != ks || !got.KeyspaceCreated || got.Replication != "NetworkTopologyStrategy:datacenter1=1" ||
		len(got.Created) != len(queries.CreateStatements()) || got.Existing == nil {
		t.Errorf("apply --json = %d %+v", r.code, got)
	}
}

func TestSchemaPrint(t *testing.T) {
	t.Parallel()

	r := jobsharp(t, map[string]string{"JOBSHARP_KEYSPACE": "orders_jobs"}, "schema", "print")
	r.want(t, ExitOK, []string{
		"-- Create the keyspace first, with the replication of your cluster, e.g.:\n",
		"CREATE TYPE IF NOT EXISTS orders_jobs.attempt_error (",
		"CREATE TABLE IF NOT EXISTS orders_jobs.jobs (",
	}, nil)
	if n := strings.Count(r.stdout, ";\n"); n != len(queries.CreateStatements()) {
		t.Errorf("print wrote %d statements, want %d", n, len(queries.CreateStatements()))
	}
	jobsharp(t, nil, "schema", "print", "--keyspace", "k", "--replication", "NetworkTopologyStrategy:dc1=3,dc2=2").want(t, ExitOK,
		[]string{"\nCREATE KEYSPACE IF NOT EXISTS k WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2};\n"}, nil)
	jobsharp(t, nil, "schema", "print", "--keyspace", "Bad-Name").want(t, ExitUsage, nil, []string{`--keyspace: keyspace name "Bad-Name"`})
}

func TestUsage(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"NoArgs", nil, nil, ExitUsage, "", "usage: jobsharp <command> [flags]"},
		{"Help", nil, []string{"help"}, ExitOK, "schema verify      compare the live schema", ""},
		{"HelpFlag", nil, []string{"--help"}, ExitOK, "Exit codes: 0 success, 1 failure, 2 usage error, 3 schema verify found differences, 4 no such job, queue or schedule, 5 the job's state does not allow it.", ""},
		{"HelpCommand", nil, []string{"help", "schema", "apply"}, ExitOK, "-replication string", ""},
		{"Unknown", nil, []string{"frobnicate"}, ExitUsage, "", `unknown command "frobnicate"`},
		{"GroupOnly", nil, []string{"schema"}, ExitUsage, "", "schema apply       create the keyspace"},
		{"GroupTypo", nil, []string{"schema", "aply"}, ExitUsage, "", `unknown command "schema aply"`},
		{"ApplyHelp", nil, []string{"schema", "apply", "--help"}, ExitOK, "NetworkTopologyStrategy:dc1=3,dc2=3", ""},
		{"VerifyHelp", nil, []string{"schema", "verify", "-h"}, ExitOK, "-hosts string", ""},
		{"PrintHelp", nil, []string{"schema", "print", "--help"}, ExitOK, "It needs\nno connection.", ""},
		{"VersionHelp", nil, []string{"version", "--help"}, ExitOK, "usage: jobsharp version", ""},
		{"Version", nil, []string{"version"}, ExitOK, "jobsharp ", ""},
		{"BadFlag", nil, []string{"schema", "verify", "--nope"}, ExitUsage, "", "flag provided but not defined: -nope"},
		{"ExtraArg", nil, []string{"schema", "verify", "now"}, ExitUsage, "", `unexpected argument "now"`},
		{"PasswordFlag", nil, []string{"schema", "apply", "--password=s3cret"}, ExitUsage, "", "there is no --password flag"},
		{"PasswordFlagSpaced", nil, []string{"schema", "verify", "-password", "s3cret"}, ExitUsage, "", "use --password-file FILE or the JOBSHARP_PASSWORD environment variable"},
		{"BadEnvDuration", map[string]string{"JOBSHARP_TIMEOUT": "soon"}, []string{"schema", "verify"}, ExitUsage, "", `invalid value "soon" for JOBSHARP_TIMEOUT: want a positive duration`},
		{"BadEnvPort", map[string]string{"JOBSHARP_PORT": "x"}, []string{"schema", "verify"}, ExitUsage, "", `invalid value "x" for JOBSHARP_PORT`},
		{"BadReplication", nil, []string{"schema", "apply", "--replication", "SimpleStrategy:0"}, ExitUsage, "", "--replication: replication \"SimpleStrategy:0\": replication factor must be a whole number from 1 to 32"},
		{"BadConsistency", nil, []string{"schema", "verify", "--consistency", "MOST"}, ExitUsage, "", `--consistency "MOST": want ONE, QUORUM, LOCAL_QUORUM`},
		{"UsernameNoPassword", nil, []string{"schema", "verify", "--username", "app"}, ExitUsage, "", "--username app needs a password: give --password-file FILE or set JOBSHARP_PASSWORD"},
		{"PasswordNoUsername", map[string]string{"JOBSHARP_PASSWORD": "pw"}, []string{"schema", "verify"}, ExitUsage, "", "no --username"},
		{"MissingCA", nil, []string{"schema", "verify", "--tls-ca", "/nonexistent/ca.pem"}, ExitUsage, "", "read --tls-ca: open /nonexistent/ca.pem"},
		{"BadKeyspace", nil, []string{"schema", "verify", "--keyspace", "system_auth"}, ExitUsage, "", "names starting with system belong to Cassandra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := jobsharp(t, tt.env, tt.args...)
			r.want(t, tt.code, nonEmpty(tt.stdout), nonEmpty(tt.stderr))
			if strings.Contains(r.stdout+r.stderr, "s3cret") {
				t.Error("the password given on the command line was printed")
			}
		})
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func TestConnectionFailures(t *testing.T) {
	t.Parallel()

	t.Run("NoHosts", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		jobsharp(t, nil, "schema", "verify", "--port", fmt.Sprint(port)).want(t, ExitFailure, nil,
			[]string{fmt.Sprintf("no Cassandra host reachable at 127.0.0.1:%d", port), "hint: check --hosts and --port"})
	})

	t.Run("Auth", func(t *testing.T) {
		t.Parallel()
		cluster := cqltest.AuthCluster(t)
		admin := cqltest.SuperSession(t, cluster)
		ks := cqltest.UniqueKeyspace(t)
		cqltest.DropKeyspaceAtEnd(t, admin, ks)
		pwFile := filepath.Join(t.TempDir(), "password")
		if err := os.WriteFile(pwFile, []byte(devcluster.SuperPassword+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"JOBSHARP_HOSTS": cqltest.AuthAddr, "JOBSHARP_KEYSPACE": ks, "JOBSHARP_USERNAME": devcluster.SuperUser}

		jobsharp(t, env, "schema", "apply", "--password-file", pwFile, "--replication", "SimpleStrategy:1").want(t, ExitOK, []string{"keyspace " + ks + ": created"}, nil)
		env["JOBSHARP_PASSWORD"] = devcluster.SuperPassword
		jobsharp(t, env, "schema", "verify").want(t, ExitOK, []string{"matches"}, nil)

		env["JOBSHARP_PASSWORD"] = "wrong-pw-c0ffee"
		r := jobsharp(t, env, "schema", "verify", "--verbose")
		r.want(t, ExitFailure, nil, []string{`authentication failed at 127.0.0.11:9042 as "cassandra"`, "hint: give --username and --password-file"})
		if strings.Contains(r.stdout+r.stderr, "wrong-pw") {
			t.Error("the password appears in the output (driver log included, --verbose)")
		}
		delete(env, "JOBSHARP_USERNAME")
		delete(env, "JOBSHARP_PASSWORD")
		jobsharp(t, env, "schema", "verify").want(t, ExitFailure, nil, []string{"the cluster requires credentials"})
	})

	t.Run("TLS", func(t *testing.T) {
		t.Parallel()
		cluster := cqltest.TLSCluster(t)
		admin := cqltest.SuperSession(t, cluster)
		ks := cqltest.UniqueKeyspace(t)
		cqltest.DropKeyspaceAtEnd(t, admin, ks)
		env := map[string]string{"JOBSHARP_HOSTS": cqltest.TLSAddr, "JOBSHARP_KEYSPACE": ks}

		jobsharp(t, env, "schema", "verify").want(t, ExitFailure, nil, []string{"the node requires TLS", "hint: TLS flags: --tls"})
		jobsharp(t, env, "schema", "verify", "--tls").want(t, ExitFailure, nil, []string{"not signed by a CA the client trusts"})
		env["JOBSHARP_TLS_CA"] = cqltest.TLSCAFile(cluster)
		jobsharp(t, env, "schema", "apply", "--replication", "SimpleStrategy:1").want(t, ExitOK, []string{"table jobs: created"}, nil)
		jobsharp(t, env, "schema", "verify").want(t, ExitOK, []string{"matches"}, nil)
		jobsharp(t, map[string]string{"JOBSHARP_TLS_CA": cqltest.TLSCAFile(cluster)}, "schema", "verify", "--hosts", strings.Join(cqltest.Hosts(), ",")).want(t, ExitFailure, nil,
			[]string{"the node does not speak TLS on this port"})
	})
}
