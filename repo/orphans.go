package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jobsharp/cassandra/queries"
)

// A Processing job is rescued through a lease entry of the due index, at its
// lease's end. One case leaves a job with none: a claim whose answer comes
// so late that a scanner, finding the claim's lease entry with no claim
// behind it for longer than Grace, removed it as stale before the claim
// applied. The worker then confirms the claim by a heartbeat, which writes
// a new entry; if the heartbeat never applies (its process dies, or the
// node stays unreachable for two leases), nothing would ever find the job
// again. The counts' sweeper is the backstop: in every partition whose
// count log holds Processing jobs, it looks for Processing jobs whose lease
// ended more than orphanAfter ago and gives each a due entry at now, which
// the next scan of the queue resolves as an expired lease (a rescue, under
// the usual version check, so a job the normal path rescued meanwhile is
// left alone).

// orphanAfter is how long after its lease's end a Processing job is taken
// for one no lease entry covers: the normal rescue comes within a poll
// interval of the lease's end.
func (s *Store) orphanAfter() time.Duration { return 2*s.set.grace + time.Minute }

// reEnterOrphans gives every Processing job of partition h whose lease
// ended before cut a due entry at now. It reads the partition's rows with
// few columns (JobsScanBrief, as a claim's second look does), page by page.
func (s *Store) reEnterOrphans(ctx context.Context, queue string, h homeRef, cut time.Time) error {
	hints, now := &hintSet{}, s.now()
	after, until := predUUID(idAt(h.Start)), idAt(farFuture.Add(time.Millisecond))
	for {
		rows, err := s.db.JobsScanBrief(ctx, h.Start, h.Shard, after, until, rereadPage).All()
		if err != nil {
			return fmt.Errorf("read the jobs of a partition: %w", s.interpret(ctx, queries.JobsScanBrief.Name, err))
		}
		for _, b := range rows {
			if b.Queue == queue && State(b.State) == StateProcessing && !b.LeaseUntil.After(cut) {
				hints.addDue(s.dueEntryAt(queue, b.ID, now))
			}
		}
		if len(rows) < rereadPage {
			break
		}
		after = rows[len(rows)-1].ID
	}
	if len(hints.due) == 0 {
		return nil
	}
	if err := s.writeHints(ctx, hints); err != nil {
		return fmt.Errorf("enter Processing jobs with no lease entry: %w", err)
	}
	s.set.log.Warn("jobsharp: Processing jobs whose lease ended long ago had no lease entry; entered them for rescue",
		"queue", queue, "jobs", len(hints.due), "lease_ended_before", cut)
	return nil
}
