package repo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// Processors is the registry of running processors. Get it from
// [Store.Processors].
//
// Each running worker.Processor rewrites its row every report interval
// with a TTL of a few intervals (one plain write), so the row of a process
// that died disappears when its TTL runs out, and deletes it when it stops
// cleanly. The rows share one partition, which holds the live processors
// and the tombstones of the last ten minutes, whatever the history.
type Processors struct{ s *Store }

// ProcessorInfo is one processor's report.
type ProcessorInfo struct {
	// Owner names the processor in the leases it takes; it is the row's key.
	Owner   string
	Host    string
	PID     int
	Version string
	// Queues holds the handler slots per queue.
	Queues map[string]int
	// Running holds the jobs running now per queue (as of LastSeen).
	Running   map[string]int
	StartedAt time.Time
	// LastSeen is when the processor last wrote its row.
	LastSeen time.Time
	// ExpiresAt is when the row disappears unless the processor writes it
	// again: LastSeen plus its TTL.
	ExpiresAt time.Time
}

// TotalRunning is the number of jobs running now over every queue.
func (p ProcessorInfo) TotalRunning() int {
	n := 0
	for _, r := range p.Running {
		n += r
	}
	return n
}

// Report writes a processor's row with a TTL: one statement. LastSeen is
// set to now and ExpiresAt to now plus ttl. ttl is 1s to 1h (Cassandra
// counts TTLs in whole seconds; a fraction is rounded up). Returns a
// [*ValidationError] for an empty or over-long owner or a ttl out of range.
func (p *Processors) Report(ctx context.Context, info *ProcessorInfo, ttl time.Duration) error {
	if err := p.check(ctx); err != nil {
		return err
	}
	switch {
	case info == nil:
		return invalid("processor info", "nil")
	case info.Owner == "" || len(info.Owner) > 255:
		return invalid("owner", "%d bytes, want 1 to 255", len(info.Owner))
	case ttl < time.Second || ttl > time.Hour:
		return invalid("ttl", "%s, want 1s to 1h", ttl)
	}
	for _, f := range []struct{ field, text string }{{"owner", info.Owner}, {"host", info.Host}, {"version", info.Version}} {
		if err := validText(f.field, f.text); err != nil {
			return err
		}
	}
	secs := int32((ttl + time.Second - 1) / time.Second)
	now := p.s.now()
	row := models.ProcessorsRow{
		Owner: info.Owner, Host: info.Host, Pid: int32(info.PID), Version: info.Version,
		Queues: toInt32s(info.Queues), Running: toInt32s(info.Running),
		StartedAt: ms(info.StartedAt), LastSeen: now, ExpiresAt: now.Add(time.Duration(secs) * time.Second),
	}
	if err := p.s.exec(ctx, queries.ProcessorReport, p.s.db.ProcessorReport(ctx, row, secs)); err != nil {
		return fmt.Errorf("report processor %s: %w", info.Owner, err)
	}
	return nil
}

// Remove deletes a processor's row (when it stops cleanly): one statement.
// Removing a row that is gone is not an error.
func (p *Processors) Remove(ctx context.Context, owner string) error {
	if err := p.check(ctx); err != nil {
		return err
	}
	if owner == "" || len(owner) > 255 {
		return invalid("owner", "%d bytes, want 1 to 255", len(owner))
	}
	if err := validText("owner", owner); err != nil {
		return err
	}
	if err := p.s.exec(ctx, queries.ProcessorDelete, p.s.db.ProcessorDelete(ctx, 0, owner)); err != nil {
		return fmt.Errorf("remove processor %s: %w", owner, err)
	}
	return nil
}

// List returns the processors whose rows have not expired, by host, then
// owner: one partition read.
func (p *Processors) List(ctx context.Context) ([]ProcessorInfo, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	rows, err := p.s.db.ProcessorsList(ctx, 0).All()
	if err != nil {
		return nil, fmt.Errorf("list processors: %w", p.s.interpret(ctx, queries.ProcessorsList.Name, err))
	}
	out := make([]ProcessorInfo, 0, len(rows))
	for _, r := range rows {
		out = append(out, ProcessorInfo{
			Owner: r.Owner, Host: r.Host, PID: int(r.Pid), Version: r.Version,
			Queues: toInts(r.Queues), Running: toInts(r.Running),
			StartedAt: r.StartedAt.UTC(), LastSeen: r.LastSeen.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		})
	}
	slices.SortFunc(out, func(a, b ProcessorInfo) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.Owner, b.Owner)
	})
	return out, nil
}

func toInt32s(m map[string]int) map[string]int32 {
	out := make(map[string]int32, len(m))
	for k, v := range m {
		out[k] = int32(v)
	}
	return out
}

func toInts(m map[string]int32) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = int(v)
	}
	return out
}
