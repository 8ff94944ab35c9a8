package queries_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/models"
	"github.com/jobsharp/cassandra/queries"
)

// This file is hand-written: the generator leaves files without its header
// alone.

// Every bind marker of a query is a parameter of its method, in the order of
// the statement; a statement that writes every column of its table takes the
// models row, then its other markers.
func ExampleDB() {
	ctx := context.Background()
	db := queries.New(cqltest.ExampleSession().Session)
	id := gocql.TimeUUID()
	at := time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC)

	// DueInsert writes every column of scheduled_jobs: it takes the row.
	entry := models.ScheduledJobsRow{Queue: "example", Bucket: at, Shard: 0, DueAt: at.Add(time.Second), JobID: id}
	if err := db.DueInsert(ctx, entry).Exec(); err != nil {
		log.Fatal(err)
	}
	// DueScan: queue, bucket, shard, :from, :to, LIMIT ?.
	rows, err := db.DueScan(ctx, "example", at, 0, at, at.Add(time.Minute), 10).All()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("due:", len(rows), rows[0].DueAt.Format(time.TimeOnly), rows[0].JobID == id)

	// JobsCreate applies only when the job does not exist yet. A job's row
	// lives in partition (home, shard), which repo computes from the job's
	// id (repo.Partition); here any partition will do.
	job := models.JobsRow{Home: at, Shard: 1 << 8, ID: id, Queue: "example", Type: "email.send", State: 1, Version: 1, CreatedAt: at}
	applied, _, err := db.JobsCreate(ctx, job).Exec()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", applied)

	// JobsWrite: the row, USING TTL ? (0: none), :expected_version.
	job.Version = 2
	applied, current, err := db.JobsWrite(ctx, job, 0, 5).Exec()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("written over version 5: %v (current version %d)\n", applied, current.Version)
	applied, _, err = db.JobsWrite(ctx, job, 0, 1).Exec()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("written over version 1:", applied)
	// Output:
	// due: 1 12:00:01 true
	// created: true
	// written over version 5: false (current version 1)
	// written over version 1: true
}

// A conditional batch holds the lightweight transactions of one partition of
// one table and applies only when every condition holds. When one does not,
// nothing applies, and ExecCAS returns the rows the conditions tested with
// their current values.
func ExampleDB_NewJobsBatch() {
	ctx := context.Background()
	db := queries.New(cqltest.ExampleSession().Session)
	at := time.Date(2024, 5, 7, 12, 0, 0, 0, time.UTC)
	a := models.JobsRow{Home: at, Shard: 2 << 8, ID: gocql.TimeUUID(), Queue: "example", Type: "email.send", State: 1, Version: 1, CreatedAt: at}
	b := a
	b.ID = gocql.TimeUUID()

	jb := db.NewJobsBatch(ctx, gocql.UnloggedBatch)
	jb.JobsCreate(a)
	jb.JobsCreate(b)
	applied, _, err := jb.ExecCAS()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("both created:", applied)

	// a's write holds (it is at version 1), b's heartbeat expects version 7:
	// neither applies.
	a.Version = 2
	jb = db.NewJobsBatch(ctx, gocql.UnloggedBatch)
	jb.JobsWrite(a, 0, 1)
	jb.JobsHeartbeat(8, at.Add(time.Minute), b.Home, b.Shard, b.ID, 7)
	applied, current, err := jb.ExecCAS()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied:", applied, "rows tested:", len(current))
	versions := map[gocql.UUID]int64{}
	for _, r := range current {
		versions[r.ID] = r.Version
	}
	fmt.Println("current versions: a", versions[a.ID], "b", versions[b.ID])
	row, err := db.JobsGet(ctx, a.Home, a.Shard, a.ID).One()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("a is still at version", row.Version)
	// Output:
	// both created: true
	// applied: false rows tested: 2
	// current versions: a 1 b 1
	// a is still at version 1
}
