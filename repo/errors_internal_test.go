package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/gocql/gocql"
)

// requestErr is an error frame as the driver returns it for codes that have
// no type of their own (overloaded, bootstrapping).
type requestErr struct {
	code int
	msg  string
}

func (e requestErr) Code() int       { return e.code }
func (e requestErr) Message() string { return e.msg }
func (e requestErr) Error() string   { return e.msg }

// TestTransientErrors maps each transient driver error to its typed error,
// which IsRetryable recognises, and names consistencies as CQL does.
func TestTransientErrors(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	tests := []struct {
		name   string
		err    error
		want   error  // the sentinel the mapped error matches
		typ    any    // a pointer to the typed error it must be
		text   string // in the message
		noText string // not in the message
	}{
		{"connection reset by peer", reset, ErrConnectionLost, new(*ConnectionError), "connection reset by peer", ""},
		{"connection closed waiting for response", gocql.ErrConnectionClosed, ErrConnectionLost, new(*ConnectionError), "connection closed waiting for response", ""},
		{"end of stream", io.EOF, ErrConnectionLost, new(*ConnectionError), "EOF", ""},
		{"broken pipe", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}, ErrConnectionLost, new(*ConnectionError), "broken pipe", ""},
		{"wrapped reset", fmt.Errorf("batch: %w", reset), ErrConnectionLost, new(*ConnectionError), "reset", ""},
		{"client timeout", gocql.ErrTimeoutNoResponse, ErrTimeout, new(*TimeoutError), "client timeout", ""},
		{"too many timeouts", gocql.ErrTooManyTimeouts, ErrTimeout, new(*TimeoutError), "too many query timeouts", ""},
		{"caller's deadline", context.DeadlineExceeded, ErrTimeout, new(*TimeoutError), "the caller's context deadline passed", ""},
		{"write timeout", &gocql.RequestErrWriteTimeout{Consistency: gocql.LocalQuorum, Received: 1, BlockFor: 2, WriteType: "SIMPLE"}, ErrTimeout, new(*TimeoutError), "1 of 2 replicas acknowledged at LOCAL_QUORUM", ""},
		{"LWT write timeout at LOCAL_SERIAL", &gocql.RequestErrWriteTimeout{Consistency: gocql.Consistency(gocql.LocalSerial), Received: 1, BlockFor: 2, WriteType: "CAS"}, ErrTimeout, new(*TimeoutError), "1 of 2 replicas acknowledged at LOCAL_SERIAL", "UNKNOWN_CONS"},
		{"LWT write timeout at SERIAL", &gocql.RequestErrWriteTimeout{Consistency: gocql.Consistency(gocql.Serial), Received: 0, BlockFor: 2, WriteType: "CAS"}, ErrTimeout, new(*TimeoutError), "at SERIAL within", "UNKNOWN_CONS"},
		{"read timeout", &gocql.RequestErrReadTimeout{Consistency: gocql.Consistency(gocql.LocalSerial), Received: 1, BlockFor: 2}, ErrTimeout, new(*TimeoutError), "1 of 2 replicas answered at LOCAL_SERIAL", "UNKNOWN_CONS"},
		{"CAS write unknown", &gocql.RequestErrCASWriteUnknown{Consistency: gocql.Consistency(gocql.Serial), Received: 1, BlockFor: 2}, ErrTimeout, new(*TimeoutError), "lightweight transaction at SERIAL", "UNKNOWN_CONS"},
		{"unavailable", &gocql.RequestErrUnavailable{Consistency: gocql.LocalQuorum, Required: 2, Alive: 1}, ErrUnavailable, new(*UnavailableError), "1 of the 2 replicas that LOCAL_QUORUM needs are alive", ""},
		{"unavailable at LOCAL_SERIAL", &gocql.RequestErrUnavailable{Consistency: gocql.Consistency(gocql.LocalSerial), Required: 2, Alive: 1}, ErrUnavailable, new(*UnavailableError), "LOCAL_SERIAL needs", "UNKNOWN_CONS"},
		{"overloaded", requestErr{gocql.ErrCodeOverloaded, "Overloaded"}, ErrUnavailable, new(*UnavailableError), "overloaded", ""},
		{"bootstrapping", requestErr{gocql.ErrCodeBootstrapping, "Bootstrapping"}, ErrUnavailable, new(*UnavailableError), "bootstrapping", ""},
		{"no hosts", gocql.ErrNoConnections, ErrNoHosts, new(*NoHostsError), "no hosts available in the pool", ""},
		{"no streams", gocql.ErrNoStreams, ErrNoHosts, new(*NoHostsError), "no streams", ""},
		{"no connection to prepare", errors.New("gocql: unable to fetch prepared info: no connection available"), ErrNoHosts, new(*NoHostsError), "no connection available", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !IsRetryable(tt.err) {
				t.Errorf("IsRetryable(driver error %v) = false", tt.err)
			}
			s := &Store{}
			err := s.interpret(context.Background(), "JobsBatch", tt.err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("interpret(%v) = %v, want it to match %v", tt.err, err, tt.want)
			}
			if !errors.As(err, tt.typ) {
				t.Errorf("interpret(%v) = %T, want %T", tt.err, err, tt.typ)
			}
			if !errors.Is(err, tt.err) && !errors.Is(tt.err, context.DeadlineExceeded) {
				t.Errorf("interpret(%v) lost the driver's error from the chain", tt.err)
			}
			if !IsRetryable(err) {
				t.Errorf("IsRetryable(%v) = false", err)
			}
			if !IsRetryable(fmt.Errorf("complete job x: %w", err)) {
				t.Errorf("IsRetryable(wrapped %v) = false", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.text) || tt.noText != "" && strings.Contains(msg, tt.noText) {
				t.Errorf("message %q: want it to contain %q and not %q", msg, tt.text, tt.noText)
			}
			if !errors.Is(err, ErrNoHosts) && !strings.Contains(msg, "JobsBatch") {
				t.Errorf("message %q does not name the statement", msg)
			}
		})
	}

	// Errors that a retry does not cure.
	for _, err := range []error{
		nil,
		context.Canceled,
		ErrNotFound, ErrConflict, ErrLeaseLost, ErrInvalid,
		requestErr{gocql.ErrCodeInvalid, "String didn't validate."},
		requestErr{gocql.ErrCodeSyntax, "line 1:0 no viable alternative"},
		requestErr{gocql.ErrCodeUnauthorized, "User x has no MODIFY permission"},
		&ValidationError{Field: "type", Problem: "not valid UTF-8"},
	} {
		if IsRetryable(err) {
			t.Errorf("IsRetryable(%v) = true, want false", err)
		}
	}
}

// TestConnectionCanceled: gocql reports a connection that closed under a
// statement's preparation with the connection's own context.Canceled. While
// the caller's context is live that is a lost connection, retryable, and
// not a cancellation; a caller's own cancellation stays what it is.
func TestConnectionCanceled(t *testing.T) {
	s := &Store{}
	for _, driverErr := range []error{context.Canceled, fmt.Errorf("prepare: %w", context.Canceled)} {
		err := s.interpret(context.Background(), "JobsGet", driverErr)
		var ce *ConnectionError
		if !errors.As(err, &ce) || ce.Op != "JobsGet" || !errors.Is(err, ErrConnectionLost) || !errors.Is(err, gocql.ErrConnectionClosed) || !IsRetryable(err) {
			t.Errorf("interpret(live context, %v) = %v, want a retryable ConnectionError of JobsGet", driverErr, err)
		}
		if errors.Is(err, context.Canceled) {
			t.Errorf("interpret(live context, %v) = %v matches context.Canceled: the caller did not cancel", driverErr, err)
		}
		if !strings.Contains(err.Error(), "context canceled") || !strings.Contains(err.Error(), "the caller's context is live") {
			t.Errorf("message %q: want it to name the driver's error and say the caller's context is live", err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.interpret(ctx, "JobsGet", context.Canceled)
	if err != context.Canceled || IsRetryable(err) {
		t.Errorf("interpret(cancelled context, context.Canceled) = %v, want the caller's context.Canceled, not retryable", err)
	}
	// A cancelled caller whose statement failed otherwise keeps that error.
	if err := s.interpret(ctx, "JobsGet", gocql.ErrConnectionClosed); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("interpret(cancelled context, ErrConnectionClosed) = %v, want ErrConnectionLost", err)
	}
}

// TestSharedTranslation finds nodes that an address translator maps to one
// IP with different ports, which gocql v1.7.0 takes for one node.
func TestSharedTranslation(t *testing.T) {
	nodes := []net.IP{net.ParseIP("127.0.0.21"), net.ParseIP("127.0.0.22"), net.ParseIP("127.0.0.23"), net.ParseIP("127.0.0.21")}
	ports := map[string]int{"127.0.0.21": 40001, "127.0.0.22": 40002, "127.0.0.23": 40003}
	tests := []struct {
		name string
		tr   gocql.AddressTranslatorFunc
		want string
	}{
		{"one IP, a port each", func(ip net.IP, _ int) (net.IP, int) { return net.ParseIP("127.0.0.1"), ports[ip.String()] },
			"127.0.0.21 → 127.0.0.1:40001, 127.0.0.22 → 127.0.0.1:40002, 127.0.0.23 → 127.0.0.1:40003"},
		{"an IP each", func(ip net.IP, _ int) (net.IP, int) { return ip, ports[ip.String()] }, ""},
		{"one endpoint for all", func(net.IP, int) (net.IP, int) { return net.ParseIP("10.0.0.1"), 9042 }, ""},
		{"as announced", func(ip net.IP, port int) (net.IP, int) { return ip, port }, ""},
	}
	for _, tt := range tests {
		if got := sharedTranslation(nodes, 9042, tt.tr); got != tt.want {
			t.Errorf("%s: sharedTranslation() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
