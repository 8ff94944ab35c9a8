package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/internal/testhook"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// proxiedStore opens a store on the package keyspace that reaches the node
// through a proxy, so that a test can hold or break the network under it,
// logging into the capture it returns. reconnect is the driver's
// ReconnectInterval (the node is marked down when its pool empties) and
// fold the store's FoldInterval; zero leaves the default.
func proxiedStore(ctx context.Context, t *testing.T, reconnect, fold time.Duration) (*repo.Store, *cqltest.Proxy, *cqltest.LogCapture) {
	t.Helper()
	proxy := cqltest.NewProxy(t, cqltest.HostPort(cqltest.Hosts()[0], 9042))
	cl := cqltest.Cluster()
	cl.Hosts, cl.AddressTranslator = []string{proxy.Addr()}, proxy.Translator()
	if reconnect > 0 {
		cl.ReconnectInterval = reconnect
	}
	logs := cqltest.NewLogCapture(t)
	store, err := repo.ConnectCluster(ctx, cl, cqltest.Keyspace(t), &repo.Options{Logger: slog.New(logs), FoldInterval: fold})
	if err != nil {
		t.Fatalf("ConnectCluster() error = %v", err)
	}
	t.Cleanup(store.Close)
	return store, proxy, logs
}

// lostAnswer is the argument type of TestOutcomeWhoseAnswerWasLost.
type lostAnswer struct {
	Warm bool `json:"warm"` // a warm-up job: it ends at once
}

func (lostAnswer) Kind() string { return "lost-answer" }

// TestOutcomeWhoseAnswerWasLost writes a handler's outcome through a proxy
// that lets the write reach the node and loses its answer (the connection
// is severed while the answer is held), as a node killed or a network cut
// at the wrong moment does. The write applied; the processor sees a broken
// connection, retries, finds its condition gone, reads the job back and
// recognises its own write: the outcome counts as written, the job is not
// run again and no lease is reported lost.
func TestOutcomeWhoseAnswerWasLost(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		handler error  // what the first run returns; later runs succeed
		op      string // the change that writes the outcome
		state   repo.State
		outcome worker.Outcome
		runs    int
	}{
		{"Complete", nil, "complete", repo.StateSucceeded, worker.OutcomeSucceeded, 1},
		{"Fail", errors.New("first attempt fails"), "fail", repo.StateFailed, worker.OutcomeRetried, 2},
		{"Cancel", worker.JobCancel(errors.New("given up")), "cancel", repo.StateCancelled, worker.OutcomeCancelled, 1},
		{"Snooze", worker.JobSnooze(0), "snooze", repo.StateScheduled, worker.OutcomeSnoozed, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()

			b := setup(t)
			// Counts marked dirty by the warm-up stay so for two minutes: the
			// outcome writes no mark.
			store, proxy, logs := proxiedStore(ctx, t, 200*time.Millisecond, time.Minute)

			// The answer of the outcome's lightweight transaction is held:
			// its hints are written, and the proxy starts holding answers
			// just before it is sent.
			var once sync.Once
			var armed atomic.Bool
			testhook.SetAfterHints(store, func(op string) error {
				if op == tt.op && armed.Load() {
					once.Do(proxy.StallReplies)
				}
				return nil
			})

			cfg := b.config(t, 1)
			cfg.Lease = 10 * time.Second // no heartbeat while the answer is held
			cfg.Logger = slog.New(logs)
			p := processor(t, store, cfg)
			var runs atomic.Int32
			started, release := make(chan int64, 2), make(chan struct{})
			var warmRuns atomic.Int32
			handle(t, p, func(ctx context.Context, job *worker.Job[lostAnswer]) error {
				if job.Args.Warm {
					if warmRuns.Add(1) > 1 {
						return nil
					}
					return tt.handler
				}
				if runs.Add(1) > 1 {
					return nil
				}
				started <- job.Version
				<-release
				job.SetResult([]byte("done"))
				return tt.handler
			}, nil)
			start(t, p)

			// A warm-up job through the same outcome: the session has
			// prepared its statements, so the outcome's first request on the
			// wire is its lightweight transaction.
			warm := enqueue(ctx, t, b, lostAnswer{Warm: true}, &worker.EnqueueOpts{MaxRetries: 3})
			wait(t, b.store, warm.ID, 30*time.Second)
			eventually(t, 10*time.Second, "the warm-up's outcomes", func() bool {
				return b.metrics.outcome(tt.outcome) == 1
			})
			armed.Store(true)

			job := enqueue(ctx, t, b, lostAnswer{}, &worker.EnqueueOpts{MaxRetries: 3})
			var claimed int64
			select {
			case claimed = <-started:
			case <-time.After(30 * time.Second):
				t.Fatal("the job did not start within 30 s")
			}
			close(release)
			// The outcome reaches the node: the job moves on from its claim
			// (a retry or a snooze may be claimed again at once).
			eventually(t, 15*time.Second, "the outcome to apply", func() bool {
				cur, err := b.store.Jobs.Get(ctx, job.ID)
				return err == nil && cur.Version > claimed
			})
			proxy.Sever()
			time.Sleep(time.Second) // the processor's retries fail: no connection
			proxy.Heal()

			eventually(t, 30*time.Second, fmt.Sprintf("outcome %v", tt.outcome), func() bool { return b.metrics.outcome(tt.outcome) == 2 })
			switch tt.state {
			case repo.StateFailed:
				done := wait(t, b.store, job.ID, 30*time.Second)
				if done.State != repo.StateSucceeded || done.RetryCount != 1 || done.LastError != "first attempt fails" {
					t.Errorf("job = %s, %d retries, last error %q; want Succeeded after 1 failed attempt", done.State, done.RetryCount, done.LastError)
				}
			case repo.StateScheduled:
				if done := wait(t, b.store, job.ID, 30*time.Second); done.State != repo.StateSucceeded {
					t.Errorf("job = %s, want Succeeded after its snooze", done.State)
				}
			}
			time.Sleep(500 * time.Millisecond) // a rerun would have started by now
			if n := int(runs.Load()); n != tt.runs {
				t.Errorf("the handler ran %d times, want %d", n, tt.runs)
			}
			got := b.metrics.finished()
			if got[worker.OutcomeLeaseLost] != 0 || got[worker.OutcomeUnrecorded] != 0 {
				t.Errorf("outcomes = %v, want no lease lost and none unrecorded", got)
			}
			if !logs.Logged(slog.LevelDebug, "writing the job's outcome failed; retrying") {
				t.Error("no outcome write failed: the answer was not lost")
			}
			if !logs.Logged(slog.LevelDebug, "an outcome write whose answer was lost had applied") {
				t.Error("the processor did not recognise its own write")
			}
		})
	}
}

// slowOutcome is the argument type of TestOutcomeRetryKeepsLease.
type slowOutcome struct{}

func (slowOutcome) Kind() string { return "slow-outcome" }

// TestOutcomeRetryKeepsLease: the network breaks under every try of a
// handler's outcome write for three leases, while heartbeats go through. The
// worker retries the write with a backoff whose pauses grow past the lease,
// and heartbeats whenever the lease nears its end meanwhile: the lease holds
// for the whole retry, nobody rescues the job, it runs once and its outcome
// is recorded.
func TestOutcomeRetryKeepsLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	b := setup(t)
	store, proxy, logs := proxiedStore(ctx, t, 100*time.Millisecond, 0)

	cfg := b.config(t, 1)
	cfg.Lease = 3 * time.Second // a heartbeat every second
	const faultFor = 9 * time.Second

	// Each try of the outcome's change, once its hints are written, meets a
	// network cut (the proxy severs every connection and refuses new ones):
	// its lightweight transaction fails with a broken connection or no
	// host. The cut heals when the worker reports the try failed, so that
	// the heartbeats between tries go through. (Healing at once would let
	// the driver reconnect before a slow try is sent, and the try pass.)
	var faultUntil atomic.Int64 // unix nanoseconds; set by the first try
	var tries atomic.Int32
	testhook.SetAfterHints(store, func(op string) error {
		if op != "complete" {
			return nil
		}
		faultUntil.CompareAndSwap(0, time.Now().Add(faultFor).UnixNano())
		if time.Now().UnixNano() < faultUntil.Load() {
			tries.Add(1)
			proxy.Sever()
		}
		return nil
	})
	cfg.Logger = slog.New(onLog{logs, "jobsharp: writing the job's outcome failed; retrying", proxy.Heal})

	p := processor(t, store, cfg)
	var runs atomic.Int32
	var returned atomic.Int64
	handle(t, p, func(ctx context.Context, job *worker.Job[slowOutcome]) error {
		runs.Add(1)
		returned.CompareAndSwap(0, time.Now().UnixNano())
		return nil
	}, nil)
	start(t, p)

	job := enqueue(ctx, t, b, slowOutcome{}, nil)
	done := wait(t, b.store, job.ID, 60*time.Second)
	written := time.Now()
	time.Sleep(time.Second) // a rerun after a rescue would have started by now

	if n := runs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once: the lease lapsed while the outcome was retried", n)
	}
	if done.State != repo.StateSucceeded || done.RetryCount != 0 {
		t.Errorf("job = %s after %d retries, want Succeeded at its first attempt", done.State, done.RetryCount)
	}
	if got := b.metrics.finished(); got[worker.OutcomeSucceeded] != 1 || got[worker.OutcomeLeaseLost] != 0 || got[worker.OutcomeUnrecorded] != 0 {
		t.Errorf("outcomes = %v, want one success, no lease lost and none unrecorded", got)
	}
	if n := b.metrics.rescued; n != 0 {
		t.Errorf("%d jobs rescued, want none: the lease held", n)
	}
	// The retry outlasted the lease many times over, and the lease was
	// extended while it went on (each heartbeat is a version).
	if took := written.Sub(time.Unix(0, returned.Load())); took < faultFor || tries.Load() < 3 {
		t.Errorf("the outcome was written %s after the handler returned, after %d failed tries; want the fault to last %s", took, tries.Load(), faultFor)
	}
	if beats := done.Version - job.Version - 2; beats < 3 {
		t.Errorf("job version %d after claim and outcome of version %d: %d heartbeats while the outcome was retried, want at least 3", done.Version, job.Version, beats)
	}
	if !logs.Logged(slog.LevelDebug, "writing the job's outcome failed; retrying") {
		t.Error("no outcome write failed")
	}
}

// onLog is a log handler that calls f whenever message msg is logged,
// before passing the record on.
type onLog struct {
	slog.Handler
	msg string
	f   func()
}

func (h onLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.f()
	}
	return h.Handler.Handle(ctx, r)
}

func (h onLog) WithAttrs(as []slog.Attr) slog.Handler {
	return onLog{h.Handler.WithAttrs(as), h.msg, h.f}
}

func (h onLog) WithGroup(g string) slog.Handler {
	return onLog{h.Handler.WithGroup(g), h.msg, h.f}
}

// lateClaim is the argument type of TestClaimAnsweredAfterItsLease.
type lateClaim struct {
	Warm bool `json:"warm"` // a warm-up job: it runs before the fault
}

func (lateClaim) Kind() string { return "late-claim" }

// lateClaimRun is a processor (lease 1s, no rescuer of its own) whose claim
// of one job has applied and whose answer the proxy holds: the claim's
// lightweight transaction reached the node and applied.
type lateClaimRun struct {
	b       *testBundle
	proxy   *cqltest.Proxy
	logs    *cqltest.LogCapture
	claimed *repo.Job    // the job as the held claim left it
	runs    atomic.Int32 // the handler's runs of the job (not the warm-up)
}

// startLateClaim starts the processor, runs a warm-up job (so the session
// has prepared the claim's statements and the claim's first request on the
// wire is its lightweight transaction), then holds the answers from just
// before the next claim's transaction and waits until it applied. onHint,
// if set, is called for every other change between its hints and its
// transaction, and may fail it.
func startLateClaim(ctx context.Context, t *testing.T, onHint func(op string) error) *lateClaimRun {
	t.Helper()
	lc := &lateClaimRun{b: setup(t)}
	store, proxy, logs := proxiedStore(ctx, t, 0, 0)
	lc.proxy, lc.logs = proxy, logs
	var once sync.Once
	var armed atomic.Bool
	testhook.SetAfterHints(store, func(op string) error {
		if op == "claim" && armed.Load() {
			once.Do(proxy.StallReplies)
			return nil
		}
		if onHint != nil {
			return onHint(op)
		}
		return nil
	})

	cfg := lc.b.config(t, 1)
	cfg.Lease = time.Second
	cfg.RescueInterval = -1 // only the test rescues, through a store of its own
	cfg.Logger = slog.New(logs)
	p := processor(t, store, cfg)
	handle(t, p, func(_ context.Context, job *worker.Job[lateClaim]) error {
		if !job.Args.Warm {
			lc.runs.Add(1)
		}
		return nil
	}, nil)
	start(t, p)

	warm := enqueue(ctx, t, lc.b, lateClaim{Warm: true}, nil)
	wait(t, lc.b.store, warm.ID, 30*time.Second)
	armed.Store(true)

	job := enqueue(ctx, t, lc.b, lateClaim{}, nil)
	eventually(t, 15*time.Second, "the claim to apply", func() bool {
		cur, err := lc.b.store.Jobs.Get(ctx, job.ID)
		if err == nil && cur.State == repo.StateProcessing {
			lc.claimed = cur
			return true
		}
		return false
	})
	return lc
}

// TestClaimAnsweredAfterItsLease: a claim's lightweight transaction
// applies, and its answer is held (as a loaded node or a network fault
// holds it) until the lease it took has run out and another store has
// rescued the job. The processor then holds a job that is no longer its
// own: it confirms the lease by a heartbeat before the handler runs, finds
// it lost, and does not run the handler; the job runs once, from its next
// claim. (In a short run of the fault suite's network cut, six such claims
// ran their handlers, and their jobs ran twice.)
func TestClaimAnsweredAfterItsLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	lc := startLateClaim(ctx, t, nil)
	b, job, runs := lc.b, lc.claimed, &lc.runs
	time.Sleep(time.Until(job.Lease.Until))
	eventually(t, 10*time.Second, "the expired lease to be rescued", func() bool {
		n, err := b.store.Jobs.Rescue(ctx, b.queue)
		return err == nil && n == 1
	})
	lc.proxy.Heal() // the claim's answer arrives, after its lease

	done := wait(t, b.store, job.ID, 30*time.Second)
	time.Sleep(500 * time.Millisecond) // a second run would have begun by now
	if done.State != repo.StateSucceeded {
		t.Errorf("job = %s, want Succeeded", done.State)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once: the claim answered after its lease ran it", n)
	}
	if !lc.logs.Logged(slog.LevelWarn, "the claim's answer came after its lease ran out, and the job was rescued") {
		t.Error("the processor did not find the late claim's lease lost")
	}
	if got := b.metrics.finished(); got[worker.OutcomeLeaseLost] != 1 || got[worker.OutcomeSucceeded] != 2 {
		t.Errorf("outcomes = %v, want 1 lease lost (the late claim) and 2 successes (the warm-up and the job)", got)
	}
}

// TestLateClaimConfirmedAfterFailedHeartbeats: a claim's answer is held
// until its lease has run out, and its lease entry is gone (a claim that
// lands this late may outlive its entry, removed as stale before the claim
// applied), so no rescuer will ever find the job. The heartbeat that
// confirms the late claim then fails three times for a transient reason.
// The processor tries it again until it applies and runs the job once,
// with no lease lost. Before, it gave up at the first failure and left the
// job Processing, to be rescued only through a lease entry: here the one
// the failed heartbeat wrote before its transaction (the injected failure
// comes after the hints), in the fault suite's network cut in CI none, and
// the job stayed Processing.
func TestLateClaimConfirmedAfterFailedHeartbeats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	var late atomic.Bool
	var failedBeats atomic.Int32
	lc := startLateClaim(ctx, t, func(op string) error {
		if op == "heartbeat" && late.Load() && failedBeats.Load() < 3 {
			failedBeats.Add(1)
			return errors.New("injected: the heartbeat's connection broke")
		}
		return nil
	})
	b, job := lc.b, lc.claimed

	// The claim's lease entry is removed, as a scanner removes one it
	// finds stale before the claim has applied.
	if n := cqltest.DeleteLeaseEntries(t, b.queue, job.ID); n != 1 {
		t.Fatalf("the claim's lease entries: %d removed; want one", n)
	}
	time.Sleep(time.Until(job.Lease.Until) + 100*time.Millisecond)
	late.Store(true)
	lc.proxy.Heal() // the claim's answer arrives, after its lease

	done := wait(t, b.store, job.ID, 30*time.Second)
	if done.State != repo.StateSucceeded {
		t.Errorf("job = %s, want Succeeded", done.State)
	}
	if n := failedBeats.Load(); n != 3 {
		t.Errorf("%d heartbeats failed, want 3", n)
	}
	if n := lc.runs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once", n)
	}
	if got := b.metrics.finished(); got[worker.OutcomeLeaseLost] != 0 || got[worker.OutcomeSucceeded] != 2 {
		t.Errorf("outcomes = %v, want 2 successes (the warm-up and the job) and no lease lost", got)
	}
}
