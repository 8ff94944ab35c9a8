package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/jobsharp/cassandra/repo"
)

func TestJobsInsert(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("StoredAsGiven", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		at := b.clock.Now().Add(time.Hour).Add(123456 * time.Nanosecond)
		job := b.insert(ctx, t, &repo.NewJob{Type: "email.send", Args: []byte(`{"to":"a@b"}`), ScheduledAt: at, MaxRetries: 3, Metadata: map[string]string{"k": "v"}})

		got, err := b.store.Jobs.Get(ctx, job.ID)
		if err != nil {
			t.Fatalf("Get() error = %v", err)
		}
		if diff := cmp.Diff(job, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Get() (-inserted +got):\n%s", diff)
		}
		want := at.UTC().Truncate(time.Millisecond)
		if !got.ScheduledAt.Equal(want) || got.ScheduledAt.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("ScheduledAt = %v, want %v (milliseconds)", got.ScheduledAt, want)
		}
		if got.State != repo.StateScheduled || got.Version != 1 || got.MaxRetries != 3 || got.Queue != b.queue {
			t.Errorf("got state %s version %d max retries %d queue %q", got.State, got.Version, got.MaxRetries, got.Queue)
		}
		if n := b.count(ctx, t, repo.StateScheduled); n != 1 {
			t.Errorf("Count(Scheduled) = %d, want 1", n)
		}
	})

	t.Run("RetriedInsertIsIdempotent", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		id := b.newID(ctx, t)
		first := b.insert(ctx, t, &repo.NewJob{ID: id, Args: []byte("x")})
		again := b.insert(ctx, t, &repo.NewJob{ID: id, Args: []byte("x")})
		if again.Version != first.Version || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("second Insert() returned %+v, want the stored job", again)
		}
		_, err := b.store.Jobs.Insert(ctx, &repo.NewJob{ID: id, Queue: b.queue, Type: "test.job", Args: []byte("other")})
		if !errors.Is(err, repo.ErrExists) {
			t.Errorf("Insert() with another job's id: error = %v, want ErrExists", err)
		}
		if n := b.count(ctx, t, repo.StateScheduled); n != 1 {
			t.Errorf("Count(Scheduled) = %d, want 1", n)
		}
	})

	t.Run("BadInputWritesNothing", func(t *testing.T) {
		t.Parallel()

		b := setup(t, &repo.Options{MaxArgsBytes: 16})
		id := b.newID(ctx, t)
		tests := map[string]struct {
			job   *repo.NewJob
			field string
		}{
			"Nil":              {nil, "job"},
			"EmptyType":        {&repo.NewJob{ID: id, Queue: b.queue}, "type"},
			"LongType":         {&repo.NewJob{ID: id, Queue: b.queue, Type: strings.Repeat("t", 256)}, "type"},
			"ArgsTooLarge":     {&repo.NewJob{ID: id, Queue: b.queue, Type: "t", Args: make([]byte, 17)}, "args"},
			"BadQueue":         {&repo.NewJob{ID: id, Queue: "no spaces", Type: "t"}, "queue"},
			"LongQueue":        {&repo.NewJob{ID: id, Queue: strings.Repeat("q", 65), Type: "t"}, "queue"},
			"TooManyRetries":   {&repo.NewJob{ID: id, Queue: b.queue, Type: "t", MaxRetries: 1001}, "max retries"},
			"EmptyMetadataKey": {&repo.NewJob{ID: id, Queue: b.queue, Type: "t", Metadata: map[string]string{"": "v"}}, "metadata"},
			"ForeignID":        {&repo.NewJob{ID: gocql.MustRandomUUID(), Queue: b.queue, Type: "t"}, "id"},
			"IDOfAnotherQueue": {&repo.NewJob{ID: id, Queue: "other-" + b.queue, Type: "t"}, "id"},
			"AfterYear9999":    {&repo.NewJob{Queue: b.queue, Type: "t", ScheduledAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "scheduled at"},
		}
		for name, tt := range tests {
			_, err := b.store.Jobs.Insert(ctx, tt.job)
			var verr *repo.ValidationError
			if !errors.Is(err, repo.ErrInvalid) || !errors.As(err, &verr) || verr.Field != tt.field {
				t.Errorf("%s: Insert() error = %v, want a ValidationError of field %q", name, err, tt.field)
			}
		}
		if _, err := b.store.Jobs.Get(ctx, id); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("Get() after rejected inserts: error = %v, want ErrNotFound", err)
		}
		due, err := b.store.Jobs.ListDue(ctx, b.queue, 10)
		if err != nil || len(due) != 0 {
			t.Errorf("ListDue() = %d jobs, %v; want none written", len(due), err)
		}
	})

	t.Run("ManyAtOnce", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		var njs []*repo.NewJob
		for i := 0; i < 500; i++ {
			njs = append(njs, &repo.NewJob{Queue: b.queue, Type: "bulk", Args: []byte{byte(i)}})
		}
		jobs, err := b.store.Jobs.InsertMany(ctx, njs)
		if err != nil || len(jobs) != 500 {
			t.Fatalf("InsertMany() = %d jobs, %v", len(jobs), err)
		}
		if n := b.count(ctx, t, repo.StateScheduled); n != 500 {
			t.Errorf("Count(Scheduled) = %d, want 500", n)
		}
		due, err := b.store.Jobs.ListDue(ctx, b.queue, 1000)
		if err != nil || len(due) != 500 {
			t.Errorf("ListDue() = %d jobs, %v; want 500", len(due), err)
		}
	})
}

func TestEmptyIDsAreRejected(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t, nil)
	var zero gocql.UUID
	calls := map[string]func() error{
		"Get":     func() error { _, err := b.store.Jobs.Get(ctx, zero); return err },
		"Delete":  func() error { return b.store.Jobs.Delete(ctx, zero) },
		"Cancel":  func() error { _, err := b.store.Jobs.Cancel(ctx, zero); return err },
		"Requeue": func() error { _, err := b.store.Jobs.Requeue(ctx, zero, time.Time{}); return err },
		"InsertContinuation": func() error {
			_, err := b.store.Jobs.InsertContinuation(ctx, zero, &repo.NewJob{Type: "t"})
			return err
		},
		"Continuations": func() error { _, err := b.store.Jobs.Continuations(ctx, zero); return err },
		"BatchJobs":     func() error { _, err := b.store.Batches.Jobs(ctx, zero); return err },
		"BatchStatus":   func() error { _, err := b.store.Batches.Status(ctx, zero); return err },
		"BatchContinuation": func() error {
			_, err := b.store.Batches.InsertContinuation(ctx, zero, &repo.NewJob{Type: "t"})
			return err
		},
	}
	for name, call := range calls {
		var verr *repo.ValidationError
		if err := call(); !errors.As(err, &verr) {
			t.Errorf("%s(zero id) error = %v, want a ValidationError", name, err)
		}
	}
}
