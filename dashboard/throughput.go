package dashboard

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/jobsharp/cassandra/repo"
)

// The throughput chart. The store keeps counters of jobs per state, not a
// history of them, so the dashboard samples the counters every
// ChartInterval and plots the differences between samples: per interval,
// how much the Succeeded count grew ("succeeded") and how much the Failed
// plus Abandoned count grew ("failed"). The samples live in memory, so the
// chart starts empty when the dashboard process starts, and it is sampled
// only while someone looks at the dashboard: after chartIdle without a page
// or chart request the sampling stops, and the chart shows a gap.

// sample is the counters at one moment.
type sample struct {
	At        time.Time
	Succeeded int64
	Failed    int64 // Failed + Abandoned
}

// sampler takes samples while the dashboard is in use.
type sampler struct {
	ctx      context.Context
	store    *repo.Store
	interval time.Duration
	points   int
	idle     time.Duration
	log      func(msg string, args ...any)
	off      bool // ChartInterval < 0: no chart
	wg       sync.WaitGroup

	mu      sync.Mutex
	samples []sample // oldest first, at most points+1
	lastUse time.Time
	running bool
}

func newSampler(ctx context.Context, store *repo.Store, set settings) *sampler {
	return &sampler{
		ctx: ctx, store: store, interval: set.chartInterval, points: set.chartPoints,
		idle: max(10*set.chartInterval, time.Minute), log: set.log.Warn, off: set.chartInterval < 0,
	}
}

// touch records that someone looks at the dashboard, and starts sampling
// when it had stopped.
func (s *sampler) touch() {
	if s.off {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastUse = time.Now()
	if s.running || s.ctx.Err() != nil {
		return
	}
	s.running = true
	s.wg.Add(1)
	go s.loop()
}

func (s *sampler) wait() { s.wg.Wait() }

func (s *sampler) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.take()
		select {
		case <-s.ctx.Done():
			s.stop()
			return
		case <-t.C:
		}
		s.mu.Lock()
		if time.Since(s.lastUse) > s.idle {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

func (s *sampler) stop() {
	s.mu.Lock()
	s.running = false
	s.mu.Unlock()
}

// take reads the counters: the queue list, then Succeeded, Failed and
// Abandoned of each queue (1 + 3 × queues counter reads).
func (s *sampler) take() {
	ctx, cancel := context.WithTimeout(s.ctx, max(s.interval, 10*time.Second))
	defer cancel()
	smp, err := readCounters(ctx, s.store)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log("jobsharp dashboard: could not sample the counters for the chart", "err", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, smp)
	if len(s.samples) > s.points+1 {
		s.samples = s.samples[len(s.samples)-s.points-1:]
	}
}

func readCounters(ctx context.Context, store *repo.Store) (sample, error) {
	queues, err := store.Jobs.Queues(ctx)
	if err != nil {
		return sample{}, err
	}
	states := []repo.State{repo.StateSucceeded, repo.StateFailed, repo.StateAbandoned}
	counts := make([]int64, len(queues)*len(states))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for i := range counts {
		g.Go(func() error {
			n, err := store.Jobs.Count(gctx, queues[i/len(states)], states[i%len(states)])
			counts[i] = n
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return sample{}, err
	}
	smp := sample{At: time.Now()}
	for i, n := range counts {
		if states[i%len(states)] == repo.StateSucceeded {
			smp.Succeeded += n
		} else {
			smp.Failed += n
		}
	}
	return smp, nil
}

// point is one interval of the chart.
type point struct {
	At        time.Time `json:"at"`
	Succeeded int64     `json:"succeeded"`
	Failed    int64     `json:"failed"`
}

// chart is the chart's data and its drawing, computed here once for both
// the page (server-rendered SVG) and the script (which sets the same
// attributes from the JSON).
type chart struct {
	IntervalSeconds float64   `json:"interval_seconds"`
	Points          []point   `json:"points"`
	Sampling        bool      `json:"sampling"`
	Off             bool      `json:"off,omitempty"`
	Since           time.Time `json:"since,omitzero"`
	// Drawing: polyline points of each series in a Width × Height box,
	// the y-axis maximum and the totals of the window.
	Width, Height   int    `json:"-"`
	BoxWidth        int    `json:"-"`
	BoxHeight       int    `json:"-"`
	LabelY          int    `json:"-"`
	IntervalMS      int64  `json:"-"`
	Interval        string `json:"-"`
	SucceededLine   string `json:"succeeded_line"`
	FailedLine      string `json:"failed_line"`
	YMax            int64  `json:"y_max"`
	TotalSucceeded  int64  `json:"total_succeeded"`
	TotalFailed     int64  `json:"total_failed"`
	Window          string `json:"window"`
	LastSucceeded   int64  `json:"last_succeeded"`
	LastFailed      int64  `json:"last_failed"`
	SucceededPerSec string `json:"succeeded_per_second"`
}

const chartWidth, chartHeight = 600, 160

// chart returns the points: the growth of the counters between
// consecutive samples, clamped at zero (a count drops when jobs expire, are
// purged, deleted or requeued). Samples further apart than 2.5 intervals
// (sampling had stopped) give no point.
func (s *sampler) chart() chart {
	if s.off {
		return chart{Off: true, Points: []point{}}
	}
	s.mu.Lock()
	samples := append([]sample(nil), s.samples...)
	running := s.running
	s.mu.Unlock()
	c := chart{
		IntervalSeconds: s.interval.Seconds(), Points: []point{}, Sampling: running,
		Width: chartWidth, Height: chartHeight, BoxWidth: chartWidth + 50, BoxHeight: chartHeight + 30, LabelY: chartHeight + 16,
		IntervalMS: s.interval.Milliseconds(), Interval: s.interval.String(),
		Window: fmt.Sprintf("last %s", time.Duration(s.points)*s.interval),
	}
	if len(samples) > 0 {
		c.Since = samples[0].At
	}
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if b.At.Sub(a.At) > s.interval*5/2 {
			continue
		}
		p := point{At: b.At, Succeeded: max(0, b.Succeeded-a.Succeeded), Failed: max(0, b.Failed-a.Failed)}
		c.Points = append(c.Points, p)
		c.TotalSucceeded += p.Succeeded
		c.TotalFailed += p.Failed
		c.YMax = max(c.YMax, p.Succeeded, p.Failed)
	}
	if n := len(c.Points); n > 0 {
		c.LastSucceeded, c.LastFailed = c.Points[n-1].Succeeded, c.Points[n-1].Failed
	}
	c.SucceededPerSec = fmt.Sprintf("%.1f", float64(c.LastSucceeded)/s.interval.Seconds())
	c.YMax = niceCeil(c.YMax)
	now := time.Now()
	span := time.Duration(s.points) * s.interval
	c.SucceededLine = polyline(c.Points, now, span, c.YMax, func(p point) int64 { return p.Succeeded })
	c.FailedLine = polyline(c.Points, now, span, c.YMax, func(p point) int64 { return p.Failed })
	return c
}

// polyline maps points to SVG coordinates: time on x (the window ending
// now), value on y (0 at the bottom, yMax at the top).
func polyline(pts []point, now time.Time, span time.Duration, yMax int64, v func(point) int64) string {
	var b strings.Builder
	for _, p := range pts {
		x := float64(chartWidth) * (1 - float64(now.Sub(p.At))/float64(span))
		if x < 0 {
			continue
		}
		y := float64(chartHeight) * (1 - float64(v(p))/float64(yMax))
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	return strings.TrimSpace(b.String())
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(v int64) int64 {
	if v <= 1 {
		return 1
	}
	p := int64(math.Pow(10, math.Floor(math.Log10(float64(v)))))
	for _, m := range []int64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// throughputJSON is GET /api/throughput: the chart's points and drawing.
func (d *Dashboard) throughputJSON(c *call) error {
	d.chart.touch()
	writeJSON(c.w, http.StatusOK, d.chart.chart())
	return nil
}
