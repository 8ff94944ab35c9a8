package bench

import (
	"context"
	"fmt"
	"log"
	"slices"
	"time"
)

// Run measures the scenarios of cfg against the Cassandra node at
// cfg.Hosts, in fresh keyspaces it creates and drops, and returns the
// report. It fails when no node answers; it never mocks.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var logger *log.Logger
	if cfg.Log != nil {
		logger = log.New(cfg.Log, "bench: ", log.Ltime)
	}
	rep := &Report{Mode: cfg.Mode, Started: time.Now().UTC(), Config: cfg}
	rep.Machine = probeMachine()
	// The throughput scenario's drivers make keyspaces of their own: the
	// shared ones are made only for the other scenarios.
	var e *env
	if slices.ContainsFunc(cfg.Scenarios, func(s string) bool { return s != ScenarioThroughput }) {
		if e, err = setup(ctx, cfg, logger); err != nil {
			return nil, err
		}
		defer e.close(ctx)
		rep.Machine.Cassandra = e.releaseVersion(ctx)
	} else {
		e = &env{cfg: cfg, logger: logger}
		rep.Machine.Cassandra = releaseVersion(ctx, cfg)
	}
	steps := []struct {
		name string
		run  func(context.Context, *Report) error
	}{
		{ScenarioStore, e.runStore},
		{ScenarioLayer, e.runLayer},
		{ScenarioHints, e.runHints},
		{ScenarioClaim, e.runClaim},
		{ScenarioDueScan, e.runDueScan},
		{ScenarioThroughput, func(ctx context.Context, rep *Report) error {
			tp, err := runThroughput(ctx, cfg, e.logf)
			rep.Throughput = tp
			return err
		}},
		{ScenarioControls, e.runControls},
	}
	for _, st := range steps {
		if !cfg.runs(st.name) {
			continue
		}
		began := time.Now()
		e.logf("%s: start", st.name)
		if err := st.run(ctx, rep); err != nil {
			return rep, fmt.Errorf("scenario %s: %w", st.name, err)
		}
		e.logf("%s: done in %s", st.name, time.Since(began).Round(time.Second))
	}
	rep.Duration = time.Since(rep.Started)
	rep.Machine.LoadAfter = loadAverage()
	return rep, nil
}
