package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"

	"github.com/jobsharp/cassandra/repo"
)

// The checker is what makes the fault suite able to fail: these tests feed
// it records that break each guarantee and records that keep them.

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func uuid(n byte) gocql.UUID { return gocql.UUID{15: n} }

// exec is an execution claimed at claimMS with a 5 s lease; endMS < 0 means
// no end in the record.
func exec(job gocql.UUID, token byte, owner string, attempt, claimMS, endMS int, outcome string) *Execution {
	e := &Execution{Job: job, Token: uuid(token), Attempt: attempt, Owner: owner,
		Claimed: at(claimMS), Start: at(claimMS + 5), Until: at(claimMS + 5000)}
	if endMS >= 0 {
		e.End, e.Outcome = at(endMS), outcome
	}
	return e
}

// began sets when e's handler began, in milliseconds from the test's
// epoch.
func began(e *Execution, ms int) *Execution {
	e.Start = at(ms)
	return e
}

func succeeded(acked bool, errs ...repo.AttemptError) *JobState {
	return &JobState{Acked: acked, Found: true, State: repo.StateSucceeded, Errors: errs}
}

func TestCheckCleanRun(t *testing.T) {
	t.Parallel()

	a, b := uuid(1), uuid(2)
	execs := []*Execution{
		exec(a, 10, "p1", 1, 0, 100, OutcomeOK),
		exec(b, 20, "p2", 1, 0, 50, OutcomeFailed),
		exec(b, 21, "p1", 2, 400, 450, OutcomeOK), // the planned retry, before b's first lease ran out
	}
	r := Check(execs, map[gocql.UUID]*JobState{a: succeeded(true), b: succeeded(true)}, nil)
	if len(r.Violations)+len(r.Reruns)+len(r.Reclaims)+len(r.Lost)+len(r.Stuck)+len(r.NotSucceeded) != 0 {
		t.Fatalf("Check() found problems in a clean run: %+v", r)
	}
	if r.Acked != 2 || r.Retries != 1 || r.Truth[repo.StateSucceeded] != 2 {
		t.Errorf("Check() = acked %d, retries %d, truth %v; want 2, 1, 2 Succeeded", r.Acked, r.Retries, r.Truth)
	}
}

func TestCheckClaimedTwiceWhileLeaseHeld(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		first  *Execution
		second *Execution
	}{
		// The first processor still ran the job when another claimed it.
		"WhileRunning": {exec(uuid(1), 10, "p1", 1, 0, 3000, OutcomeOK), exec(uuid(1), 11, "p2", 1, 1000, 1500, OutcomeOK)},
		// It had finished, but its outcome was not written and its lease
		// had a second to go.
		"OutcomeLostLeaseLive": {exec(uuid(1), 10, "p1", 1, 0, 100, OutcomeOK), exec(uuid(1), 11, "p2", 2, 4000, 4100, OutcomeOK)},
		// Its processor died, but the lease had not run out yet.
		"DiedLeaseLive": {exec(uuid(1), 10, "p1", 1, 0, -1, ""), exec(uuid(1), 11, "p2", 2, 2000, 2100, OutcomeOK)},
		// A failed attempt's retry claimed before the handler returned.
		"RetryBeforeFailure": {exec(uuid(1), 10, "p1", 1, 0, 900, OutcomeFailed), exec(uuid(1), 11, "p2", 2, 800, 850, OutcomeOK)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := Check([]*Execution{tt.first, tt.second}, map[gocql.UUID]*JobState{uuid(1): succeeded(true)}, map[string]time.Time{"p1": at(1500)})
			if len(r.Violations) != 1 || !strings.Contains(r.Violations[0].What, "claimed twice while the lease held") {
				t.Fatalf("Violations = %+v, want one double claim", r.Violations)
			}
		})
	}
}

func TestCheckRerunsAndTheirCauses(t *testing.T) {
	t.Parallel()

	job := uuid(1)
	tests := map[string]struct {
		first, second *Execution
		killed        map[string]time.Time
		cause         string
		explained     bool
	}{
		"KilledMidJob": {exec(job, 10, "p1", 1, 0, -1, ""), exec(job, 11, "p2", 2, 6000, 6100, OutcomeOK),
			map[string]time.Time{"p1": at(50)}, "processor killed mid-job", true},
		"KilledBeforeOutcome": {exec(job, 10, "p1", 1, 0, 40, OutcomeOK), exec(job, 11, "p2", 2, 6000, 6100, OutcomeOK),
			map[string]time.Time{"p1": at(50)}, "processor killed before its outcome was written", true},
		"OutcomeNotWritten": {exec(job, 10, "p1", 1, 0, 40, OutcomeOK), exec(job, 11, "p2", 2, 5000, 5100, OutcomeOK),
			nil, "outcome not written; lease expired", true},
		"LeaseRanOut": {exec(job, 10, "p1", 1, 0, 5001, OutcomeCancelled), exec(job, 11, "p2", 1, 5100, 5200, OutcomeOK),
			nil, "handler cancelled: ", true},
		"ClaimAnsweredLate": {began(exec(job, 10, "p1", 1, 0, 5300, OutcomeOK), 5100), exec(job, 11, "p2", 2, 6000, 6100, OutcomeOK),
			nil, "handler began after its lease ran out (claim answered late)", true},
		// Alive, no end, rerun before the deadline: the run is unexplained
		// (and a double claim).
		"Unexplained": {exec(job, 10, "p1", 1, 0, -1, ""), exec(job, 11, "p2", 2, 3000, 3100, OutcomeOK),
			nil, "no end in the record, processor alive", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := Check([]*Execution{tt.first, tt.second}, map[gocql.UUID]*JobState{job: succeeded(true)}, tt.killed)
			if len(r.Reruns) != 1 || r.RunTwice() != 1 {
				t.Fatalf("Reruns = %+v, want one", r.Reruns)
			}
			x := r.Reruns[0]
			if !strings.HasPrefix(x.Cause, tt.cause) || x.Explained != tt.explained {
				t.Errorf("rerun cause %q, explained %v; want %q, %v", x.Cause, x.Explained, tt.cause, tt.explained)
			}
		})
	}
}

// TestCheckOverlap: a handler that ran past its expired lease while the job
// was claimed again is allowed, and reported.
func TestCheckOverlap(t *testing.T) {
	t.Parallel()

	job := uuid(1)
	first := exec(job, 10, "p1", 1, 0, 5600, OutcomeCancelled)
	first.Cause = "jobsharp: lease of job " + uuid(7).String() + " lost (now Failed, held by \"\")"
	r := Check([]*Execution{first, exec(job, 11, "p2", 2, 5100, 5200, OutcomeOK)}, map[gocql.UUID]*JobState{job: succeeded(true)}, nil)
	if len(r.Violations) != 0 {
		t.Errorf("Violations = %+v, want none: the lease had expired", r.Violations)
	}
	if len(r.Overlaps) != 1 || r.Overlaps[0].By != 500*time.Millisecond {
		t.Errorf("Overlaps = %+v, want one of 500ms", r.Overlaps)
	}
	if diff := cmp.Diff(map[string]int{`handler cancelled: jobsharp: lease of job … lost (now Failed, held by "")`: 1}, r.RerunCauses()); diff != "" {
		t.Errorf("RerunCauses() (-want +got):\n%s", diff)
	}
}

func TestCheckReclaims(t *testing.T) {
	t.Parallel()

	job := uuid(1)
	rescue := func(owner string, untilMS, rescuedMS int) repo.AttemptError {
		return repo.AttemptError{Attempt: 1, FailedAt: at(rescuedMS),
			Error: fmt.Sprintf("lease of %q expired at %s", owner, at(untilMS).Format(time.RFC3339Nano))}
	}
	later := exec(job, 11, "p2", 2, 6000, 6100, OutcomeOK)

	r := Check([]*Execution{later}, map[gocql.UUID]*JobState{job: succeeded(true, rescue("p1", 5000, 5900))}, nil)
	want := []Reclaim{{Job: job, Owner: "p1", Attempt: 1, Until: at(5000), Rescued: at(5900), Cause: "claim answer lost; the processor lived on", Explained: true}}
	if diff := cmp.Diff(want, r.Reclaims); diff != "" {
		t.Errorf("Reclaims (-want +got):\n%s", diff)
	}
	if len(r.Reruns) != 0 || r.RunTwice() != 0 {
		t.Errorf("a claim no handler ran under counted as a rerun: %+v", r.Reruns)
	}

	r = Check([]*Execution{later}, map[gocql.UUID]*JobState{job: succeeded(true, rescue("p1", 5000, 4000))}, map[string]time.Time{"p1": at(10)})
	if len(r.Reclaims) != 1 || r.Reclaims[0].Explained || r.Reclaims[0].Cause != "processor killed before the handler began" {
		t.Errorf("a rescue before the lease deadline: Reclaims = %+v, want one unexplained", r.Reclaims)
	}

	// A rescue of a recorded execution is that execution's rerun, not a
	// reclaim.
	first := exec(job, 10, "p1", 1, 0, -1, "")
	r = Check([]*Execution{first, later}, map[gocql.UUID]*JobState{job: succeeded(true, rescue("p1", 5000, 5900))}, map[string]time.Time{"p1": at(10)})
	if len(r.Reclaims) != 0 || len(r.Reruns) != 1 {
		t.Errorf("Reclaims = %+v, Reruns = %+v; want none and one", r.Reclaims, r.Reruns)
	}
}

func TestCheckJobStates(t *testing.T) {
	t.Parallel()

	lost, stuck, abandoned, unacked, phantom := uuid(1), uuid(2), uuid(3), uuid(4), uuid(5)
	jobs := map[gocql.UUID]*JobState{
		lost:      {Acked: true},
		stuck:     {Acked: true, Found: true, State: repo.StateProcessing},
		abandoned: {Acked: true, Found: true, State: repo.StateAbandoned},
		unacked:   {Acked: false},
		phantom:   succeeded(true), // Succeeded with no successful handler
	}
	r := Check([]*Execution{exec(phantom, 1, "p1", 1, 0, 100, OutcomeFailed), exec(uuid(9), 2, "p1", 1, 0, 10, OutcomeOK)}, jobs, nil)
	if diff := cmp.Diff([]gocql.UUID{lost}, r.Lost); diff != "" {
		t.Errorf("Lost (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]gocql.UUID{stuck}, r.Stuck); diff != "" {
		t.Errorf("Stuck (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]gocql.UUID{abandoned}, r.NotSucceeded); diff != "" {
		t.Errorf("NotSucceeded (-want +got):\n%s", diff)
	}
	var what []string
	for _, v := range r.Violations {
		what = append(what, v.What)
	}
	if diff := cmp.Diff([]string{"p1 ran a job the producer never enqueued", "Succeeded in the store, but no handler returned success"}, what); diff != "" {
		t.Errorf("Violations (-want +got):\n%s", diff)
	}
	if r.Acked != 4 || r.Unacked != 1 || r.UnackedStored != 0 {
		t.Errorf("acked %d, unacked %d (%d stored); want 4, 1 (0)", r.Acked, r.Unacked, r.UnackedStored)
	}
}

func TestCountError(t *testing.T) {
	t.Parallel()

	diff := CountError(map[repo.State]int64{repo.StateScheduled: -75, repo.StateSucceeded: 2961},
		map[repo.State]int64{repo.StateSucceeded: 2983})
	if got, want := FormatCounts(diff), "Scheduled -75, Succeeded -22"; got != want {
		t.Errorf("FormatCounts() = %q, want %q", got, want)
	}
	if got := FormatCounts(CountError(map[repo.State]int64{repo.StateSucceeded: 3}, map[repo.State]int64{repo.StateSucceeded: 3})); got != "none" {
		t.Errorf("FormatCounts() of equal counts = %q, want none", got)
	}
}

func TestRecordRoundTripAndTornLine(t *testing.T) {
	t.Parallel()

	path := filepath.Join(t.TempDir(), "p1.jsonl")
	rec, err := CreateRecorder(path, "p1")
	if err != nil {
		t.Fatal(err)
	}
	job, token := uuid(1), uuid(2)
	for _, ev := range []Event{
		{Ev: EventBegin, Job: job, Token: token, Attempt: 1, Claimed: at(0).UnixNano(), Until: at(5000).UnixNano()},
		{Ev: EventLease, Job: job, Token: token, Attempt: 1, Until: at(9000).UnixNano()},
		{Ev: EventEnd, Job: job, Token: token, Attempt: 1, Outcome: OutcomeOK},
	} {
		if err := rec.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	// A kill while the next line was being written.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"ev":"begin","at":17965283960`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	events, torn, err := ReadRecord(path)
	if err != nil || !torn || len(events) != 4 {
		t.Fatalf("ReadRecord() = %d events, torn %v, error %v; want 4, true, nil", len(events), torn, err)
	}
	execs, err := Executions(events)
	if err != nil {
		t.Fatal(err)
	}
	if len(execs) != 1 || !execs[0].Until.Equal(at(9000)) || execs[0].Outcome != OutcomeOK || execs[0].Owner != "p1" {
		t.Errorf("Executions() = %+v, want one ended ok with the extended lease", execs[0])
	}

	// A broken line that is not the last is an error, not a torn line.
	if err := os.WriteFile(path, []byte("{\"ev\":\"begin\"\n{\"ev\":\"process\",\"at\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadRecord(path); err == nil {
		t.Error("ReadRecord() accepted a broken line in the middle of a record")
	}
}

func TestExecutionsRefuseContradictions(t *testing.T) {
	t.Parallel()

	job, token := uuid(1), uuid(2)
	begin := Event{Ev: EventBegin, Owner: "p1", Job: job, Token: token, Attempt: 1}
	if _, err := Executions([]Event{begin, begin}); err == nil || !strings.Contains(err.Error(), "began twice") {
		t.Errorf("two begins of one claim: error = %v", err)
	}
	end := Event{Ev: EventEnd, Owner: "p2", Job: job, Token: token, Outcome: OutcomeOK}
	if _, err := Executions([]Event{end}); err == nil || !strings.Contains(err.Error(), "without its begin") {
		t.Errorf("an end without begin: error = %v", err)
	}
	if _, err := Executions([]Event{begin, end}); err == nil {
		t.Error("an end by another owner than the begin was accepted")
	}
}

func TestContinuationsBeforeParent(t *testing.T) {
	parent, early, onTime, orphan, child := uuid(1), uuid(2), uuid(3), uuid(4), uuid(5)
	execs := []*Execution{
		exec(parent, 1, "p1", 1, 0, 100, "failed"),
		exec(parent, 2, "p1", 2, 200, 300, OutcomeOK),
		exec(early, 3, "p2", 1, 250, 260, OutcomeOK),  // began before the parent's success
		exec(onTime, 4, "p2", 1, 400, 410, OutcomeOK), // after it
		exec(orphan, 5, "p2", 1, 400, 410, OutcomeOK), // its parent never succeeded
		exec(child, 6, "p2", 1, 500, 510, OutcomeOK),  // not a continuation
	}
	got := ContinuationsBeforeParent(execs, map[gocql.UUID]gocql.UUID{early: parent, onTime: parent, orphan: uuid(9)})
	var ids []gocql.UUID
	for _, e := range got {
		ids = append(ids, e.Job)
	}
	if diff := cmp.Diff([]gocql.UUID{early, orphan}, ids); diff != "" {
		t.Errorf("ContinuationsBeforeParent() (-want +got):\n%s", diff)
	}
}
