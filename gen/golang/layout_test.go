package golang

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLayoutCQL(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		in, want string
	}{
		"Short": {
			in:   "SELECT * FROM jobs WHERE id = ?",
			want: "SELECT *\nFROM jobs\nWHERE id = ?",
		},
		"SelectClauses": {
			in:   "SELECT id, bucket FROM all_types WHERE id = ? AND bucket IN ? PER PARTITION LIMIT 2 LIMIT 100 ALLOW FILTERING",
			want: "SELECT id, bucket\nFROM all_types\nWHERE id = ? AND bucket IN ?\nPER PARTITION LIMIT 2\nLIMIT 100\nALLOW FILTERING",
		},
		"ParenthesesAndStrings": {
			in:   "UPDATE t SET a = 'x where y', b = (?, ?) WHERE k = ? IF c = ? AND d = fn(?, ?)",
			want: "UPDATE t\nSET a = 'x where y', b = (?, ?)\nWHERE k = ?\nIF c = ? AND d = fn(?, ?)",
		},
		"Using": {
			in:   "UPDATE jobs USING TTL ? SET state = ? WHERE id = ? IF version = ?",
			want: "UPDATE jobs\nUSING TTL ?\nSET state = ?\nWHERE id = ?\nIF version = ?",
		},
		"QuotedKeywords": {
			in:   `SELECT "from", "limit" FROM "select" WHERE key = ?`,
			want: "SELECT \"from\", \"limit\"\nFROM \"select\"\nWHERE key = ?",
		},
		"Wraps": {
			in: "UPDATE jobs SET queue = ?, type = ?, args = ?, state = ?, version = ?, created_at = ?, scheduled_at = ?, state_changed_at = ?, started_at = ? WHERE id = ? IF version = NULL",
			want: "UPDATE jobs\nSET queue = ?, type = ?, args = ?, state = ?, version = ?, created_at = ?, scheduled_at = ?,\n" +
				"    state_changed_at = ?, started_at = ?\nWHERE id = ?\nIF version = NULL",
		},
		"WrapsInsertLists": {
			in: "INSERT INTO recurring_jobs (shard, id, queue, cron, timezone, type, args, max_retries, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			want: "INSERT INTO recurring_jobs (shard, id, queue, cron, timezone, type, args, max_retries, metadata,\n" +
				"    created_at, updated_at)\nVALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, layoutCQL(tt.in)); diff != "" {
				t.Errorf("layoutCQL() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
