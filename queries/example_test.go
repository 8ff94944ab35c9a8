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

	// JobsCreate applies only when the job does not exist yet.
	job := models.JobsRow{ID: id, Queue: "example", Type: "email.send", State: 1, Version: 1, CreatedAt: at}
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
