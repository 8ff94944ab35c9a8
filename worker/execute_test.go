package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

type emailArgs struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

func (emailArgs) Kind() string { return "email.send" }

// Argument types without fields, one per kind of handler the tests need.
type (
	flaky  struct{}
	broken struct{}
	panics struct{}
	snoozy struct{}
	giveUp struct{}
	after  struct{}
	slow   struct{}
	long   struct{}
)

func (flaky) Kind() string  { return "flaky" }
func (broken) Kind() string { return "broken" }
func (panics) Kind() string { return "panics" }
func (snoozy) Kind() string { return "snoozy" }
func (giveUp) Kind() string { return "give-up" }
func (after) Kind() string  { return "after" }
func (slow) Kind() string   { return "slow" }
func (long) Kind() string   { return "long" }

// TestHandlerOutcomes runs one processor per case and checks what each way a
// handler can end does to the stored job.
func TestHandlerOutcomes(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("TypedArgsArriveDecodedAndResultIsStored", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 2))
		got := make(chan emailArgs, 1)
		handle(t, p, func(ctx context.Context, job *worker.Job[emailArgs]) error {
			got <- job.Args
			job.SetResult([]byte("sent to " + job.Args.To))
			return nil
		}, nil)
		start(t, p)

		job := enqueue(ctx, t, b, emailArgs{To: "ada@example.com", Subject: "hi"}, nil)
		done := wait(t, b.store, job.ID, 30*time.Second)
		if done.State != repo.StateSucceeded || string(done.Result) != "sent to ada@example.com" || done.RetryCount != 0 {
			t.Errorf("job = %s result %q retries %d, want Succeeded, %q, 0", done.State, done.Result, done.RetryCount, "sent to ada@example.com")
		}
		if args := <-got; args != (emailArgs{To: "ada@example.com", Subject: "hi"}) {
			t.Errorf("handler got args %+v", args)
		}
		eventually(t, 10*time.Second, "one succeeded outcome", func() bool { return b.metrics.outcome(worker.OutcomeSucceeded) == 1 })
	})

	t.Run("ErrorIsRetriedThenSucceeds", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 2))
		attempts := newCounter[string]()
		handle(t, p, func(ctx context.Context, job *worker.Job[flaky]) error {
			n := attempts.add(job.ID.String())
			if n != job.Attempt() {
				t.Errorf("Attempt() = %d on call %d", job.Attempt(), n)
			}
			if n <= 2 {
				return fmt.Errorf("attempt %d: connection refused", n)
			}
			return nil
		}, nil)
		start(t, p)

		job := enqueue(ctx, t, b, flaky{}, &worker.EnqueueOpts{MaxRetries: 3})
		done := wait(t, b.store, job.ID, 30*time.Second)
		if done.State != repo.StateSucceeded || done.RetryCount != 2 || attempts.get(job.ID.String()) != 3 {
			t.Fatalf("job = %s after %d retries and %d calls, want Succeeded after 2 retries and 3 calls", done.State, done.RetryCount, attempts.get(job.ID.String()))
		}
		if len(done.Errors) != 2 || done.Errors[0].Error != "attempt 1: connection refused" || done.Errors[1].Error != "attempt 2: connection refused" {
			t.Errorf("Errors = %+v, want the two failed attempts", done.Errors)
		}
		eventually(t, 10*time.Second, "two retried outcomes", func() bool { return b.metrics.outcome(worker.OutcomeRetried) == 2 })
	})

	t.Run("ErrorsUntilAbandoned", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 2))
		attempts := newCounter[string]()
		handle(t, p, func(ctx context.Context, job *worker.Job[broken]) error {
			attempts.add(job.ID.String())
			return errors.New("always fails")
		}, nil)
		start(t, p)

		job := enqueue(ctx, t, b, broken{}, &worker.EnqueueOpts{MaxRetries: 2})
		done := wait(t, b.store, job.ID, 30*time.Second)
		if done.State != repo.StateAbandoned || done.RetryCount != 3 || attempts.get(job.ID.String()) != 3 {
			t.Fatalf("job = %s after %d failures and %d calls, want Abandoned after 3 of each", done.State, done.RetryCount, attempts.get(job.ID.String()))
		}
		if done.LastError != "always fails" {
			t.Errorf("LastError = %q", done.LastError)
		}
		eventually(t, 10*time.Second, "2 retried and 1 abandoned outcomes", func() bool {
			return b.metrics.outcome(worker.OutcomeRetried) == 2 && b.metrics.outcome(worker.OutcomeAbandoned) == 1
		})
	})

	t.Run("PanicIsRecordedWithItsStack", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 2))
		handle(t, p, func(ctx context.Context, job *worker.Job[panics]) error {
			var none []int
			return fmt.Errorf("unreachable: %d", none[job.Attempt()]) // index out of range
		}, nil)
		start(t, p)

		job := enqueue(ctx, t, b, panics{}, &worker.EnqueueOpts{MaxRetries: -1})
		done := wait(t, b.store, job.ID, 30*time.Second)
		if done.State != repo.StateAbandoned || len(done.Errors) != 1 {
			t.Fatalf("job = %s with %d errors, want Abandoned with 1", done.State, len(done.Errors))
		}
		e := done.Errors[0]
		if e.Error != "panic: runtime error: index out of range [1] with length 0" {
			t.Errorf("error = %q", e.Error)
		}
		if !strings.Contains(e.Trace, "TestHandlerOutcomes.func") || !strings.Contains(e.Trace, "execute_test.go") {
			t.Errorf("trace does not show the handler's frame:\n%s", e.Trace)
		}
	})

	t.Run("SnoozeRunsAgainWithNoAttemptCounted", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 2))
		calls := newCounter[string]()
		var firstAt, secondAt time.Time
		handle(t, p, func(ctx context.Context, job *worker.Job[snoozy]) error {
			if calls.add("x") == 1 {
				firstAt = time.Now()
				return worker.JobSnooze(500 * time.Millisecond)
			}
			secondAt = time.Now()
			return nil
		}, nil)
		start(t, p)

		job := enqueue(ctx, t, b, snoozy{}, &worker.EnqueueOpts{MaxRetries: -1})
		done := wait(t, b.store, job.ID, 30*time.Second)
		if done.State != repo.StateSucceeded || done.RetryCount != 0 || calls.get("x") != 2 {
			t.Fatalf("job = %s, %d retries, %d calls; want Succeeded, 0 retries (MaxRetries -1 would abandon a failure), 2 calls", done.State, done.RetryCount, calls.get("x"))
		}
		if d := secondAt.Sub(firstAt); d < 500*time.Millisecond {
			t.Errorf("second run %s after the first, want at least the 500ms snooze", d)
		}
		eventually(t, 10*time.Second, "one snoozed outcome", func() bool { return b.metrics.outcome(worker.OutcomeSnoozed) == 1 })
	})

	t.Run("JobCancelEndsCancelledAndCancelsContinuations", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 2))
		handle(t, p, func(ctx context.Context, job *worker.Job[giveUp]) error {
			return worker.JobCancel(errors.New("account closed"))
		}, nil)
		handle(t, p, func(ctx context.Context, job *worker.Job[after]) error {
			t.Errorf("the continuation of a cancelled job ran")
			return nil
		}, nil)
		job := enqueue(ctx, t, b, giveUp{}, &worker.EnqueueOpts{MaxRetries: 5})
		after, err := worker.EnqueueAfter(ctx, b.store, job.ID, after{}, &worker.EnqueueOpts{Queue: b.queue})
		if err != nil {
			t.Fatalf("EnqueueAfter() error = %v", err)
		}
		start(t, p)

		done := wait(t, b.store, job.ID, 30*time.Second)
		if done.State != repo.StateCancelled || done.RetryCount != 0 || !strings.Contains(done.LastError, "account closed") {
			t.Errorf("job = %s, %d retries, last error %q; want Cancelled, 0, the handler's reason", done.State, done.RetryCount, done.LastError)
		}
		if c := wait(t, b.store, after.ID, 30*time.Second); c.State != repo.StateCancelled {
			t.Errorf("continuation = %s, want Cancelled", c.State)
		}
	})

	t.Run("TimeoutFailsTheAttempt", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 2))
		cause := make(chan error, 1)
		handle(t, p, func(ctx context.Context, job *worker.Job[slow]) error {
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		}, &worker.HandleOpts{Timeout: 200 * time.Millisecond})
		start(t, p)

		job := enqueue(ctx, t, b, slow{}, &worker.EnqueueOpts{MaxRetries: -1})
		done := wait(t, b.store, job.ID, 30*time.Second)
		if err := <-cause; !errors.Is(err, worker.ErrJobTimeout) {
			t.Errorf("context.Cause = %v, want ErrJobTimeout", err)
		}
		if done.State != repo.StateAbandoned || !strings.Contains(done.LastError, "timeout (200ms)") {
			t.Errorf("job = %s, last error %q; want Abandoned with the timeout named", done.State, done.LastError)
		}
	})

	t.Run("UnknownTypeAndUndecodableArgsFail", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		p := processor(t, b.store, b.config(t, 2))
		handle(t, p, func(ctx context.Context, job *worker.Job[emailArgs]) error {
			t.Errorf("handler ran with undecodable arguments: %+v", job.Args)
			return nil
		}, nil)
		start(t, p)

		unknown, err := worker.EnqueueRaw(ctx, b.store, "nobody.handles", nil, &worker.EnqueueOpts{Queue: b.queue, MaxRetries: -1})
		if err != nil {
			t.Fatalf("EnqueueRaw() error = %v", err)
		}
		garbled, err := worker.EnqueueRaw(ctx, b.store, emailArgs{}.Kind(), []byte("not json"), &worker.EnqueueOpts{Queue: b.queue, MaxRetries: -1})
		if err != nil {
			t.Fatalf("EnqueueRaw() error = %v", err)
		}
		if u := wait(t, b.store, unknown.ID, 30*time.Second); u.State != repo.StateAbandoned || !strings.Contains(u.LastError, `no handler for job type "nobody.handles"`) {
			t.Errorf("unknown type: %s, %q", u.State, u.LastError)
		}
		if g := wait(t, b.store, garbled.ID, 30*time.Second); g.State != repo.StateAbandoned || !strings.Contains(g.LastError, "decode arguments of email.send job into worker_test.emailArgs") {
			t.Errorf("garbled args: %s, %q", g.State, g.LastError)
		}
	})

	t.Run("CancelWhileRunningCancelsTheHandlersContext", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		cfg := b.config(t, 2)
		cfg.Lease, cfg.HeartbeatInterval = 3*time.Second, 100*time.Millisecond
		p := processor(t, b.store, cfg)
		started, cause := make(chan struct{}), make(chan error, 1)
		handle(t, p, func(ctx context.Context, job *worker.Job[long]) error {
			close(started)
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		}, nil)
		start(t, p)

		job := enqueue(ctx, t, b, long{}, nil)
		<-started
		if _, err := b.store.Jobs.Cancel(ctx, job.ID); err != nil {
			t.Fatalf("Cancel() error = %v", err)
		}
		select {
		case err := <-cause:
			if !errors.Is(err, worker.ErrJobCancelled) || !errors.Is(err, repo.ErrLeaseLost) {
				t.Errorf("context.Cause = %v, want ErrJobCancelled (and repo.ErrLeaseLost)", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the handler's context was not cancelled after the job was")
		}
		eventually(t, 10*time.Second, "the cancelled outcome", func() bool { return b.metrics.outcome(worker.OutcomeCancelled) == 1 })
		if got, err := b.store.Jobs.Get(ctx, job.ID); err != nil || got.State != repo.StateCancelled || got.RetryCount != 0 {
			t.Errorf("job after cancel = %v, %v; want Cancelled with no attempt failed", got, err)
		}
	})

	t.Run("LeaseTakenOverCancelsTheHandler", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		cfg := b.config(t, 2)
		cfg.Lease, cfg.HeartbeatInterval = 2*time.Second, 500*time.Millisecond
		p := processor(t, b.store, cfg)
		started, cause := make(chan struct{}), make(chan error, 1)
		calls := newCounter[string]()
		handle(t, p, func(ctx context.Context, job *worker.Job[long]) error {
			if calls.add("x") > 1 {
				return nil // the run after the rescue
			}
			close(started)
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return nil // a success reported after the lease was lost must not be written
		}, nil)
		start(t, p)

		job := enqueue(ctx, t, b, long{}, nil)
		<-started
		// Another process whose clock runs 5s ahead (less than Grace) sees
		// the lease expired and rescues the job while the handler still runs.
		ahead := newStore(t, &repo.Options{Now: func() time.Time { return time.Now().Add(5 * time.Second) }})
		// A heartbeat between the rescue's read and write makes it lose the
		// race; it tries again on its next scan, as the rescuer would.
		eventually(t, 30*time.Second, "the rescue", func() bool {
			n, err := ahead.Jobs.Rescue(ctx, b.queue)
			if err != nil {
				t.Fatalf("Rescue() error = %v", err)
			}
			return n == 1
		})
		select {
		case err := <-cause:
			var lle *repo.LeaseLostError
			if !errors.As(err, &lle) || lle.State != repo.StateFailed {
				t.Errorf("context.Cause = %v, want a *repo.LeaseLostError in state Failed", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the handler's context was not cancelled after its lease was taken")
		}
		// The rescue counted a failed attempt; the retry runs and succeeds.
		done := wait(t, b.store, job.ID, 30*time.Second)
		if done.State != repo.StateSucceeded || done.RetryCount != 1 || calls.get("x") != 2 || !strings.Contains(done.Errors[0].Error, "expired") {
			t.Errorf("job = %s after %d retries and %d runs (errors %+v); want Succeeded on the run after the rescue", done.State, done.RetryCount, calls.get("x"), done.Errors)
		}
		eventually(t, 10*time.Second, "1 lease_lost and 1 succeeded outcome", func() bool {
			return b.metrics.outcome(worker.OutcomeLeaseLost) == 1 && b.metrics.outcome(worker.OutcomeSucceeded) == 1
		})
	})
}

// TestArgsCodecs checks the encodings of arguments: JSON by default, raw
// bytes as they are, and types that encode themselves.
func TestArgsCodecs(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	p := processor(t, b.store, b.config(t, 4))
	var mu sync.Mutex
	got := map[string]any{}
	err := worker.HandleRaw(p, "raw", func(ctx context.Context, job *worker.Job[[]byte]) error {
		mu.Lock()
		defer mu.Unlock()
		got["raw"] = string(job.Args)
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("HandleRaw() error = %v", err)
	}
	handle(t, p, func(ctx context.Context, job *worker.Job[pair]) error {
		mu.Lock()
		defer mu.Unlock()
		got["custom"] = job.Args
		return nil
	}, nil)
	start(t, p)

	raw, err := worker.EnqueueRaw(ctx, b.store, "raw", []byte("\x00binary\xff"), &worker.EnqueueOpts{Queue: b.queue})
	if err != nil {
		t.Fatalf("EnqueueRaw() error = %v", err)
	}
	custom := enqueue(ctx, t, b, pair{A: "x", B: "y"}, nil)
	if string(raw.Job.Args) != "\x00binary\xff" {
		t.Errorf("raw args stored as %q, want the bytes as they are", raw.Job.Args)
	}
	if string(custom.Job.Args) != "x|y" {
		t.Errorf("custom args stored as %q, want %q from MarshalJobArgs", custom.Job.Args, "x|y")
	}
	wait(t, b.store, raw.ID, 30*time.Second)
	wait(t, b.store, custom.ID, 30*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if got["raw"] != "\x00binary\xff" || got["custom"] != (pair{A: "x", B: "y"}) {
		t.Errorf("handlers got %q", got)
	}
}

// pair encodes itself as "a|b".
type pair struct{ A, B string }

func (pair) Kind() string { return "custom" }

func (p pair) MarshalJobArgs() ([]byte, error) { return []byte(p.A + "|" + p.B), nil }

func (p *pair) UnmarshalJobArgs(data []byte) error {
	a, b, ok := strings.Cut(string(data), "|")
	if !ok {
		return fmt.Errorf("no | in %q", data)
	}
	p.A, p.B = a, b
	return nil
}
