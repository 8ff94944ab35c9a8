package repo

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// A job's id says where its row lives. Rows of jobs that become due
// together share a partition of the jobs table, so that one conditional
// batch claims or completes many of them in a single Paxos round, and the
// partition is computed from the id alone, so reading a job by id needs no
// lookup.
//
// An id has the layout of a UUID version 7 (RFC 9562), so ids sort by time
// both as bytes and in Cassandra's uuid order:
//
//	bytes 0–5   unix milliseconds of the job's home time: when it was first due
//	byte  6     version 7 (high nibble), width code k (low nibble): the home
//	            bucket is 2^k seconds wide
//	byte  7     sub-shard: one of the queue's partitions per bucket
//	bytes 8–10  variant 10, then the 20-bit queue number, then 2 random bits
//	bytes 11–15 random
//
// The partition key is (home, shard): home is the start of the 2^k-second
// bucket that holds the home time (aligned to the Unix epoch), and shard is
// queueNumber<<8 | subShard. Queue numbers are given out once per queue by
// the queue registry, so two queues never share a partition.

// homeRef names the partition of the jobs table that holds a job's row.
type homeRef struct {
	// Start is the start of the home bucket.
	Start time.Time
	// Shard is the queue number << 8 | the sub-shard.
	Shard int32
}

// idInfo is what an id encodes.
type idInfo struct {
	At        time.Time // home time, millisecond precision
	WidthCode int       // the home bucket is 2^WidthCode seconds wide
	Sub       int       // sub-shard
	Queue     int32     // queue number
}

const (
	// maxWidthCode bounds the width code: 2^15 s is about 9 hours.
	maxWidthCode = 15
	// maxQueueNumber is the largest queue number (20 bits).
	maxQueueNumber = 1<<20 - 1
	// maxSubShards is the most partitions per home bucket and queue.
	maxSubShards = 256
	// occurrenceWidthCode is the width code of recurring occurrences' ids. It
	// is a constant, not a setting, so every scheduler derives the same id
	// for an occurrence whatever its configuration.
	occurrenceWidthCode = 6
)

// maxHomeTime is the latest home time an id can hold (48-bit milliseconds)
// and the latest time a job may be due: the end of year 9999, which every
// tool that prints timestamps can show.
var maxHomeTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)

// widthOf returns the bucket width of width code k.
func widthOf(k int) time.Duration { return time.Duration(1<<k) * time.Second }

// widthCode returns the width code of a bucket width, which must be a power
// of two seconds between 1s and 2^15s.
func widthCode(w time.Duration) (int, bool) {
	for k := 0; k <= maxWidthCode; k++ {
		if widthOf(k) == w {
			return k, true
		}
	}
	return 0, false
}

// home returns the partition of the jobs table that an id with info i
// belongs to.
func (i idInfo) home() homeRef {
	return homeRef{Start: bucketStart(i.At, widthOf(i.WidthCode)), Shard: i.Queue<<8 | int32(i.Sub)}
}

// bucketStart returns the start of the epoch-aligned bucket of width w that
// holds t.
func bucketStart(t time.Time, w time.Duration) time.Time {
	wm := w.Milliseconds()
	m := t.UnixMilli()
	return time.UnixMilli(m - mod(m, wm)).UTC()
}

// mintID returns a new id for i; the low bits are random.
func mintID(i idInfo) gocql.UUID {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return layoutID(i, rnd)
}

// occurrenceID is the id of the job of recurring schedule id at fire time
// at: every scheduler derives the same id, so only one job is created. Its
// random bits come from a hash of the schedule and the time.
func occurrenceID(schedule string, at time.Time, queue int32) gocql.UUID {
	at = ms(at)
	sum := sha1.Sum(fmt.Appendf(nil, "jobsharp occurrence\x00%s\x00%d", schedule, at.UnixMilli()))
	var rnd [6]byte
	copy(rnd[:], sum[:])
	return layoutID(idInfo{At: at, WidthCode: occurrenceWidthCode, Sub: 0, Queue: queue}, rnd)
}

// layoutID lays out an id; rnd supplies the 42 random bits (the top 6 bits
// of rnd[0] are ignored).
func layoutID(i idInfo, rnd [6]byte) gocql.UUID {
	var u gocql.UUID
	m := uint64(i.At.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(m>>40), byte(m>>32), byte(m>>24), byte(m>>16), byte(m>>8), byte(m)
	u[6] = 0x70 | byte(i.WidthCode&0x0f)
	u[7] = byte(i.Sub)
	q := uint32(i.Queue) & maxQueueNumber
	// bits: 2 variant | 20 queue | 2 random, over bytes 8, 9 and 10.
	v := uint32(0b10)<<22 | q<<2 | uint32(rnd[0]&0b11)
	u[8], u[9], u[10] = byte(v>>16), byte(v>>8), byte(v)
	copy(u[11:], rnd[1:])
	return u
}

// parseID decodes an id the store made. It fails for any other UUID.
func parseID(id gocql.UUID) (idInfo, error) {
	if id[6]>>4 != 7 || id[8]>>6 != 0b10 {
		return idInfo{}, fmt.Errorf("%s is not a job id made by this store (want a version 7 UUID from Jobs.NewID)", id)
	}
	m := int64(binary.BigEndian.Uint64(append([]byte{0, 0}, id[:6]...)))
	v := uint32(id[8])<<16 | uint32(id[9])<<8 | uint32(id[10])
	i := idInfo{
		At:        time.UnixMilli(m).UTC(),
		WidthCode: int(id[6] & 0x0f),
		Sub:       int(id[7]),
		Queue:     int32(v >> 2 & maxQueueNumber),
	}
	if i.Queue == 0 {
		return idInfo{}, fmt.Errorf("%s is not a job id made by this store (no queue number)", id)
	}
	return i, nil
}

// idAt returns a bound for reading a partition by time: every id whose
// home time is before t sorts before it, and every other id at or after it.
func idAt(t time.Time) gocql.UUID {
	var u gocql.UUID
	m := uint64(t.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(m>>40), byte(m>>32), byte(m>>24), byte(m>>16), byte(m>>8), byte(m)
	u[6], u[8] = 0x70, 0x80
	return u
}
