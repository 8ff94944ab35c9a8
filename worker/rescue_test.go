package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

// TestRescuer checks that a processor with no free slot, whose poll loop
// therefore does not claim, still rescues a job whose lease expired.
func TestRescuer(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	cfg := b.config(t, 1)
	cfg.RescueInterval = 200 * time.Millisecond
	p := processor(t, newStore(t, nil), cfg)
	busy, release := make(chan struct{}), make(chan struct{})
	ran := newCounter[string]()
	handle(t, p, func(ctx context.Context, job *worker.Job[work]) error {
		ran.add(string(job.Args))
		if job.Args == "blocker" {
			close(busy)
			<-release
		}
		return nil
	}, nil)
	blocker := enqueue(ctx, t, b, work("blocker"), nil)
	start(t, p)
	<-busy // the only slot is taken: the poll loop waits for it

	// Another process claims a job and dies: its 1s lease runs out.
	orphan := enqueue(ctx, t, b, work("orphan"), &worker.EnqueueOpts{MaxRetries: 3})
	dead := newStore(t, nil)
	if held, err := dead.Jobs.Claim(ctx, &repo.ClaimParams{Queue: b.queue, Owner: "dead", Limit: 1, Lease: time.Second}); err != nil || len(held) != 1 {
		t.Fatalf("Claim() = %d jobs, %v", len(held), err)
	}

	eventually(t, 30*time.Second, "the rescuer to rescue the orphan", func() bool {
		b.metrics.mu.Lock()
		defer b.metrics.mu.Unlock()
		return b.metrics.rescued == 1
	})
	got, err := b.store.Jobs.Get(ctx, orphan.ID)
	if err != nil || got.State != repo.StateFailed || got.RetryCount != 1 || !strings.HasPrefix(got.LastError, `lease of "dead" expired`) {
		t.Fatalf("orphan after the rescue = %+v, %v; want Failed with the dead lease's expiry", got, err)
	}
	if n := ran.get("orphan"); n != 0 {
		t.Fatalf("the orphan ran %d times while the slot was busy", n)
	}

	close(release)
	if done := wait(t, b.store, orphan.ID, time.Minute); done.State != repo.StateSucceeded || ran.get("orphan") != 1 {
		t.Errorf("orphan = %s after %d runs, want Succeeded after 1", done.State, ran.get("orphan"))
	}
	wait(t, b.store, blocker.ID, time.Minute)
}

// TestLogs checks that log lines about a job carry its id, type, queue and
// attempt.
func TestLogs(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	var mu sync.Mutex
	var buf bytes.Buffer
	cfg := b.config(t, 1)
	cfg.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{mu: &mu, w: &buf}, nil))
	p := processor(t, b.store, cfg)
	handle(t, p, func(ctx context.Context, job *worker.Job[report]) error {
		return errors.New("disk full")
	}, nil)
	start(t, p)
	job := enqueue(ctx, t, b, report{}, &worker.EnqueueOpts{MaxRetries: -1})
	wait(t, b.store, job.ID, time.Minute)

	var line map[string]any
	eventually(t, 10*time.Second, "the abandoned job's log line", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, "abandoned") {
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	})
	want := map[string]any{"level": "ERROR", "job_id": job.ID.String(), "job_type": "report", "queue": b.queue, "attempt": 1.0, "err": "disk full"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log line %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// work is a job that names itself.
type work string

func (work) Kind() string { return "work" }
