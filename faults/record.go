package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// Event kinds of the execution record.
const (
	// EventProcess opens a processor's record: its owner name and pid.
	EventProcess = "process"
	// EventBegin is written when a handler starts, before it does any work.
	EventBegin = "begin"
	// EventLease is written when a running handler learns that its lease
	// was extended (by the processor's heartbeat).
	EventLease = "lease"
	// EventEnd is written when a handler returns, before the processor
	// writes the outcome to the store.
	EventEnd = "end"
)

// Outcomes of a handler, as EventEnd records them.
const (
	// OutcomeOK: the handler returned nil; the job should be Succeeded.
	OutcomeOK = "ok"
	// OutcomeFailed: the handler returned its planned failure; the job is
	// retried.
	OutcomeFailed = "failed"
	// OutcomeCancelled: the handler's context ended (lease run out, lease
	// lost, shutdown) before it finished; Cause says why.
	OutcomeCancelled = "cancelled"
)

// Event is one line of a processor's execution record. Times are Unix
// nanoseconds by the machine's clock, which every process of the suite
// shares.
type Event struct {
	Ev    string     `json:"ev"`
	At    int64      `json:"at"`
	Owner string     `json:"owner,omitempty"`
	Pid   int        `json:"pid,omitempty"`
	Job   gocql.UUID `json:"job,omitzero"`
	// Token is the lease token of the claim this execution runs under.
	Token   gocql.UUID `json:"token,omitzero"`
	Attempt int        `json:"attempt,omitempty"`
	// Claimed is when the store's claim took the job (Job.StartedAt).
	Claimed int64 `json:"claimed,omitempty"`
	// Until is the lease deadline as the processor knows it: from the claim
	// (EventBegin), then from each extension it saw (EventLease).
	Until   int64  `json:"until,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	Cause   string `json:"cause,omitempty"`
}

// Recorder appends events to one processor's record file, one write per
// line: a process killed with SIGKILL loses at most the line it was
// writing, and the kernel keeps every line written before.
type Recorder struct {
	mu    sync.Mutex
	f     *os.File
	owner string
}

// CreateRecorder creates (or appends to) the record at path and writes the
// EventProcess line.
func CreateRecorder(path, owner string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	r := &Recorder{f: f, owner: owner}
	if err := r.write(Event{Ev: EventProcess, Owner: owner, Pid: os.Getpid()}); err != nil {
		_ = f.Close()
		return nil, err
	}
	return r, nil
}

// Write appends ev, stamped with the current time and the owner.
func (r *Recorder) Write(ev Event) error { return r.write(ev) }

func (r *Recorder) write(ev Event) error {
	ev.At = time.Now().UnixNano()
	ev.Owner = r.owner
	line, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err = r.f.Write(line)
	return err
}

// Close closes the file.
func (r *Recorder) Close() error { return r.f.Close() }

// ReadRecord reads a record file. A last line that does not parse (the
// process was killed while writing it) is dropped and reported as torn;
// any other line that does not parse is an error.
func ReadRecord(path string) (events []Event, torn bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	// A line cut before its newline but after its closing brace is whole,
	// and kept.
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var lines [][]byte
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	for i, line := range lines {
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil || ev.Ev == "" {
			last := i == len(lines)-1
			if last {
				return events, true, nil
			}
			return nil, false, fmt.Errorf("%s:%d: not an event: %q", path, i+1, line)
		}
		events = append(events, ev)
	}
	return events, torn, nil
}
