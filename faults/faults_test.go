package faults_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/faults"
	"github.com/jobsharp/cassandra/internal/cqltest"
	"github.com/jobsharp/cassandra/schema"
)

var long = flag.Bool("long", false, "run the long fault scenarios (also JOBSHARP_FAULTS_LONG=1)")

func longMode() bool { return *long || os.Getenv("JOBSHARP_FAULTS_LONG") == "1" }

// processorBin is the processor program, built once per test binary.
var processorBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "jobsharp-faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	processorBin = filepath.Join(dir, "processor")
	build := exec.Command("go", "build", "-o", processorBin, "github.com/jobsharp/cassandra/faults/processor")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "faults: build the processor: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// mode holds the sizes of a run: short for CI, long behind -long.
type mode struct {
	load time.Duration // how long the producer enqueues
	rate float64       // jobs per second
	// A job is stuck when, after the faults ended, no job finished for
	// stall, or not every job finished within drainCap: a loaded machine
	// drains slowly, a stuck job never.
	stall, drainCap time.Duration
	// Counts equal the truth, settled, this soon after every job finished
	// (or, when folds alone leave them off, this soon after a sweep).
	countBound time.Duration
	cycles     int // fault cycles per scenario
	raceJobs   int // jobs in the claim race
}

func currentMode() mode {
	if longMode() {
		return mode{load: 150 * time.Second, rate: 20, stall: 2 * time.Minute, drainCap: 15 * time.Minute, countBound: time.Minute, cycles: 3, raceJobs: 1000}
	}
	return mode{load: 30 * time.Second, rate: 15, stall: time.Minute, drainCap: 5 * time.Minute, countBound: 15 * time.Second, cycles: 1, raceJobs: 300}
}

// mix is the workload: short jobs, some long enough to be heartbeaten, a
// few that fail their first attempt on purpose, and some continuations of
// jobs stored a moment before.
var mix = faults.Mix{ShortMS: 300, LongShare: 0.05, LongMS: 6000, FailShare: 0.05, ContinueShare: 0.1}

// TestFaults runs the fault scenarios one after the other on the fault
// cluster (cqltest.Faults: three nodes on 127.0.0.21–23, replication 3,
// the store's default consistency).
func TestFaults(t *testing.T) {
	f := cqltest.Faults(t)
	ks := keyspace(t, f)
	m := currentMode()
	began := time.Now()
	t.Run("NodeKill", func(t *testing.T) { nodeKill(t, f, ks, m) })
	t.Run("ProcessorKill", func(t *testing.T) { processorKill(t, f, ks, m) })
	t.Run("ClaimRaceNodeDown", func(t *testing.T) { claimRace(t, f, ks, m) })
	t.Run("NetworkCut", func(t *testing.T) { networkCut(t, f, ks, m) })
	t.Run("SharedIPWarning", func(t *testing.T) { sharedIPWarning(t, f, ks) })
	if longMode() {
		t.Run("NodePause", func(t *testing.T) { nodePause(t, f, ks, m) })
	}
	t.Logf("fault suite (%s mode) ran in %s", map[bool]string{false: "short", true: "long"}[longMode()], time.Since(began).Round(time.Second))
}

// keyspace applies the store's schema to a new keyspace replicated to the
// three nodes, as `jobsharp schema apply --replication SimpleStrategy:3`
// does, and drops it when the test ends.
func keyspace(t *testing.T, f *cqltest.FaultCluster) string {
	t.Helper()
	s := f.AdminSession()
	ks := cqltest.UniqueKeyspace(t)
	cqltest.DropKeyspaceAtEnd(t, s, ks)
	if _, err := schema.Apply(context.Background(), s, ks, &schema.Replication{Class: schema.SimpleStrategy, Factor: cqltest.FaultNodes}); err != nil {
		t.Fatalf("apply the schema to %s: %v", ks, err)
	}
	return ks
}

// loadWithFaults runs the producer for m.load and, beside it, faults (which
// must return before the load ends or soon after).
func loadWithFaults(s *scenario, m mode, faultsFn func()) {
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() { s.produce(ctx, m.rate, m.load, mix) })
	faultsFn()
	wg.Wait()
	s.note("producer stopped")
}

// nodeKill: a node is killed with SIGKILL under steady load and restarted.
func nodeKill(t *testing.T, f *cqltest.FaultCluster, ks string, m mode) {
	s := newScenario(t, f, ks, "node-kill")
	s.startProcessors(3, procOpts{workers: 8})
	// Beside the jobs: the killed node keeps its schema and data.
	surv := newNodeSurvival(t, f, ks)
	cycle := 0
	cycleNode(s, m, 0.5, func(i int) string {
		f.Kill(i)
		surv.whileDown()
		return "killed (SIGKILL)"
	}, func(i int) string {
		took := f.Restart(i)
		surv.afterRestart(cycle, i)
		cycle++
		return "restarted; up and seen up by the others after " + round(took) + "; it kept its schema and data"
	})
	s.finish("node-kill", m)
}

// cycleNode runs the load and, m.cycles times during it, takes a node down
// and brings it back after downFor of a step: nodes 2 and 3 in turn, and
// the seed, node 1, in a third cycle.
func cycleNode(s *scenario, m mode, downFor float64, down, up func(i int) string) {
	step := m.load / time.Duration(2*m.cycles+1)
	loadWithFaults(s, m, func() {
		for c := range m.cycles {
			victim := 2 + c%2
			if c == 2 {
				victim = 1
			}
			time.Sleep(step)
			s.note("node %d (%s) %s", victim, s.f.Addr(victim), down(victim))
			time.Sleep(time.Duration(downFor * float64(step)))
			s.note("node %d %s", victim, up(victim))
		}
	})
}

func round(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }

// processorKill: processors are killed with SIGKILL while they run jobs;
// replacements take their place.
func processorKill(t *testing.T, f *cqltest.FaultCluster, ks string, m mode) {
	s := newScenario(t, f, ks, "processor-kill")
	live := s.startProcessors(3, procOpts{workers: 8})
	kills := 2 * m.cycles
	step := m.load / time.Duration(kills+1)
	loadWithFaults(s, m, func() {
		for i := range kills {
			time.Sleep(step)
			s.killProcessor(live[i%len(live)])
			live[i%len(live)] = s.startProcessor(procOpts{workers: 8})
		}
	})
	s.finish("processor-kill", m)
}

// claimRace: with a node down, many processors race for a backlog of jobs
// that are all due: four processors start at once on it.
func claimRace(t *testing.T, f *cqltest.FaultCluster, ks string, m mode) {
	s := newScenario(t, f, ks, "claim-race")
	const victim = 3
	f.Kill(victim)
	s.note("node %d (%s) killed (SIGKILL)", victim, f.Addr(victim))
	var wg sync.WaitGroup
	for i := range m.raceJobs {
		wg.Go(func() {
			s.enqueue(context.Background(), faults.WorkArgs{Seq: i, WorkMS: 20 + i%80}, time.Time{}, gocql.UUID{})
		})
		if i%32 == 31 {
			wg.Wait()
		}
	}
	wg.Wait()
	s.note("%d jobs enqueued, all due", m.raceJobs)
	s.startProcessors(4, procOpts{workers: 16})
	drained, ok := s.drain(m)
	s.note("race over after %s (all finished: %v)", round(drained), ok)
	s.note("node %d restarted; up and seen up by the others after %s", victim, round(f.Restart(victim)))
	s.finish("claim-race", m)
}

// networkCut: the processors reach the nodes through proxies; the network
// between them and one node is cut (connections reset, new ones refused),
// then healed. The long mode also stalls it (bytes held, requests hang).
func networkCut(t *testing.T, f *cqltest.FaultCluster, ks string, m mode) {
	s := newScenario(t, f, ks, "network-cut")
	proxies := map[int]*cqltest.Proxy{}
	for i := 1; i <= cqltest.FaultNodes; i++ {
		proxies[i] = cqltest.NewProxy(t, cqltest.HostPort(f.Addr(i), 9042))
	}
	s.startProcessors(3, procOpts{workers: 8, proxies: proxies})
	faultsPerCycle := 1
	if longMode() {
		faultsPerCycle = 2
	}
	step := m.load / time.Duration(2*m.cycles*faultsPerCycle+1)
	loadWithFaults(s, m, func() {
		for c := range m.cycles {
			victim := proxies[2+c%2]
			time.Sleep(step)
			victim.Sever()
			s.note("network to %s cut (connections reset, new ones refused)", victim.Target())
			time.Sleep(step)
			victim.Heal()
			s.note("network to %s healed", victim.Target())
			if faultsPerCycle > 1 {
				time.Sleep(step)
				victim.Stall()
				s.note("network to %s stalled (bytes held)", victim.Target())
				time.Sleep(step)
				victim.Heal()
				s.note("network to %s healed", victim.Target())
			}
		}
	})
	s.finish("network-cut", m)
}

// nodePause (long mode): a node is frozen with SIGSTOP under load, then
// resumed.
func nodePause(t *testing.T, f *cqltest.FaultCluster, ks string, m mode) {
	s := newScenario(t, f, ks, "node-pause")
	s.startProcessors(3, procOpts{workers: 8})
	cycleNode(s, m, 1, func(i int) string { f.Pause(i); return "paused (SIGSTOP)" },
		func(i int) string { return "resumed; seen up by the others after " + round(f.Resume(i)) })
	s.finish("node-pause", m)
}
