package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jobsharp/cassandra/repo"
)

// ClaimResult is claim throughput with a number of workers racing for one
// backlog, per contender.
type ClaimResult struct {
	Workers int `json:"workers"`
	// ClaimsPerS is distinct jobs claimed per second, up to the last claim.
	ClaimsPerS map[string]*Stat `json:"claims_per_s"`
	// DoubleClaims is the number of jobs claimed by more than one worker
	// (or twice by one) in a run.
	DoubleClaims map[string]*Stat `json:"double_claims"`
	// Unclaimed is the number of backlog jobs no worker claimed before every
	// worker gave up (found nothing several times) or the window ended.
	Unclaimed map[string]*Stat `json:"unclaimed"`
	// RTs is the statements per distinct job claimed.
	RTs map[string]RoundTrips `json:"round_trips_per_claim"`
}

// claimLedger records who claimed what.
type claimLedger struct {
	mu     sync.Mutex
	claims map[string]int
	last   time.Time
}

func (l *claimLedger) add(ids ...string) (distinct int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.claims[id]++
	}
	if len(ids) > 0 {
		l.last = time.Now()
	}
	return len(l.claims)
}

func (l *claimLedger) result() (distinct, double int, last time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.claims {
		if n > 1 {
			double++
		}
	}
	return len(l.claims), double, l.last
}

// claimWorkerGiveUp is the number of empty polls in a row after which a
// worker stops; claimPollPause is the pause after an empty poll.
const (
	claimWorkerGiveUp = 5
	claimPollPause    = 20 * time.Millisecond
)

// race runs workers that call poll until the backlog is claimed, each has
// found nothing claimWorkerGiveUp times in a row, or the window ends.
func race(ctx context.Context, workers, backlog int, window time.Duration, poll func(ctx context.Context, worker int) ([]string, error)) (*claimLedger, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	l := &claimLedger{claims: map[string]int{}}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			empty := 0
			for ctx.Err() == nil && empty < claimWorkerGiveUp {
				ids, err := poll(ctx, w)
				if err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, err)
						mu.Unlock()
					}
					return
				}
				if l.add(ids...) >= backlog {
					cancel()
					return
				}
				if len(ids) == 0 {
					empty++
					time.Sleep(claimPollPause)
				} else {
					empty = 0
				}
			}
		})
	}
	wg.Wait()
	return l, start, firstErr
}

func (e *env) runClaim(ctx context.Context, rep *Report) error {
	cfg := e.cfg
	var results []*ClaimResult
	for _, w := range cfg.ClaimWorkers {
		results = append(results, &ClaimResult{Workers: w,
			ClaimsPerS:   map[string]*Stat{Ours: {}, Orig: {}},
			DoubleClaims: map[string]*Stat{Ours: {}, Orig: {}},
			Unclaimed:    map[string]*Stat{Ours: {}, Orig: {}},
			RTs:          map[string]RoundTrips{},
		})
	}
	for r := 0; r < cfg.ClaimReps; r++ {
		for i, res := range results {
			for _, c := range rotate([]string{Ours, Orig}, r+i) {
				var (
					l     *claimLedger
					start time.Time
					err   error
					snap  snapshot
					n     *counter
				)
				switch c {
				case Ours:
					n = e.oursN
					l, start, snap, err = e.claimOurs(ctx, res.Workers, n)
				case Orig:
					n = e.origN
					l, start, snap, err = e.claimOriginal(ctx, res.Workers, n)
				}
				if err != nil {
					return fmt.Errorf("%s, %d workers: %w", c, res.Workers, err)
				}
				distinct, double, last := l.result()
				rate := 0.0
				if distinct > 0 {
					rate = float64(distinct) / last.Sub(start).Seconds()
				}
				res.ClaimsPerS[c].add(rate)
				res.DoubleClaims[c].add(float64(double))
				res.Unclaimed[c].add(float64(cfg.ClaimBacklog - distinct))
				res.RTs[c] = n.since(snap, max(distinct, 1))
				e.logf("claim: rep %d/%d, %d workers, %s: %d claimed (%.0f/s), %d claimed twice, %d left", r+1, cfg.ClaimReps, res.Workers, c, distinct, rate, double, cfg.ClaimBacklog-distinct)
			}
		}
	}
	rep.Claim = results
	return nil
}

// claimOurs fills a fresh queue with the backlog and races workers, each
// with its own store (its own scan cursor, as a separate process).
func (e *env) claimOurs(ctx context.Context, workers int, n *counter) (*claimLedger, time.Time, snapshot, error) {
	q := e.queue("claim")
	setupStore := e.store()
	for left := e.cfg.ClaimBacklog; left > 0; left -= 1000 {
		njs := make([]*repo.NewJob, min(left, 1000))
		for i := range njs {
			njs[i] = &repo.NewJob{Queue: q, Type: jobType, Args: []byte(jobsArgs)}
		}
		if _, err := setupStore.Jobs.InsertMany(ctx, njs); err != nil {
			return nil, time.Time{}, snapshot{}, err
		}
	}
	stores := make([]*repo.Store, workers)
	for i := range stores {
		stores[i] = e.store()
	}
	snap := n.snapshot()
	l, start, err := race(ctx, workers, e.cfg.ClaimBacklog, e.cfg.ClaimWindow, func(ctx context.Context, w int) ([]string, error) {
		jobs, err := stores[w].Jobs.Claim(ctx, &repo.ClaimParams{Queue: q, Owner: fmt.Sprintf("worker-%d", w), Limit: e.cfg.ClaimLimit})
		ids := make([]string, len(jobs))
		for i, j := range jobs {
			ids[i] = j.ID.String()
		}
		return ids, err
	})
	return l, start, snap, err
}

// claimOriginal empties the original's scheduled index, stores the backlog, and
// races workers that do what JobSharp's processor does with the original
// storage: read scheduled jobs, then write each as Processing.
func (e *env) claimOriginal(ctx context.Context, workers int, n *counter) (*claimLedger, time.Time, snapshot, error) {
	// Only the scheduled index needs emptying: the original finds jobs
	// through it alone. (TRUNCATE is slow on a loaded node.)
	if err := e.orig.Query("TRUNCATE scheduled_jobs").WithContext(ctx).Exec(); err != nil {
		return nil, time.Time{}, snapshot{}, fmt.Errorf("truncate the original's scheduled_jobs: %w", err)
	}
	o := e.original()
	for left := e.cfg.ClaimBacklog; left > 0; left -= 1000 {
		jobs := make([]*OriginalJob, min(left, 1000))
		for i := range jobs {
			jobs[i] = o.newJob(jobType, jobsArgs)
		}
		if err := o.StoreBatch(ctx, jobs); err != nil {
			return nil, time.Time{}, snapshot{}, err
		}
	}
	snap := n.snapshot()
	l, start, err := race(ctx, workers, e.cfg.ClaimBacklog, e.cfg.ClaimWindow, func(ctx context.Context, w int) ([]string, error) {
		return o.claim(ctx, e.cfg.ClaimLimit)
	})
	return l, start, snap, err
}

// claim is how a JobSharp worker takes jobs with the original storage:
// GetScheduledJobs, then UpdateJob to Processing for each, up to
// claimConcurrency at once. Nothing stops two workers from taking the same
// job between the read and the write.
func (o *Original) claim(ctx context.Context, limit int) ([]string, error) {
	jobs, err := o.GetScheduledJobs(ctx, limit)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(jobs))
	err = parallel(ctx, len(jobs), claimConcurrency, func(ctx context.Context, i int) error {
		j := jobs[i]
		j.State = origProcessing
		j.ExecutedAt = o.now()
		if err := o.UpdateJob(ctx, j); err != nil {
			return err
		}
		ids[i] = j.ID
		return nil
	})
	return ids, err
}

// claimConcurrency is how many jobs of one poll the original's worker
// writes at once: the number of due entries our store resolves at once.
const claimConcurrency = 16
