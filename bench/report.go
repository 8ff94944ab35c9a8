package bench

import (
	"time"
)

// Report is the outcome of one run: every figure with its samples, and the
// state of the machine it was measured on.
type Report struct {
	Mode     Mode          `json:"mode"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Machine  Machine       `json:"machine"`
	Config   Config        `json:"config"`

	Store   []*StoreResult   `json:"store,omitempty"`
	Layer   []*LayerResult   `json:"layer,omitempty"`
	Hints   []*HintResult    `json:"hints,omitempty"`
	Claim   []*ClaimResult   `json:"claim,omitempty"`
	DueScan []*DueScanResult `json:"due_scan,omitempty"`

	Throughput *ThroughputReport `json:"throughput,omitempty"`
	Controls   *ControlsReport   `json:"controls,omitempty"`
}

// RoundTrips is the statements a contender sent per operation (each page of
// a paged read and each batch counts once), by kind, and the rows returned.
type RoundTrips struct {
	PerOp       float64            `json:"per_op"`
	RowsPerOp   float64            `json:"rows_per_op"`
	ByStatement map[string]float64 `json:"by_statement"`
}
