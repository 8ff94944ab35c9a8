// Command processor is one job processor of the fault suite, run as its own
// OS process with its own session: the suite starts several, kills some
// with SIGKILL, and cuts them off from nodes. It uses only the public API of
// repo and worker, as an application would.
//
// Its handler keeps an independent record of every execution (see
// faults.Recorder): a line when it starts (job, attempt, lease token, lease
// deadline), a line whenever it learns that the lease was extended, and a
// line when it returns. The suite checks the store against these records.
//
//	processor -hosts 127.0.0.21,127.0.0.22,127.0.0.23 -keyspace ks -queue q -owner p1 -record p1.jsonl
//
// It runs until SIGTERM or SIGINT, then shuts down gracefully. Its log
// (JSON, one object per line) goes to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/faults"
	"github.com/jobsharp/cassandra/repo"
	"github.com/jobsharp/cassandra/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "processor: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	hosts := flag.String("hosts", "", "contact points, comma separated")
	via := flag.String("via", "", "address translation, node=proxy pairs, comma separated (127.0.0.21=127.0.0.1:40001,…)")
	keyspace := flag.String("keyspace", "", "keyspace holding the schema")
	queue := flag.String("queue", repo.DefaultQueue, "queue to work")
	owner := flag.String("owner", "", "owner name in leases")
	record := flag.String("record", "", "execution record file")
	workers := flag.Int("workers", 8, "handlers at once")
	lease := flag.Duration("lease", 10*time.Second, "lease")
	flag.Parse()
	if *hosts == "" || *keyspace == "" || *owner == "" || *record == "" {
		return errors.New("-hosts, -keyspace, -owner and -record are required")
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := repo.Config{
		Hosts: strings.Split(*hosts, ","), Keyspace: *keyspace,
		DriverLogger: log.New(os.Stderr, "gocql: ", log.LstdFlags|log.Lmicroseconds),
		Options:      repo.Options{Logger: logger},
	}
	if *via != "" {
		tr, err := translator(*via)
		if err != nil {
			return err
		}
		cfg.AddressTranslator = tr
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	store, err := repo.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	rec, err := faults.CreateRecorder(*record, *owner)
	if err != nil {
		return err
	}
	defer rec.Close()
	p, err := worker.New(store, &worker.Config{
		Queues:         map[string]worker.QueueConfig{*queue: {MaxWorkers: *workers}},
		Owner:          *owner,
		Lease:          *lease,
		PollInterval:   250 * time.Millisecond,
		RescueInterval: 2 * time.Second,
		Backoff:        func(int) time.Duration { return 250 * time.Millisecond },
		Logger:         logger,
	})
	if err != nil {
		return err
	}
	h := &handler{store: store, rec: rec, every: *lease / 6}
	if err := worker.Handle(p, h.handle, nil); err != nil {
		return err
	}
	return p.Run(ctx)
}

type handler struct {
	store *repo.Store
	rec   *faults.Recorder
	// every is how often a running handler reads its job to learn of lease
	// extensions.
	every time.Duration
}

// handle records the execution, works, and records how it ended. Its begin
// line is written before any work and its end line before the processor
// writes the outcome, so the record never misses an execution that the
// store saw finish.
func (h *handler) handle(ctx context.Context, job *worker.Job[faults.WorkArgs]) error {
	ev := faults.Event{Job: job.ID, Token: job.Lease.Token, Attempt: job.Attempt()}
	begin := ev
	begin.Ev, begin.Claimed, begin.Until = faults.EventBegin, job.StartedAt.UnixNano(), job.Lease.Until.UnixNano()
	if err := h.rec.Write(begin); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	until := job.Lease.Until
	done := time.After(job.Args.Work())
	tick := time.NewTicker(h.every)
	defer tick.Stop()
	var err error
work:
	for {
		select {
		case <-done:
			break work
		case <-ctx.Done():
			err = context.Cause(ctx)
			break work
		case <-tick.C:
			until = h.refresh(ctx, job, until)
		}
	}
	end := ev
	end.Ev, end.Outcome = faults.EventEnd, faults.OutcomeOK
	switch {
	case err != nil:
		end.Outcome, end.Cause = faults.OutcomeCancelled, err.Error()
	case job.Attempt() <= job.Args.FailAttempts:
		err = faults.PlannedFailure(job.Attempt())
		end.Outcome, end.Cause = faults.OutcomeFailed, err.Error()
	}
	if werr := h.rec.Write(end); werr != nil {
		return fmt.Errorf("record: %w", werr)
	}
	return err
}

// refresh reads the job and records a later lease deadline under the same
// token: the processor's heartbeat extended the lease.
func (h *handler) refresh(ctx context.Context, job *worker.Job[faults.WorkArgs], until time.Time) time.Time {
	rctx, cancel := context.WithTimeout(ctx, h.every)
	defer cancel()
	cur, err := h.store.Jobs.Get(rctx, job.ID)
	if err != nil || cur.State != repo.StateProcessing || cur.Lease.Token != job.Lease.Token || !cur.Lease.Until.After(until) {
		return until
	}
	ev := faults.Event{Ev: faults.EventLease, Job: job.ID, Token: job.Lease.Token, Attempt: job.Attempt(), Until: cur.Lease.Until.UnixNano()}
	if h.rec.Write(ev) != nil {
		return until
	}
	return cur.Lease.Until
}

// translator parses node=proxy pairs.
func translator(spec string) (gocql.AddressTranslator, error) {
	to := map[string]*net.TCPAddr{}
	for pair := range strings.SplitSeq(spec, ",") {
		node, proxy, ok := strings.Cut(pair, "=")
		host, port, err := net.SplitHostPort(proxy)
		if !ok || err != nil {
			return nil, fmt.Errorf("-via: %q is not node=host:port", pair)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("-via: %q: %w", pair, err)
		}
		to[node] = &net.TCPAddr{IP: net.ParseIP(host), Port: p}
	}
	return gocql.AddressTranslatorFunc(func(addr net.IP, port int) (net.IP, int) {
		if t, ok := to[addr.String()]; ok {
			return t.IP, t.Port
		}
		return addr, port
	}), nil
}
