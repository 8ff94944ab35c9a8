package bench

import (
	"math"
	"slices"
)

// Stat is a figure measured several times: the samples and their median,
// minimum and maximum.
type Stat struct {
	Samples []float64 `json:"samples"`
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
}

// add records a sample and updates the summary.
func (s *Stat) add(v float64) {
	s.Samples = append(s.Samples, v)
	sorted := slices.Sorted(slices.Values(s.Samples))
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.Median = median(sorted)
}

// median of sorted values; NaN for none.
func median(sorted []float64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return math.NaN()
	case n%2 == 1:
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// ratio is a/b, or NaN when b is zero.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
