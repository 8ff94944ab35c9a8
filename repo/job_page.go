package repo

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/queries"
)

// Paging by position (keyset paging). A list is read from its indexes in
// their own order, and a page ends at a position: the index row (bucket,
// time, job id, and for a lease entry the job within it) of the last job it
// returned. The next page starts strictly after that position, so it reads
// what it returns plus the stale rows in between, however deep it is.
//
// A list of a queue has one source, or two for Scheduled:
//   - resting states (Created, AwaitingContinuation, AwaitingBatch,
//     Cancelled, Abandoned): the state index, newest bucket first, newest
//     first within a bucket (entered_at DESC, job_id ASC);
//   - Succeeded: the finish logs of the home partitions, newest home bucket
//     first, and within a bucket newest finish first (the time of the batch
//     that finished the job, then the batch's row id and the job id); an
//     entry is live when its job still has the version the entry names;
//   - Scheduled, Failed and Processing: the due index from the queue's
//     watermark when paging began (the floor), soonest first (due_at,
//     job_id; a lease entry's jobs in id order), and for Scheduled also the
//     home partitions from the floor in id order (home-time order).
//
// A list of every queue merges the queues' sources; each source keeps its
// own position in the cursor, so every job is returned once whatever order
// the sources' positions take. A job in two sources belongs to one of them:
// a Scheduled job waits at home (listed at its home time) when its run time
// is not after its home time and its home time is not before the floor, and
// is listed through its due entry otherwise. A job with several entries
// (a stale one beside its current one) is listed through the entry due at
// its run time, or, for a run time that had passed when the entry was
// written, through an entry not after now; a Processing job through the
// lease entry that covers its lease's end.

// ListPageParams selects one page of a state's jobs.
type ListPageParams struct {
	// Queue to list; empty lists every queue that exists when the first
	// page is read, merged.
	Queue string
	State State
	// Limit is the most jobs to return; 1 to 1,000.
	Limit int
	// Cursor is the Next of the previous page; empty for the first page.
	Cursor string
}

// ListPageResult is one page of a list.
type ListPageResult struct {
	// Jobs in the list's order: newest first for the states the state index
	// serves, soonest due (or lease end) first for Scheduled, Failed and
	// Processing.
	Jobs []*Job
	// Next is the cursor of the following page; empty when the list is
	// exhausted. A page may hold fewer than Limit jobs (even none) and still
	// have a Next, when it met many stale index rows: keep following Next
	// until it is empty.
	Next string
}

// CursorError reports a cursor that is not one ListPage made for the same
// list: malformed, altered, or from another queue or state. It matches
// ErrInvalid.
type CursorError struct {
	Problem string
}

func (e *CursorError) Error() string { return "jobsharp: invalid cursor: " + e.Problem }

// Is reports whether target is ErrInvalid.
func (e *CursorError) Is(target error) bool { return target == ErrInvalid }

// maxPageLimit bounds ListPage's Limit.
const maxPageLimit = 1_000

// ListPage returns one page of the jobs in a state, from the position
// p.Cursor names (JobSharp's GetJobsByState, paged). Each page reads the
// indexes from that position on: a directory page, one or two reads per
// bucket round (every shard of a bucket in one statement), and the jobs of
// the rows it meets; at most about 3×Limit+40 statements per queue and
// source, whatever the page's depth and the history. Every hint is checked
// against its job; stale state-index rows are removed. Jobs that enter the
// list behind the position (newer ones in a newest-first list) are not
// returned by later pages; jobs that leave it are not returned.
//
// Returns [ErrInvalid] for bad parameters, and a [*CursorError] (which
// matches ErrInvalid) for a cursor that is malformed or belongs to another
// list.
func (j *Jobs) ListPage(ctx context.Context, p *ListPageParams) (*ListPageResult, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	s := j.s
	switch {
	case p == nil:
		return nil, invalid("list page params", "nil")
	case !p.State.Valid():
		return nil, invalid("state", "%d is not a state", int(p.State))
	case p.Limit < 1 || p.Limit > maxPageLimit:
		return nil, invalid("limit", "%d, want 1 to 1,000", p.Limit)
	}
	if p.Queue != "" {
		if err := ValidQueue(p.Queue); err != nil {
			return nil, err
		}
	}
	var cur *listCursor
	if p.Cursor != "" {
		c, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, err
		}
		if c.State != int(p.State) || c.Queue != p.Queue {
			return nil, &CursorError{Problem: fmt.Sprintf("it pages the %s jobs of %s, not the %s jobs of %s", State(c.State), queueWords(c.Queue), p.State, queueWords(p.Queue))}
		}
		cur = c
	} else {
		c, err := s.firstCursor(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("list %s jobs of %s: %w", p.State, queueWords(p.Queue), err)
		}
		cur = c
	}
	res, err := s.listPage(ctx, cur, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("list %s jobs of %s: %w", p.State, queueWords(p.Queue), err)
	}
	return res, nil
}

func queueWords(q string) string {
	if q == "" {
		return "every queue"
	}
	return "queue " + q
}

// firstCursor is the position before the first job of a list: for the due
// index, the queue's watermark now.
func (s *Store) firstCursor(ctx context.Context, p *ListPageParams) (*listCursor, error) {
	queues, err := s.Jobs.queuesOf(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	c := &listCursor{V: cursorVersion, State: int(p.State), Queue: p.Queue}
	for _, q := range queues {
		qc := queueCursor{Name: q}
		if p.State.dueIndexed() {
			wm, _, err := s.watermark(ctx, q)
			if err != nil {
				return nil, err
			}
			qc.Floor = wm.UnixMilli()
		}
		c.Queues = append(c.Queues, qc)
	}
	return c, nil
}

// listPage reads one page from cursor c and returns it with the next cursor.
func (s *Store) listPage(ctx context.Context, c *listCursor, limit int) (*ListPageResult, error) {
	state := State(c.State)
	now := s.now()
	var srcs []*pageSource
	for i := range c.Queues {
		qc := &c.Queues[i]
		floor := time.UnixMilli(qc.Floor).UTC()
		kind := srcState
		switch {
		case state.dueIndexed():
			kind = srcDue
		case !state.stateIndexed():
			kind = srcFinished
		}
		srcs = append(srcs, s.newSource(kind, qc.Name, state, floor, now, &qc.Index, limit))
		if state == StateScheduled {
			srcs = append(srcs, s.newSource(srcHome, qc.Name, state, floor, now, &qc.Home, limit))
		}
	}
	desc := !state.dueIndexed()
	res := &ListPageResult{}
	seen := map[gocql.UUID]bool{}
	for len(res.Jobs) < limit {
		var best *pageSource
		var bestItem *pageItem
		stalled := false
		for _, src := range srcs {
			it, err := src.peek(ctx)
			if err != nil {
				return nil, err
			}
			if it == nil {
				stalled = stalled || !src.cur.Done
				continue
			}
			if bestItem == nil || it.key.compare(bestItem.key, desc) < 0 {
				best, bestItem = src, it
			}
		}
		// A source that ran out of statements may hold the next job: the
		// page ends here, and the next one goes on from every position.
		if stalled || best == nil {
			break
		}
		best.pop()
		if !seen[bestItem.job.ID] {
			seen[bestItem.job.ID] = true
			res.Jobs = append(res.Jobs, bestItem.job)
		}
	}
	// A full page looks one job further, within its budget: the cursor then
	// starts just before the next job (past stale rows and finished
	// buckets), and a list that ends here gets no empty last page.
	done := true
	for _, src := range srcs {
		if len(res.Jobs) == limit {
			if _, err := src.peek(ctx); err != nil {
				return nil, err
			}
		}
		src.settle()
		done = done && src.cur.Done
	}
	if !done {
		next, err := encodeCursor(c)
		if err != nil {
			return nil, err
		}
		res.Next = next
	}
	return res, nil
}

// ---------------------------------------------------------------- cursor

// cursorVersion 2: lists of Succeeded jobs read the finish logs.
const cursorVersion = 2

// listCursor is what a cursor token holds: the list it pages and each
// source's position.
type listCursor struct {
	V      int           `json:"v"`
	State  int           `json:"s"`
	Queue  string        `json:"q,omitempty"`
	Queues []queueCursor `json:"qs"`
}

type queueCursor struct {
	Name string `json:"n"`
	// Floor is the queue's watermark when paging began (due-indexed lists),
	// in Unix milliseconds.
	Floor int64  `json:"f,omitempty"`
	Index srcPos `json:"x,omitzero"`
	Home  srcPos `json:"h,omitzero"`
}

// srcPos is a source's position: a directory row (bucket) and, once
// started, the last row passed in it; Inner is the last job passed within
// a lease entry (the entry itself is then not passed yet).
type srcPos struct {
	Done    bool       `json:"d,omitempty"`
	Set     bool       `json:"e,omitempty"` // a bucket is named (else: before the first)
	Bucket  int64      `json:"b,omitempty"` // Unix ms
	Width   int64      `json:"w,omitempty"` // ms
	Shards  int        `json:"k,omitempty"`
	Started bool       `json:"r,omitempty"`
	At      int64      `json:"t,omitempty"` // Unix ms
	ID      gocql.UUID `json:"i,omitzero"`
	Inner   gocql.UUID `json:"n,omitzero"`
	// DirFrom is where the directory is read from before a bucket is named:
	// past the rows skipped as wholly before the floor (Unix ms).
	DirFrom int64 `json:"f,omitempty"`
}

func (p srcPos) bucket() bucketRef {
	return bucketRef{Start: time.UnixMilli(p.Bucket).UTC(), Width: time.Duration(p.Width) * time.Millisecond, Shards: p.Shards}
}

func posAt(b bucketRef) srcPos {
	return srcPos{Set: true, Bucket: b.Start.UnixMilli(), Width: b.Width.Milliseconds(), Shards: b.Shards}
}

// encodeCursor writes a cursor as base64url of a CRC-32 and its JSON, so
// that a truncated or altered token is recognised.
func encodeCursor(c *listCursor) (string, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	buf := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(body))
	return base64.RawURLEncoding.EncodeToString(append(buf, body...)), nil
}

func decodeCursor(tok string) (*listCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, &CursorError{Problem: "not a cursor ListPage made (not base64url)"}
	}
	if len(raw) < 5 || binary.BigEndian.Uint32(raw) != crc32.ChecksumIEEE(raw[4:]) {
		return nil, &CursorError{Problem: "not a cursor ListPage made (truncated or altered)"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw[4:]))
	dec.DisallowUnknownFields()
	var c listCursor
	if err := dec.Decode(&c); err != nil {
		return nil, &CursorError{Problem: fmt.Sprintf("not a cursor ListPage made (%v)", err)}
	}
	if err := c.check(); err != nil {
		return nil, &CursorError{Problem: err.Error()}
	}
	return &c, nil
}

// check validates what a decoded cursor holds, so that a hand-made one
// cannot make a page read outside its list.
func (c *listCursor) check() error {
	switch {
	case c.V != cursorVersion:
		return fmt.Errorf("version %d, want %d", c.V, cursorVersion)
	case !State(c.State).Valid():
		return fmt.Errorf("state %d is not a state", c.State)
	case c.Queue != "" && (len(c.Queues) != 1 || c.Queues[0].Name != c.Queue):
		return errors.New("its queues do not match its filter")
	}
	if c.Queue != "" {
		if err := ValidQueue(c.Queue); err != nil {
			return err
		}
	}
	for _, q := range c.Queues {
		if err := ValidQueue(q.Name); err != nil {
			return err
		}
		if q.Floor < 0 || q.Floor > farFuture.UnixMilli() {
			return fmt.Errorf("floor %d out of range", q.Floor)
		}
		for _, p := range []srcPos{q.Index, q.Home} {
			if p.Set && (p.Width < 1 || p.Width > int64(maxHomeWidth/time.Millisecond)*24 || p.Shards < 1 || p.Shards > maxShards ||
				p.Bucket < 0 || p.Bucket > farFuture.UnixMilli() || p.At < 0 || p.At > farFuture.UnixMilli()) ||
				p.DirFrom < 0 || p.DirFrom > farFuture.UnixMilli() {
				return errors.New("a position out of range")
			}
		}
	}
	return nil
}

// ---------------------------------------------------------------- sources

type srcKind int

const (
	srcState    srcKind = iota // the state index, newest first
	srcDue                     // the due index, soonest first
	srcHome                    // home partitions, in id order (Scheduled)
	srcFinished                // finish logs of home partitions, newest first (Succeeded)
)

// newestFirst reports whether the source reads its directory newest bucket
// first.
func (k srcKind) newestFirst() bool { return k == srcState || k == srcFinished }

// pageRow is a row read from a source: an index row, or a home row with
// its job.
type pageRow struct {
	b        bucketRef
	shard    int
	at       time.Time
	id, last gocql.UUID
	job      *Job
	after    gocql.UUID // jobs of a lease entry up to this id were passed
	// A finish-log row's entry: the job it names (id is the row's) and
	// the version the job had when it was left Succeeded.
	named   gocql.UUID
	version int64
}

func (r pageRow) pos() srcPos {
	p := posAt(r.b)
	p.Started, p.At, p.ID, p.Inner = true, r.at.UnixMilli(), r.id, r.named
	return p
}

// pageKey orders items across sources: bucket (the state index only), time,
// id, and the job within a lease entry.
type pageKey struct {
	bucket    int64
	at        int64
	id, inner gocql.UUID
}

func (k pageKey) compare(o pageKey, desc bool) int {
	if desc {
		if k.bucket != o.bucket {
			return cmp.Compare(o.bucket, k.bucket)
		}
		if k.at != o.at {
			return cmp.Compare(o.at, k.at)
		}
	} else if k.at != o.at {
		return cmp.Compare(k.at, o.at)
	}
	if c := compareUUID(k.id, o.id); c != 0 {
		return c
	}
	return compareUUID(k.inner, o.inner)
}

// pageItem is a job a source yields, with the positions before and after
// it (before: after the row read before it, so past stale rows and the end
// of the previous bucket).
type pageItem struct {
	job         *Job
	key         pageKey
	pos, before srcPos
	row         int // index of its row in the verified batch
}

// pageSource reads one source of one queue's list from a position, within
// a budget of statements per page.
type pageSource struct {
	s      *Store
	kind   srcKind
	queue  string
	state  State
	floor  time.Time
	now    time.Time
	limit  int
	cur    *srcPos // the position passed: in the cursor
	read   srcPos  // the position of the last row read
	budget int

	rows     []pageRow  // read, not yet verified, in order
	complete bool       // the rows read reach the end of the current bucket
	items    []pageItem // verified
	verified srcPos     // the position of the last row verified
	dirs     []bucketRef
	dirsEnd  bool
	qn       int32
	// finishRows is how many finish-log rows per partition the last round
	// read (srcFinished).
	finishRows int
}

// pageBudget is the statements one source may send for a page (the last
// read may go over by one job read).
func pageBudget(limit int) int { return 2*limit + 32 }

// dirPage is how many directory rows a source reads at once.
const dirPage = 64

func (s *Store) newSource(kind srcKind, queue string, state State, floor, now time.Time, cur *srcPos, limit int) *pageSource {
	return &pageSource{s: s, kind: kind, queue: queue, state: state, floor: floor, now: now, limit: limit, cur: cur, read: *cur, verified: *cur, budget: pageBudget(limit)}
}

// peek returns the source's next job, reading as needed; nil when the source
// is exhausted (cur.Done) or out of budget.
func (src *pageSource) peek(ctx context.Context) (*pageItem, error) {
	for len(src.items) == 0 {
		if src.cur.Done || src.budget <= 0 {
			return nil, nil
		}
		if len(src.rows) == 0 {
			// Every row read was passed.
			*src.cur = src.verified
			if err := src.readRound(ctx); err != nil {
				return nil, err
			}
			continue
		}
		if err := src.verify(ctx); err != nil {
			return nil, err
		}
	}
	return &src.items[0], nil
}

func (src *pageSource) pop() {
	*src.cur = src.items[0].pos
	src.items = src.items[1:]
}

// settle sets the position the cursor keeps when the page ends: just
// before the next job, or after every row read when nothing is pending.
func (src *pageSource) settle() {
	switch {
	case src.cur.Done:
	case len(src.items) > 0:
		*src.cur = src.items[0].before
	case len(src.rows) == 0:
		*src.cur = src.verified
	}
}

// readRound reads the next rows of the current bucket, or moves to the next
// bucket when the current one is read to its end.
func (src *pageSource) readRound(ctx context.Context) error {
	if !src.read.Set || src.complete {
		b, ok, err := src.nextBucket(ctx)
		switch {
		case err != nil:
			return err
		case !ok && src.dirsEnd:
			src.read.Done, src.verified.Done, src.cur.Done = true, true, true
			return nil
		case !ok:
			return nil // out of budget: the next page reads the directory again
		}
		src.read = posAt(b)
		src.verified = src.read
		src.complete = false
		return nil
	}
	var err error
	switch src.kind {
	case srcState:
		src.rows, src.complete, err = src.readState(ctx)
	case srcDue:
		src.rows, src.complete, err = src.readDue(ctx)
	case srcFinished:
		src.rows, src.complete, err = src.readFinished(ctx)
	default:
		src.rows, src.complete, err = src.readHome(ctx)
	}
	if err != nil {
		return err
	}
	if len(src.rows) > 0 {
		src.read = src.rows[len(src.rows)-1].pos()
	} else if !src.complete {
		return fmt.Errorf("read %s index of queue %s: a round read nothing and did not finish its bucket", src.state, src.queue)
	}
	return nil
}

// nextBucket returns the directory row after the one read, in the source's
// order (the first from the floor when none was read).
func (src *pageSource) nextBucket(ctx context.Context) (bucketRef, bool, error) {
	after := func(b bucketRef) bool {
		if !src.read.Set {
			return src.kind.newestFirst() || b.End().After(src.floor)
		}
		r := src.read.bucket()
		if src.kind.newestFirst() {
			return b.Start.Before(r.Start) || (b.Start.Equal(r.Start) && cmpDir(b, r) > 0)
		}
		return b.Start.After(r.Start) || (b.Start.Equal(r.Start) && cmpDir(b, r) > 0)
	}
	for {
		for len(src.dirs) > 0 {
			b := src.dirs[0]
			src.dirs = src.dirs[1:]
			if after(b) {
				return b, true, nil
			}
			if !src.read.Set {
				// Wholly before the floor: the next page need not read it.
				src.read.DirFrom = b.Start.UnixMilli()
				src.verified.DirFrom, src.cur.DirFrom = src.read.DirFrom, src.read.DirFrom
			}
		}
		if src.dirsEnd || src.budget <= 0 {
			return bucketRef{}, false, nil
		}
		if err := src.readDirs(ctx); err != nil {
			return bucketRef{}, false, err
		}
	}
}

func cmpDir(a, b bucketRef) int {
	if a.Width != b.Width {
		return cmp.Compare(int64(a.Width), int64(b.Width))
	}
	return cmp.Compare(int64(a.Shards), int64(b.Shards))
}

// readDirs reads the next page of the source's directory.
func (src *pageSource) readDirs(ctx context.Context) error {
	s := src.s
	src.budget--
	// From the bucket last read (inclusive; nextBucket skips the rows up to
	// it), or from the floor less the widest bucket.
	var from time.Time
	switch {
	case src.read.Set:
		from = src.read.bucket().Start
	case src.kind == srcDue:
		from = maxTime(epoch, src.floor.Add(-maxDueWidth))
	case src.kind == srcHome:
		from = maxTime(epoch, src.floor.Add(-maxHomeWidth))
	}
	if !src.read.Set && src.read.DirFrom > 0 {
		from = maxTime(from, time.UnixMilli(src.read.DirFrom).UTC())
	}
	var rows []bucketRef
	switch src.kind {
	case srcState:
		before := farFuture
		if src.read.Set {
			before = from.Add(time.Millisecond)
		}
		rs, err := s.db.StateBucketsBefore(ctx, src.queue, int32(src.state), before, dirPage).All()
		if err != nil {
			return s.interpret(ctx, queries.StateBucketsBefore.Name, err)
		}
		for _, r := range rs {
			rows = append(rows, bucketRef{Start: r.Bucket.UTC(), Width: time.Duration(r.WidthMs) * time.Millisecond, Shards: int(r.Shards)})
		}
	case srcFinished:
		before := farFuture.Add(time.Millisecond)
		if src.read.Set {
			before = from.Add(time.Millisecond)
		}
		rs, err := s.db.HomeBucketsBefore(ctx, src.queue, before, dirPage).All()
		if err != nil {
			return s.interpret(ctx, queries.HomeBucketsBefore.Name, err)
		}
		for _, r := range rs {
			rows = append(rows, bucketRef{Start: r.Bucket.UTC(), Width: time.Duration(r.WidthMs) * time.Millisecond, Shards: int(r.Shards)})
		}
		// ORDER BY bucket DESC reverses the width and shards too; rows of one
		// start are passed in the state directory's order (cmpDir).
		slices.SortStableFunc(rows, func(a, b bucketRef) int {
			if c := b.Start.Compare(a.Start); c != 0 {
				return c
			}
			return cmpDir(a, b)
		})
	case srcDue:
		rs, err := s.db.DueBucketsFrom(ctx, src.queue, from, dirPage).All()
		if err != nil {
			return s.interpret(ctx, queries.DueBucketsFrom.Name, err)
		}
		for _, r := range rs {
			rows = append(rows, bucketRef{Start: r.Bucket.UTC(), Width: time.Duration(r.WidthMs) * time.Millisecond, Shards: int(r.Shards)})
		}
	default:
		rs, err := s.db.HomeBucketsFrom(ctx, src.queue, from, dirPage).All()
		if err != nil {
			return s.interpret(ctx, queries.HomeBucketsFrom.Name, err)
		}
		for _, r := range rs {
			rows = append(rows, bucketRef{Start: r.Bucket.UTC(), Width: time.Duration(r.WidthMs) * time.Millisecond, Shards: int(r.Shards)})
		}
	}
	src.dirsEnd = len(rows) < dirPage
	// A full page that ends where it began cannot move on: its rows all
	// share one start (different widths or shard counts), which a page
	// of 64 never holds in practice.
	if !src.dirsEnd && rows[len(rows)-1].Start.Equal(from) {
		src.dirsEnd = true
	}
	for _, b := range rows {
		if b.Width > 0 && b.Shards > 0 && b.Shards <= maxShards {
			src.dirs = append(src.dirs, b)
		}
	}
	return nil
}

// shardList is every shard of an index bucket of n shards, 0 to n-1: the
// IN list of a statement that reads a bucket's shards together.
func shardList(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// perPart is how many rows a round reads from each partition.
func (src *pageSource) perPart() int { return src.limit + 8 }

// cut sorts rows into order and keeps those up to the frontier: the
// earliest last row of a partition read that returned its limit (rows past
// it in other partitions may be preceded by unread rows of that one).
// complete reports that no read was cut off.
func cut(rows []pageRow, full []pageRow, cmp func(a, b pageRow) int) ([]pageRow, bool) {
	slices.SortFunc(rows, cmp)
	if len(full) == 0 {
		return rows, true
	}
	frontier := slices.MinFunc(full, cmp)
	n, _ := slices.BinarySearchFunc(rows, frontier, cmp)
	return rows[:n+1], false
}

func stateOrder(a, b pageRow) int {
	if c := b.at.Compare(a.at); c != 0 {
		return c
	}
	return compareUUID(a.id, b.id)
}

func dueOrder(a, b pageRow) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	return compareUUID(a.id, b.id)
}

// readState reads a round of the state index: every shard of the bucket
// after the position, newest first.
func (src *pageSource) readState(ctx context.Context) ([]pageRow, bool, error) {
	s, b, n := src.s, src.read.bucket(), src.perPart()
	shards := shardList(b.Shards)
	var rows, full []pageRow
	add := func(shard int32, at time.Time, id gocql.UUID, count map[int32]int) {
		r := pageRow{b: b, shard: int(shard), at: at.UTC(), id: id}
		rows = append(rows, r)
		if count[shard]++; count[shard] == n {
			full = append(full, r)
		}
	}
	before := farFuture
	if src.read.Started {
		at := time.UnixMilli(src.read.At).UTC()
		src.budget--
		tie, err := s.db.StateScanShardsTie(ctx, src.queue, int32(src.state), b.Start, shards, at, src.read.ID, int32(n)).All()
		if err != nil {
			return nil, false, s.interpret(ctx, queries.StateScanShardsTie.Name, err)
		}
		count := map[int32]int{}
		for _, r := range tie {
			add(r.Shard, r.EnteredAt, r.JobID, count)
		}
		before = at
	}
	src.budget--
	rest, err := s.db.StateScanShards(ctx, src.queue, int32(src.state), b.Start, shards, before, int32(n)).All()
	if err != nil {
		return nil, false, s.interpret(ctx, queries.StateScanShards.Name, err)
	}
	count := map[int32]int{}
	for _, r := range rest {
		add(r.Shard, r.EnteredAt, r.JobID, count)
	}
	out, complete := cut(rows, full, stateOrder)
	return out, complete, nil
}

// readDue reads a round of the due index: every shard of the bucket after
// the position, soonest first. A position inside a lease entry reads that
// entry again.
func (src *pageSource) readDue(ctx context.Context) ([]pageRow, bool, error) {
	s, b, n := src.s, src.read.bucket(), src.perPart()
	shards := shardList(b.Shards)
	var rows, full []pageRow
	add := func(shard int32, at time.Time, id, last gocql.UUID, count map[int32]int) {
		r := pageRow{b: b, shard: int(shard), at: at.UTC(), id: id, last: last}
		if src.read.Inner != (gocql.UUID{}) && id == src.read.ID && at.UnixMilli() == src.read.At {
			r.after = src.read.Inner
		}
		rows = append(rows, r)
		if count[shard]++; count[shard] == n {
			full = append(full, r)
		}
	}
	from := maxTime(b.Start, src.floor)
	if src.read.Started {
		at := time.UnixMilli(src.read.At).UTC()
		after := src.read.ID
		if src.read.Inner != (gocql.UUID{}) {
			after = predUUID(after)
		}
		src.budget--
		tie, err := s.db.DueScanShardsTie(ctx, src.queue, b.Start, shards, at, after, int32(n)).All()
		if err != nil {
			return nil, false, s.interpret(ctx, queries.DueScanShardsTie.Name, err)
		}
		count := map[int32]int{}
		for _, r := range tie {
			add(r.Shard, r.DueAt, r.JobID, r.LastID, count)
		}
		from = at.Add(time.Millisecond)
	}
	var rest []queries.DueScanShardsRow
	if to := b.End().Add(-time.Millisecond); !from.After(to) {
		src.budget--
		var err error
		rest, err = s.db.DueScanShards(ctx, src.queue, b.Start, shards, from, to, int32(n)).All()
		if err != nil {
			return nil, false, s.interpret(ctx, queries.DueScanShards.Name, err)
		}
	}
	count := map[int32]int{}
	for _, r := range rest {
		add(r.Shard, r.DueAt, r.JobID, r.LastID, count)
	}
	out, complete := cut(rows, full, dueOrder)
	return out, complete, nil
}

// partitions returns the jobs partitions of the home bucket read, looking
// up the queue's number once.
func (src *pageSource) partitions(ctx context.Context) ([]homeRef, error) {
	if src.qn == 0 {
		qn, err := src.s.queueNumber(ctx, src.queue)
		if err != nil {
			return nil, err
		}
		src.qn = qn
	}
	b := src.read.bucket()
	return homeDirKey{bucket: b.Start, width: b.Width, shards: b.Shards}.partitions(src.qn), nil
}

// readHome reads a round of a home bucket: every partition of the bucket
// after the position, in id order.
func (src *pageSource) readHome(ctx context.Context) ([]pageRow, bool, error) {
	s, b, n := src.s, src.read.bucket(), src.perPart()
	parts, err := src.partitions(ctx)
	if err != nil {
		return nil, false, err
	}
	after := idAt(maxTime(src.floor, b.Start))
	if src.read.Started {
		after = src.read.ID
	}
	until := idAt(farFuture.Add(time.Millisecond))
	results := make([][]pageRow, len(parts))
	src.budget -= len(parts)
	err = forEach(ctx, len(parts), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		rs, err := s.db.JobsScan(ctx, parts[i].Start, parts[i].Shard, after, until, int32(n)).All()
		if err != nil {
			return s.interpret(ctx, queries.JobsScan.Name, err)
		}
		for k := range rs {
			j := jobFromRow(&rs[k])
			at := time.UnixMilli(int64(binary.BigEndian.Uint64(append([]byte{0, 0}, j.ID[:6]...)))).UTC()
			results[i] = append(results[i], pageRow{b: b, shard: i, at: at, id: j.ID, job: j})
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	var rows, full []pageRow
	for _, rs := range results {
		rows = append(rows, rs...)
		if len(rs) == n {
			full = append(full, rs[len(rs)-1])
		}
	}
	out, complete := cut(rows, full, dueOrder)
	return out, complete, nil
}

// verify reads the jobs of the next rows read and turns them into items.
func (src *pageSource) verify(ctx context.Context) error {
	n := min(len(src.rows), src.limit+8)
	batch := src.rows[:n]
	src.rows = src.rows[n:]
	var items []pageItem
	var err error
	switch src.kind {
	case srcState:
		items, err = src.verifyState(ctx, batch)
	case srcDue:
		items, err = src.verifyDue(ctx, batch)
	case srcFinished:
		items, err = src.verifyFinished(ctx, batch)
	default:
		items = src.verifyHome(batch)
	}
	if err != nil {
		return err
	}
	prev, last := src.verified, -1
	for i := range items {
		if r := items[i].row; r != last {
			if r > 0 {
				prev = batch[r-1].pos()
			}
			last = r
		}
		items[i].before = prev
		prev = items[i].pos
	}
	src.items = append(src.items, items...)
	src.verified = batch[len(batch)-1].pos()
	return nil
}

func itemOf(i int, r pageRow, j *Job) pageItem {
	return pageItem{job: j, key: pageKey{bucket: r.b.Start.UnixMilli(), at: r.at.UnixMilli(), id: r.id, inner: r.named}, pos: r.pos(), row: i}
}

func (src *pageSource) verifyState(ctx context.Context, rows []pageRow) ([]pageItem, error) {
	entries := make([]stateEntry, len(rows))
	for i, r := range rows {
		entries[i] = stateEntry{Queue: src.queue, State: src.state, Bucket: r.b, Shard: r.shard, EnteredAt: r.at, JobID: r.id}
	}
	src.budget -= partitionsOf(entries, func(e stateEntry) gocql.UUID { return e.JobID })
	live, stale, err := src.s.verifyStateEntries(ctx, src.state, entries)
	if err != nil {
		return nil, err
	}
	src.s.deleteState(ctx, stale...)
	byID := make(map[gocql.UUID]*Job, len(live))
	for _, j := range live {
		byID[j.ID] = j
	}
	var out []pageItem
	for i, r := range rows {
		if j := byID[r.id]; j != nil {
			out = append(out, itemOf(i, r, j))
		}
	}
	return out, nil
}

// partitionsOf counts the home partitions the ids of xs fall in: the
// statements reading their jobs costs.
func partitionsOf[T any](xs []T, id func(T) gocql.UUID) int {
	parts := map[homeRef]bool{}
	for _, x := range xs {
		if h, err := homeOf(id(x)); err == nil {
			parts[h] = true
		}
	}
	return len(parts)
}

func (src *pageSource) verifyDue(ctx context.Context, rows []pageRow) ([]pageItem, error) {
	s := src.s
	groups := map[homeRef][]dueEntry{}
	var order []homeRef
	for _, r := range rows {
		lease := r.last != (gocql.UUID{})
		if lease != (src.state == StateProcessing) {
			continue // a lease entry lists Processing jobs; single entries the others
		}
		h, err := homeOf(r.id)
		if err != nil {
			continue
		}
		if _, ok := groups[h]; !ok {
			order = append(order, h)
		}
		groups[h] = append(groups[h], dueEntry{Queue: src.queue, Bucket: r.b, Shard: r.shard, DueAt: r.at, JobID: r.id, LastID: r.last})
		if lease {
			src.budget--
		}
	}
	src.budget -= len(order)
	found := make([][]*Job, len(order))
	err := forEach(ctx, len(order), s.set.writeConcurrency, func(ctx context.Context, i int) error {
		var err error
		found[i], err = s.jobsOfEntries(ctx, order[i], groups[order[i]])
		return err
	})
	if err != nil {
		return nil, err
	}
	byID := map[gocql.UUID]*Job{}
	var all []*Job
	for _, f := range found {
		for _, j := range f {
			if byID[j.ID] == nil {
				byID[j.ID] = j
				all = append(all, j)
			}
		}
	}
	slices.SortFunc(all, func(a, b *Job) int { return compareUUID(a.ID, b.ID) })
	var out []pageItem
	for i, r := range rows {
		if r.last == (gocql.UUID{}) {
			if j := byID[r.id]; j != nil && src.listsDue(j, r.at) {
				out = append(out, itemOf(i, r, j))
			}
			continue
		}
		if src.state != StateProcessing {
			continue
		}
		for _, j := range all {
			if compareUUID(j.ID, r.id) < 0 || compareUUID(j.ID, r.last) > 0 || compareUUID(j.ID, r.after) <= 0 {
				continue
			}
			if j.Queue != src.queue || j.State != StateProcessing || ms(j.Lease.Until).After(r.at) {
				continue
			}
			it := itemOf(i, r, j)
			it.key.inner = j.ID
			it.pos.Inner = j.ID
			out = append(out, it)
		}
	}
	// The last item of a lease entry passes the whole entry only once the
	// row is verified; until then its position keeps Inner, which reads the
	// entry again and skips the jobs passed.
	return out, nil
}

// listsDue reports whether a single due entry at `at` lists job j: j is in
// the list's state, the entry is its current one, and (Scheduled) it does
// not wait at home.
func (src *pageSource) listsDue(j *Job, at time.Time) bool {
	if j.Queue != src.queue || j.State != src.state {
		return false
	}
	if src.state == StateScheduled && !src.dueOwned(j) {
		return false
	}
	due := ms(j.ScheduledAt)
	return !at.Before(due) && (at.Equal(due) || !at.After(src.now))
}

// dueOwned reports whether a Scheduled job is listed through the due index
// rather than at home: its run time is after its home time, or its home
// time is before the floor.
func (src *pageSource) dueOwned(j *Job) bool {
	info, err := parseID(j.ID)
	if err != nil {
		return true
	}
	return j.ScheduledAt.After(info.At) || info.At.Before(src.floor)
}

func (src *pageSource) verifyHome(rows []pageRow) []pageItem {
	var out []pageItem
	for i, r := range rows {
		j := r.job
		if j.Version == 0 || j.Queue != src.queue || j.State != StateScheduled || src.dueOwned(j) {
			continue
		}
		out = append(out, itemOf(i, r, j))
	}
	return out
}

// finishOrder is the order of a list of Succeeded jobs within a home
// bucket: newest finish-log row first (by its time in milliseconds, as the
// cursor keeps it, then by row id), then by job id within a row.
func finishOrder(a, b pageRow) int {
	if c := b.at.Compare(a.at); c != 0 {
		return c
	}
	if c := compareUUID(a.id, b.id); c != 0 {
		return c
	}
	return compareUUID(a.named, b.named)
}

// lastUUID sorts after every other UUID in byte order.
var lastUUID = gocql.UUID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// maxFinishRows bounds the finish-log rows a round reads per partition: a
// row names every job its batch left Succeeded (up to maxBatchChanges), so
// a round of limit+8 rows could return megabytes; a list that needs more
// reads more rounds.
const maxFinishRows = 16

// firstFinishRows is how many rows of each partition a page's first round
// of finish logs reads. Fewer rows mean more rounds (the rows of all the
// bucket's partitions merge only up to the newest last row of a partition
// read to its limit), more mean more data: a dashboard page of 50 from
// 100,000 finished jobs took 20.4 ms with 3, 14.7 with 8 and 18.5 with 16
// (BENCHMARKS.md, "Dashboard pages").
const firstFinishRows = 8

// readFinished reads a round of a home bucket's finish logs for a list of
// Succeeded jobs: the newest rows of every partition of the bucket that
// are not after the position, in one statement, each row's entries in
// finishOrder. Rows of the position's millisecond come again (the bound is
// by time) and are passed here.
func (src *pageSource) readFinished(ctx context.Context) ([]pageRow, bool, error) {
	s, b := src.s, src.read.bucket()
	// The first round of a page reads few rows of each partition (a row
	// often names many jobs); each further round reads twice as many.
	src.finishRows = max(src.finishRows*2, firstFinishRows)
	n := min(src.perPart(), src.finishRows, maxFinishRows)
	parts, err := src.partitions(ctx)
	if err != nil {
		return nil, false, err
	}
	before := finishLogEnd
	var passed *pageRow
	if src.read.Started {
		before = gocql.MinTimeUUID(time.UnixMilli(src.read.At + 1))
		passed = &pageRow{at: time.UnixMilli(src.read.At).UTC(), id: src.read.ID, named: src.read.Inner}
	}
	shards := make([]int32, len(parts))
	for i, p := range parts {
		shards[i] = p.Shard
	}
	src.budget--
	rs, err := s.db.FinishLogNewest(ctx, b.Start, shards, before, int32(n)).PageSize(0).All()
	if err != nil {
		return nil, false, s.interpret(ctx, queries.FinishLogNewest.Name, err)
	}
	var rows []pageRow
	var frontier *pageRow // the earliest last row of a partition read to its limit
	count := map[int32]int{}
	for _, r := range rs {
		at := ms(r.ID.Time())
		for id, v := range r.SucceededJobs {
			e := pageRow{b: b, shard: int(r.Shard & 0xff), at: at, id: r.ID, named: id, version: v}
			if passed == nil || finishOrder(e, *passed) > 0 {
				rows = append(rows, e)
			}
		}
		if count[r.Shard]++; count[r.Shard] == n {
			// Unread rows of this partition come after its last row read:
			// rows of others past it wait for the next round.
			last := pageRow{at: at, id: r.ID, named: lastUUID}
			if frontier == nil || finishOrder(last, *frontier) < 0 {
				frontier = &last
			}
		}
	}
	slices.SortFunc(rows, finishOrder)
	if frontier == nil {
		return rows, true, nil
	}
	k, _ := slices.BinarySearchFunc(rows, *frontier, finishOrder)
	// The frontier ends the round as a row of its own, which lists no job:
	// the position moves past it even when the rows before it name no job
	// (rows of Cancelled jobs, of purges).
	frontier.b, frontier.shard = b, 0
	return append(rows[:k:k], *frontier), false, nil
}

// verifyFinished keeps the finish-log entries whose jobs are in the list:
// in the queue, Succeeded, and still at the version the entry names (a job
// changed since, by an update or a requeue and another run, is listed
// through its newer entry, or not at all).
func (src *pageSource) verifyFinished(ctx context.Context, rows []pageRow) ([]pageItem, error) {
	ids := make([]gocql.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.named // the frontier's lastUUID is no job id: getJobs leaves it out
	}
	src.budget -= partitionsOf(ids, func(id gocql.UUID) gocql.UUID { return id })
	jobs, err := src.s.getJobs(ctx, ids, false)
	if err != nil {
		return nil, err
	}
	byID := make(map[gocql.UUID]*Job, len(jobs))
	for _, j := range jobs {
		byID[j.ID] = j
	}
	var out []pageItem
	for i, r := range rows {
		if j := byID[r.named]; j != nil && j.Queue == src.queue && j.State == StateSucceeded && j.Version == r.version {
			out = append(out, itemOf(i, r, j))
		}
	}
	return out, nil
}
