package repo

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"
)

func TestIDLayout(t *testing.T) {
	t.Parallel()

	at := time.Date(2026, 12, 6, 3, 12, 44, 123e6, time.UTC)
	cases := []struct {
		name string
		info idInfo
		home homeRef
	}{
		{
			name: "DefaultWidth",
			info: idInfo{At: at, WidthCode: 6, Sub: 3, Queue: 1},
			home: homeRef{Start: bucketStart(at, 64*time.Second), Shard: 1<<8 | 3},
		},
		{
			name: "OneSecondLargestQueue",
			info: idInfo{At: at, WidthCode: 0, Sub: 255, Queue: maxQueueNumber},
			home: homeRef{Start: time.Date(2026, 12, 6, 3, 12, 44, 0, time.UTC), Shard: maxQueueNumber<<8 | 255},
		},
		{
			name: "WidestBucket",
			info: idInfo{At: at, WidthCode: maxWidthCode, Sub: 0, Queue: 77},
			home: homeRef{Start: time.UnixMilli(at.UnixMilli() - at.UnixMilli()%(1<<15*1000)).UTC(), Shard: 77 << 8},
		},
		{
			name: "Epoch",
			info: idInfo{At: time.UnixMilli(0).UTC(), WidthCode: 6, Sub: 1, Queue: 2},
			home: homeRef{Start: time.UnixMilli(0).UTC(), Shard: 2<<8 | 1},
		},
		{
			name: "LastInstant",
			info: idInfo{At: maxHomeTime, WidthCode: 6, Sub: 1, Queue: 2},
			home: homeRef{Start: bucketStart(maxHomeTime, 64*time.Second), Shard: 2<<8 | 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := mintID(tc.info)
			if v := id.Version(); v != 7 {
				t.Errorf("version = %d, want 7", v)
			}
			if id[8]>>6 != 0b10 {
				t.Errorf("variant bits = %02b, want 10", id[8]>>6)
			}
			got, err := parseID(id)
			if err != nil {
				t.Fatalf("parseID(%s) error = %v", id, err)
			}
			if diff := cmp.Diff(tc.info, got); diff != "" {
				t.Errorf("parseID(mintID(info)) mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.home, got.home()); diff != "" {
				t.Errorf("home mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseIDRefusesForeignUUIDs(t *testing.T) {
	t.Parallel()

	v4, _ := gocql.RandomUUID()
	v1 := gocql.TimeUUID()
	var zero gocql.UUID
	noQueue := layoutID(idInfo{At: time.Now(), WidthCode: 6}, [6]byte{1, 2, 3, 4, 5, 6})
	for _, id := range []gocql.UUID{v4, v1, zero, noQueue} {
		if _, err := parseID(id); err == nil {
			t.Errorf("parseID(%s) = nil error, want one", id)
		}
	}
}

func TestIDsSortByHomeTime(t *testing.T) {
	t.Parallel()

	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []gocql.UUID
	var want []time.Time
	for i := 0; i < 500; i++ {
		at := base.Add(time.Duration(i*7919%500) * time.Millisecond)
		ids = append(ids, mintID(idInfo{At: at, WidthCode: 6, Sub: 0, Queue: 9}))
		want = append(want, at)
	}
	slices.SortFunc(ids, func(a, b gocql.UUID) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(want, func(a, b time.Time) int { return a.Compare(b) })
	for i, id := range ids {
		info, err := parseID(id)
		if err != nil {
			t.Fatal(err)
		}
		if !info.At.Equal(want[i]) {
			t.Fatalf("id %d sorts at home time %s, want %s", i, info.At, want[i])
		}
		bound := idAt(info.At)
		if bytes.Compare(bound[:], id[:]) > 0 {
			t.Errorf("idAt(%s) = %s sorts after id %s of that time", info.At, bound, id)
		}
		if next := idAt(info.At.Add(time.Millisecond)); bytes.Compare(next[:], id[:]) <= 0 {
			t.Errorf("idAt(%s + 1ms) = %s does not sort after id %s", info.At, next, id)
		}
	}
}

func TestOccurrenceJobIDIsDeterministic(t *testing.T) {
	t.Parallel()

	at := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	a := occurrenceID("nightly", at, 5)
	if b := occurrenceID("nightly", at.Add(300*time.Microsecond), 5); a != b {
		t.Errorf("ids of one occurrence differ: %s and %s", a, b)
	}
	if b := occurrenceID("nightly", at.Add(time.Minute), 5); a == b {
		t.Errorf("ids of two occurrences are equal: %s", a)
	}
	if b := occurrenceID("hourly", at, 5); a == b {
		t.Errorf("ids of two schedules are equal: %s", a)
	}
	info, err := parseID(a)
	if err != nil {
		t.Fatal(err)
	}
	if want := (idInfo{At: at, WidthCode: occurrenceWidthCode, Sub: 0, Queue: 5}); info != want {
		t.Errorf("occurrence id info = %+v, want %+v", info, want)
	}
}

func TestWidthCode(t *testing.T) {
	t.Parallel()

	cases := []struct {
		width time.Duration
		code  int
		ok    bool
	}{
		{time.Second, 0, true},
		{64 * time.Second, 6, true},
		{time.Minute, 0, false},
		{1 << 15 * time.Second, 15, true},
		{1 << 16 * time.Second, 0, false},
		{1500 * time.Millisecond, 0, false},
	}
	for _, tc := range cases {
		code, ok := widthCode(tc.width)
		if code != tc.code || ok != tc.ok {
			t.Errorf("widthCode(%s) = %d, %t; want %d, %t", tc.width, code, ok, tc.code, tc.ok)
		}
	}
}
