// Package plot draws the figures of a benchmark report with gonum/plot.
package plot

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/jobsharp/cassandra/bench"
)

// DueScan draws the latency of fetching the due jobs against the number of
// processed jobs, for both strategies, on a logarithmic time axis (they
// differ by two orders of magnitude), and saves it as a PNG at path. Each
// point is the median of the scans; the bars span their minimum and
// maximum.
func DueScan(rep *bench.Report, path string) error {
	if len(rep.DueScan) == 0 {
		return fmt.Errorf("plot due scan: the report has no due-scan figures")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Fetching %d due jobs as history grows (%s mode)", rep.Config.DueFetch, rep.Mode)
	p.X.Label.Text = "processed jobs in history"
	p.Y.Label.Text = "latency, ms (log scale; median, bars: min–max)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	series := []struct {
		who   string
		label string
		color color.Color
		shape draw.GlyphDrawer
	}{
		{bench.Ours, "ours (repo.Jobs.ListDue)", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, draw.CircleGlyph{}},
		{bench.Orig, "original (GetScheduledJobs)", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, draw.SquareGlyph{}},
	}
	for _, s := range series {
		pts := make(plotter.XYs, 0, len(rep.DueScan))
		errs := make(plotter.YErrors, 0, len(rep.DueScan))
		found := ""
		for _, d := range rep.DueScan {
			st := d.LatencyMS[s.who]
			if st == nil || len(st.Samples) == 0 {
				continue
			}
			pts = append(pts, plotter.XY{X: float64(d.History), Y: st.Median})
			errs = append(errs, struct{ Low, High float64 }{st.Median - st.Min, st.Max - st.Median})
			if f := d.Found[s.who]; f != nil {
				found += fmt.Sprintf(" %.0f", f.Median)
			}
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("plot due scan: %w", err)
		}
		line.Color, points.Color, points.Shape = s.color, s.color, s.shape
		line.Width = vg.Points(1.5)
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, errs})
		if err != nil {
			return fmt.Errorf("plot due scan: %w", err)
		}
		bars.Color = s.color
		p.Add(line, points, bars)
		p.Legend.Add(fmt.Sprintf("%s; due jobs found:%s", s.label, found), line, points)
	}
	// Room above the lines for the legend.
	p.Y.Min, p.Y.Max = p.Y.Min/1.5, p.Y.Max*4
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot due scan: %w", err)
	}
	return nil
}

// logTicks labels 1, 2 and 5 times each power of ten, with minor ticks
// between.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for p := math.Pow(10, math.Floor(math.Log10(lo))); p <= hi; p *= 10 {
		for m := 1; m <= 9; m++ {
			v := p * float64(m)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}
