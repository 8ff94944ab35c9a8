package roundtrip_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/scylladb/gocqlx/v2"

	nm "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/names/models"
	nq "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/names/queries"
)

// TestFixtureNames runs the names fixture (gen/testdata/names) on the real
// node: columns, fields, tables and types whose names differ only by case
// or quoting get distinct Go names, and each name writes and reads its own
// column, through the query methods, the builders and gocqlx's binding by
// db tag. Raw CQL checks which column got which value.
func TestFixtureNames(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	s := fixtureSession(ctx, t, "names", nq.CreateStatements())
	db := nq.New(s)

	row := nm.ColumnRenameWithConstantsRow{K: 1, Value: "quoted", Value_: "plain", VALUE: 3,
		Pair_: nm.Tuple2[int32, string]{V0: 1, V1: "a"}, Pair: nm.Tuple2[string, int32]{V0: "b", V1: 2}}
	must(t, "ClashInsert", db.ClashInsert(ctx, row).Exec())
	got, err := db.ClashGet(ctx, 1).One()
	must(t, "ClashGet", err)
	if diff := cmp.Diff(row, got); diff != "" {
		t.Errorf("ClashGet (-want +got):\n%s", diff)
	}
	must(t, "ClashSet", db.ClashSet(ctx, "Q", "p", 4, 1).Exec())
	var quoted, plain string
	var upper int32
	if err := s.Query(`SELECT "Value", value, "VALUE" FROM "ColumnRenameWithConstants" WHERE k = 1`).Scan(&quoted, &plain, &upper); err != nil {
		t.Fatal(err)
	}
	if quoted != "Q" || plain != "p" || upper != 4 {
		t.Errorf(`after ClashSet: "Value" %q, value %q, "VALUE" %d; want Q, p, 4`, quoted, plain, upper)
	}
	values, err := db.ClashValues(ctx, 1).One()
	must(t, "ClashValues", err)
	if values != (nq.ClashValuesRow{Value: "Q", Value_: "p"}) {
		t.Errorf("ClashValues = %+v", values)
	}
	aliases, err := db.ClashAliases(ctx, 1).One()
	must(t, "ClashAliases", err)
	if want := (nq.ClashAliasesRow{N_: 4, N: "p", Pair_: row.Pair_, Pair: row.Pair}); aliases != want {
		t.Errorf("ClashAliases = %+v, want %+v", aliases, want)
	}

	// The table whose name differs from "ColumnRenameWithConstants" only by
	// case and underscores, through its builder.
	plainRow := nm.ColumnRenameWithConstants_Row{K: 1, V: "other table"}
	insert, err := nq.ColumnRenameWithConstants_.Insert()
	must(t, "ColumnRenameWithConstants_.Insert", err)
	must(t, "insert", insert.QueryContext(ctx, gocqlx.NewSession(s)).BindStruct(&plainRow).ExecRelease())
	gotPlain, err := db.PlainGet(ctx, 1).One()
	must(t, "PlainGet", err)
	if gotPlain != plainRow {
		t.Errorf("PlainGet = %+v, want %+v", gotPlain, plainRow)
	}

	// Types "Point" and point, fields x and "X".
	points := nm.UsesPointsRow{K: 1, A: nm.Point{X_: 1, X: 2, Y: 3}, B: nm.Point_{X: 4}}
	must(t, "PointsSet", db.PointsSet(ctx, points).Exec())
	var lower, capital int32
	if err := s.Query(`SELECT a.x, a."X" FROM uses_points WHERE k = 1`).Scan(&lower, &capital); err != nil {
		t.Fatal(err)
	}
	if lower != 1 || capital != 2 {
		t.Errorf(`a.x = %d, a."X" = %d; want 1, 2`, lower, capital)
	}
	gotPoints, err := db.PointsGet(ctx, 1).One()
	must(t, "PointsGet", err)
	if gotPoints != (nq.PointsGetRow{A: points.A, B: points.B}) {
		t.Errorf("PointsGet = %+v, want %+v", gotPoints, points)
	}

	// Columns "userId", user_id and "UserID", bound by db tag.
	mixed := nm.MixedCaseRow{XuserId: 7, UserID_: "plain", UserID: "quoted"}
	insert, err = nq.MixedCase.Insert()
	must(t, "MixedCase.Insert", err)
	must(t, "insert", insert.QueryContext(ctx, gocqlx.NewSession(s)).BindStruct(&mixed).ExecRelease())
	gotMixed, err := db.MixedGet(ctx, 7).One()
	must(t, "MixedGet", err)
	if gotMixed != (nq.MixedGetRow{UserID: "quoted", UserID_: "plain"}) {
		t.Errorf("MixedGet = %+v", gotMixed)
	}
	checkRan(t, db, []string{"ClashInsert", "ClashGet", "ClashSet", "ClashValues", "ClashAliases", "PlainGet", "PointsSet", "PointsGet", "MixedGet"})
}
