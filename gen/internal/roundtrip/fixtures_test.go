package roundtrip_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/inf.v0"

	migrationsm "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/migrations/models"
	migrations "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/migrations/queries"
	quotedm "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/quoted/models"
	quoted "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/quoted/queries"
	typesm "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/types/models"
	types "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/types/queries"
	views "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/views/queries"
	"github.com/jobsharp/cassandra/gen/internal/roundtrip/models"
	"github.com/jobsharp/cassandra/gen/internal/roundtrip/queries"
	"github.com/jobsharp/cassandra/internal/cqltest"
)

// The tests of this file run every query the generator produces for its
// golden fixtures (gen/testdata: types, quoted, views, migrations) and for
// this package's own queries.cql, through the typed methods of each DB,
// against the real node. Each fixture gets a keyspace of its own (their
// types and tables would clash), dropped when the test ends.

// fixtureSession creates the keyspace <package keyspace>_<name>, applies
// stmts in it and returns a session bound to it. Materialized views are
// left out: Cassandra 5.0 disables them by default.
func fixtureSession(ctx context.Context, t *testing.T, name string, stmts []string) *gocql.Session {
	t.Helper()
	ks := cqltest.Keyspace(t) + "_" + name
	admin := cqltest.Session(t).Session
	if err := admin.Query("CREATE KEYSPACE IF NOT EXISTS " + ks + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").WithContext(ctx).Exec(); err != nil {
		t.Fatalf("create keyspace %s: %v", ks, err)
	}
	t.Cleanup(func() { _ = admin.Query("DROP KEYSPACE IF EXISTS " + ks).Exec() })
	cfg := cqltest.Cluster()
	cfg.Keyspace = ks
	s, err := cfg.CreateSession()
	if err != nil {
		t.Fatalf("session on %s: %v", ks, err)
	}
	t.Cleanup(s.Close)
	for _, stmt := range stmts {
		if strings.HasPrefix(stmt, "CREATE MATERIALIZED VIEW") {
			continue
		}
		var err error
		for range 3 { // a busy node may time out on a schema change; each is IF NOT EXISTS
			if err = s.Query(stmt).WithContext(ctx).Exec(); !errors.Is(err, gocql.ErrTimeoutNoResponse) {
				break
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return s
}

// queryMethods returns the methods of db's type that run a query.
func queryMethods(db any) []string {
	typ := reflect.TypeOf(db)
	var out []string
	for i := range typ.NumMethod() {
		m := typ.Method(i).Name
		if m != "Session" && m != "WithSerialConsistency" && !strings.HasPrefix(m, "New") {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// checkRan fails unless ran lists every query method of db.
func checkRan(t *testing.T, db any, ran []string) {
	t.Helper()
	sort.Strings(ran)
	if diff := cmp.Diff(queryMethods(db), ran); diff != "" {
		t.Errorf("the queries run differ from the generated methods (-generated +run):\n%s", diff)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestFixtureTypes(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := types.New(fixtureSession(ctx, t, "types", types.CreateStatements()))
	id, at := gocql.TimeUUID(), time.Now().UTC().Truncate(time.Millisecond)
	seq := gocql.TimeUUID()

	// A row with a TTL and a timestamp, read back whole.
	must(t, "AllTypesInsert", db.AllTypesInsert(ctx, id, 1, at, seq, "hello", []int32{1, 2}, 3600, at.UnixMicro()).Exec())
	row, err := db.AllTypesGet(ctx, id, 1, at, seq).One()
	must(t, "AllTypesGet", err)
	if row.CText != "hello" || !cmp.Equal(row.ListInt, []int32{1, 2}) {
		t.Errorf("AllTypesGet = %q %v", row.CText, row.ListInt)
	}

	// Collections, a map element and a UDT field, under conditions.
	must(t, "AllTypesAppend", db.AllTypesAppend(ctx, []int32{3}, []string{"x"}, "k", 7, id, 1, at, seq).Exec())
	applied, cur, err := db.AllTypesSetField(ctx, "Paris", id, 1, at, seq, 5, "x;y").Exec()
	must(t, "AllTypesSetField", err)
	if applied || cur.CText != "hello" {
		t.Errorf("AllTypesSetField with c_int null: applied %v, current c_text %q; want false, hello", applied, cur.CText)
	}
	// IF EXISTS on the partition tests its static row, which does not exist
	// until a static column is set.
	applied, _, err = db.AllTypesSetGroup(ctx, "g", id, 1).Exec()
	must(t, "AllTypesSetGroup", err)
	if applied {
		t.Error("AllTypesSetGroup applied on a partition without static values")
	}
	if err := db.Session().Query(`UPDATE all_types SET group_name = 'first' WHERE id = ? AND bucket = 1`, id).Exec(); err != nil {
		t.Fatal(err)
	}
	applied, _, err = db.AllTypesSetGroup(ctx, "g", id, 1).Exec()
	must(t, "AllTypesSetGroup", err)
	row, _ = db.AllTypesGet(ctx, id, 1, at, seq).One()
	if !applied || row.GroupName != "g" || !cmp.Equal(row.ListInt, []int32{1, 2, 3}) || row.MapTextInt["k"] != 7 {
		t.Errorf("after AllTypesAppend and AllTypesSetGroup: applied %v, %q %v %v", applied, row.GroupName, row.ListInt, row.MapTextInt)
	}

	// A tuple column and a :name tuple are one parameter each.
	applied, _, err = db.AllTypesSetPair(ctx, typesm.Tuple2[int32, string]{V0: 2, V1: "b"}, id, 1, at, seq, typesm.Tuple2[int32, string]{V0: 1, V1: "a"}).Exec()
	must(t, "AllTypesSetPair", err)
	if applied {
		t.Error("AllTypesSetPair applied on a null pair")
	}
	if err := db.Session().Query(`UPDATE all_types SET pair = (1, 'a') WHERE id = ? AND bucket = 1 AND created_at = ? AND seq = ?`, id, at, seq).Exec(); err != nil {
		t.Fatal(err)
	}
	applied, _, err = db.AllTypesSetPair(ctx, typesm.Tuple2[int32, string]{V0: 2, V1: "b"}, id, 1, at, seq, typesm.Tuple2[int32, string]{V0: 1, V1: "a"}).Exec()
	must(t, "AllTypesSetPair", err)
	row, _ = db.AllTypesGet(ctx, id, 1, at, seq).One()
	if !applied || row.Pair != (typesm.Tuple2[int32, string]{V0: 2, V1: "b"}) {
		t.Errorf("AllTypesSetPair on (1, 'a'): applied %v, pair %+v; want applied, (2, b)", applied, row.Pair)
	}

	// Reads: a range with ORDER BY and LIMIT, IN, token ranges.
	later := at.Add(time.Second)
	applied, _, err = db.AllTypesInsertNew(ctx, id, 1, later).Exec()
	must(t, "AllTypesInsertNew", err)
	if !applied {
		t.Error("AllTypesInsertNew: not applied")
	}
	rng, err := db.AllTypesRange(ctx, id, 1, at, at.Add(time.Hour), 10).All()
	must(t, "AllTypesRange", err)
	if len(rng) != 2 || !rng[0].CreatedAt.Equal(later) || rng[1].CText != "hello" {
		t.Errorf("AllTypesRange = %+v, want 2 rows, newest first", rng)
	}
	in, err := db.AllTypesByBuckets(ctx, id, []int32{1, 2}).All()
	must(t, "AllTypesByBuckets", err)
	if len(in) != 2 {
		t.Errorf("AllTypesByBuckets = %d rows, want 2", len(in))
	}
	tokens, err := db.AllTypesScan(ctx, -1<<63, 1<<63-1).All()
	must(t, "AllTypesScan", err)
	found := false
	for _, r := range tokens {
		found = found || r.ID == id && r.Token != 0
	}
	if !found {
		t.Errorf("AllTypesScan over the whole ring did not return the row")
	}

	// Deletes: cells (conditional), a row at a timestamp, a range.
	applied, _, err = db.AllTypesDeleteCells(ctx, "k", id, 1, at, seq).Exec()
	must(t, "AllTypesDeleteCells", err)
	row, _ = db.AllTypesGet(ctx, id, 1, at, seq).One()
	if !applied || row.CText != "" || len(row.MapTextInt) != 0 || !cmp.Equal(row.ListInt, []int32{2, 3}) {
		t.Errorf("after AllTypesDeleteCells: applied %v, %q %v %v", applied, row.CText, row.MapTextInt, row.ListInt)
	}
	must(t, "AllTypesDelete", db.AllTypesDelete(ctx, time.Now().UnixMicro(), id, 1, at, seq).Exec())
	if _, err := db.AllTypesGet(ctx, id, 1, at, seq).One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("after AllTypesDelete: %v, want gocql.ErrNotFound", err)
	}
	must(t, "AllTypesDeleteRange", db.AllTypesDeleteRange(ctx, id, 1, at.Add(time.Hour)).Exec())
	if rng, _ := db.AllTypesRange(ctx, id, 1, at, at.Add(time.Hour), 10).All(); len(rng) != 0 {
		t.Errorf("after AllTypesDeleteRange: %d rows", len(rng))
	}

	day := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	for range 2 {
		must(t, "CountersHit", db.CountersHit(ctx, 2, "home", day).Exec())
	}
	hits, err := db.CountersGet(ctx, "home", []time.Time{day, day.AddDate(0, 0, 1)}).All()
	must(t, "CountersGet", err)
	if len(hits) != 1 || hits[0].Hits != 2 || hits[0].Misses != -4 {
		t.Errorf("CountersGet = %+v, want hits 2, misses -4", hits)
	}
	cnt, err := db.SimpleCount(ctx, "none").One()
	must(t, "SimpleCount", err)
	if cnt.Count != 0 {
		t.Errorf("SimpleCount = %d, want 0", cnt.Count)
	}
	// :unset: zero values are left out (no cell, no tombstone: no write
	// time), others written; on an existing row a zero leaves the column.
	sparse := func(seq gocql.UUID, text string, tags []string, n int32) {
		t.Helper()
		must(t, "AllTypesInsertSparse", db.AllTypesInsertSparse(ctx, id, 3, at, seq, text, 0, nil, false, time.Time{}, nil, 0,
			gocql.Duration{}, 0, 0, tags, nil, nil, n).Exec())
	}
	writeTime := func(seq gocql.UUID, col string) *int64 {
		t.Helper()
		var wt *int64
		if err := db.Session().Query(`SELECT WRITETIME(`+col+`) FROM all_types WHERE id = ? AND bucket = 3 AND created_at = ? AND seq = ?`, id, at, seq).Scan(&wt); err != nil {
			t.Fatal(err)
		}
		return wt
	}
	seq2 := gocql.TimeUUID()
	sparse(seq2, "", nil, 0)
	for _, col := range []string{"c_text", "c_bigint", "c_blob", "c_boolean", "c_date", "c_decimal", "c_double", "c_duration", "c_time", "c_tinyint"} {
		if wt := writeTime(seq2, col); wt != nil {
			t.Errorf("AllTypesInsertSparse with a zero %s wrote a cell (write time %d)", col, *wt)
		}
	}
	if wt := writeTime(seq2, "c_int"); wt == nil {
		t.Error("AllTypesInsertSparse left out c_int, which :unset does not name")
	}
	sparse(seq2, "kept", []string{"a"}, 1)
	sparse(seq2, "", nil, 2)
	row, err = db.AllTypesGet(ctx, id, 3, at, seq2).One()
	must(t, "AllTypesGet", err)
	if row.CText != "kept" || !cmp.Equal(row.SetText, []string{"a"}) || row.CInt != 2 {
		t.Errorf("after a sparse write with zero values: c_text %q, set_text %v, c_int %d; want kept, [a], 2", row.CText, row.SetText, row.CInt)
	}

	checkRan(t, db, []string{"AllTypesInsert", "AllTypesGet", "AllTypesAppend", "AllTypesSetField", "AllTypesSetGroup", "AllTypesSetPair", "AllTypesInsertNew",
		"AllTypesRange", "AllTypesByBuckets", "AllTypesScan", "AllTypesDeleteCells", "AllTypesDelete", "AllTypesDeleteRange",
		"CountersHit", "CountersGet", "SimpleCount", "AllTypesInsertSparse"})
}

func TestFixtureQuoted(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := quoted.New(fixtureSession(ctx, t, "quoted", quoted.CreateStatements()))
	id := gocql.TimeUUID()
	must(t, "WeirdInsert", db.WeirdInsert(ctx, id, "s", 3, "mixed").Exec())
	got, err := db.WeirdGet(ctx, id, "s", 2).All()
	must(t, "WeirdGet", err)
	if diff := cmp.Diff([]quoted.WeirdGetRow{{MixedCase: "mixed"}}, got); diff != "" {
		t.Errorf("WeirdGet mismatch (-want +got):\n%s", diff)
	}
	if _, err := db.SelectGet(ctx, "k").One(); !errors.Is(err, gocql.ErrNotFound) {
		t.Errorf("SelectGet of a missing key: %v, want gocql.ErrNotFound", err)
	}

	// Parameters renamed from Go keywords and the method's own names bind
	// in marker order.
	row := quotedm.ClashRow{Ctx: "c", DB: cqltest.Name(t), B: 1, Type: "t", String: "s", Func: 1, Models: "m"}
	must(t, "ClashPut", db.ClashPut(ctx, row).Exec())
	applied, cur, err := db.ClashSet(ctx, 3600, "t2", "s2", 2, row.Ctx, row.DB, row.B, "other").Exec()
	must(t, "ClashSet", err)
	if applied || cur.Models != "m" {
		t.Errorf("ClashSet with a wrong models: applied %v, current %+v; want not applied, models m", applied, cur)
	}
	applied, _, err = db.ClashSet(ctx, 3600, "t2", "s2", 2, row.Ctx, row.DB, row.B, "m").Exec()
	must(t, "ClashSet", err)
	rows, err := db.ClashGet(ctx, row.Ctx, row.DB, []int32{row.B, 2}).All()
	must(t, "ClashGet", err)
	want := []quotedm.ClashRow{{Ctx: "c", DB: row.DB, B: 1, Type: "t2", String: "s2", Func: 2, Models: "m"}}
	if diff := cmp.Diff(want, rows); !applied || diff != "" {
		t.Errorf("ClashSet applied %v; ClashGet mismatch (-want +got):\n%s", applied, diff)
	}
	checkRan(t, db, []string{"WeirdInsert", "WeirdGet", "SelectGet", "ClashPut", "ClashSet", "ClashGet"})
}

func TestFixtureMigrations(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	s := fixtureSession(ctx, t, "migrations", migrations.CreateStatements())
	db := migrations.New(s)
	id := gocql.TimeUUID()
	balance := migrationsm.Money{Amount: inf.NewDec(1250, 2), CurrencyCode: "EUR", Precision: 2}
	if err := s.Query(`INSERT INTO accounts (account_id, name, balance, email) VALUES (?, ?, ?, ?)`, id, "Ada", balance, "ada@example.com").Exec(); err != nil {
		t.Fatal(err)
	}
	acct, err := db.AccountGet(ctx, id).One()
	must(t, "AccountGet", err)
	if acct.Name != "Ada" || acct.Email != "ada@example.com" || acct.Balance.Amount.Cmp(balance.Amount) != 0 || acct.Balance.CurrencyCode != "EUR" {
		t.Errorf("AccountGet = %+v", acct)
	}
	day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, "AuditAdd", db.AuditAdd(ctx, day, "opened").Exec())
	var what string
	if err := s.Query(`SELECT what FROM audit WHERE day = ?`, day).Scan(&what); err != nil || what != "opened" {
		t.Errorf("audit row = %q, %v", what, err)
	}
	checkRan(t, db, []string{"AccountGet", "AuditAdd"})
}

// TestFixtureViews runs the queries on the base table and its indexes; the
// one on the materialized view is left out, since Cassandra 5.0 disables
// materialized views by default (materialized_views_enabled), and the test
// says so rather than pretending.
func TestFixtureViews(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	s := fixtureSession(ctx, t, "views", views.CreateStatements())
	db := views.New(s)
	order := gocql.TimeUUID()
	if err := s.Query(`INSERT INTO orders (order_id, customer_id, status, total, items, tags) VALUES (?, ?, ?, ?, ?, ?)`,
		order, gocql.TimeUUID(), "open", inf.NewDec(4200, 2), map[string]int{"book": 2}, []string{"gift"}).Exec(); err != nil {
		t.Fatal(err)
	}
	byStatus, err := db.OrdersByStatus(ctx, "open").All()
	must(t, "OrdersByStatus", err)
	withItem, err := db.OrdersWithItem(ctx, "book").All()
	must(t, "OrdersWithItem", err)
	filtered, err := db.OrdersFiltered(ctx, inf.NewDec(40, 0)).All()
	must(t, "OrdersFiltered", err)
	want := []views.OrdersByStatusRow{{OrderID: order}}
	if !cmp.Equal(want, byStatus) || len(withItem) != 1 || withItem[0].OrderID != order || len(filtered) != 1 || filtered[0].OrderID != order {
		t.Errorf("OrdersByStatus %+v, OrdersWithItem %+v, OrdersFiltered %+v; want the order in each", byStatus, withItem, filtered)
	}
	_, err = db.CustomerOrders(ctx, gocql.TimeUUID(), 10).All()
	if err == nil {
		t.Errorf("CustomerOrders on a view that was not created: no error")
	}
	checkRan(t, db, []string{"OrdersByStatus", "OrdersWithItem", "OrdersFiltered", "CustomerOrders"})
}

// TestTypedQueries runs this package's own queries through DB: an LWT's
// current row with tuple columns, a static column, counters, quoted names,
// and conditional batches over several rows of one partition.
func TestTypedQueries(t *testing.T) {
	ctx := context.Background()
	s := createSchema(ctx, t)
	db := queries.New(s.Session)

	row := fullRow(t)
	applied, _, err := db.EverythingInsertNew(ctx, row.ID, row.Bucket, row.CreatedAt, row.Seq, "first").Exec()
	must(t, "EverythingInsertNew", err)
	if !applied {
		t.Fatal("EverythingInsertNew: not applied")
	}
	must(t, "EverythingSetGroup", db.EverythingSetGroup(ctx, "group", row.ID, row.Bucket).Exec())
	applied, cur, err := db.EverythingInsertNew(ctx, row.ID, row.Bucket, row.CreatedAt, row.Seq, "second").Exec()
	must(t, "EverythingInsertNew again", err)
	if applied || cur.CText != "first" || cur.ID != row.ID || cur.Seq != row.Seq {
		t.Errorf("EverythingInsertNew on an existing row: applied %v, current %+v; want false with the existing row", applied, cur)
	}
	got, err := db.EverythingGet(ctx, row.ID, row.Bucket, row.CreatedAt, row.Seq).One()
	must(t, "EverythingGet", err)
	if got.CText != "first" || got.GroupName != "group" {
		t.Errorf("EverythingGet = %q, %q", got.CText, got.GroupName)
	}

	page, day := cqltest.Name(t), time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	b := db.NewBatch(ctx, gocql.CounterBatch)
	b.HitsAdd(2, page, day)
	b.HitsAdd(3, page, day)
	must(t, "HitsAdd batch", b.Exec())
	must(t, "HitsAdd", db.HitsAdd(ctx, 1, page, day).Exec())
	var views int64
	if err := s.Session.Query(`SELECT views FROM hits WHERE page = ? AND day = ?`, page, day).Scan(&views); err != nil || views != 6 {
		t.Errorf("views = %d, %v; want 6", views, err)
	}

	qid := gocql.TimeUUID()
	if err := s.Session.Query(`INSERT INTO "QuotedTable" ("Id", "select", "Mixed Case", "from") VALUES (?, ?, ?, ?)`, qid, "s", "m", 7).Exec(); err != nil {
		t.Fatal(err)
	}
	qrow, err := db.QuotedGet(ctx, qid, "s").One()
	must(t, "QuotedGet", err)
	if qrow != (models.QuotedTableRow{ID: qid, Select: "s", MixedCase: "m", From: 7}) {
		t.Errorf("QuotedGet = %+v", qrow)
	}

	// Conditional batches over several rows of one partition.
	account := cqltest.Name(t)
	entry := func(n, amount, version int) models.LedgerRow {
		return models.LedgerRow{Account: account, Entry: int32(n), Amount: int64(amount), Version: int32(version)}
	}
	lb := db.NewLedgerBatch(ctx, gocql.LoggedBatch)
	lb.LedgerCreate(entry(1, 100, 1))
	lb.LedgerCreate(entry(2, 200, 1))
	applied, rows, err := lb.ExecCAS()
	must(t, "LedgerCreate batch", err)
	if !applied || len(rows) != 0 {
		t.Errorf("IF NOT EXISTS batch on new rows: applied %v, %d rows", applied, len(rows))
	}
	lb = db.NewLedgerBatch(ctx, gocql.LoggedBatch)
	lb.LedgerCreate(entry(2, 999, 9))
	lb.LedgerAdd(entry(3, 300, 1))
	applied, rows, err = lb.ExecCAS()
	must(t, "LedgerCreate batch on an existing row", err)
	if applied || len(rows) != 1 || rows[0] != (models.LedgerRow{Account: account, Entry: 2, Amount: 200, Version: 1}) {
		t.Errorf("IF NOT EXISTS batch on an existing row: applied %v, rows %+v; want the whole existing row", applied, rows)
	}
	lb = db.NewLedgerBatch(ctx, gocql.LoggedBatch)
	lb.LedgerSet(entry(1, 110, 2), 1)
	lb.LedgerSet(entry(2, 210, 2), 5) // stale
	lb.LedgerAdd(entry(4, 400, 1))
	applied, rows, err = lb.ExecCAS()
	must(t, "LedgerSet batch with a stale version", err)
	want := []models.LedgerRow{{Account: account, Entry: 1, Version: 1}, {Account: account, Entry: 2, Version: 1}}
	if applied || !cmp.Equal(want, rows) {
		t.Errorf("stale version: applied %v, rows %+v; want not applied, each conditioned row's key and version", applied, rows)
	}
	lb = db.NewLedgerBatch(ctx, gocql.UnloggedBatch)
	lb.LedgerSet(entry(1, 110, 2), 1)
	lb.LedgerSet(entry(2, 210, 2), 1)
	lb.LedgerAdd(entry(5, 500, 1))
	applied, rows, err = lb.ExecCAS()
	must(t, "LedgerSet batch", err)
	if !applied || len(rows) != 0 {
		t.Errorf("right versions: applied %v, rows %+v", applied, rows)
	}
	all, err := db.LedgerList(ctx, account).All()
	must(t, "LedgerList", err)
	wantAll := []models.LedgerRow{
		{Account: account, Entry: 1, Amount: 110, Version: 2}, {Account: account, Entry: 2, Amount: 210, Version: 2},
		{Account: account, Entry: 5, Amount: 500, Version: 1},
	}
	if diff := cmp.Diff(wantAll, all); diff != "" {
		t.Errorf("ledger after the batches (-want +got):\n%s", diff)
	}
	checkRan(t, db, []string{"EverythingInsertNew", "EverythingSetGroup", "EverythingGet", "HitsAdd", "QuotedGet", "LedgerCreate", "LedgerAdd", "LedgerSet", "LedgerList"})
	_ = net.IP{}
}
