package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"

	"github.com/gocql/gocql"
)

// Errors of the store. Test them with errors.Is; the typed errors below carry
// details and match these with Is.
var (
	// ErrNotFound: no job has the given id (or it expired).
	ErrNotFound = errors.New("jobsharp: job not found")
	// ErrExists: a job with the given id exists already.
	ErrExists = errors.New("jobsharp: job exists")
	// ErrConflict: the job changed since it was read (its version moved on).
	// Read it again and retry the change if it still applies.
	ErrConflict = errors.New("jobsharp: job changed underneath (version conflict)")
	// ErrLeaseLost: the caller no longer holds the job's lease: it expired and
	// the job was rescued, or the job was cancelled or changed.
	ErrLeaseLost = errors.New("jobsharp: lease lost")
	// ErrWrongState: the operation does not apply to the job's current state.
	ErrWrongState = errors.New("jobsharp: operation not allowed in the job's state")
	// ErrInvalid: an argument is invalid; nothing was written.
	ErrInvalid = errors.New("jobsharp: invalid argument")
	// ErrInvalidConfig: a Config or Options field is out of range.
	ErrInvalidConfig = errors.New("jobsharp: invalid configuration")

	// ErrKeyspaceNotFound: the keyspace does not exist. Create it and the
	// tables with `jobsharp schema apply`.
	ErrKeyspaceNotFound = errors.New("jobsharp: keyspace not found (create it with: jobsharp schema apply)")
	// ErrTableNotFound: a table of the schema is missing. Run `jobsharp schema
	// apply`, and `jobsharp schema verify` to see what differs.
	ErrTableNotFound = errors.New("jobsharp: table not found (run: jobsharp schema apply; jobsharp schema verify shows what differs)")
	// ErrNoHosts: no Cassandra node could be reached. [*NoHostsError] names
	// the hosts and ports tried.
	ErrNoHosts = errors.New("jobsharp: no Cassandra host reachable")
	// ErrTimeout: Cassandra did not answer in time. The write may or may not
	// have been applied. [*TimeoutError] names the statement and the timeout.
	ErrTimeout = errors.New("jobsharp: query timed out")
	// ErrUnavailable: the node refused the statement before running it: too
	// few replicas alive for the consistency, or the node overloaded or
	// still bootstrapping. Nothing was written; retry later.
	// [*UnavailableError] says which.
	ErrUnavailable = errors.New("jobsharp: replicas unavailable")
	// ErrConnectionLost: the connection to a node broke while a statement
	// was in flight (reset by the peer, closed). A write may or may not have
	// been applied. [*ConnectionError] names the statement.
	ErrConnectionLost = errors.New("jobsharp: connection to Cassandra lost")
	// ErrSchemaMismatch: a table of the keyspace lacks a column the store
	// uses, or a column has another type. `jobsharp schema verify` lists the
	// differences and the statements that repair them.
	ErrSchemaMismatch = errors.New("jobsharp: schema differs from this build's (run: jobsharp schema verify)")
	// ErrAuth: the cluster refused the credentials, or wants credentials and
	// got none. [*AuthError] says which.
	ErrAuth = errors.New("jobsharp: authentication failed")
	// ErrUnauthorized: the role lacks a permission the operation needs; the
	// message names it.
	ErrUnauthorized = errors.New("jobsharp: not authorized")
	// ErrTLS: the TLS handshake with a node failed (untrusted certificate, a
	// node that requires TLS and a client without it, or the reverse).
	// [*TLSError] says which.
	ErrTLS = errors.New("jobsharp: TLS handshake with Cassandra failed")
)

// ValidationError says which argument is invalid and why. It matches
// ErrInvalid.
type ValidationError struct {
	Field   string
	Problem string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("jobsharp: invalid %s: %s", e.Field, e.Problem)
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// checkID rejects the zero UUID, which no job, batch or parent has.
func checkID(field string, id gocql.UUID) error {
	if id == (gocql.UUID{}) {
		return invalid(field, "empty (the zero UUID)")
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// InvalidArgument is a nil or unusable argument of a constructor (New,
// ConnectCluster, worker.New): a *ValidationError that matches
// ErrInvalidConfig as well as ErrInvalid, as the constructor's other
// errors match ErrInvalidConfig.
func InvalidArgument(field, problem string) error {
	return configArgError{&ValidationError{Field: field, Problem: problem}}
}

// configArgError is InvalidArgument's error.
type configArgError struct{ *ValidationError }

func (e configArgError) Is(target error) bool { return target == ErrInvalidConfig }
func (e configArgError) Unwrap() error        { return e.ValidationError }

// ConflictError reports the version a change expected and the one it found.
// It matches ErrConflict.
type ConflictError struct {
	JobID    gocql.UUID
	Expected int64
	Actual   int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("jobsharp: job %s changed underneath: expected version %d, found %d", e.JobID, e.Expected, e.Actual)
}

// Is reports whether target is ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// LeaseLostError reports the state of a job whose lease the caller lost. It
// matches ErrLeaseLost.
type LeaseLostError struct {
	JobID gocql.UUID
	State State
	Owner string
}

func (e *LeaseLostError) Error() string {
	return fmt.Sprintf("jobsharp: lease of job %s lost (now %s, held by %q)", e.JobID, e.State, e.Owner)
}

// Is reports whether target is ErrLeaseLost.
func (e *LeaseLostError) Is(target error) bool { return target == ErrLeaseLost }

// StateError reports an operation that does not apply to a job's state. It
// matches ErrWrongState.
type StateError struct {
	JobID gocql.UUID
	State State
	Op    string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("jobsharp: cannot %s job %s: it is %s", e.Op, e.JobID, e.State)
}

// Is reports whether target is ErrWrongState.
func (e *StateError) Is(target error) bool { return target == ErrWrongState }

// IsRetryable reports whether err is a transient failure that an idempotent
// caller may retry: a timeout ([ErrTimeout]: the client's, the caller's
// context deadline, or the node's read or write timeout), replicas
// unavailable or a node overloaded ([ErrUnavailable]), a connection that
// broke while a statement was in flight ([ErrConnectionLost]), or no node
// reachable ([ErrNoHosts]). The store's own methods return these typed; a
// driver error that was not mapped yet is recognised too. A write that
// failed so may have been applied: retry it under the same id or version
// (the store's lease operations and inserts are safe to retry).
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrNoHosts) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConnectionLost) {
		return true
	}
	mapped := interpretError(err)
	return mapped != err && (errors.Is(mapped, ErrTimeout) || errors.Is(mapped, ErrNoHosts) || errors.Is(mapped, ErrUnavailable) || errors.Is(mapped, ErrConnectionLost))
}

var (
	missingKeyspace = regexp.MustCompile(`(?i)keyspace '?"?([A-Za-z0-9_]+)"?'? does not exist`)
	missingTable    = regexp.MustCompile(`(?i)unconfigured table ([A-Za-z0-9_]+)|table '?"?(?:[A-Za-z0-9_]+\.)?([A-Za-z0-9_]+)"?'? does not exist`)
)

// interpret is interpretError plus what the store knows: the statement that
// failed, the context it ran under, its client timeout, and the contact
// points. ctx is the statement's context: a context.Canceled while it is
// live was the driver's own (see [connectionCanceled]).
func (s *Store) interpret(ctx context.Context, op string, err error) error {
	err = interpretError(connectionCanceled(ctx, err))
	var te *TimeoutError
	if errors.As(err, &te) {
		te.Op = op
		if te.kind == timeoutClient {
			te.Timeout = s.conn.timeout
		}
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		ue.Op = op
	}
	var ce *ConnectionError
	if errors.As(err, &ce) {
		ce.Op = op
	}
	var nh *NoHostsError
	if errors.As(err, &nh) && len(nh.Hosts) == 0 {
		nh.Hosts = s.conn.hosts
	}
	var ks *KeyspaceNotFoundError
	if errors.As(err, &ks) && len(ks.Hosts) == 0 {
		ks.Hosts = s.conn.hosts
	}
	var tn *TableNotFoundError
	if errors.As(err, &tn) && tn.Keyspace == "" {
		tn.Keyspace = s.keyspace()
	}
	return err
}

// interpretError maps driver errors to the store's sentinels and typed
// errors, keeping the driver error in the chain. It is the only place that
// knows gocql's errors; [Store.interpret] adds what only the store knows
// (the statement, its timeout, the hosts).
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, context.DeadlineExceeded):
		return &TimeoutError{Err: err, kind: timeoutContext}
	case errors.Is(err, gocql.ErrTimeoutNoResponse), errors.Is(err, gocql.ErrTooManyTimeouts):
		// ErrTooManyTimeouts: the driver closes a connection that timed out
		// repeatedly, failing what was in flight on it.
		return &TimeoutError{Err: err, kind: timeoutClient}
	case errors.Is(err, gocql.ErrNoConnections), errors.Is(err, gocql.ErrNoConnectionsStarted), errors.Is(err, gocql.ErrNoStreams),
		hasText(err, noHostTexts...):
		return &NoHostsError{Err: err}
	case lostConnection(err):
		return &ConnectionError{Err: err}
	}
	var (
		writeTimeout *gocql.RequestErrWriteTimeout
		readTimeout  *gocql.RequestErrReadTimeout
		casUnknown   *gocql.RequestErrCASWriteUnknown
		unavailable  *gocql.RequestErrUnavailable
		request      gocql.RequestError
	)
	switch {
	case errors.As(err, &writeTimeout):
		return &TimeoutError{Err: err, kind: timeoutServerWrite, detail: fmt.Sprintf("%d of %d replicas acknowledged at %s", writeTimeout.Received, writeTimeout.BlockFor, consistencyName(writeTimeout.Consistency))}
	case errors.As(err, &readTimeout):
		return &TimeoutError{Err: err, kind: timeoutServerRead, detail: fmt.Sprintf("%d of %d replicas answered at %s", readTimeout.Received, readTimeout.BlockFor, consistencyName(readTimeout.Consistency))}
	case errors.As(err, &casUnknown):
		return &TimeoutError{Err: err, kind: timeoutServerWrite, detail: fmt.Sprintf("%d of %d replicas acknowledged the lightweight transaction at %s", casUnknown.Received, casUnknown.BlockFor, consistencyName(casUnknown.Consistency))}
	case errors.As(err, &unavailable):
		return &UnavailableError{Err: err, Problem: fmt.Sprintf("%d of the %d replicas that %s needs are alive", unavailable.Alive, unavailable.Required, consistencyName(unavailable.Consistency))}
	case errors.As(err, &request) && request.Code() == gocql.ErrCodeUnavailable:
		return &UnavailableError{Err: err, Problem: "too few replicas are alive for the consistency"}
	case errors.As(err, &request) && request.Code() == gocql.ErrCodeOverloaded:
		return &UnavailableError{Err: err, Problem: "the coordinator is overloaded"}
	case errors.As(err, &request) && request.Code() == gocql.ErrCodeBootstrapping:
		return &UnavailableError{Err: err, Problem: "the coordinator is still bootstrapping"}
	case errors.As(err, &request) && request.Code() == gocql.ErrCodeUnauthorized:
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	case errors.As(err, &request) && request.Code() == gocql.ErrCodeInvalid:
		if m := missingKeyspace.FindStringSubmatch(request.Message()); m != nil {
			return &KeyspaceNotFoundError{Keyspace: m[1], Err: err}
		}
		if m := missingTable.FindStringSubmatch(request.Message()); m != nil {
			return &TableNotFoundError{Tables: []string{m[1] + m[2]}, Err: err}
		}
	}
	return err
}

// noHostTexts are driver errors, known by their text only, that say no
// connection was available: gocql's unexported errNoControl and its failed
// statement preparation, and the ScyllaDB fork's ErrNoConnectionsInPool
// and ErrNoPool.
var noHostTexts = []string{
	"no control connection available",
	"unable to fetch prepared info: no connection available",
	"host pool does not have connections",
	"host does not have a pool",
}

// connectionTexts are the driver's errors, known by their text only, of a
// connection that broke: its startup timed out, or it was closed.
var connectionTexts = []string{
	"no response to connection startup within timeout",
	"use of closed network connection",
	"connection reset by peer",
	"broken pipe",
}

func hasText(err error, texts ...string) bool {
	msg := err.Error()
	for _, t := range texts {
		if strings.Contains(msg, t) {
			return true
		}
	}
	return false
}

// lostConnection reports whether err is a connection that broke while a
// statement was in flight: the driver's ErrConnectionClosed, or the socket
// error it passes on (reset, broken pipe, end of stream).
func lostConnection(err error) bool {
	var op *net.OpError
	switch {
	case errors.Is(err, gocql.ErrConnectionClosed), errors.Is(err, net.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.As(err, &op):
		return true
	}
	return hasText(err, connectionTexts...)
}

// consistencyName names a consistency as CQL does. The driver reports the
// consistency of a lightweight transaction's Paxos phase, SERIAL or
// LOCAL_SERIAL, in a gocql.Consistency, whose String does not know them.
func consistencyName(c gocql.Consistency) string {
	if sc := gocql.SerialConsistency(c); sc == gocql.Serial || sc == gocql.LocalSerial {
		return sc.String()
	}
	return c.String()
}
