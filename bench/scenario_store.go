package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jobsharp/cassandra/repo"
)

// Contender names.
const (
	Ours     = "ours"
	Raw      = "raw gocql"
	Orig     = "original"
	jobType  = "email.send"
	jobsArgs = `{"to":"user@example.com","template":"welcome","n":12345}`
)

// StoreResult is jobs stored per second in one way of storing, per
// contender.
type StoreResult struct {
	// Mode is "one by one" or "batch of N".
	Mode      string                `json:"mode"`
	JobsPerS  map[string]*Stat      `json:"jobs_per_s"`
	PerJobRTs map[string]RoundTrips `json:"round_trips_per_job"`
}

// rotate returns xs rotated left by n, so that each repetition starts with
// another contender. With two contenders that alternates the order; with
// more, the cyclic order stays (each one always follows the same other):
// use balanced instead where a contender's load can linger.
func rotate[T any](xs []T, n int) []T {
	n %= len(xs)
	return append(append([]T{}, xs[n:]...), xs[:n]...)
}

// balanced returns the order of repetition n: the rotations, then the
// rotations of the reverse, so that over 2×len(xs) repetitions each
// contender comes first, and (for three) directly after each other one,
// equally often. Storing leaves work behind on the node (flushes, the
// original's burst of a thousand writes at once), and a contender that
// always came after the same one would pay for it every time.
func balanced[T any](xs []T, n int) []T {
	if (n/len(xs))%2 == 1 {
		xs = slices.Clone(xs)
		slices.Reverse(xs)
	}
	return rotate(xs, n%len(xs))
}

func (e *env) runStore(ctx context.Context, rep *Report) error {
	cfg := e.cfg
	ours, oursQ := e.store(), e.queue("store-ours")
	raw := newRawStore(e.raw, e.clock.Now, e.queue("store-raw"))
	orig := e.original()
	one := &StoreResult{Mode: "one by one", JobsPerS: map[string]*Stat{}, PerJobRTs: map[string]RoundTrips{}}
	batch := &StoreResult{Mode: fmt.Sprintf("batches of %d", cfg.StoreBatch), JobsPerS: map[string]*Stat{}, PerJobRTs: map[string]RoundTrips{}}
	for _, c := range []string{Ours, Raw, Orig} {
		one.JobsPerS[c], batch.JobsPerS[c] = &Stat{}, &Stat{}
	}
	counters := map[string]*counter{Ours: e.oursN, Raw: e.rawN, Orig: e.origN}

	// Warm up: prepare statements, write the directory rows.
	if _, err := ours.Jobs.Insert(ctx, &repo.NewJob{Queue: oursQ, Type: jobType, Args: []byte(jobsArgs)}); err != nil {
		return err
	}
	if err := raw.insert(ctx, raw.newJob(jobType, []byte(jobsArgs))); err != nil {
		return err
	}
	if err := orig.StoreJob(ctx, orig.newJob(jobType, jobsArgs)); err != nil {
		return err
	}

	oneByOne := map[string]func(ctx context.Context) error{
		Ours: func(ctx context.Context) error {
			_, err := ours.Jobs.Insert(ctx, &repo.NewJob{Queue: oursQ, Type: jobType, Args: []byte(jobsArgs)})
			return err
		},
		Raw:  func(ctx context.Context) error { return raw.insert(ctx, raw.newJob(jobType, []byte(jobsArgs))) },
		Orig: func(ctx context.Context) error { return orig.StoreJob(ctx, orig.newJob(jobType, jobsArgs)) },
	}
	// Batches are built before the clock starts: building is the caller's.
	batched := map[string]func(ctx context.Context) (func() error, error){
		Ours: func(ctx context.Context) (func() error, error) {
			njs := make([]*repo.NewJob, cfg.StoreBatch)
			for i := range njs {
				njs[i] = &repo.NewJob{Queue: oursQ, Type: jobType, Args: []byte(jobsArgs)}
			}
			return func() error { _, err := ours.Jobs.InsertMany(ctx, njs); return err }, nil
		},
		Raw: func(ctx context.Context) (func() error, error) {
			jobs := make([]rawJob, cfg.StoreBatch)
			for i := range jobs {
				jobs[i] = raw.newJob(jobType, []byte(jobsArgs))
			}
			return func() error { return raw.insertMany(ctx, jobs) }, nil
		},
		Orig: func(ctx context.Context) (func() error, error) {
			jobs := make([]*OriginalJob, cfg.StoreBatch)
			for i := range jobs {
				jobs[i] = orig.newJob(jobType, jobsArgs)
			}
			return func() error { return orig.StoreBatch(ctx, jobs) }, nil
		},
	}

	for r := 0; r < cfg.Reps; r++ {
		for _, c := range balanced([]string{Ours, Raw, Orig}, r) {
			snap := counters[c].snapshot()
			start := time.Now()
			for i := 0; i < cfg.StoreOneByOne; i++ {
				if err := oneByOne[c](ctx); err != nil {
					return fmt.Errorf("%s: store one by one: %w", c, err)
				}
			}
			one.JobsPerS[c].add(float64(cfg.StoreOneByOne) / time.Since(start).Seconds())
			one.PerJobRTs[c] = counters[c].since(snap, cfg.StoreOneByOne)
		}
		for _, c := range balanced([]string{Raw, Orig, Ours}, r) {
			var took time.Duration
			snap := counters[c].snapshot()
			for b := 0; b < cfg.StoreBatches; b++ {
				run, err := batched[c](ctx)
				if err != nil {
					return err
				}
				start := time.Now()
				if err := run(); err != nil {
					return fmt.Errorf("%s: store a batch: %w", c, err)
				}
				took += time.Since(start)
			}
			n := cfg.StoreBatch * cfg.StoreBatches
			batch.JobsPerS[c].add(float64(n) / took.Seconds())
			batch.PerJobRTs[c] = counters[c].since(snap, n)
		}
		e.logf("store: rep %d/%d: one by one %s; batches %s", r+1, cfg.Reps, fmtRates(one.JobsPerS), fmtRates(batch.JobsPerS))
	}
	rep.Store = []*StoreResult{one, batch}
	return nil
}

func fmtRates(m map[string]*Stat) string {
	s := ""
	for _, c := range []string{Ours, Raw, Orig} {
		if st := m[c]; st != nil && len(st.Samples) > 0 {
			s += fmt.Sprintf(" %s %.0f/s", c, st.Samples[len(st.Samples)-1])
		}
	}
	return s
}
