package plot

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/jobsharp/cassandra/bench"
	"github.com/jobsharp/cassandra/bench/workload"
)

// contenderColors are the bars' colours, by contender.
var contenderColors = map[string]color.Color{
	bench.Ours:     color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	bench.RawGocql: color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	bench.Previous: color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	bench.RiverPG:  color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// Throughput draws jobs per second per contender for each workload, one
// panel per workload with a linear axis of its own (a bulk insert stores
// jobs an order of magnitude faster than a processor finishes them), and
// saves it as a PNG at path. Each bar is the median over the reports of
// each report's median, labelled with its value; the reports are runs of
// one configuration.
func Throughput(reps []*bench.Report, path string) error {
	if len(reps) == 0 || reps[0].Throughput == nil {
		return fmt.Errorf("plot throughput: the report has no throughput figures")
	}
	tp, c0 := reps[0].Throughput, reps[0].Config
	groups := []struct{ workload, label string }{
		{workload.Drain, fmt.Sprintf("drain %d jobs: finished/s", c0.DrainJobs)},
		{workload.Steady, fmt.Sprintf("steady, %d producers: finished/s", c0.SteadyProducers)},
		{workload.Bulk, fmt.Sprintf("bulk insert %d jobs: stored/s", c0.BulkJobs)},
	}
	names := make([]string, len(tp.Contenders))
	for i, c := range tp.Contenders {
		names[i] = tickLabel(tp, c)
	}
	panels := [][]*plot.Plot{make([]*plot.Plot, len(groups))}
	for g, grp := range groups {
		p := plot.New()
		p.Title.Text = grp.label
		if g == 0 {
			p.Y.Label.Text = "jobs/s (median)"
		}
		p.Add(plotter.NewGrid())
		top := 0.0
		for i, c := range tp.Contenders {
			v, label := medianOver(reps, grp.workload, c), ""
			if math.IsNaN(v) {
				v, label = 0, "–"
			} else {
				label = fmt.Sprintf("%.0f", v)
			}
			top = max(top, v)
			bars, err := plotter.NewBarChart(plotter.Values{v}, vg.Points(34))
			if err != nil {
				return fmt.Errorf("plot throughput: %w", err)
			}
			bars.XMin = float64(i)
			bars.Color = contenderColors[c]
			bars.LineStyle.Width = 0
			lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: float64(i), Y: v}}, Labels: []string{label}})
			if err != nil {
				return fmt.Errorf("plot throughput: %w", err)
			}
			lbl.TextStyle[0].XAlign = draw.XCenter
			lbl.Offset = vg.Point{Y: vg.Points(2)}
			p.Add(bars, lbl)
		}
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.6, float64(len(names))-0.4
		p.Y.Min, p.Y.Max = 0, max(top*1.15, 1) // room for the labels
		panels[0][g] = p
	}
	img := vgimg.New(12*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	title := plot.New().Title.TextStyle
	title.XAlign = draw.XCenter
	dc.FillText(title, vg.Point{X: dc.Center().X, Y: dc.Max.Y - 1.4*title.Height("M")},
		fmt.Sprintf("Jobs per second, one processor of %d slots, no-op handler (%d run(s), %s mode)", c0.Slots, len(reps), reps[0].Mode))
	tiles := draw.Tiles{Rows: 1, Cols: len(groups), PadX: vg.Points(12), PadTop: vg.Points(44), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(panels, tiles, dc)
	for g := range groups {
		panels[0][g].Draw(canvases[0][g])
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot throughput: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot throughput: %w", err)
	}
	return f.Close()
}

// tickLabel names a contender under its bar, on two lines.
func tickLabel(tp *bench.ThroughputReport, c string) string {
	switch c {
	case bench.Previous:
		if len(tp.PreviousCommit) >= 7 {
			return "previous\n" + tp.PreviousCommit[:7]
		}
	case bench.RiverPG:
		v, _, _ := strings.Cut(tp.PostgreSQL, " ")
		return "River " + tp.River + "\nPostgreSQL " + v
	case bench.Ours:
		return "ours\nthis commit"
	case bench.RawGocql:
		return "raw gocql\nsame statements"
	}
	return c
}

// medianOver returns the median over the reports of each one's median
// jobs/s of workload w for contender c.
func medianOver(reps []*bench.Report, w, c string) float64 {
	var vals []float64
	for _, r := range reps {
		if r.Throughput == nil {
			continue
		}
		for _, t := range r.Throughput.Workloads {
			if s := t.JobsPerS[c]; t.Workload == w && s != nil && len(s.Samples) > 0 {
				vals = append(vals, s.Median)
			}
		}
	}
	if len(vals) == 0 {
		return math.NaN()
	}
	slices.Sort(vals)
	if len(vals)%2 == 1 {
		return vals[len(vals)/2]
	}
	return (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
}
