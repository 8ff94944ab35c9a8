package repo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

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
// caller may retry: a timeout or unavailable replicas.
func IsRetryable(err error) bool {
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrNoHosts) {
		return true
	}
	var unavailable *gocql.RequestErrUnavailable
	return errors.As(err, &unavailable)
}

var (
	missingKeyspace = regexp.MustCompile(`(?i)keyspace '?"?([A-Za-z0-9_]+)"?'? does not exist`)
	missingTable    = regexp.MustCompile(`(?i)unconfigured table ([A-Za-z0-9_]+)|table '?"?(?:[A-Za-z0-9_]+\.)?([A-Za-z0-9_]+)"?'? does not exist`)
)

// interpret is interpretError plus what the store knows: the statement that
// failed, its client timeout, and the contact points.
func (s *Store) interpret(op string, err error) error {
	err = interpretError(err)
	var te *TimeoutError
	if errors.As(err, &te) {
		te.Op = op
		if te.kind == timeoutClient {
			te.Timeout = s.conn.timeout
		}
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
	case errors.Is(err, gocql.ErrTimeoutNoResponse), strings.Contains(err.Error(), "too many query timeouts on the connection"):
		// The second is the ScyllaDB fork's ErrTooManyTimeouts (no such symbol
		// in gocql/gocql): it closes a connection that timed out repeatedly.
		return &TimeoutError{Err: err, kind: timeoutClient}
	case errors.Is(err, gocql.ErrNoConnections), errors.Is(err, gocql.ErrNoConnectionsStarted), errors.Is(err, gocql.ErrNoStreams),
		// The ScyllaDB fork's ErrNoConnectionsInPool and ErrNoPool.
		strings.Contains(err.Error(), "host pool does not have connections"), strings.Contains(err.Error(), "host does not have a pool"):
		return &NoHostsError{Err: err}
	}
	var (
		writeTimeout *gocql.RequestErrWriteTimeout
		readTimeout  *gocql.RequestErrReadTimeout
		casUnknown   *gocql.RequestErrCASWriteUnknown
		request      gocql.RequestError
	)
	switch {
	case errors.As(err, &writeTimeout):
		return &TimeoutError{Err: err, kind: timeoutServerWrite, detail: fmt.Sprintf("%d of %d replicas acknowledged at %s", writeTimeout.Received, writeTimeout.BlockFor, writeTimeout.Consistency)}
	case errors.As(err, &readTimeout):
		return &TimeoutError{Err: err, kind: timeoutServerRead, detail: fmt.Sprintf("%d of %d replicas answered at %s", readTimeout.Received, readTimeout.BlockFor, readTimeout.Consistency)}
	case errors.As(err, &casUnknown):
		return &TimeoutError{Err: err, kind: timeoutServerWrite, detail: fmt.Sprintf("%d of %d replicas acknowledged the lightweight transaction at %s", casUnknown.Received, casUnknown.BlockFor, casUnknown.Consistency)}
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
