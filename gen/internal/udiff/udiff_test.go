package udiff

import (
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update is accepted so that go test ./gen/... -update works.
var _ = flag.Bool("update", false, "rewrite golden files (none in this package)")

func TestUnified(t *testing.T) {
	tests := map[string]struct {
		a, b string
		want string
	}{
		"Equal": {a: "x\n", b: "x\n", want: ""},
		"Change": {
			a:    "a\nb\nc\nd\ne\nf\ng\nh\n",
			b:    "a\nb\nc\nd\nE\nf\ng\nh\n",
			want: "--- a\n+++ b\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n",
		},
		"AddToEmpty": {a: "", b: "x\ny\n", want: "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n"},
		"RemoveAll":  {a: "x\n", b: "", want: "--- a\n+++ b\n@@ -1,1 +0,0 @@\n-x\n"},
		"TwoHunks": {
			a:    strings.Repeat("l\n", 3) + "a\n" + strings.Repeat("m\n", 10) + "b\n",
			b:    strings.Repeat("l\n", 3) + "A\n" + strings.Repeat("m\n", 10) + "B\n",
			want: "--- a\n+++ b\n@@ -1,7 +1,7 @@\n l\n l\n l\n-a\n+A\n m\n m\n m\n@@ -12,4 +12,4 @@\n m\n m\n m\n-b\n+B\n",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Unified("a", "b", tt.a, tt.b)); diff != "" {
				t.Errorf("Unified() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnifiedApplies checks that the edit script rebuilds both inputs.
func TestUnifiedApplies(t *testing.T) {
	a := splitLines("a\nb\nc\na\nb\nb\na\n")
	b := splitLines("c\nb\na\nb\na\nc\n")
	var gotA, gotB []string
	for _, o := range edits(a, b) {
		if o.kind != '+' {
			gotA = append(gotA, o.line)
		}
		if o.kind != '-' {
			gotB = append(gotB, o.line)
		}
	}
	if diff := cmp.Diff(a, gotA); diff != "" {
		t.Errorf("old side (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(b, gotB); diff != "" {
		t.Errorf("new side (-want +got):\n%s", diff)
	}
}
