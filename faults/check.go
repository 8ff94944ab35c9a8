package faults

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
)

// Execution is one run of a handler under one claim, assembled from a
// processor's record.
type Execution struct {
	Job     gocql.UUID
	Token   gocql.UUID
	Attempt int
	Owner   string
	// Claimed is when the claim took the job; Start when the handler began.
	Claimed, Start time.Time
	// Until is the latest lease deadline the processor knew of.
	Until time.Time
	// End is when the handler returned; zero when the record has no end
	// (the processor died first).
	End     time.Time
	Outcome string
	Cause   string
}

// Ended reports whether the record has the execution's end.
func (e *Execution) Ended() bool { return !e.End.IsZero() }

// heldUntil is the end of the span during which the lease of e certainly
// held, so that no other claim may start in it. A handler that succeeded
// and was still run again did not get its outcome written: its lease held
// until its deadline. One that failed or was cancelled may have had its
// outcome (a retry, a release) written at any time after it returned.
func (e *Execution) heldUntil() time.Time {
	if e.Ended() && e.Outcome != OutcomeOK && e.End.Before(e.Until) {
		return e.End
	}
	return e.Until
}

// Executions assembles executions from the events of every record. It
// fails on events that contradict each other: two begins of one claim, an
// end or lease extension without its begin.
func Executions(events []Event) ([]*Execution, error) {
	type key struct{ job, token gocql.UUID }
	byKey := map[key]*Execution{}
	var out []*Execution
	for _, ev := range events {
		k := key{ev.Job, ev.Token}
		e := byKey[k]
		switch ev.Ev {
		case EventProcess:
			continue
		case EventBegin:
			if e != nil {
				return nil, fmt.Errorf("job %s: the claim with token %s began twice (by %s and %s)", ev.Job, ev.Token, e.Owner, ev.Owner)
			}
			e = &Execution{Job: ev.Job, Token: ev.Token, Attempt: ev.Attempt, Owner: ev.Owner,
				Claimed: time.Unix(0, ev.Claimed), Start: time.Unix(0, ev.At), Until: time.Unix(0, ev.Until)}
			byKey[k] = e
			out = append(out, e)
			continue
		}
		if e == nil || e.Owner != ev.Owner {
			return nil, fmt.Errorf("job %s: %s event of token %s by %s without its begin", ev.Job, ev.Ev, ev.Token, ev.Owner)
		}
		switch ev.Ev {
		case EventLease:
			if u := time.Unix(0, ev.Until); u.After(e.Until) {
				e.Until = u
			}
		case EventEnd:
			e.End, e.Outcome, e.Cause = time.Unix(0, ev.At), ev.Outcome, ev.Cause
		default:
			return nil, fmt.Errorf("unknown event %q", ev.Ev)
		}
	}
	return out, nil
}

// JobState is what the store holds of a job at the end of a scenario.
type JobState struct {
	// Acked: Enqueue returned success. Jobs whose Enqueue failed are
	// checked too when they exist.
	Acked bool
	// Found: Get found the job; the other fields are set only then.
	Found  bool
	State  repo.State
	Errors []repo.AttemptError
}

// Rerun is an execution of a job after an earlier one that did not end in a
// planned failure: the job ran (at least partly) twice.
type Rerun struct {
	Job        gocql.UUID
	Prev, Next *Execution
	// Cause says why the earlier run did not count; Explained says whether
	// it is one the guarantees allow: the earlier processor died, or its
	// lease deadline had passed when the rerun was claimed.
	Cause     string
	Explained bool
}

// Reclaim is a claim that no handler ran under: the claim applied but its
// processor never learnt it (the answer was lost with a connection, or
// the processor died before its handler began), so the job waited for the
// lease to expire and was claimed again. The job did not run twice.
type Reclaim struct {
	Job     gocql.UUID
	Owner   string
	Attempt int
	// Until is the lease deadline and Rescued when the store rescued the
	// job, from the attempt's error in the store.
	Until, Rescued time.Time
	Cause          string
	// Explained: the rescue came after the lease deadline.
	Explained bool
}

// Overlap is a rerun that began while the earlier handler still ran, after
// its lease had expired: the guarantees allow it (a handler may outlive its
// lease when heartbeats fail), but the two ran at the same time for By.
type Overlap struct {
	Job        gocql.UUID
	Prev, Next *Execution
	By         time.Duration
}

// Violation is a broken guarantee.
type Violation struct {
	Job  gocql.UUID
	What string
}

// Report is what Check found.
type Report struct {
	Acked, Unacked, UnackedStored int
	Executions                    int
	// Lost: acknowledged and not in the store. Stuck: in the store and not
	// finished. Unfinished: finished otherwise than Succeeded.
	Lost, Stuck, NotSucceeded []gocql.UUID
	// Retries are reruns after a planned failure, which are expected.
	Retries    int
	Reruns     []Rerun
	Reclaims   []Reclaim
	Overlaps   []Overlap
	Violations []Violation
	// Truth is the number of the scenario's jobs in each state, by Get.
	Truth map[repo.State]int64
}

// RerunCauses counts reruns by cause.
func (r *Report) RerunCauses() map[string]int {
	out := map[string]int{}
	for _, x := range r.Reruns {
		out[x.Cause]++
	}
	return out
}

// ReclaimCauses counts reclaims by cause.
func (r *Report) ReclaimCauses() map[string]int {
	out := map[string]int{}
	for _, x := range r.Reclaims {
		out[x.Cause]++
	}
	return out
}

// RunTwice is the number of jobs that ran more than once, planned retries
// aside.
func (r *Report) RunTwice() int {
	jobs := map[gocql.UUID]bool{}
	for _, x := range r.Reruns {
		jobs[x.Job] = true
	}
	return len(jobs)
}

// rescued matches the error the store records for an attempt whose lease
// expired (repo's rescue): the owner and the lease deadline.
var rescued = regexp.MustCompile(`^lease of "(.*)" expired at (\S+)$`)

// Check compares the execution records with the store's jobs. killed maps
// the owner of each processor killed with SIGKILL to when it was killed.
func Check(execs []*Execution, jobs map[gocql.UUID]*JobState, killed map[string]time.Time) *Report {
	r := &Report{Executions: len(execs), Truth: map[repo.State]int64{}}
	byJob := map[gocql.UUID][]*Execution{}
	for _, e := range execs {
		byJob[e.Job] = append(byJob[e.Job], e)
		if _, ok := jobs[e.Job]; !ok {
			r.Violations = append(r.Violations, Violation{e.Job, fmt.Sprintf("%s ran a job the producer never enqueued", e.Owner)})
		}
	}
	for _, id := range slices.SortedFunc(maps.Keys(jobs), func(a, b gocql.UUID) int { return strings.Compare(a.String(), b.String()) }) {
		j := jobs[id]
		if j.Acked {
			r.Acked++
		} else {
			r.Unacked++
			if j.Found {
				r.UnackedStored++
			}
		}
		switch {
		case !j.Found && j.Acked:
			r.Lost = append(r.Lost, id)
		case !j.Found:
		case !j.State.Final():
			r.Stuck = append(r.Stuck, id)
		case j.State != repo.StateSucceeded:
			r.NotSucceeded = append(r.NotSucceeded, id)
		}
		if j.Found {
			r.Truth[j.State]++
		}
		r.checkJob(id, j, byJob[id], killed)
	}
	return r
}

func (r *Report) checkJob(id gocql.UUID, j *JobState, execs []*Execution, killed map[string]time.Time) {
	slices.SortFunc(execs, func(a, b *Execution) int { return cmp.Or(a.Claimed.Compare(b.Claimed), a.Start.Compare(b.Start)) })
	succeeded := false
	for i, b := range execs {
		succeeded = succeeded || (b.Ended() && b.Outcome == OutcomeOK)
		for _, a := range execs[:i] {
			if a.Ended() && b.Claimed.Before(a.End) && !b.Claimed.Before(a.heldUntil()) {
				r.Overlaps = append(r.Overlaps, Overlap{id, a, b, a.End.Sub(b.Claimed)})
			}
			if b.Claimed.Before(a.heldUntil()) {
				r.Violations = append(r.Violations, Violation{id, fmt.Sprintf(
					"claimed twice while the lease held: %s claimed it at %s (token %s), %s's lease (token %s, claimed %s) held until %s",
					b.Owner, stamp(b.Claimed), b.Token, a.Owner, a.Token, stamp(a.Claimed), stamp(a.heldUntil()))})
			}
		}
		if i == 0 {
			continue
		}
		a := execs[i-1]
		if a.Ended() && a.Outcome == OutcomeFailed {
			r.Retries++
			continue
		}
		r.Reruns = append(r.Reruns, rerun(id, a, b, killed))
	}
	if j.Found && j.State == repo.StateSucceeded && !succeeded {
		r.Violations = append(r.Violations, Violation{id, "Succeeded in the store, but no handler returned success"})
	}
	// Claims that left no record: the store rescued a lease of an owner
	// whose execution of this job is not in any record.
	for _, ae := range j.Errors {
		m := rescued.FindStringSubmatch(ae.Error)
		if m == nil || slices.ContainsFunc(execs, func(e *Execution) bool { return e.Owner == m[1] && e.Attempt == ae.Attempt }) {
			continue
		}
		x := Reclaim{Job: id, Owner: m[1], Attempt: ae.Attempt, Rescued: ae.FailedAt, Cause: "claim answer lost; the processor lived on"}
		if k, ok := killed[m[1]]; ok && !k.After(ae.FailedAt) {
			x.Cause = "processor killed before the handler began"
		}
		if until, err := time.Parse(time.RFC3339Nano, m[2]); err == nil {
			x.Until, x.Explained = until, !ae.FailedAt.Before(until)
		}
		r.Reclaims = append(r.Reclaims, x)
	}
}

// rerun explains why b ran again after a.
func rerun(id gocql.UUID, a, b *Execution, killed map[string]time.Time) Rerun {
	x := Rerun{Job: id, Prev: a, Next: b, Explained: !b.Claimed.Before(a.Until)}
	k, died := killed[a.Owner]
	died = died && k.After(a.Start)
	switch {
	case died && !a.Ended():
		x.Cause = "processor killed mid-job"
	case died:
		x.Cause = "processor killed before its outcome was written"
	case !a.Start.Before(a.Until):
		// The claim's answer came after its lease: the handler ran
		// without one (the worker now confirms such a lease first).
		x.Cause = "handler began after its lease ran out (claim answered late)"
	case !a.Ended():
		x.Cause = "no end in the record, processor alive"
	case a.Outcome == OutcomeOK:
		x.Cause = "outcome not written; lease expired"
	case a.Outcome == OutcomeCancelled:
		x.Cause = "handler cancelled: " + uuidPattern.ReplaceAllString(a.Cause, "…")
	default:
		x.Cause = "earlier run ended " + a.Outcome
	}
	x.Explained = x.Explained || died
	return x
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func stamp(t time.Time) string { return t.Format("15:04:05.000") }

// CountError is, per state, the count the store reports minus the truth;
// states whose count is right are left out.
func CountError(counts, truth map[repo.State]int64) map[repo.State]int64 {
	out := map[repo.State]int64{}
	for _, s := range repo.States() {
		if d := counts[s] - truth[s]; d != 0 {
			out[s] = d
		}
	}
	return out
}

// FormatCounts renders a count error as "Scheduled -75, Succeeded -22", or
// "none".
func FormatCounts(diff map[repo.State]int64) string {
	if len(diff) == 0 {
		return "none"
	}
	var parts []string
	for _, s := range repo.States() {
		if d, ok := diff[s]; ok {
			parts = append(parts, fmt.Sprintf("%s %+d", s, d))
		}
	}
	return strings.Join(parts, ", ")
}

// ContinuationsBeforeParent returns the executions of continuations (jobs
// in parentOf, mapped to the job they wait for) that began before a run of
// their parent had returned success: a continuation released too early.
func ContinuationsBeforeParent(execs []*Execution, parentOf map[gocql.UUID]gocql.UUID) []*Execution {
	firstOK := map[gocql.UUID]time.Time{}
	for _, e := range execs {
		if e.Ended() && e.Outcome == OutcomeOK {
			if t, ok := firstOK[e.Job]; !ok || e.End.Before(t) {
				firstOK[e.Job] = e.End
			}
		}
	}
	var early []*Execution
	for _, e := range execs {
		parent, ok := parentOf[e.Job]
		if !ok {
			continue
		}
		if done, found := firstOK[parent]; !found || e.Start.Before(done) {
			early = append(early, e)
		}
	}
	return early
}
