package schema

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/queries"
)

// ErrReplicationRequired is returned by Apply when the keyspace does not
// exist and no replication was given to create it with.
var ErrReplicationRequired = errors.New("schema: the keyspace does not exist; a replication is needed to create it (SimpleStrategy:1 for development, NetworkTopologyStrategy:dc1=3 for production)")

// Object is a type or table of the schema.
type Object struct {
	// Kind is "type" or "table".
	Kind string
	// Name is the unqualified name.
	Name string
	// CQL is the CREATE … IF NOT EXISTS statement, qualified with the
	// keyspace.
	CQL string
}

func (o Object) String() string { return o.Kind + " " + o.Name }

var createStmt = regexp.MustCompile(`^CREATE (TYPE|TABLE) IF NOT EXISTS ([a-z_][a-z0-9_]*) `)

// Objects returns the schema's types and tables in creation order, each
// with its statement qualified with keyspace.
func Objects(keyspace string) ([]Object, error) {
	if err := ValidKeyspace(keyspace); err != nil {
		return nil, err
	}
	var out []Object
	for _, stmt := range queries.CreateStatements() {
		m := createStmt.FindStringSubmatch(stmt)
		if m == nil {
			// The invariants allow no views or indexes; a generator change that
			// adds another statement kind must teach this function first.
			return nil, fmt.Errorf("schema: cannot qualify statement with a keyspace: %.60s", stmt)
		}
		out = append(out, Object{
			Kind: strings.ToLower(m[1]),
			Name: m[2],
			CQL:  fmt.Sprintf("CREATE %s IF NOT EXISTS %s.%s %s", m[1], keyspace, m[2], stmt[len(m[0]):]),
		})
	}
	return out, nil
}

// CreateKeyspaceCQL returns the CREATE KEYSPACE IF NOT EXISTS statement.
func CreateKeyspaceCQL(keyspace string, r Replication) string {
	return fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s", keyspace, r.CQL())
}

// Print writes the schema as a cqlsh script: the keyspace (a commented
// template when repl is nil, since replication is the operator's choice),
// then every type and table qualified with keyspace.
func Print(w io.Writer, keyspace string, repl *Replication) error {
	objs, err := Objects(keyspace)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- The jobsharp job store's schema for keyspace %s, generated from schema/Schema.cql.\n", keyspace)
	b.WriteString("-- Every statement is idempotent (IF NOT EXISTS); run it with: cqlsh -f schema.cql\n\n")
	if repl == nil {
		b.WriteString("-- Create the keyspace first, with the replication of your cluster, e.g.:\n")
		fmt.Fprintf(&b, "--   %s;  -- one data center, development\n", CreateKeyspaceCQL(keyspace, Replication{Class: SimpleStrategy, Factor: 1}))
		fmt.Fprintf(&b, "--   %s;  -- production\n\n", CreateKeyspaceCQL(keyspace, Replication{Class: NetworkTopologyStrategy, DataCenters: map[string]int{"dc1": 3}}))
	} else {
		fmt.Fprintf(&b, "%s;\n\n", CreateKeyspaceCQL(keyspace, *repl))
	}
	for _, o := range objs {
		fmt.Fprintf(&b, "%s;\n\n", o.CQL)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	Keyspace string
	// KeyspaceCreated is true when Apply created the keyspace.
	KeyspaceCreated bool
	// Replication is the keyspace's replication after Apply, as
	// ParseReplication reads it.
	Replication string
	// Created and Existing list the types and tables ("table jobs") that
	// Apply created and that were there already.
	Created, Existing []string
	// Warnings are what Cassandra warned about (a replication factor above
	// the number of nodes, say) and what Apply left unchanged.
	Warnings []string
	// Agreement is how long the nodes took to agree on the new schema.
	Agreement time.Duration
}

// String renders the result for people, one line per fact.
func (r *ApplyResult) String() string {
	var b strings.Builder
	if r.KeyspaceCreated {
		fmt.Fprintf(&b, "keyspace %s: created (%s)\n", r.Keyspace, r.Replication)
	} else {
		fmt.Fprintf(&b, "keyspace %s: exists (%s)\n", r.Keyspace, r.Replication)
	}
	for _, o := range r.Created {
		fmt.Fprintf(&b, "%s: created\n", o)
	}
	for _, o := range r.Existing {
		fmt.Fprintf(&b, "%s: exists\n", o)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	fmt.Fprintf(&b, "schema agreement: reached in %s\n", r.Agreement.Round(time.Millisecond))
	return b.String()
}

// Apply creates the keyspace (when it does not exist, with repl) and every
// type and table of the schema that does not exist, then waits until every
// node agrees on the schema. It is idempotent and never alters or drops
// anything; what exists gets no statement at all. A statement that times out
// on the client is tried again, up to three times (each is IF NOT EXISTS).
// session may be bound to any keyspace or none.
//
// Returns [ErrReplicationRequired] when the keyspace does not exist and repl
// is nil, and an error naming the data center when repl names one the
// cluster does not have.
func Apply(ctx context.Context, session *gocql.Session, keyspace string, repl *Replication) (*ApplyResult, error) {
	objs, err := Objects(keyspace)
	if err != nil {
		return nil, err
	}
	live, err := Inspect(ctx, session, keyspace)
	if err != nil {
		return nil, err
	}
	res := &ApplyResult{Keyspace: keyspace}
	if !live.Exists {
		if repl == nil {
			return nil, fmt.Errorf("keyspace %s: %w", keyspace, ErrReplicationRequired)
		}
		if repl.Class == NetworkTopologyStrategy {
			dcs, err := DataCenters(ctx, session)
			if err != nil {
				return nil, err
			}
			for _, dc := range slices.Sorted(maps.Keys(repl.DataCenters)) {
				if !slices.Contains(dcs, dc) {
					return nil, invalidf("replication %s: the cluster has no data center %q (it has: %s)", repl, dc, strings.Join(dcs, ", "))
				}
			}
		}
		warnings, err := execDDL(ctx, session, CreateKeyspaceCQL(keyspace, *repl))
		if err != nil {
			return nil, fmt.Errorf("create keyspace %s: %w", keyspace, err)
		}
		res.KeyspaceCreated = true
		res.Replication = repl.String()
		res.Warnings = append(res.Warnings, warnings...)
	} else {
		res.Replication = describeReplication(live.Replication)
		if repl != nil && !repl.matches(live.Replication) {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"keyspace %s exists with replication %s, not %s; left unchanged (change it with ALTER KEYSPACE, then run nodetool repair on every node)",
				keyspace, res.Replication, repl))
		}
	}
	for _, o := range objs {
		existed := slices.Contains(live.Tables, o.Name)
		if o.Kind == "type" {
			existed = slices.Contains(live.Types, o.Name)
		}
		if existed {
			// No DDL for what exists: a schema change costs every node work
			// and an agreement round, even when IF NOT EXISTS makes it a no-op.
			res.Existing = append(res.Existing, o.String())
			continue
		}
		warnings, err := execDDL(ctx, session, o.CQL)
		if err != nil {
			return nil, fmt.Errorf("create %s %s.%s: %w", o.Kind, keyspace, o.Name, err)
		}
		res.Warnings = append(res.Warnings, warnings...)
		res.Created = append(res.Created, o.String())
	}
	began := time.Now()
	if err := session.AwaitSchemaAgreement(ctx); err != nil {
		return nil, fmt.Errorf("wait for schema agreement: %w", err)
	}
	res.Agreement = time.Since(began)
	return res, nil
}

// ddlAttempts bounds the tries of one DDL statement. Schema changes on a
// busy cluster can outlast the client timeout; every statement Apply runs
// is IF NOT EXISTS, so trying again is safe.
const ddlAttempts = 3

// execDDL runs one DDL statement and returns Cassandra's warnings, trying
// again when the client timed out.
func execDDL(ctx context.Context, session *gocql.Session, stmt string) ([]string, error) {
	for attempt := 1; ; attempt++ {
		iter := session.Query(stmt).WithContext(ctx).Iter()
		warnings := iter.Warnings()
		err := iter.Close()
		if err == nil || attempt == ddlAttempts || ctx.Err() != nil || !errors.Is(err, gocql.ErrTimeoutNoResponse) {
			return warnings, err
		}
	}
}

// DataCenters lists the cluster's data centers, sorted.
func DataCenters(ctx context.Context, session *gocql.Session) ([]string, error) {
	seen := map[string]bool{}
	for _, stmt := range []string{"SELECT data_center FROM system.local", "SELECT data_center FROM system.peers"} {
		iter := session.Query(stmt).WithContext(ctx).Iter()
		var dc string
		for iter.Scan(&dc) {
			seen[dc] = true
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("list data centers: %w", err)
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
