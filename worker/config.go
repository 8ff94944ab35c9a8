package worker

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/jobsharp/cassandra/repo"
)

// Defaults of [Config].
const (
	DefaultMaxWorkers       = 10
	DefaultLease            = 30 * time.Second
	DefaultPollInterval     = time.Second
	DefaultClaimCooldown    = 50 * time.Millisecond
	DefaultShutdownTimeout  = 20 * time.Second
	DefaultRescueInterval   = 15 * time.Second
	DefaultScheduleInterval = time.Second
	DefaultReportInterval   = 10 * time.Second
)

// Config shapes a [Processor]. The zero value of every field means its
// default; [New] rejects values out of range with an error that names the
// field and matches [repo.ErrInvalidConfig].
type Config struct {
	// Queues to work, each with its own limit of handlers running at once.
	// Default: the queue "default" with DefaultMaxWorkers.
	Queues map[string]QueueConfig

	// MaxWorkers, when set, is the most handlers running at once over all
	// the queues: they share these slots, Priority decides which queue
	// claims for a free one, and QueueConfig.MaxWorkers (default MaxWorkers)
	// still caps each queue. Zero: every queue has slots of its own
	// (QueueConfig.MaxWorkers) and claims for them whatever the others do.
	// 1 to 10,000.
	MaxWorkers int
	// Priority orders the queues' claims for shared slots (MaxWorkers), by
	// QueueConfig.Weight: PriorityWeighted (the default: in proportion to
	// the weights) or PriorityStrict (the highest weight with jobs due
	// first). It needs MaxWorkers.
	Priority Priority

	// Owner names this processor in the leases it takes (host, process);
	// operators see it on Processing jobs. Default host:pid:random.
	Owner string

	// Lease is how long a claim holds without a heartbeat: a job whose
	// processor died is rescued about this long after its last heartbeat.
	// 1s to 24h; default 30s.
	Lease time.Duration
	// HeartbeatInterval is how often the lease of a running job is
	// extended (to now+Lease). Default Lease/3; it must be less than Lease.
	HeartbeatInterval time.Duration

	// PollInterval is the longest pause after claims that found nothing
	// due: the pause starts at twice ClaimCooldown after the first empty
	// claim and doubles with each one after, up to PollInterval, with ±10%
	// jitter. It bounds how long a new job waits for an idle processor. It
	// is also how often the processor reads which queues are paused (one
	// read of the queue registry), so a pause or a resume reaches it within
	// one PollInterval. 10ms to 1h; default 1s.
	PollInterval time.Duration
	// ClaimCooldown is the least time between two claims of one queue, so
	// that a busy processor claims in batches rather than one job at a time.
	// 0 to PollInterval; default 50ms; negative means none.
	ClaimCooldown time.Duration

	// ShutdownTimeout is how long running handlers may go on after Run's
	// context ends. Then their contexts are cancelled (cause [ErrShutdown])
	// and Run waits for them to return. Default 20s; negative cancels them at
	// once.
	ShutdownTimeout time.Duration

	// JobTimeout bounds each attempt of every job type (cause
	// [ErrJobTimeout]); [HandleOpts.Timeout] overrides it per type. Default
	// none.
	JobTimeout time.Duration

	// Backoff is the delay before retry n (1 for the first) of a failed job,
	// from now by this process's clock. Default: [repo.Backoff] from the
	// store's clock (exponential from 1s, capped at 1h, ±25% jitter).
	// [HandleOpts.Backoff] overrides it per type.
	Backoff func(retry int) time.Duration

	// RescueInterval is how often the rescuer looks for jobs whose lease
	// expired in the processor's queues ([repo.Jobs.Rescue]); claims rescue
	// on their way too. Default 15s; negative turns the rescuer off.
	RescueInterval time.Duration

	// ScheduleInterval is how often the scheduler turns due occurrences of
	// recurring schedules of the processor's queues into jobs
	// ([repo.Recurring.Fire]). Every processor runs it; no leader is needed.
	// Default 1s; negative turns the scheduler off.
	ScheduleInterval time.Duration
	// MissedOccurrences is the policy for occurrences that passed while no
	// scheduler ran: repo.FireLatest (default: one job for the latest),
	// repo.FireAll (every one, up to MaxCatchUp) or repo.SkipMissed.
	MissedOccurrences repo.MissedPolicy
	// MaxCatchUp bounds repo.FireAll per schedule and scheduler run.
	// Default 100.
	MaxCatchUp int

	// ReportInterval is how often the processor rewrites its row in the
	// registry of running processors ([repo.Processors]): one write each
	// time, whatever the load. 100ms to 10m; default 10s (6 writes a
	// minute); negative: the processor does not report itself.
	ReportInterval time.Duration
	// ReportTTL is the TTL of the processor's row: a processor that died
	// without deleting it disappears from the registry this long after its
	// last report. 1s to 1h (whole seconds; rounded up) and more than
	// ReportInterval; default 3×ReportInterval.
	ReportTTL time.Duration
	// Version is reported in the processor's row. Default: the version of
	// this module in the binary's build information ("(devel)" plus the
	// commit for a build from a work tree).
	Version string

	// Logger receives the processor's structured log; every line about a
	// job carries job_id, job_type, queue and attempt. Default
	// slog.Default().
	Logger *slog.Logger
	// Metrics receives counts and timings; see the prommetrics package for
	// Prometheus. Default none.
	Metrics Metrics
	// AttemptHook wraps every attempt (the oteljobs package traces with
	// it). Default none.
	AttemptHook AttemptHook
}

// QueueConfig shapes the work on one queue.
type QueueConfig struct {
	// MaxWorkers is the most handlers of this queue running at once.
	// 1 to 10,000; default DefaultMaxWorkers, or Config.MaxWorkers when the
	// queues share slots.
	MaxWorkers int
	// Weight is the queue's priority when the queues share slots
	// (Config.MaxWorkers; see [Priority]). 1 to 1,000; default 1.
	Weight int
}

// settings are a validated Config with defaults applied.
type settings struct {
	queues           []queueSettings
	maxWorkers       int // shared by the queues; 0: none shared
	priority         Priority
	owner            string
	lease, heartbeat time.Duration
	poll, cooldown   time.Duration
	shutdown         time.Duration
	jobTimeout       time.Duration
	backoff          func(int) time.Duration
	rescue, schedule time.Duration
	report, ttl      time.Duration
	version          string
	missed           repo.MissedPolicy
	catchUp          int
	log              *slog.Logger
	metrics          Metrics
	attemptHook      AttemptHook
}

type queueSettings struct {
	name       string
	maxWorkers int
	weight     int
}

func (c *Config) settings() (settings, error) {
	var in Config
	if c != nil {
		in = *c
	}
	s := settings{
		owner: in.Owner, lease: cmp.Or(in.Lease, DefaultLease), heartbeat: in.HeartbeatInterval,
		poll: cmp.Or(in.PollInterval, DefaultPollInterval), cooldown: cmp.Or(in.ClaimCooldown, DefaultClaimCooldown),
		shutdown: cmp.Or(in.ShutdownTimeout, DefaultShutdownTimeout), jobTimeout: in.JobTimeout, backoff: in.Backoff,
		rescue: cmp.Or(in.RescueInterval, DefaultRescueInterval), schedule: cmp.Or(in.ScheduleInterval, DefaultScheduleInterval),
		missed: in.MissedOccurrences, catchUp: cmp.Or(in.MaxCatchUp, 100), log: in.Logger, metrics: in.Metrics,
		report: cmp.Or(in.ReportInterval, DefaultReportInterval), ttl: in.ReportTTL, version: in.Version,
		attemptHook: in.AttemptHook, maxWorkers: in.MaxWorkers, priority: in.Priority,
	}
	if s.ttl == 0 {
		s.ttl = max(3*s.report, time.Second)
	}
	s.ttl = (s.ttl + time.Second - 1).Truncate(time.Second)
	if s.version == "" {
		s.version = buildVersion()
	}
	switch {
	case in.MaxWorkers < 0 || in.MaxWorkers > 10_000:
		return s, invalidConfig("MaxWorkers must be between 1 and 10,000 (or 0: no slots shared), got %d", in.MaxWorkers)
	case in.Priority != PriorityWeighted && in.Priority != PriorityStrict:
		return s, invalidConfig("Priority must be PriorityWeighted or PriorityStrict, got %s", in.Priority)
	case in.Priority == PriorityStrict && in.MaxWorkers == 0:
		return s, invalidConfig("Priority %s needs MaxWorkers: priority orders queues that share slots", in.Priority)
	}
	if s.heartbeat == 0 {
		s.heartbeat = s.lease / 3
	}
	if s.owner == "" {
		s.owner = defaultOwner()
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.metrics == nil {
		s.metrics = nopMetrics{}
	}
	if s.cooldown < 0 {
		s.cooldown = 0
	}
	queues := in.Queues
	if len(queues) == 0 {
		queues = map[string]QueueConfig{repo.DefaultQueue: {}}
	}
	for name, qc := range queues {
		if repo.ValidQueue(name) != nil {
			return s, invalidConfig("Queues: name %q must be 1 to 64 letters, digits or _.:-", name)
		}
		n := cmp.Or(qc.MaxWorkers, s.maxWorkers, DefaultMaxWorkers)
		if n < 1 || n > 10_000 {
			return s, invalidConfig("Queues[%q].MaxWorkers must be between 1 and 10,000, got %d", name, qc.MaxWorkers)
		}
		w := cmp.Or(qc.Weight, 1)
		switch {
		case w < 1 || w > 1000:
			return s, invalidConfig("Queues[%q].Weight must be between 1 and 1,000, got %d", name, qc.Weight)
		case qc.Weight != 0 && s.maxWorkers == 0:
			return s, invalidConfig("Queues[%q].Weight needs MaxWorkers: weights order queues that share slots", name)
		}
		s.queues = append(s.queues, queueSettings{name: name, maxWorkers: n, weight: w})
	}
	slices.SortFunc(s.queues, func(a, b queueSettings) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	checks := []struct {
		ok  bool
		msg string
	}{
		{len(s.owner) <= 255, fmt.Sprintf("Owner must be at most 255 bytes, got %d", len(s.owner))},
		{utf8.ValidString(s.owner), fmt.Sprintf("Owner must be valid UTF-8, got %q", s.owner)},
		{s.lease >= time.Second && s.lease <= 24*time.Hour, fmt.Sprintf("Lease must be between 1s and 24h, got %s", s.lease)},
		{s.heartbeat >= 10*time.Millisecond && s.heartbeat < s.lease, fmt.Sprintf("HeartbeatInterval must be at least 10ms and less than Lease (%s), got %s", s.lease, s.heartbeat)},
		{s.poll >= 10*time.Millisecond && s.poll <= time.Hour, fmt.Sprintf("PollInterval must be between 10ms and 1h, got %s", s.poll)},
		{s.cooldown <= s.poll, fmt.Sprintf("ClaimCooldown must not exceed PollInterval (%s), got %s", s.poll, s.cooldown)},
		{s.jobTimeout >= 0, fmt.Sprintf("JobTimeout must not be negative, got %s", s.jobTimeout)},
		{s.rescue < 0 || s.rescue >= 100*time.Millisecond, fmt.Sprintf("RescueInterval must be at least 100ms (or negative: off), got %s", s.rescue)},
		{s.schedule < 0 || s.schedule >= 10*time.Millisecond, fmt.Sprintf("ScheduleInterval must be at least 10ms (or negative: off), got %s", s.schedule)},
		{s.missed >= repo.FireLatest && s.missed <= repo.SkipMissed, fmt.Sprintf("MissedOccurrences must be FireLatest, FireAll or SkipMissed, got %d", s.missed)},
		{s.catchUp >= 1 && s.catchUp <= 10_000, fmt.Sprintf("MaxCatchUp must be between 1 and 10,000, got %d", s.catchUp)},
		{s.report < 0 || s.report >= 100*time.Millisecond && s.report <= 10*time.Minute, fmt.Sprintf("ReportInterval must be between 100ms and 10m (or negative: off), got %s", s.report)},
		{s.report < 0 || s.ttl >= time.Second && s.ttl <= time.Hour && s.ttl > s.report, fmt.Sprintf("ReportTTL must be between 1s and 1h and more than ReportInterval (%s), got %s", s.report, s.ttl)},
		{len(s.version) <= 255, fmt.Sprintf("Version must be at most 255 bytes, got %d", len(s.version))},
	}
	for _, c := range checks {
		if !c.ok {
			return s, invalidConfig("%s", c.msg)
		}
	}
	return s, nil
}

func invalidConfig(format string, args ...any) error {
	return fmt.Errorf("%w: %s", repo.ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// module is this module's path, looked up in the build information.
const module = "github.com/jobsharp/cassandra"

// buildVersion is the version of this module in the binary: the main
// module's, or the dependency's.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if info.Main.Path != module {
		for _, d := range info.Deps {
			if d.Path == module {
				if d.Replace != nil && d.Replace.Version != "" {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	v := cmp.Or(info.Main.Version, "(devel)")
	if v == "(devel)" {
		for _, kv := range info.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				v += " " + kv.Value[:12]
			}
		}
	}
	return v
}

// defaultOwner is host:pid:random, so two processors in one process differ.
func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	owner := fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
	if len(owner) > 255 {
		owner = owner[len(owner)-255:]
	}
	return owner
}
