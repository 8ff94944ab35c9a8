package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
)

// hookFunc is a repo.InsertHook made of a function that edits the jobs; it
// records what the store reports at the end.
type hookFunc struct {
	edit  func([]*repo.Job)
	calls [][]gocql.UUID
	ends  []error
}

func (h *hookFunc) BeforeInsert(ctx context.Context, jobs []*repo.Job) (context.Context, func([]*repo.Job, error)) {
	ids := make([]gocql.UUID, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	h.calls = append(h.calls, ids)
	h.edit(jobs)
	return ctx, func(_ []*repo.Job, err error) { h.ends = append(h.ends, err) }
}

func TestInsertHook(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("MetadataIsStoredWithTheJob", func(t *testing.T) {
		t.Parallel()

		h := &hookFunc{edit: func(jobs []*repo.Job) {
			for _, j := range jobs {
				if j.Metadata == nil {
					j.Metadata = map[string]string{}
				}
				j.Metadata["traced"] = j.ID.String()
			}
		}}
		b := setup(t, &repo.Options{InsertHook: h})
		job := b.insert(ctx, t, &repo.NewJob{Metadata: map[string]string{"k": "v"}})
		many, err := b.store.Jobs.InsertMany(ctx, []*repo.NewJob{{Queue: b.queue, Type: "t"}, {Queue: b.queue, Type: "t"}})
		if err != nil {
			t.Fatalf("InsertMany() error = %v", err)
		}
		for _, j := range append(many, job) {
			got, err := b.store.Jobs.Get(ctx, j.ID)
			if err != nil {
				t.Fatalf("Get() error = %v", err)
			}
			if got.Metadata["traced"] != j.ID.String() {
				t.Errorf("stored metadata = %v, want traced=%s", got.Metadata, j.ID)
			}
		}
		if len(h.calls) != 2 || len(h.calls[0]) != 1 || len(h.calls[1]) != 2 || h.calls[0][0] != job.ID {
			t.Errorf("hook calls = %v, want one with the job's id, then one with two ids", h.calls)
		}
		if len(h.ends) != 2 || h.ends[0] != nil || h.ends[1] != nil {
			t.Errorf("hook ends = %v, want two nil errors", h.ends)
		}
	})

	t.Run("OversizedMetadataStoresNothing", func(t *testing.T) {
		t.Parallel()

		h := &hookFunc{edit: func(jobs []*repo.Job) {
			for _, j := range jobs {
				j.Metadata = map[string]string{"big": strings.Repeat("x", 65<<10)}
			}
		}}
		b := setup(t, &repo.Options{InsertHook: h})
		_, err := b.store.Jobs.Insert(ctx, &repo.NewJob{Queue: b.queue, Type: "t"})
		if !errors.Is(err, repo.ErrInvalid) || !strings.Contains(err.Error(), "Options.InsertHook") {
			t.Fatalf("Insert() error = %v, want ErrInvalid naming the hook", err)
		}
		if len(h.ends) != 1 || !errors.Is(h.ends[0], repo.ErrInvalid) {
			t.Errorf("hook ends = %v, want the error", h.ends)
		}
		if _, err := b.store.Jobs.Get(ctx, h.calls[0][0]); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("Get() of the refused job: error = %v, want ErrNotFound", err)
		}
	})
}
