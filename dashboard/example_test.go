package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/jobsharp/cassandra/dashboard"
	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/repo"
)

// Mount the dashboard under a path prefix in your own server, behind your
// own authentication, with an authorization hook that lets only operators
// change anything.
func Example() {
	ctx := context.Background()
	cluster := gocql.NewCluster(cqltest.Hosts()...)
	cluster.Keyspace = cqltest.PackageKeyspace()
	cluster.Consistency = gocql.LocalQuorum
	session, err := gocqlx.WrapSession(cluster.CreateSession())
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()
	store, err := repo.New(session, nil)
	if err != nil {
		log.Fatal(err)
	}
	job, err := store.Jobs.Insert(ctx, &repo.NewJob{Queue: "example_mount", Type: "email.send", Args: []byte(`{"to":"ada@example.com"}`)})
	if err != nil {
		log.Fatal(err)
	}

	d, err := dashboard.New(store, &dashboard.Options{
		Prefix: "/admin/jobs",
		Authorize: func(r *http.Request, a dashboard.Action) error {
			if a != dashboard.ActionView && r.Header.Get("X-Role") != "operator" { // what your login middleware set
				return errors.New("operators only")
			}
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	mux := http.NewServeMux()
	mux.Handle("/admin/jobs/", d) // no http.StripPrefix: the dashboard knows its prefix
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/admin/jobs/jobs/" + job.ID.String())
	if err != nil {
		log.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	fmt.Println(strings.Contains(string(page), "ada@example.com"))
	// Output:
	// 200 OK text/html; charset=utf-8
	// true
}
