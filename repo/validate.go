package repo

import (
	"context"
	"time"
	"unicode/utf8"
)

// Every public method checks its receiver, its context and its arguments
// before it runs a statement, so that bad input is refused with ErrInvalid
// (a *ValidationError naming the field) and leaves nothing written: no
// queue registered, no hint, no row. Cassandra refuses text columns that
// are not valid UTF-8 only when the row is written, after the hints that
// precede it; these checks come first.

func checkUse(ok bool, ctx context.Context, what string) error {
	if !ok {
		return invalid("store", "nil %s (use the one of a store made by Connect, ConnectCluster or New)", what)
	}
	return checkContext(ctx)
}

// nilContext is the problem of a nil context.
const nilContext = "nil (pass context.Background() or a context of the caller)"

func checkContext(ctx context.Context) error {
	if ctx == nil {
		return invalid("context", nilContext)
	}
	return nil
}

func (j *Jobs) check(ctx context.Context) error {
	return checkUse(j != nil && j.s != nil, ctx, "Jobs")
}

func (b *Batches) check(ctx context.Context) error {
	return checkUse(b != nil && b.s != nil, ctx, "Batches")
}

func (r *Recurring) check(ctx context.Context) error {
	return checkUse(r != nil && r.s != nil, ctx, "Recurring")
}

func (q *Queues) check(ctx context.Context) error {
	return checkUse(q != nil && q.s != nil, ctx, "Queues")
}

func (p *Processors) check(ctx context.Context) error {
	return checkUse(p != nil && p.s != nil, ctx, "Processors")
}

func (s *Store) check(ctx context.Context) error {
	return checkUse(s != nil && s.Jobs != nil, ctx, "Store")
}

// validText refuses text that is not valid UTF-8: Cassandra's text type
// takes nothing else.
func validText(field, text string) error {
	if utf8.ValidString(text) {
		return nil
	}
	for i, r := range text {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(text[i:]); n <= 1 {
				return invalid(field, "not valid UTF-8 (at byte %d of %d)", i, len(text))
			}
		}
	}
	return invalid(field, "not valid UTF-8")
}

// validTime refuses a time after the latest a job may be due: a job's id
// encodes its home time, which must fit the id's layout.
func validTime(field string, t time.Time) error {
	if t.After(maxHomeTime) {
		return invalid(field, "%s is after the year 9999", t.Format(time.RFC3339))
	}
	return nil
}
