package schema

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalid is returned for a keyspace name or replication that cannot be
// used; the message names the problem.
var ErrInvalid = errors.New("schema: invalid argument")

// Replication classes a keyspace can be created with.
const (
	SimpleStrategy          = "SimpleStrategy"
	NetworkTopologyStrategy = "NetworkTopologyStrategy"
)

// maxFactor bounds replication factors; no cluster needs more, and a typo
// such as 33 for 3 is caught.
const maxFactor = 32

// Replication is a keyspace's replication: SimpleStrategy with one factor
// (development, single data center) or NetworkTopologyStrategy with a factor
// per data center (production).
type Replication struct {
	// Class is SimpleStrategy or NetworkTopologyStrategy.
	Class string
	// Factor is the replication factor of SimpleStrategy.
	Factor int
	// DataCenters maps each data center to its replication factor, for
	// NetworkTopologyStrategy.
	DataCenters map[string]int
}

var dcName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ParseReplication parses "SimpleStrategy:N" or
// "NetworkTopologyStrategy:dc1=N,dc2=M" (class names are case-insensitive).
// Factors run from 1 to 32.
func ParseReplication(text string) (Replication, error) {
	class, spec, ok := strings.Cut(strings.TrimSpace(text), ":")
	if !ok {
		return Replication{}, invalidf("replication %q: want SimpleStrategy:N or NetworkTopologyStrategy:dc1=N,dc2=M", text)
	}
	switch strings.ToLower(class) {
	case strings.ToLower(SimpleStrategy):
		n, err := factor(spec)
		if err != nil {
			return Replication{}, invalidf("replication %q: %v", text, err)
		}
		return Replication{Class: SimpleStrategy, Factor: n}, nil
	case strings.ToLower(NetworkTopologyStrategy):
		r := Replication{Class: NetworkTopologyStrategy, DataCenters: map[string]int{}}
		for part := range strings.SplitSeq(spec, ",") {
			dc, f, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				return Replication{}, invalidf("replication %q: %q is not dc=N", text, part)
			}
			if !dcName.MatchString(dc) {
				return Replication{}, invalidf("replication %q: data center name %q has characters other than letters, digits, '_', '.', '-'", text, dc)
			}
			if _, dup := r.DataCenters[dc]; dup {
				return Replication{}, invalidf("replication %q: data center %s appears twice", text, dc)
			}
			n, err := factor(f)
			if err != nil {
				return Replication{}, invalidf("replication %q: data center %s: %v", text, dc, err)
			}
			r.DataCenters[dc] = n
		}
		return r, nil
	}
	return Replication{}, invalidf("replication %q: class must be SimpleStrategy or NetworkTopologyStrategy, got %q", text, class)
}

func factor(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > maxFactor {
		return 0, fmt.Errorf("replication factor must be a whole number from 1 to %d, got %q", maxFactor, s)
	}
	return n, nil
}

// String returns the replication in the form ParseReplication reads, with
// data centers sorted.
func (r Replication) String() string {
	if r.Class == SimpleStrategy {
		return fmt.Sprintf("%s:%d", r.Class, r.Factor)
	}
	var parts []string
	for _, dc := range slices.Sorted(maps.Keys(r.DataCenters)) {
		parts = append(parts, fmt.Sprintf("%s=%d", dc, r.DataCenters[dc]))
	}
	return r.Class + ":" + strings.Join(parts, ",")
}

// CQL returns the replication map of CREATE KEYSPACE:
// {'class': 'NetworkTopologyStrategy', 'dc1': 3}.
func (r Replication) CQL() string {
	if r.Class == SimpleStrategy {
		return fmt.Sprintf("{'class': 'SimpleStrategy', 'replication_factor': %d}", r.Factor)
	}
	var b strings.Builder
	b.WriteString("{'class': 'NetworkTopologyStrategy'")
	for _, dc := range slices.Sorted(maps.Keys(r.DataCenters)) {
		fmt.Fprintf(&b, ", '%s': %d", dc, r.DataCenters[dc])
	}
	b.WriteString("}")
	return b.String()
}

// matches reports whether a keyspace's replication as system_schema shows
// it (class with package, factors as strings) is r.
func (r Replication) matches(live map[string]string) bool {
	class := strings.TrimPrefix(live["class"], "org.apache.cassandra.locator.")
	if class != r.Class {
		return false
	}
	if r.Class == SimpleStrategy {
		return live["replication_factor"] == strconv.Itoa(r.Factor)
	}
	if len(live) != len(r.DataCenters)+1 {
		return false
	}
	for dc, n := range r.DataCenters {
		if live[dc] != strconv.Itoa(n) {
			return false
		}
	}
	return true
}

// describeReplication renders a live replication map for people:
// "NetworkTopologyStrategy:dc1=3".
func describeReplication(live map[string]string) string {
	class := strings.TrimPrefix(live["class"], "org.apache.cassandra.locator.")
	if f, ok := live["replication_factor"]; ok && class == SimpleStrategy {
		return class + ":" + f
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(live)) {
		if k != "class" {
			parts = append(parts, k+"="+live[k])
		}
	}
	return class + ":" + strings.Join(parts, ",")
}

var keyspaceName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// ValidKeyspace checks that name can be used unquoted as a keyspace: a
// lowercase letter, then up to 47 lowercase letters, digits or underscores,
// and not one of Cassandra's system keyspaces.
func ValidKeyspace(name string) error {
	if !keyspaceName.MatchString(name) {
		return invalidf("keyspace name %q: want a lowercase letter followed by up to 47 lowercase letters, digits or '_'", name)
	}
	if strings.HasPrefix(name, "system") {
		return invalidf("keyspace name %q: names starting with system belong to Cassandra", name)
	}
	return nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
