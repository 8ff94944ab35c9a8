package cql

import (
	"errors"
	"fmt"
)

// Position is a place in a source file. Line and Col count from 1; Col counts
// bytes. The zero Position means "unknown".
type Position struct {
	File string
	Line int
	Col  int
}

// String formats the position as file:line:col, the form editors and go vet use.
func (p Position) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.File == "":
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Error is an error tied to a position in a schema or query file. Err wraps
// one of the Err… sentinels of this package or of the stage that reported
// it, so callers can test the kind with [errors.Is].
type Error struct {
	Pos Position
	Err error
}

// Error returns "file:line:col: message".
func (e *Error) Error() string {
	if e.Pos == (Position{}) {
		return e.Err.Error()
	}
	return e.Pos.String() + ": " + e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error at pos whose message is fmt.Sprintf(format, args...);
// a %w verb in format wraps a sentinel.
func Errorf(pos Position, format string, args ...any) *Error {
	return &Error{Pos: pos, Err: fmt.Errorf(format, args...)}
}

var (
	// ErrSyntax reports CQL the parser cannot read.
	ErrSyntax = errors.New("syntax error")
	// ErrUnterminated reports a string, quoted name or comment without its end.
	ErrUnterminated = errors.New("unterminated")
	// ErrUnsupported reports valid CQL the generator does not model.
	ErrUnsupported = errors.New("unsupported")
)
