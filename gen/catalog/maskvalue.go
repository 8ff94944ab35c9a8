package catalog

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/jobsharp/cassandra/gen/cql"
)

// This file serializes the collection literal of a mask_replace as
// Cassandra does, for the text system_schema.column_masks shows: a
// collection value is shown as the hex of its serialized form (a count, then
// each element with its length; set elements and map keys in the order of
// their type).

// collectionMaskValue returns the hex system_schema shows for a list, set or
// map literal of the column type t, and whether it could serialize it:
// elements of the native types below, in collections of one level.
func collectionMaskValue(t *cql.Type, a *cql.Term) (string, bool) {
	if a.Kind != cql.TermCollection || !isCollection(t) {
		return "", false
	}
	type entry struct{ key, value []byte }
	var entries []entry
	step := 1
	if t.Kind == cql.TypeMap {
		step = 2
		if !a.Map && len(a.Args) > 0 {
			return "", false
		}
	}
	if len(a.Args)%step != 0 {
		return "", false
	}
	for i := 0; i < len(a.Args); i += step {
		k, ok := nativeValue(t.Params[0], a.Args[i])
		if !ok {
			return "", false
		}
		e := entry{key: k}
		if step == 2 {
			if e.value, ok = nativeValue(t.Params[1], a.Args[i+1]); !ok {
				return "", false
			}
		}
		entries = append(entries, e)
	}
	if t.Kind != cql.TypeList {
		cmp, ok := nativeCompare(t.Params[0])
		if !ok {
			return "", false
		}
		slices.SortStableFunc(entries, func(x, y entry) int { return cmp(x.key, y.key) })
		entries = slices.CompactFunc(entries, func(x, y entry) bool { return cmp(x.key, y.key) == 0 })
	}
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, int32(len(entries)))
	for _, e := range entries {
		for _, v := range [][]byte{e.key, e.value} {
			if v == nil && step == 1 {
				continue
			}
			_ = binary.Write(&b, binary.BigEndian, int32(len(v)))
			b.Write(v)
		}
	}
	return hex.EncodeToString(b.Bytes()), true
}

// nativeValue serializes a literal of a native type.
func nativeValue(t *cql.Type, a *cql.Term) ([]byte, bool) {
	if t.Kind != cql.TypeNative || a.Kind != cql.TermLiteral {
		return nil, false
	}
	text := a.Text
	var b bytes.Buffer
	switch t.Name {
	case "tinyint", "smallint", "int", "bigint":
		bits := map[string]int{"tinyint": 8, "smallint": 16, "int": 32, "bigint": 64}[t.Name]
		n, err := strconv.ParseInt(text, 10, bits)
		if err != nil {
			return nil, false
		}
		full := binary.BigEndian.AppendUint64(nil, uint64(n))
		return full[8-bits/8:], true
	case "float", "double":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || strings.ContainsAny(text, "xXpPiInN_") {
			return nil, false
		}
		if t.Name == "float" {
			_ = binary.Write(&b, binary.BigEndian, math.Float32bits(float32(f)))
		} else {
			_ = binary.Write(&b, binary.BigEndian, math.Float64bits(f))
		}
		return b.Bytes(), true
	case "boolean":
		switch strings.ToLower(text) {
		case "true":
			return []byte{1}, true
		case "false":
			return []byte{0}, true
		}
	case "text", "varchar", "ascii":
		if isStringLiteral(a) {
			return []byte(strings.ReplaceAll(text[1:len(text)-1], "''", "'")), true
		}
	case "blob":
		if hexLiteral.MatchString(text) && len(text)%2 == 0 {
			v, err := hex.DecodeString(text[2:])
			return v, err == nil
		}
	}
	return nil, false
}

// nativeCompare returns the order of serialized values of a native type
// that sets and map keys keep.
func nativeCompare(t *cql.Type) (func(x, y []byte) int, bool) {
	switch t.Name {
	case "tinyint", "smallint", "int", "bigint":
		return func(x, y []byte) int { return cmp.Compare(signed(x), signed(y)) }, true
	case "text", "varchar", "ascii", "blob", "boolean":
		return bytes.Compare, true
	}
	return nil, false
}

func signed(b []byte) int64 {
	var n int64
	if len(b) > 0 && b[0]&0x80 != 0 {
		n = -1
	}
	for _, c := range b {
		n = n<<8 | int64(c)
	}
	return n
}
