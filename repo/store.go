package repo

import (
	"context"
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"
	"github.com/scylladb/gocqlx/v2"

	"github.com/jobsharp/cassandra/queries"
)

// Store is the job store on one keyspace. It is safe for concurrent use; make
// one per process and share it.
type Store struct {
	session gocqlx.Session
	db      *queries.DB // every statement runs through its typed methods
	set     settings
	owns    bool // Close closes the session
	conn    connInfo
	owner   string // names this store in leases (the count sweeper's)
	salt    uint64 // spreads this store's new jobs over sub-shards

	dueDirs, stateDirs dirCache
	homeDirsMu         sync.Mutex
	homeDirs           map[homeDirKey]time.Time
	queues             queueNumbers

	scanMu   sync.Mutex
	scanners map[string]*scanner

	commits groupCommit[homeRef, change]      // conditional batches per home partition
	settles groupCommit[struct{}, settleItem] // finished jobs settled together
	leases  leaseTracker
	counts  countFolder

	// afterHints, when set (by tests), runs between a change's hints and its
	// lightweight transaction; an error stops the change there, as a crash
	// would.
	afterHints func(op string) error
	// afterBatch, when set (by tests), runs after a change's batch applied
	// and before what follows from it (removing hints, settling); an error
	// stops the change there, as a crash would.
	afterBatch func(op string) error

	// Jobs stores, reads, claims and changes jobs.
	Jobs *Jobs
	// Batches stores jobs created together and reports on them.
	Batches *Batches
	// Recurring stores cron schedules and turns their occurrences into jobs.
	Recurring *Recurring
	// Queues lists, pauses and resumes queues.
	Queues *Queues
	// Processors is the registry of running processors.
	Processors *Processors
}

// New returns a store on a session the caller built (the fourth of the
// original's configuration forms: a session from the user's own factory).
// The session's keyspace must hold the schema (`jobsharp schema apply`). The
// caller keeps ownership of the session; call Close when done with the
// store all the same (it folds the counts of what it changed). opts may be
// nil. A nil session is refused with an error matching both ErrInvalid and
// ErrInvalidConfig ([InvalidArgument]); bad options with ErrInvalidConfig.
func New(session gocqlx.Session, opts *Options) (*Store, error) {
	if session.Session == nil {
		return nil, InvalidArgument("session", "nil (open one with gocqlx.WrapSession)")
	}
	set, err := opts.settings()
	if err != nil {
		return nil, err
	}
	s := &Store{session: session, db: queries.New(session.Session).WithSerialConsistency(set.serial), set: set, scanners: make(map[string]*scanner)}
	s.owner = randomID().String()
	s.salt = mrand.Uint64()
	s.commits.exec = s.commitBatch
	s.commits.limit = batchLimit
	s.settles.exec = s.settleBatch
	s.settles.limit = func(items []*settleItem) int { return min(len(items), 100) }
	s.settles.linger = settleLinger
	s.counts.s = s
	s.Jobs = &Jobs{s: s}
	s.Batches = &Batches{s: s}
	s.Recurring = &Recurring{s: s}
	s.Queues = &Queues{s: s}
	s.Processors = &Processors{s: s}
	return s, nil
}

// Session returns the session the store uses.
func (s *Store) Session() gocqlx.Session {
	if s == nil {
		return gocqlx.Session{}
	}
	return s.session
}

// Close folds the counts of what this store changed and stops its
// background folding, then closes the session if the store opened it
// (Connect, ConnectCluster). When the store changed jobs in the last
// moments, Close waits until its marks of those hours run out (up to
// 2×FoldInterval+1 s, 3 s by default) and folds them again, so their
// counts are settled when it returns rather than at the next sweep (not
// with a clock of its own, Options.Now).
func (s *Store) Close() {
	if s == nil || s.Jobs == nil {
		return
	}
	s.counts.close()
	if s.owns {
		s.session.Close()
	}
}

// now is the store's clock, truncated to the millisecond.
func (s *Store) now() time.Time { return ms(s.set.now()) }

// Jobs stores, reads, claims and changes jobs. Get it from [Store.Jobs].
type Jobs struct{ s *Store }

// exec runs a generated write made with ctx (q is its query, for errors). Statements run
// through s.db, the generated typed layer: values are bound by position
// from each query method's parameters, and a statement that is not idempotent (an
// LWT, a counter update) runs without the retry policy, so it is never
// applied twice.
func (s *Store) exec(ctx context.Context, q queries.Query, w queries.Write) error {
	return s.interpret(ctx, q.Name, w.Exec())
}

// forEach runs fn for i in [0, n) with at most limit calls in flight and
// returns the errors joined. It stops starting new calls when ctx ends.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	if limit > n {
		limit = n
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, limit)
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return errors.Join(append(errs, ctx.Err())...)
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// NewBatchID returns a random, time-ordered id for a batch of jobs.
func NewBatchID() gocql.UUID {
	u, err := uuid.NewV7()
	if err != nil {
		return randomID()
	}
	return gocql.UUID(u)
}

// randomID returns a version 4 UUID: lease tokens.
func randomID() gocql.UUID {
	var u gocql.UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// young reports whether t is less than Grace ago: a hint or lookup row
// written that recently may belong to a change still in flight.
func (s *Store) young(t time.Time) bool { return t.After(s.now().Add(-s.set.grace)) }
