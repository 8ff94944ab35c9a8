package roundtrip_test

import (
	"context"
	"testing"
	"time"

	"github.com/gocql/gocql"

	alpham "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/keyspaces/models/alpha"
	betam "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/keyspaces/models/betatwo"
	alpha "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/keyspaces/queries/alpha"
	beta "github.com/jobsharp/cassandra/gen/internal/roundtrip/fixtures/keyspaces/queries/betatwo"
)

// TestFixtureKeyspaces runs the packages of gen/testdata/keyspaces, one
// per keyspace, each in a session bound to a keyspace of its own: the same
// type and table names with different columns live side by side, and each
// package's CreateStatements and queries work on its keyspace.
func TestFixtureKeyspaces(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	a := alpha.New(fixtureSession(ctx, t, "ks_alpha", alpha.CreateStatements()))
	b := beta.New(fixtureSession(ctx, t, "ks_beta", beta.CreateStatements()))
	id := gocql.TimeUUID()

	if err := a.Session().Query(`INSERT INTO accounts (id, key) VALUES (?, ?)`, id, alpham.Pubkey{Kind: "ed25519", Bytes: []byte{1}}).Exec(); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := b.Session().Query(`INSERT INTO accounts (id, key, name) VALUES (?, ?, ?)`, id, betam.Pubkey{Kind: "rsa", Bytes: []byte{2}, Created: created}, "bee").Exec(); err != nil {
		t.Fatal(err)
	}
	gotA, err := a.AlphaAccount(ctx, id).One()
	must(t, "AlphaAccount", err)
	if gotA.Key.Kind != "ed25519" || len(gotA.Key.Bytes) != 1 {
		t.Errorf("AlphaAccount = %+v", gotA)
	}
	gotB, err := b.BetaAccount(ctx, id).One()
	must(t, "BetaAccount", err)
	if gotB.Name != "bee" || gotB.Key.Kind != "rsa" || !gotB.Key.Created.Equal(created) {
		t.Errorf("BetaAccount = %+v", gotB)
	}
	login := betam.LoginsRow{Account: id, At: created}
	must(t, "BetaLogin", b.BetaLogin(ctx, login).Exec())
	var n int
	if err := b.Session().Query(`SELECT count(*) FROM logins WHERE account = ?`, id).Scan(&n); err != nil || n != 1 {
		t.Errorf("logins of the account: %d, %v; want 1", n, err)
	}
	checkRan(t, a, []string{"AlphaAccount"})
	checkRan(t, b, []string{"BetaAccount", "BetaLogin"})
}
