package roundtrip_test

import (
	"bytes"
	"context"
	"math/big"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/scylladb/gocqlx/v2"
	"github.com/scylladb/gocqlx/v2/qb"
	"gopkg.in/inf.v0"

	vm "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/vectors/models"
	vq "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/vectors/queries"
)

// generatedRow is a pointer to a generated row type.
type generatedRow[R any] interface {
	*R
	AppendScanDest(dest []any, columns []gocql.ColumnInfo) []any
}

// vectorCase checks one table of the vectors fixture: row is what the
// generated types write (id 1), literal the same row as CQL literals (id 2),
// which the server encodes itself.
func vectorCase[R any, P generatedRow[R], C any](table string, row R, literal string,
	insert func(...C) (*qb.InsertBuilder, error), get func(...C) (*qb.SelectBuilder, error),
) func(ctx context.Context, t *testing.T, s gocqlx.Session) {
	return func(ctx context.Context, t *testing.T, s gocqlx.Session) {
		t.Run(table, func(t *testing.T) {
			reflect.ValueOf(&row).Elem().FieldByName("ID").SetInt(1)
			ins, err := insert()
			must(t, "Insert", err)
			q := ins.QueryContext(ctx, s)
			if tv, ok := any(P(&row)).(interface{ TupleValues() map[string]any }); ok {
				q = q.BindStructMap(P(&row), tv.TupleValues())
			} else {
				q = q.BindStruct(P(&row))
			}
			must(t, "insert the Go row", q.ExecRelease())
			must(t, "insert the literal row", s.ContextQuery(ctx, "INSERT INTO "+table+" "+literal, nil).ExecRelease())

			sel, err := get()
			must(t, "Get", err)
			for _, id := range []int32{1, 2} {
				var got R
				must(t, "read back", vm.GetRelease[R, P](s.ContextQuery(ctx, stmtOf(sel), namesOf(sel)).BindMap(qb.M{"id": id}), &got))
				want := row
				reflect.ValueOf(&want).Elem().FieldByName("ID").SetInt(int64(id))
				if diff := cmp.Diff(want, got, vectorCmp); diff != "" {
					t.Errorf("row %d read back (-want +got):\n%s", id, diff)
				}
			}

			// The server decodes the Go row as it decodes the literal one.
			var cols []string
			for _, c := range vq.Columns() {
				if c.Table == table && c.Name != "id" {
					cols = append(cols, c.Name)
				}
			}
			json := func(id int32) string {
				var out string
				must(t, "SELECT JSON", s.ContextQuery(ctx, "SELECT JSON "+strings.Join(cols, ", ")+" FROM "+table+" WHERE id = ?", nil).
					Bind(id).GetRelease(&out))
				return out
			}
			if goJSON, literalJSON := json(1), json(2); goJSON != literalJSON {
				t.Errorf("the server reads the Go row as\n%s\nand the literal row as\n%s", goJSON, literalJSON)
			}
		})
	}
}

// vectorCmp compares rows of the vectors fixture: an empty blob reads back
// as nil, and inet values compare as addresses.
var vectorCmp = cmp.Options{cmpOpts, cmpopts.EquateEmpty(),
	cmp.FilterPath(func(p cmp.Path) bool { return p.Last().Type() == reflect.TypeFor[vm.Inet]() },
		cmp.Comparer(func(a, b vm.Inet) bool { return net.IP(a).Equal(net.IP(b)) }))}

// TestFixtureVectors writes and reads every vector type of
// gen/testdata/vectors on the real node, in both directions: a row the
// generated Vector marshals reads back equal, and the server's JSON of it
// equals its JSON of the same row written as CQL literals (the server
// decodes our bytes as it decodes its own); the literal row, which the
// server encoded, reads into the same Go values.
func TestFixtureVectors(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	s := gocqlx.NewSession(fixtureSession(ctx, t, "vectors", vq.CreateStatements()))

	day := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	at := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	point := func(x, y float64) vm.Point { return vm.Point{X: x, Y: y} }
	embedding := vm.Embedding{Model: "m", V: vm.Vector[float32]{1, 2, 3}, Words: []vm.Vector[string]{{"a", "b"}}, At: vm.Vector[vm.Point]{point(1, 2), point(3, 4)}}
	for _, check := range []func(context.Context, *testing.T, gocqlx.Session){
		vectorCase("natives", vm.NativesRow{
			VASCII:     vm.Vector[string]{"a", ""},
			VBigint:    vm.Vector[int64]{-1 << 40, 7},
			VBlob:      vm.Vector[[]byte]{{0, 1}, bytes.Repeat([]byte{0xff}, 20000)}, // a three-byte length
			VBoolean:   vm.Vector[bool]{true, false},
			VDate:      vm.Vector[time.Time]{day, day.AddDate(0, 0, 1)},
			VDecimal:   vm.Vector[*inf.Dec]{inf.NewDec(-31415, 4), inf.NewDec(1, 0)},
			VDouble:    vm.Vector[float64]{2.5, -0.125},
			VDuration:  vm.Vector[gocql.Duration]{{Months: 1, Days: 2, Nanoseconds: 3}, {Nanoseconds: int64(4 * time.Hour)}},
			VFloat:     vm.Vector[float32]{0.25, -1, 3.5},
			VInet:      vm.Vector[vm.Inet]{vm.Inet(net.ParseIP("10.0.0.1").To4()), vm.Inet(net.ParseIP("::1"))},
			VInt:       vm.Vector[int32]{-42, 42},
			VSmallint:  vm.Vector[int16]{-300, 300},
			VText:      vm.Vector[string]{"héllo", strings.Repeat("wörld", 40)}, // a two-byte length
			VTime:      vm.Vector[time.Duration]{13*time.Hour + 5, 0},
			VTimestamp: vm.Vector[time.Time]{at, at.Add(time.Hour)},
			VTimeuuid:  vm.Vector[gocql.UUID]{mustUUID(t, "50554d6e-29bb-11e5-b345-feff819cdc9f"), mustUUID(t, "50554d6f-29bb-11e5-b345-feff819cdc9f")},
			VTinyint:   vm.Vector[int8]{-8, 8},
			VUUID:      vm.Vector[gocql.UUID]{mustUUID(t, "f47ac10b-58cc-4372-a567-0e02b2c3d479"), mustUUID(t, "00000000-0000-4000-8000-000000000001")},
			VVarchar:   vm.Vector[string]{"x", "y"},
			VVarint:    vm.Vector[*big.Int]{new(big.Int).Lsh(big.NewInt(3), 100), big.NewInt(-5)},
		}, `(id, v_ascii, v_bigint, v_blob, v_boolean, v_date, v_decimal, v_double, v_duration, v_float, v_inet, v_int,
			v_smallint, v_text, v_time, v_timestamp, v_timeuuid, v_tinyint, v_uuid, v_varchar, v_varint)
			VALUES (2, ['a', ''], [-1099511627776, 7], [0x0001, 0x`+strings.Repeat("ff", 20000)+`], [true, false], ['2024-02-29', '2024-03-01'],
			[-3.1415, 1], [2.5, -0.125], [1mo2d3ns, 4h], [0.25, -1, 3.5], ['10.0.0.1', '::1'], [-42, 42], [-300, 300],
			['héllo', '`+strings.Repeat("wörld", 40)+`'], ['13:00:00.000000005', '00:00:00'], ['2024-05-06 07:08:09.123+0000', '2024-05-06 08:08:09.123+0000'],
			[50554d6e-29bb-11e5-b345-feff819cdc9f, 50554d6f-29bb-11e5-b345-feff819cdc9f], [-8, 8],
			[f47ac10b-58cc-4372-a567-0e02b2c3d479, 00000000-0000-4000-8000-000000000001], ['x', 'y'],
			[3802951800684688204490109616128, -5])`, vq.Natives.Insert, vq.Natives.Get),
		vectorCase("counted", vm.CountedRow{V: vm.Vector[int64]{-3, 1 << 40}}, `(id, v) VALUES (2, [-3, 1099511627776])`,
			vq.Counted.Insert, vq.Counted.Get),
		vectorCase("composites", vm.CompositesRow{
			VList: vm.Vector[[]int32]{{1, 2}, {3}},
			VSet:  vm.Vector[[]string]{{"a"}, {"b", "c"}},
			// Ten entries, which Go iterates in random order: Vector
			// writes them in Cassandra's order, so the row equals the
			// literal one.
			VMap:        vm.Vector[map[string]int32]{{"a": 1}, {"b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9, "j": 10, "k": 11}},
			VTuple:      vm.Vector[vm.Tuple2[int32, string]]{{V0: 1, V1: "one"}, {V0: 2, V1: "two"}},
			VUdt:        vm.Vector[vm.Point]{point(1, 2), point(3, 4)},
			VFrozenUdt:  vm.Vector[vm.Tagged]{{Label: "l", Tags: []string{"t"}}, {Label: "m", Tags: []string{"u", "v"}}},
			VVector:     vm.Vector[vm.Vector[float32]]{{1, 2}, {3, 4}, {5, 6}},
			VTextVector: vm.Vector[vm.Vector[string]]{{"a", "b"}, {"c", "d"}},
		}, `(id, v_list, v_set, v_map, v_tuple, v_udt, v_frozen_udt, v_vector, v_text_vector)
			VALUES (2, [[1, 2], [3]], [{'a'}, {'b', 'c'}], [{'a': 1}, {'b': 2, 'c': 3, 'd': 4, 'e': 5, 'f': 6, 'g': 7, 'h': 8, 'i': 9, 'j': 10, 'k': 11}], [(1, 'one'), (2, 'two')],
			[{x: 1, y: 2}, {x: 3, y: 4}], [{label: 'l', tags: {'t'}}, {label: 'm', tags: {'u', 'v'}}],
			[[1, 2], [3, 4], [5, 6]], [['a', 'b'], ['c', 'd']])`, vq.Composites.Insert, vq.Composites.Get),
		vectorCase("holders", vm.HoldersRow{
			L:  []vm.Vector[float32]{{1, 2}, {3, 4}},
			S:  []vm.Vector[int32]{{1, 2}, {3, 4}},
			M:  map[string]vm.Vector[float64]{"a": {1.5, 2.5}},
			Mk: map[vm.Vector2[int32]]string{{1, 2}: "x", {3, 4}: "y"},
			Mt: map[vm.Tuple2[string, vm.Vector3[int64]]]int32{{V0: "t", V1: vm.Vector3[int64]{1, 2, 3}}: 7},
			T:  vm.Tuple2[int32, vm.Vector[string]]{V0: 1, V1: vm.Vector[string]{"a", "b"}},
			E:  embedding,
			Ve: vm.Vector[vm.Embedding]{embedding, {Model: "n"}},
		}, `(id, l, s, m, mk, mt, t, e, ve) VALUES (2, [[1, 2], [3, 4]], {[1, 2], [3, 4]}, {'a': [1.5, 2.5]},
			{[1, 2]: 'x', [3, 4]: 'y'}, {('t', [1, 2, 3]): 7}, (1, ['a', 'b']),
			{model: 'm', v: [1, 2, 3], words: [['a', 'b']], at: [{x: 1, y: 2}, {x: 3, y: 4}]},
			[{model: 'm', v: [1, 2, 3], words: [['a', 'b']], at: [{x: 1, y: 2}, {x: 3, y: 4}]}, {model: 'n'}])`,
			vq.Holders.Insert, vq.Holders.Get),
	} {
		check(ctx, t, s)
	}

	// Vectors as partition key, descending clustering key and static column.
	t.Run("keyed", func(t *testing.T) {
		rows := []vm.KeyedRow{
			{K: vm.Vector[int32]{1, 2}, C: vm.Vector[string]{"b", "a"}, S: vm.Vector[float32]{0.5, 1.5}, V: 2},
			{K: vm.Vector[int32]{1, 2}, C: vm.Vector[string]{"a", "z"}, S: vm.Vector[float32]{0.5, 1.5}, V: 1},
		}
		insert, err := vq.Keyed.Insert()
		must(t, "Insert", err)
		for i := len(rows) - 1; i >= 0; i-- {
			must(t, "insert", insert.QueryContext(ctx, s).BindStruct(&rows[i]).ExecRelease())
		}
		sel, err := vq.Keyed.Select()
		must(t, "Select", err)
		var got []vm.KeyedRow
		must(t, "select", vm.SelectRelease(s.ContextQuery(ctx, stmtOf(sel), namesOf(sel)).BindStruct(&rows[0]), &got))
		if diff := cmp.Diff(rows, got); diff != "" {
			t.Errorf("rows of partition [1, 2], clustering descending (-want +got):\n%s", diff)
		}
	})
}

func mustUUID(t *testing.T, s string) gocql.UUID {
	t.Helper()
	u, err := gocql.ParseUUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
