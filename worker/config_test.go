package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()

	store := newStore(t, nil)
	for _, tc := range []struct {
		name    string
		cfg     *worker.Config
		wantErr string // "" means valid
	}{
		{name: "NilMeansDefaults", cfg: nil},
		{name: "Zero", cfg: &worker.Config{}},
		{name: "ShortLease", cfg: &worker.Config{Lease: 500 * time.Millisecond}, wantErr: "Lease must be between 1s and 24h, got 500ms"},
		{name: "HeartbeatNotBelowLease", cfg: &worker.Config{Lease: 2 * time.Second, HeartbeatInterval: 2 * time.Second}, wantErr: "HeartbeatInterval must be at least 10ms and less than Lease (2s), got 2s"},
		{name: "TinyPoll", cfg: &worker.Config{PollInterval: time.Millisecond}, wantErr: "PollInterval must be between 10ms and 1h, got 1ms"},
		{name: "CooldownAbovePoll", cfg: &worker.Config{PollInterval: 100 * time.Millisecond, ClaimCooldown: time.Second}, wantErr: "ClaimCooldown must not exceed PollInterval (100ms), got 1s"},
		{name: "BadQueueName", cfg: &worker.Config{Queues: map[string]worker.QueueConfig{"no spaces": {}}}, wantErr: `Queues: name "no spaces" must be 1 to 64 letters, digits or _.:-`},
		{name: "NegativeMaxWorkers", cfg: &worker.Config{Queues: map[string]worker.QueueConfig{"q": {MaxWorkers: -1}}}, wantErr: `Queues["q"].MaxWorkers must be between 1 and 10,000, got -1`},
		{name: "NegativeJobTimeout", cfg: &worker.Config{JobTimeout: -time.Second}, wantErr: "JobTimeout must not be negative, got -1s"},
		{name: "FastRescuer", cfg: &worker.Config{RescueInterval: time.Millisecond}, wantErr: "RescueInterval must be at least 100ms (or negative: off), got 1ms"},
		{name: "RescuerOff", cfg: &worker.Config{RescueInterval: -1, ScheduleInterval: -1}},
		{name: "UnknownMissedPolicy", cfg: &worker.Config{MissedOccurrences: 7}, wantErr: "MissedOccurrences must be FireLatest, FireAll or SkipMissed, got 7"},
		{name: "FastReports", cfg: &worker.Config{ReportInterval: 10 * time.Millisecond}, wantErr: "ReportInterval must be between 100ms and 10m (or negative: off), got 10ms"},
		{name: "TTLNotAboveReports", cfg: &worker.Config{ReportInterval: 5 * time.Second, ReportTTL: 5 * time.Second}, wantErr: "ReportTTL must be between 1s and 1h and more than ReportInterval (5s), got 5s"},
		{name: "TTLRoundedUp", cfg: &worker.Config{ReportInterval: 200 * time.Millisecond, ReportTTL: 300 * time.Millisecond}},
		{name: "ReportsOff", cfg: &worker.Config{ReportInterval: -1}},
		{name: "SharedSlots", cfg: &worker.Config{MaxWorkers: 8, Priority: worker.PriorityStrict, Queues: map[string]worker.QueueConfig{"a": {Weight: 2}, "b": {MaxWorkers: 2}}}},
		{name: "SharedSlotsTooMany", cfg: &worker.Config{MaxWorkers: 10_001}, wantErr: "MaxWorkers must be between 1 and 10,000 (or 0: no slots shared), got 10001"},
		{name: "UnknownPriority", cfg: &worker.Config{MaxWorkers: 4, Priority: 9}, wantErr: "Priority must be PriorityWeighted or PriorityStrict, got Priority(9)"},
		{name: "StrictWithoutSharedSlots", cfg: &worker.Config{Priority: worker.PriorityStrict}, wantErr: "Priority strict needs MaxWorkers: priority orders queues that share slots"},
		{name: "WeightWithoutSharedSlots", cfg: &worker.Config{Queues: map[string]worker.QueueConfig{"q": {Weight: 3}}}, wantErr: `Queues["q"].Weight needs MaxWorkers: weights order queues that share slots`},
		{name: "WeightTooBig", cfg: &worker.Config{MaxWorkers: 4, Queues: map[string]worker.QueueConfig{"q": {Weight: 1001}}}, wantErr: `Queues["q"].Weight must be between 1 and 1,000, got 1001`},
		{name: "LongOwner", cfg: &worker.Config{Owner: strings.Repeat("x", 256)}, wantErr: "Owner must be at most 255 bytes, got 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			p, err := worker.New(store, tc.cfg)
			if tc.wantErr == "" {
				if err != nil || p == nil {
					t.Fatalf("New() = %v, %v; want a processor", p, err)
				}
				return
			}
			if !errors.Is(err, repo.ErrInvalidConfig) || !strings.HasSuffix(err.Error(), tc.wantErr) {
				t.Errorf("New() error = %v, want ErrInvalidConfig ending in %q", err, tc.wantErr)
			}
		})
	}

	t.Run("NilStore", func(t *testing.T) {
		t.Parallel()

		if _, err := worker.New(nil, nil); !errors.Is(err, repo.ErrInvalidConfig) {
			t.Errorf("New(nil) error = %v, want ErrInvalidConfig", err)
		}
	})

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()

		p, err := worker.New(store, nil)
		if err != nil {
			t.Fatalf("New() error = %v", err)
		}
		if got := p.Queues(); len(got) != 1 || got[0] != repo.DefaultQueue {
			t.Errorf("Queues() = %v, want [default]", got)
		}
		if p.Owner() == "" {
			t.Error("Owner() is empty, want host:pid:random")
		}
	})
}

func TestHandleValidates(t *testing.T) {
	t.Parallel()

	p, err := worker.New(newStore(t, nil), nil)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	if err := worker.Handle(p, func(context.Context, *worker.Job[tArgs]) error { return nil }, nil); err != nil {
		t.Fatalf("Handle(t) error = %v", err)
	}
	err = worker.Handle(p, func(context.Context, *worker.Job[noKind]) error { return nil }, nil)
	if want := "jobsharp: invalid job type: empty"; !errors.Is(err, repo.ErrInvalid) || err.Error() != want {
		t.Errorf("Handle() of a type whose Kind is empty: error = %v, want ErrInvalid %q", err, want)
	}
	noop := func(context.Context, *worker.Job[[]byte]) error { return nil }
	for _, tc := range []struct {
		name, jobType string
		fn            func(context.Context, *worker.Job[[]byte]) error
		wantErr       string
	}{
		{name: "EmptyType", jobType: "", fn: noop, wantErr: "jobsharp: invalid job type: empty"},
		{name: "LongType", jobType: strings.Repeat("t", 256), fn: noop, wantErr: "jobsharp: invalid job type: 256 bytes, more than 255"},
		{name: "NilFunc", jobType: "b", fn: nil, wantErr: `jobsharp: invalid handler: nil function for job type "b"`},
		{name: "Duplicate", jobType: "t", fn: noop, wantErr: `jobsharp: invalid job type: "t" has a handler already`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := worker.HandleRaw(p, tc.jobType, tc.fn, nil)
			if !errors.Is(err, repo.ErrInvalid) || err.Error() != tc.wantErr {
				t.Errorf("Handle() error = %v, want ErrInvalid %q", err, tc.wantErr)
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	t.Parallel()

	b := setup(t)
	p := processor(t, b.store, b.config(t, 1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results := make(chan error, 2)
	for range 2 {
		go func() { results <- p.Run(ctx) }()
	}
	// One of the two calls runs; the other returns at once.
	select {
	case err := <-results:
		if !errors.Is(err, worker.ErrRunning) {
			t.Errorf("concurrent Run() error = %v, want ErrRunning", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("neither Run() call returned ErrRunning")
	}
	cancel()
	if err := <-results; err != nil {
		t.Errorf("Run() error = %v after its context ended, want nil", err)
	}
	if err := p.Run(context.Background()); !errors.Is(err, worker.ErrRunning) {
		t.Errorf("Run() after a stop: error = %v, want ErrRunning", err)
	}
}

func TestEnqueueValidates(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	if _, err := worker.Enqueue(ctx, b.store, noKind{}, nil); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("Enqueue(empty type) error = %v, want ErrInvalid", err)
	}
	if _, err := worker.Enqueue(ctx, b.store, unencodable{}, nil); err == nil || !strings.Contains(err.Error(), "encode arguments of t job") {
		t.Errorf("Enqueue(unencodable args) error = %v, want an encoding error", err)
	}
	if _, err := worker.EnqueueMany(ctx, b.store, []tArgs{1, 2}, &worker.EnqueueOpts{ID: [16]byte{1}}); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("EnqueueMany(one ID for two jobs) error = %v, want ErrInvalid", err)
	}
	if _, err := worker.EnqueueAfter(ctx, b.store, [16]byte{9}, tArgs(1), &worker.EnqueueOpts{Queue: b.queue}); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("EnqueueAfter(unknown parent) error = %v, want ErrNotFound", err)
	}
	if _, err := worker.Schedule(ctx, b.store, b.queue, "every tuesday", tArgs(1), nil); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("Schedule(bad cron) error = %v, want ErrInvalid", err)
	}

	// The same id, type and arguments: the stored job comes back, once.
	id, err := b.store.Jobs.NewID(ctx, b.queue, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := worker.Enqueue(ctx, b.store, tArgs(42), &worker.EnqueueOpts{ID: id, Queue: b.queue})
	if err != nil {
		t.Fatalf("Enqueue() error = %v", err)
	}
	again, err := worker.Enqueue(ctx, b.store, tArgs(42), &worker.EnqueueOpts{ID: id, Queue: b.queue})
	if err != nil || again.ID != first.ID || again.CreatedAt != first.CreatedAt {
		t.Errorf("Enqueue() again = %v, %v; want the stored job", again, err)
	}
	if _, err := worker.Enqueue(ctx, b.store, tArgs(43), &worker.EnqueueOpts{ID: id, Queue: b.queue}); !errors.Is(err, repo.ErrExists) {
		t.Errorf("Enqueue() with the id of another job: error = %v, want ErrExists", err)
	}
}

// tArgs is an int argument of kind "t".
type tArgs int

func (tArgs) Kind() string { return "t" }

// noKind is an argument type whose Kind is empty.
type noKind struct{}

func (noKind) Kind() string { return "" }

// unencodable has a field JSON cannot encode.
type unencodable struct{ F func() }

func (unencodable) Kind() string { return "t" }
