//go:build tools

// This file pins the versions of the tools the checks run (make check):
// goimports for import grouping and staticcheck for lint. `go run` with the
// package path uses the version in go.mod, so every machine runs the same.
// The generator itself is in this module (./gen) and needs no pin.
package cassandra

import (
	_ "golang.org/x/tools/cmd/goimports"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
