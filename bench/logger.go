package bench

import (
	"io"
	"log/slog"
)

// discardLogger silences the store's warnings (stale hints it could not
// clean and the like) during measurements.
var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))
