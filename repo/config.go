package repo

import (
	"cmp"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/gocql/gocql"
)

// Defaults of [Config].
const (
	DefaultQueue            = "default"
	DefaultDueBucketWidth   = time.Minute
	DefaultDueShards        = 8
	DefaultStateBucketWidth = time.Hour
	DefaultStateShards      = 8
	DefaultHomeBucketWidth  = 64 * time.Second
	DefaultHomeShards       = 8
	DefaultFoldInterval     = time.Second
	DefaultSweepInterval    = 5 * time.Minute
	DefaultGrace            = 15 * time.Second
	DefaultRetention        = 7 * 24 * time.Hour
	DefaultMaxArgsBytes     = 64 << 10
	DefaultMaxBatchSize     = 10_000
	DefaultMaxRetries       = 10
	DefaultLease            = 30 * time.Second
	DefaultWriteConcurrency = 32
)

// Options shape how the store lays out and treats its data. The zero value
// of every field means its default. Width and shard changes take effect for
// new buckets only: each bucket records the width and shard count it was
// written with, so stores with different settings can share a keyspace.
type Options struct {
	// DueBucketWidth is the time span of one due-index bucket. A due-index
	// partition holds about rate × width / DueShards entries. Default 1m.
	DueBucketWidth time.Duration
	// DueShards is the number of partitions per due bucket. Default 8.
	DueShards int
	// StateBucketWidth is the time span of one state-index bucket. Default 1h.
	StateBucketWidth time.Duration
	// StateShards is the number of partitions per state bucket. Default 8.
	StateShards int
	// HomeBucketWidth is the time span of one home bucket: jobs that become
	// due in one bucket share its partitions, so that one conditional batch
	// claims or completes many of them. A power of two seconds from 1s to
	// 2^15s (about 9h). A partition holds about rate × width / HomeShards
	// jobs (finished ones until they expire). Default 64s.
	HomeBucketWidth time.Duration
	// HomeShards is the number of partitions per home bucket and queue, 1 to
	// 256. Default 8.
	HomeShards int
	// FoldInterval is how often the store folds the count logs of the
	// partitions it changed into the counts Count and Stats read: the
	// staleness of a count while stores run. Negative: never (counts then
	// wait for the sweeper). Default 1s.
	FoldInterval time.Duration
	// SweepInterval is how often a queue's counts are swept: every partition
	// of the queue folded again, by one store at a time, so that counts are
	// exact again after any fault. Every store that has changed a job since
	// it started sweeps, every queue of the registry whose sweep is due; a
	// store that only reads does not. Default 5m.
	SweepInterval time.Duration
	// Grace bounds clock skew between processes plus the time a due-index
	// write may take to land. Scanners re-read this much before their last
	// scan and keep the watermark this far behind. Default 15s.
	Grace time.Duration
	// Retention is how long finished jobs (Succeeded, Cancelled, Abandoned)
	// are kept: their rows are written with this TTL. Default 7 days;
	// negative keeps them until purged.
	Retention time.Duration
	// MaxArgsBytes limits the size of a job's arguments. Default 64 KiB.
	MaxArgsBytes int
	// MaxBatchSize limits the number of jobs in one batch. Default 10,000.
	MaxBatchSize int
	// DefaultMaxRetries is the retry count of jobs that set none. Default 10.
	DefaultMaxRetries int
	// WriteConcurrency bounds the statements a multi-partition write has in
	// flight. Default 32.
	WriteConcurrency int
	// SerialConsistency of lightweight transactions and serial reads:
	// gocql.LocalSerial (the default) or gocql.Serial, which spans data
	// centers and is slower.
	SerialConsistency gocql.SerialConsistency
	// Now is the clock. Default time.Now; tests move it. A store on a clock
	// of its own does not wait for its count marks when it closes (see
	// Store.Close): the wait is in real time.
	Now func() time.Time
	// Logger receives warnings about hints that could not be cleaned and the
	// like. Default slog.Default().
	Logger *slog.Logger
	// InsertHook, when set, sees every insert before it is written and may
	// add metadata to its jobs (the oteljobs package traces with it).
	InsertHook InsertHook
}

// settings are validated Options with defaults applied.
type settings struct {
	dueWidth, stateWidth   time.Duration
	dueShards, stateShards int
	homeWidth              time.Duration
	homeWidthCode          int
	homeShards             int
	foldInterval           time.Duration
	sweepInterval          time.Duration
	grace, retention       time.Duration
	maxArgs, maxBatch      int
	maxRetries             int
	writeConcurrency       int
	serial                 gocql.SerialConsistency
	now                    func() time.Time
	realClock              bool // now is time.Now
	log                    *slog.Logger
	insertHook             InsertHook
}

func (o *Options) settings() (settings, error) {
	var in Options
	if o != nil {
		in = *o
	}
	s := settings{
		dueWidth: cmp.Or(in.DueBucketWidth, DefaultDueBucketWidth), dueShards: cmp.Or(in.DueShards, DefaultDueShards),
		stateWidth: cmp.Or(in.StateBucketWidth, DefaultStateBucketWidth), stateShards: cmp.Or(in.StateShards, DefaultStateShards),
		homeWidth: cmp.Or(in.HomeBucketWidth, DefaultHomeBucketWidth), homeShards: cmp.Or(in.HomeShards, DefaultHomeShards),
		foldInterval: cmp.Or(in.FoldInterval, DefaultFoldInterval), sweepInterval: cmp.Or(in.SweepInterval, DefaultSweepInterval),
		grace:     cmp.Or(in.Grace, DefaultGrace),
		retention: cmp.Or(in.Retention, DefaultRetention), maxArgs: cmp.Or(in.MaxArgsBytes, DefaultMaxArgsBytes),
		maxBatch: cmp.Or(in.MaxBatchSize, DefaultMaxBatchSize), maxRetries: cmp.Or(in.DefaultMaxRetries, DefaultMaxRetries),
		writeConcurrency: cmp.Or(in.WriteConcurrency, DefaultWriteConcurrency), now: in.Now, log: in.Logger,
		insertHook: in.InsertHook,
	}
	s.serial = in.SerialConsistency
	if s.serial == 0 {
		s.serial = gocql.LocalSerial
	}
	if s.now == nil {
		s.now, s.realClock = time.Now, true
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	var widthOK bool
	s.homeWidthCode, widthOK = widthCode(s.homeWidth)
	checks := []struct {
		ok  bool
		msg string
	}{
		{s.dueWidth >= time.Second && s.dueWidth <= 24*time.Hour && s.dueWidth%time.Millisecond == 0, fmt.Sprintf("DueBucketWidth must be between 1s and 24h in whole milliseconds, got %s", s.dueWidth)},
		{s.stateWidth >= time.Second && s.stateWidth <= 7*24*time.Hour && s.stateWidth%time.Millisecond == 0, fmt.Sprintf("StateBucketWidth must be between 1s and 168h in whole milliseconds, got %s", s.stateWidth)},
		{s.dueShards >= 1 && s.dueShards <= maxShards, fmt.Sprintf("DueShards must be between 1 and %d, got %d", maxShards, s.dueShards)},
		{s.stateShards >= 1 && s.stateShards <= maxShards, fmt.Sprintf("StateShards must be between 1 and %d, got %d", maxShards, s.stateShards)},
		{widthOK, fmt.Sprintf("HomeBucketWidth must be a power of two seconds from 1s to %s, got %s", widthOf(maxWidthCode), s.homeWidth)},
		{s.homeShards >= 1 && s.homeShards <= maxSubShards, fmt.Sprintf("HomeShards must be between 1 and %d, got %d", maxSubShards, s.homeShards)},
		{s.foldInterval < 0 || s.foldInterval >= 10*time.Millisecond && s.foldInterval <= time.Hour, fmt.Sprintf("FoldInterval must be negative (never) or between 10ms and 1h, got %s", s.foldInterval)},
		{s.sweepInterval >= time.Second && s.sweepInterval <= 7*24*time.Hour, fmt.Sprintf("SweepInterval must be between 1s and 168h, got %s", s.sweepInterval)},
		{s.grace >= 0 && s.grace <= time.Hour, fmt.Sprintf("Grace must be between 0 and 1h, got %s", s.grace)},
		{s.retention < 0 || s.retention >= time.Minute && s.retention <= maxTTL, fmt.Sprintf("Retention must be negative (keep) or between 1m and %s, got %s", maxTTL, s.retention)},
		{s.maxArgs >= 1 && s.maxArgs <= 16<<20, fmt.Sprintf("MaxArgsBytes must be between 1 and 16 MiB, got %d", s.maxArgs)},
		{s.maxBatch >= 1 && s.maxBatch <= 1_000_000, fmt.Sprintf("MaxBatchSize must be between 1 and 1,000,000, got %d", s.maxBatch)},
		{s.maxRetries >= 0 && s.maxRetries <= 1000, fmt.Sprintf("DefaultMaxRetries must be between 0 and 1000, got %d", s.maxRetries)},
		{s.serial == gocql.LocalSerial || s.serial == gocql.Serial, fmt.Sprintf("SerialConsistency must be LocalSerial or Serial, got %s", s.serial)},
		{s.writeConcurrency >= 1 && s.writeConcurrency <= 1024, fmt.Sprintf("WriteConcurrency must be between 1 and 1024, got %d", s.writeConcurrency)},
	}
	for _, c := range checks {
		if !c.ok {
			return s, fmt.Errorf("%w: %s", ErrInvalidConfig, c.msg)
		}
	}
	return s, nil
}

// maxShards bounds shard counts; scans read every shard of a bucket.
const maxShards = 256

// maxTTL is Cassandra's largest TTL (20 years).
const maxTTL = 20 * 365 * 24 * time.Hour

// ttlSeconds is the TTL of rows of finished jobs, 0 when they are kept.
func (s settings) ttlSeconds() int {
	if s.retention < 0 {
		return 0
	}
	return int(s.retention / time.Second)
}

var queueName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// ValidQueue returns a [*ValidationError] unless name is a queue name the
// store accepts: 1 to 64 letters, digits or _.:-.
func ValidQueue(name string) error {
	if !queueName.MatchString(name) {
		return invalid("queue", "%q must be 1 to 64 letters, digits or _.:-", name)
	}
	return nil
}

// ValidJobType returns a [*ValidationError] unless t is a job type the
// store accepts: 1 to 255 bytes of valid UTF-8.
func ValidJobType(t string) error {
	switch {
	case t == "":
		return invalid("type", "empty")
	case len(t) > 255:
		return invalid("type", "%d bytes, more than 255", len(t))
	}
	return validText("type", t)
}
