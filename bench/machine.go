package bench

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where a run measured.
type Machine struct {
	OS         string     `json:"os"`
	Arch       string     `json:"arch"`
	CPUs       int        `json:"cpus"`
	CPUModel   string     `json:"cpu_model"`
	MemoryGiB  float64    `json:"memory_gib"`
	Go         string     `json:"go"`
	Cassandra  string     `json:"cassandra"`
	LoadBefore [3]float64 `json:"load_before"`
	LoadAfter  [3]float64 `json:"load_after"`
}

func probeMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadBefore: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m.MemoryGiB = kb / (1 << 20)
			}
		}
	}
	return m
}

// loadAverage reads /proc/loadavg; zeros where it is missing.
func loadAverage() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

// releaseVersion asks a node of cfg for its Cassandra version.
func releaseVersion(ctx context.Context, cfg Config) string {
	e := &env{cfg: cfg}
	s, err := e.cluster("", nil).CreateSession()
	if err != nil {
		return "unknown"
	}
	defer s.Close()
	e.admin = s
	return e.releaseVersion(ctx)
}

func (e *env) releaseVersion(ctx context.Context) string {
	var v string
	if err := e.admin.Query(`SELECT release_version FROM system.local`).WithContext(ctx).Scan(&v); err != nil {
		return "unknown"
	}
	return v
}
