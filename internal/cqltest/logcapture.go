package cqltest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// LogCapture is a slog.Handler that keeps the messages logged, with their
// levels, and passes every record on to the test's log (Logger).
type LogCapture struct {
	slog.Handler
	mu   *sync.Mutex
	msgs *[]capturedLog
}

type capturedLog struct {
	level slog.Level
	msg   string
}

// NewLogCapture returns a LogCapture that logs to t from level Info on and
// keeps every message.
func NewLogCapture(t testing.TB) *LogCapture {
	return &LogCapture{Handler: Logger(t, slog.LevelInfo).Handler(), mu: &sync.Mutex{}, msgs: new([]capturedLog)}
}

// Enabled keeps every level, whatever the test's log shows.
func (c *LogCapture) Enabled(context.Context, slog.Level) bool { return true }

func (c *LogCapture) Handle(ctx context.Context, r slog.Record) error {
	c.mu.Lock()
	*c.msgs = append(*c.msgs, capturedLog{r.Level, r.Message})
	c.mu.Unlock()
	if !c.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return c.Handler.Handle(ctx, r)
}

func (c *LogCapture) WithAttrs(as []slog.Attr) slog.Handler {
	return &LogCapture{Handler: c.Handler.WithAttrs(as), mu: c.mu, msgs: c.msgs}
}

func (c *LogCapture) WithGroup(g string) slog.Handler {
	return &LogCapture{Handler: c.Handler.WithGroup(g), mu: c.mu, msgs: c.msgs}
}

// Logged reports whether a message containing msg was logged at level or
// above.
func (c *LogCapture) Logged(level slog.Level, msg string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range *c.msgs {
		if m.level >= level && strings.Contains(m.msg, msg) {
			return true
		}
	}
	return false
}

// Messages returns the messages logged so far.
func (c *LogCapture) Messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(*c.msgs))
	for i, m := range *c.msgs {
		out[i] = m.msg
	}
	return out
}
