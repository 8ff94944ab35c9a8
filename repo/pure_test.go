package repo

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The tests of this file need no Cassandra: bucket arithmetic, Backoff,
// Options validation and recurring occurrences are pure functions.

func TestBucketOf(t *testing.T) {
	t.Parallel()

	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := map[string]struct {
		t         time.Time
		width     time.Duration
		wantStart time.Time
	}{
		"InsideAMinute":     {t: at("2026-03-01T10:07:42.123Z"), width: time.Minute, wantStart: at("2026-03-01T10:07:00Z")},
		"OnTheBoundary":     {t: at("2026-03-01T10:07:00Z"), width: time.Minute, wantStart: at("2026-03-01T10:07:00Z")},
		"LastMillisecond":   {t: at("2026-03-01T10:07:59.999Z"), width: time.Minute, wantStart: at("2026-03-01T10:07:00Z")},
		"Hour":              {t: at("2026-03-01T10:59:59Z"), width: time.Hour, wantStart: at("2026-03-01T10:00:00Z")},
		"OddWidth":          {t: at("1970-01-01T00:00:10Z"), width: 7 * time.Second, wantStart: at("1970-01-01T00:00:07Z")},
		"OtherZoneSameKey":  {t: at("2026-03-01T11:07:42+01:00"), width: time.Minute, wantStart: at("2026-03-01T10:07:00Z")},
		"BeforeTheEpoch":    {t: at("1969-12-31T23:59:30Z"), width: time.Minute, wantStart: at("1969-12-31T23:59:00Z")},
		"EpochItself":       {t: at("1970-01-01T00:00:00Z"), width: time.Minute, wantStart: at("1970-01-01T00:00:00Z")},
		"DayAlignedToEpoch": {t: at("2026-03-01T23:00:00Z"), width: 24 * time.Hour, wantStart: at("2026-03-01T00:00:00Z")},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := bucketOf(tt.t, tt.width, 8)
			want := bucketRef{Start: tt.wantStart.UTC(), Width: tt.width, Shards: 8}
			if diff := cmp.Diff(want, b); diff != "" {
				t.Errorf("bucketOf() mismatch (-want +got):\n%s", diff)
			}
			if b.Start.After(tt.t) || !b.End().After(tt.t) {
				t.Errorf("bucket [%s, %s) does not hold %s", b.Start, b.End(), tt.t)
			}
		})
	}
}

func TestMod(t *testing.T) {
	t.Parallel()

	tests := []struct{ a, b, want int64 }{
		{a: 7, b: 3, want: 1},
		{a: -7, b: 3, want: 2},
		{a: -3, b: 3, want: 0},
		{a: 0, b: 5, want: 0},
		{a: math.MinInt64 + 1, b: 60_000, want: (math.MinInt64+1)%60_000 + 60_000},
	}
	for _, tt := range tests {
		if got := mod(tt.a, tt.b); got != tt.want {
			t.Errorf("mod(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestShardOf(t *testing.T) {
	t.Parallel()

	for _, shards := range []int{1, 2, 8, 256} {
		counts := make([]int, shards)
		for i := 0; i < 256*shards; i++ {
			id := NewID()
			sh := shardOf(id, shards)
			if sh < 0 || sh >= shards {
				t.Fatalf("shardOf(%s, %d) = %d, out of range", id, shards, sh)
			}
			if again := shardOf(id, shards); again != sh {
				t.Fatalf("shardOf(%s, %d) = %d, then %d", id, shards, sh, again)
			}
			counts[sh]++
		}
		// 256 ids per shard on average: a shard with less than half or more
		// than twice that means the hash does not spread ids.
		for sh, n := range counts {
			if n < 128 || n > 512 {
				t.Errorf("%d shards: shard %d got %d of %d ids", shards, sh, n, 256*shards)
			}
		}
	}
	if got := shardOf(gocql.UUID{}, 8); got != shardOf(gocql.UUID{}, 8) {
		t.Errorf("shardOf of the same id differs")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()

	tests := []struct {
		retry int
		base  time.Duration
	}{
		{retry: 0, base: time.Second},
		{retry: 1, base: time.Second},
		{retry: 2, base: 2 * time.Second},
		{retry: 3, base: 4 * time.Second},
		{retry: 10, base: 512 * time.Second},
		{retry: 12, base: 2048 * time.Second},
		{retry: 13, base: time.Hour},
		{retry: 64, base: time.Hour},
		{retry: 1 << 30, base: time.Hour},
	}
	for _, tt := range tests {
		lo, hi := time.Duration(float64(tt.base)*0.75), time.Duration(float64(tt.base)*1.25)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := Backoff(tt.retry)
			if d < lo || d > hi {
				t.Fatalf("Backoff(%d) = %s, want %s ±25%% (%s to %s)", tt.retry, d, tt.base, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("Backoff(%d) gave the same delay 200 times: no jitter", tt.retry)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()

	valid := map[string]*Options{
		"Nil":              nil,
		"Zero":             {},
		"SmallestBuckets":  {DueBucketWidth: time.Second, StateBucketWidth: time.Second},
		"LargestBuckets":   {DueBucketWidth: 24 * time.Hour, StateBucketWidth: 7 * 24 * time.Hour},
		"Shards":           {DueShards: 256, StateShards: 1, CountShards: 256},
		"KeepForever":      {Retention: -1},
		"NoGrace":          {Grace: -0},
		"Serial":           {SerialConsistency: gocql.Serial},
		"ManyRetries":      {DefaultMaxRetries: 1000},
		"WriteConcurrency": {WriteConcurrency: 1024},
	}
	for name, o := range valid {
		if _, err := o.settings(); err != nil {
			t.Errorf("%s: settings() error = %v, want none", name, err)
		}
	}
	set, err := (*Options)(nil).settings()
	if err != nil {
		t.Fatal(err)
	}
	if set.dueWidth != DefaultDueBucketWidth || set.dueShards != DefaultDueShards || set.grace != DefaultGrace ||
		set.retention != DefaultRetention || set.serial != gocql.LocalSerial || set.writeConcurrency != DefaultWriteConcurrency {
		t.Errorf("defaults = %+v", set)
	}

	invalid := map[string]struct {
		opts Options
		want string
	}{
		"DueWidthTooSmall":      {Options{DueBucketWidth: 999 * time.Millisecond}, "DueBucketWidth must be between 1s and 24h in whole milliseconds, got 999ms"},
		"DueWidthTooLarge":      {Options{DueBucketWidth: 25 * time.Hour}, "DueBucketWidth must be between 1s and 24h in whole milliseconds, got 25h0m0s"},
		"DueWidthFraction":      {Options{DueBucketWidth: time.Second + time.Microsecond}, "DueBucketWidth must be between 1s and 24h in whole milliseconds, got 1.000001s"},
		"StateWidthTooLarge":    {Options{StateBucketWidth: 8 * 24 * time.Hour}, "StateBucketWidth must be between 1s and 168h in whole milliseconds, got 192h0m0s"},
		"NegativeDueShards":     {Options{DueShards: -1}, "DueShards must be between 1 and 256, got -1"},
		"TooManyStateShards":    {Options{StateShards: 257}, "StateShards must be between 1 and 256, got 257"},
		"TooManyCountShards":    {Options{CountShards: 1000}, "CountShards must be between 1 and 256, got 1000"},
		"NegativeGrace":         {Options{Grace: -time.Second}, "Grace must be between 0 and 1h, got -1s"},
		"LongGrace":             {Options{Grace: 2 * time.Hour}, "Grace must be between 0 and 1h, got 2h0m0s"},
		"ShortRetention":        {Options{Retention: time.Second}, "Retention must be negative (keep) or between 1m and 175200h0m0s, got 1s"},
		"LongRetention":         {Options{Retention: 21 * 365 * 24 * time.Hour}, "Retention must be negative (keep) or between 1m and 175200h0m0s, got 183960h0m0s"},
		"NegativeMaxArgs":       {Options{MaxArgsBytes: -1}, "MaxArgsBytes must be between 1 and 16 MiB, got -1"},
		"HugeBatches":           {Options{MaxBatchSize: 2_000_000}, "MaxBatchSize must be between 1 and 1,000,000, got 2000000"},
		"TooManyRetries":        {Options{DefaultMaxRetries: 1001}, "DefaultMaxRetries must be between 0 and 1000, got 1001"},
		"NotASerialConsistency": {Options{SerialConsistency: gocql.SerialConsistency(7)}, "SerialConsistency must be LocalSerial or Serial, got"},
		"ZeroConcurrency":       {Options{WriteConcurrency: -5}, "WriteConcurrency must be between 1 and 1024, got -5"},
	}
	for name, tt := range invalid {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.opts.settings()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("settings() error = %v, want ErrInvalidConfig", err)
			}
			want := ErrInvalidConfig.Error() + ": " + tt.want
			if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
				t.Errorf("settings() error = %q, want it to start with %q", got, want)
			}
		})
	}
}

func TestOccurrences(t *testing.T) {
	t.Parallel()

	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		cron     string
		loc      *time.Location
		from     time.Time
		now      time.Time
		catchUp  int
		missed   MissedPolicy
		want     []time.Time
		wantLast time.Time
	}{
		"NoneYet": {
			cron: "*/5 * * * *", loc: time.UTC, from: at("2026-03-01T10:00:00Z"), now: at("2026-03-01T10:04:59Z"),
			catchUp: 100, missed: FireLatest,
		},
		"OneDue": {
			cron: "*/5 * * * *", loc: time.UTC, from: at("2026-03-01T10:00:00Z"), now: at("2026-03-01T10:05:00Z"),
			catchUp: 100, missed: FireLatest,
			want: []time.Time{at("2026-03-01T10:05:00Z")}, wantLast: at("2026-03-01T10:05:00Z"),
		},
		"MissedFireLatest": {
			cron: "*/5 * * * *", loc: time.UTC, from: at("2026-03-01T10:00:00Z"), now: at("2026-03-01T10:22:00Z"),
			catchUp: 100, missed: FireLatest,
			want: []time.Time{at("2026-03-01T10:20:00Z")}, wantLast: at("2026-03-01T10:20:00Z"),
		},
		"MissedFireAll": {
			cron: "*/5 * * * *", loc: time.UTC, from: at("2026-03-01T10:00:00Z"), now: at("2026-03-01T10:22:00Z"),
			catchUp: 100, missed: FireAll,
			want:     []time.Time{at("2026-03-01T10:05:00Z"), at("2026-03-01T10:10:00Z"), at("2026-03-01T10:15:00Z"), at("2026-03-01T10:20:00Z")},
			wantLast: at("2026-03-01T10:20:00Z"),
		},
		"FireAllKeepsTheLatestCatchUp": {
			cron: "*/5 * * * *", loc: time.UTC, from: at("2026-03-01T10:00:00Z"), now: at("2026-03-01T10:22:00Z"),
			catchUp: 2, missed: FireAll,
			want:     []time.Time{at("2026-03-01T10:15:00Z"), at("2026-03-01T10:20:00Z")},
			wantLast: at("2026-03-01T10:20:00Z"),
		},
		"SkipMissedKeepsThoseWithinGrace": {
			cron: "* * * * *", loc: time.UTC, from: at("2026-03-01T10:00:00Z"), now: at("2026-03-01T10:05:10Z"),
			catchUp: 100, missed: SkipMissed,
			want: []time.Time{at("2026-03-01T10:05:00Z")}, wantLast: at("2026-03-01T10:05:00Z"),
		},
		"SkipMissedAllTooOld": {
			cron: "0 * * * *", loc: time.UTC, from: at("2026-03-01T08:30:00Z"), now: at("2026-03-01T10:30:00Z"),
			catchUp: 100, missed: SkipMissed,
			wantLast: at("2026-03-01T10:00:00Z"),
		},
		"TimezoneAcrossDaylightSaving": {
			// 03:00 in Paris is 02:00 UTC in winter, 01:00 UTC in summer;
			// the clocks moved on 2026-03-29.
			cron: "0 3 * * *", loc: paris, from: at("2026-03-27T12:00:00Z"), now: at("2026-03-30T12:00:00Z"),
			catchUp: 100, missed: FireAll,
			want:     []time.Time{at("2026-03-28T02:00:00Z"), at("2026-03-29T01:00:00Z"), at("2026-03-30T01:00:00Z")},
			wantLast: at("2026-03-30T01:00:00Z"),
		},
		"Every": {
			cron: "@every 90s", loc: time.UTC, from: at("2026-03-01T10:00:00Z"), now: at("2026-03-01T10:04:00Z"),
			catchUp: 100, missed: FireAll,
			want:     []time.Time{at("2026-03-01T10:01:30Z"), at("2026-03-01T10:03:00Z")},
			wantLast: at("2026-03-01T10:03:00Z"),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rj := &RecurringJob{Cron: tt.cron}
			sched, _, err := rj.schedule()
			if err != nil {
				t.Fatal(err)
			}
			due, last := occurrences(sched, tt.loc, tt.from, tt.now, tt.catchUp, tt.missed, 15*time.Second)
			if diff := cmp.Diff(tt.want, due, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("occurrences() mismatch (-want +got):\n%s", diff)
			}
			if !last.Equal(tt.wantLast) {
				t.Errorf("occurrences() last = %s, want %s", last, tt.wantLast)
			}
		})
	}
}
