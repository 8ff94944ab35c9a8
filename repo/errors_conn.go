package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

// NoHostsError reports that no node answered. It names the contact points
// tried (host:port) and matches [ErrNoHosts].
type NoHostsError struct {
	// Hosts are the contact points tried, as host:port; empty when the store
	// was made with New on a session it did not open.
	Hosts []string
	Err   error
}

func (e *NoHostsError) Error() string {
	var b strings.Builder
	b.WriteString("jobsharp: no Cassandra host reachable")
	if len(e.Hosts) > 0 {
		fmt.Fprintf(&b, " at %s", strings.Join(e.Hosts, ", "))
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	b.WriteString(" (check Config.Hosts and Config.Port, that the nodes run (nodetool status) and that this machine reaches their native transport port)")
	return b.String()
}

// Unwrap returns the driver's error.
func (e *NoHostsError) Unwrap() error { return e.Err }

// Is reports whether target is ErrNoHosts.
func (e *NoHostsError) Is(target error) bool { return target == ErrNoHosts }

// AuthError reports credentials the cluster refused, or a cluster that wants
// credentials and got none. It never holds the password. It matches
// [ErrAuth].
type AuthError struct {
	// Username is the name the client logged in with; empty when it sent no
	// credentials.
	Username string
	Hosts    []string
	// Err is the driver's error (the node's message, which names the user
	// but never the password).
	Err error
}

func (e *AuthError) Error() string {
	at := strings.Join(e.Hosts, ", ")
	if e.Username == "" {
		return fmt.Sprintf("jobsharp: authentication failed at %s: the cluster requires credentials; set Config.Username and Config.Password (or the --username and --password-file flags)", at)
	}
	return fmt.Sprintf("jobsharp: authentication failed at %s as %q: the node refused the username or password (check Config.Username and Config.Password; the password is never shown)", at, e.Username)
}

// Unwrap returns the driver's error.
func (e *AuthError) Unwrap() error { return e.Err }

// Is reports whether target is ErrAuth.
func (e *AuthError) Is(target error) bool { return target == ErrAuth }

// TLSError reports a failed TLS handshake and its likely cause. It matches
// [ErrTLS].
type TLSError struct {
	Hosts []string
	// Problem says what went wrong and what to change.
	Problem string
	Err     error
}

func (e *TLSError) Error() string {
	s := fmt.Sprintf("jobsharp: TLS handshake with %s failed: %s", strings.Join(e.Hosts, ", "), e.Problem)
	if e.Err != nil {
		s += fmt.Sprintf(" (%v)", e.Err)
	}
	return s
}

// Unwrap returns the driver's error.
func (e *TLSError) Unwrap() error { return e.Err }

// Is reports whether target is ErrTLS.
func (e *TLSError) Is(target error) bool { return target == ErrTLS }

// KeyspaceNotFoundError names the missing keyspace and the command that
// creates it. It matches [ErrKeyspaceNotFound].
type KeyspaceNotFoundError struct {
	Keyspace string
	// Hosts, when known, go into the suggested command.
	Hosts []string
	Err   error
}

func (e *KeyspaceNotFoundError) Error() string {
	cmd := "jobsharp schema apply"
	if len(e.Hosts) > 0 {
		cmd += " --hosts " + strings.Join(e.Hosts, ",")
	}
	cmd += " --keyspace " + e.Keyspace + " --replication SimpleStrategy:1"
	return fmt.Sprintf("jobsharp: keyspace %q not found: create it and its tables with: %s (in production: --replication NetworkTopologyStrategy:<dc>=3)", e.Keyspace, cmd)
}

// Unwrap returns the driver's error, if any.
func (e *KeyspaceNotFoundError) Unwrap() error { return e.Err }

// Is reports whether target is ErrKeyspaceNotFound.
func (e *KeyspaceNotFoundError) Is(target error) bool { return target == ErrKeyspaceNotFound }

// TableNotFoundError names the tables of the schema that the keyspace lacks.
// It matches [ErrTableNotFound].
type TableNotFoundError struct {
	// Keyspace is empty when the error comes from a query rather than from
	// Connect's check.
	Keyspace string
	Tables   []string
	Err      error
}

func (e *TableNotFoundError) Error() string {
	what := "table " + strings.Join(e.Tables, ", ")
	if len(e.Tables) > 1 {
		what = "tables " + strings.Join(e.Tables, ", ")
	}
	apply, verify := "jobsharp schema apply", "jobsharp schema verify"
	if e.Keyspace != "" {
		what += " in keyspace " + e.Keyspace
		apply += " --keyspace " + e.Keyspace
		verify += " --keyspace " + e.Keyspace
	}
	return fmt.Sprintf("jobsharp: %s not found: create the schema with: %s (%s lists every difference)", what, apply, verify)
}

// Unwrap returns the driver's error, if any.
func (e *TableNotFoundError) Unwrap() error { return e.Err }

// Is reports whether target is ErrTableNotFound.
func (e *TableNotFoundError) Is(target error) bool { return target == ErrTableNotFound }

// SchemaMismatchError lists the columns and user-defined type fields that
// keep the keyspace from serving the store: missing ones and ones of another
// type or kind. It matches
// [ErrSchemaMismatch].
type SchemaMismatchError struct {
	Keyspace string
	// Differences are one line each, with the statement that repairs them
	// where there is one.
	Differences []string
}

func (e *SchemaMismatchError) Error() string {
	return fmt.Sprintf("jobsharp: keyspace %s differs from this build's schema: %s (jobsharp schema verify --keyspace %s shows every difference)",
		e.Keyspace, strings.Join(e.Differences, "; "), e.Keyspace)
}

// Is reports whether target is ErrSchemaMismatch.
func (e *SchemaMismatchError) Is(target error) bool { return target == ErrSchemaMismatch }

type timeoutKind int

const (
	timeoutClient timeoutKind = iota
	timeoutContext
	timeoutServerWrite
	timeoutServerRead
)

// TimeoutError reports a statement that did not finish in time: which one,
// which timeout expired, and what is known of the outcome. It matches
// [ErrTimeout]. A write that timed out may or may not have been applied;
// the store settles its own lightweight transactions with a serial read.
type TimeoutError struct {
	// Op is the statement that timed out, by its name in
	// schema/queries.cql (JobsClaim, DueScan, …).
	Op string
	// Timeout is the client-side timeout that expired (Config.Timeout, or the
	// cluster's Timeout with ConnectCluster). It is 0 when the caller's
	// context ended first, when the node itself timed out waiting for
	// replicas (its read_request_timeout or write_request_timeout), and for
	// stores made with New, whose session's timeout the store cannot see.
	Timeout time.Duration
	Err     error

	kind   timeoutKind
	detail string
}

func (e *TimeoutError) Error() string {
	op := opName(e.Op)
	var why string
	switch e.kind {
	case timeoutClient:
		if e.Timeout > 0 {
			why = fmt.Sprintf("timed out after %s (the client timeout, Config.Timeout): the node did not answer", e.Timeout)
		} else {
			why = "timed out (the session's client timeout): the node did not answer"
		}
	case timeoutContext:
		why = "timed out: the caller's context deadline passed"
	case timeoutServerWrite:
		why = "timed out on the node: " + e.detail + " within its write_request_timeout"
	case timeoutServerRead:
		why = "timed out on the node: " + e.detail + " within its read_request_timeout"
	}
	return fmt.Sprintf("jobsharp: %s %s; a write may or may not have been applied: %v", op, why, e.Err)
}

// Unwrap returns the driver's or the context's error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Is reports whether target is ErrTimeout.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// UnavailableError reports a statement the node refused before running it:
// too few replicas alive for the consistency, or the coordinator overloaded
// or bootstrapping. Nothing was written. It matches [ErrUnavailable].
type UnavailableError struct {
	// Op is the statement, by its name in schema/queries.cql.
	Op string
	// Problem says what the node reported.
	Problem string
	Err     error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("jobsharp: %s refused: %s; nothing was written, retry later: %v", opName(e.Op), e.Problem, e.Err)
}

// Unwrap returns the driver's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is reports whether target is ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// ConnectionError reports a connection to a node that broke while a
// statement was in flight: reset by the peer, closed by the node or the
// network. A write may or may not have been applied; the store settles its
// own lightweight transactions with a serial read. It matches
// [ErrConnectionLost].
type ConnectionError struct {
	// Op is the statement, by its name in schema/queries.cql.
	Op  string
	Err error
}

func (e *ConnectionError) Error() string {
	return fmt.Sprintf("jobsharp: %s: the connection to the node broke while it was in flight; a write may or may not have been applied: %v", opName(e.Op), e.Err)
}

// Unwrap returns the driver's error.
func (e *ConnectionError) Unwrap() error { return e.Err }

// Is reports whether target is ErrConnectionLost.
func (e *ConnectionError) Is(target error) bool { return target == ErrConnectionLost }

// connectionCanceled returns, for a context.Canceled that the driver
// returned while the statement's context ctx is live, gocql's
// ErrConnectionClosed with an explanation (which interpretError maps to a
// [ConnectionError]); any other err, and a cancellation of ctx itself, as
// they are. The explanation holds the text of the driver's error but not the
// error, so that errors.Is(err, context.Canceled) stays false: the caller did
// not cancel.
//
// gocql v1.7.0 (conn.go) reports a connection that closes under a statement
// with its own context's error in one case. Conn.prepareStatement runs the
// PREPARE of a statement not yet prepared on the node with
// c.exec(c.ctx, …), the connection's context (so that one caller's
// cancellation does not abort a preparation others wait on), and hands its
// error to every statement waiting for it. Conn.closeWithError cancels that
// context. A PREPARE in flight then ends with context.Canceled or
// ErrConnectionClosed at random (exec's final select waits on <-ctx.Done(),
// returning ctx.Err(), and on <-c.ctx.Done(), returning
// ErrConnectionClosed: here the same channel), and one that starts on the
// closing connection with context.Canceled (exec checks ctx.Err() first,
// writeContext selects on ctx.Done()). The query executor takes
// context.Canceled for the caller's and returns it at once, without trying
// the statement on another connection, idempotent or not.
func connectionCanceled(ctx context.Context, err error) error {
	if err == nil || ctx == nil || ctx.Err() != nil || !errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w (the driver reported %q, the cancellation of the connection's own context, closed while the statement was prepared or sent; the caller's context is live)", gocql.ErrConnectionClosed, err.Error())
}

// opName names a statement in messages: "query" when it is not known.
func opName(op string) string {
	if op == "" {
		return "query"
	}
	return op
}
