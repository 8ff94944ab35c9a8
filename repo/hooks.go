package repo

import "context"

// InsertHook observes the store's inserts, so that a package beside the
// store can trace them without the store depending on it: the oteljobs
// package makes one producer span per insert call and puts its trace context
// in the jobs' metadata.
type InsertHook interface {
	// BeforeInsert is called once per insert call ([Jobs.Insert],
	// [Jobs.InsertMany], [Jobs.InsertContinuation], [Batches.Insert],
	// [Batches.InsertContinuation], and each occurrence [Recurring.Fire]
	// stores) that has jobs, with the jobs validated and their ids set,
	// before anything is written. It may add entries to the jobs' Metadata: they are stored in
	// the same statements as the jobs (no statement more), and checked
	// against the metadata limit again. It returns the context the insert
	// runs in and a function the store calls once, when the insert has
	// ended, with the jobs stored and the error (nil on success).
	BeforeInsert(ctx context.Context, jobs []*Job) (context.Context, func(stored []*Job, err error))
}
