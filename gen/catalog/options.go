package catalog

import (
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/jobsharp/cassandra/gen/cql"
)

// This file checks WITH options the way Cassandra 5.0 does
// (TableAttributes, KeyspaceAttributes, CompactionParams, CompressionParams,
// CachingParams, SpeculativeRetryPolicy, ReplicationParams), and, with the
// Scylla dialect, the options ScyllaDB documents (docs/cql/ddl.rst and
// docs/cql/cql-extensions.md in scylladb/scylladb).
//
// Cassandra's grammar reads an option value as a constant (whose raw text
// becomes the value: 'abc' is abc, 10 is 10, true is true) or as a flat map
// of constants; each option then parses that text.

// optValue is an option value as the server sees it.
type optValue struct {
	isMap   bool
	text    string // the constant's raw text
	entries []optEntry
	pos     cql.Position
}

type optEntry struct {
	key, value string
	rack       []string // a ScyllaDB rack list ('dc1': ['r1', 'r2']); value is then ""
	isList     bool
	pos        cql.Position // of the key
}

// get returns the value of key in a map value.
func (v optValue) get(key string) (string, bool) {
	for _, e := range v.entries {
		if e.key == key {
			return e.value, true
		}
	}
	return "", false
}

// constantText returns a constant's raw text as Cassandra's parser does.
func constantText(v cql.Value) (string, bool) {
	switch v.Kind {
	case cql.ValueString, cql.ValueNumber, cql.ValueBool:
		return v.Text, true
	case cql.ValueIdent:
		switch strings.ToLower(v.Text) {
		case "nan":
			return "NaN", true
		case "infinity":
			return "Infinity", true
		}
	}
	return "", false
}

// readValue converts an option's value, rejecting what the grammar rejects:
// identifiers, lists, sets and nested collections. racks allows a list of
// constants as a map value (ScyllaDB's rack-list replication factors).
func readValue(o cql.Option, racks bool) (optValue, error) {
	v := o.Value
	out := optValue{pos: v.Pos}
	switch v.Kind {
	case cql.ValueMap:
		out.isMap = true
		for _, e := range v.Entries {
			key, ok := constantText(e.Key)
			if !ok {
				return out, cql.Errorf(e.Key.Pos, "%w: option %s: invalid property name %s; map keys must be constants", ErrInvalidOption, o.Name, e.Key.Render())
			}
			if e.Value.Kind == cql.ValueList && racks {
				var rack []string
				for _, el := range e.Value.Elems {
					name, ok := constantText(el)
					if !ok {
						return out, cql.Errorf(el.Pos, "%w: option %s: rack name %s for %s must be a string", ErrInvalidOption, o.Name, el.Render(), key)
					}
					rack = append(rack, name)
				}
				if _, dup := out.get(key); dup {
					return out, cql.Errorf(e.Key.Pos, "%w: option %s: multiple definitions of %s", ErrInvalidOption, o.Name, key)
				}
				out.entries = append(out.entries, optEntry{key: key, rack: rack, isList: true, pos: e.Key.Pos})
				continue
			}
			value, ok := constantText(e.Value)
			if !ok {
				if e.Value.Kind == cql.ValueList && o.Name == "replication" {
					return out, cql.Errorf(e.Value.Pos, "%w: option %s: a rack list %s for %s is ScyllaDB's; generate with -dialect scylla", ErrInvalidOption, o.Name, e.Value.Render(), key)
				}
				return out, cql.Errorf(e.Value.Pos, "%w: option %s: invalid property value %s for %s; map values must be constants", ErrInvalidOption, o.Name, e.Value.Render(), key)
			}
			if _, dup := out.get(key); dup {
				return out, cql.Errorf(e.Key.Pos, "%w: option %s: multiple definitions of %s", ErrInvalidOption, o.Name, key)
			}
			out.entries = append(out.entries, optEntry{key: key, value: value, pos: e.Key.Pos})
		}
		return out, nil
	case cql.ValueList, cql.ValueSet:
		return out, cql.Errorf(v.Pos, "%w: option %s takes a constant or a map, not %s", ErrInvalidOption, o.Name, v.Render())
	}
	text, ok := constantText(v)
	if !ok {
		return out, cql.Errorf(v.Pos, "%w: option %s: %s is not a constant; quote it: %s", ErrInvalidOption, o.Name, v.Render(), cql.QuoteString(v.Text))
	}
	out.text = text
	return out, nil
}

// optionRule says what one option takes.
type optionRule struct {
	isMap bool // a map; otherwise a constant
	any   bool // either (extensions)
	check func(name string, v optValue) error
}

func constant(check func(string, optValue) error) optionRule { return optionRule{check: check} }
func mapOf(check func(string, optValue) error) optionRule {
	return optionRule{isMap: true, check: check}
}

// invalid is the error of an option whose value the server refuses.
func invalid(v optValue, format string, args ...any) error {
	return cql.Errorf(v.pos, "%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

var (
	trueText  = regexp.MustCompile(`^(?i)(1|true|yes)$`)
	falseText = regexp.MustCompile(`^(?i)(0|false|no)$`)
)

// parseBool is PropertyDefinitions.parseBoolean.
func parseBool(s string) (bool, bool) {
	switch {
	case trueText.MatchString(s):
		return true, true
	case falseText.MatchString(s):
		return false, true
	}
	return false, false
}

// parseJavaInt is Integer.parseInt: an optional sign and decimal digits
// within 32 bits.
func parseJavaInt(s string) (int64, bool) {
	if s == "" || strings.ContainsAny(s, "_ ") {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 32)
	return n, err == nil
}

// parseJavaLong is Long.parseLong.
func parseJavaLong(s string) (int64, bool) {
	if s == "" || strings.ContainsAny(s, "_ ") {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// parseJavaDouble is Double.parseDouble (and Float.parseFloat) for the
// decimal forms schemas use: a trailing d or f, NaN and Infinity with an
// optional sign, spelt as Java spells them.
func parseJavaDouble(s string) (float64, bool) {
	t := strings.TrimSpace(s)
	switch strings.TrimLeft(t, "+-") {
	case "NaN":
		return math.NaN(), len(t) <= len("NaN")+1
	case "Infinity":
		if len(t) > len("Infinity")+1 {
			return 0, false
		}
		if t[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	t = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(t, "d"), "D"), "f"), "F")
	if t == "" || strings.ContainsFunc(t, func(r rune) bool { return !strings.ContainsRune("0123456789.eE+-", r) }) {
		return 0, false
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

func isBool(name string, v optValue) error {
	if _, ok := parseBool(v.text); !ok {
		return invalid(v, "invalid boolean value %s for %s: use true or false", v.text, name)
	}
	return nil
}

func intAtLeast(min int64) func(string, optValue) error {
	return func(name string, v optValue) error {
		n, ok := parseJavaInt(v.text)
		if !ok {
			return invalid(v, "invalid integer value %s for %s", v.text, name)
		}
		if n < min {
			return invalid(v, "%s must be greater than or equal to %d (got %d)", name, min, n)
		}
		return nil
	}
}

func isInt(name string, v optValue) error {
	if _, ok := parseJavaInt(v.text); !ok {
		return invalid(v, "invalid integer value %s for %s", v.text, name)
	}
	return nil
}

// maxTTL is Attributes.MAX_TTL: 20 years in seconds.
const maxTTL = 20 * 365 * 24 * 60 * 60

func checkTTL(name string, v optValue) error {
	n, ok := parseJavaInt(v.text)
	switch {
	case !ok:
		return invalid(v, "invalid integer value %s for %s", v.text, name)
	case n < 0:
		return invalid(v, "%s must be greater than or equal to 0 (got %d)", name, n)
	case n > maxTTL:
		return invalid(v, "%s must be less than or equal to %d (got %d)", name, maxTTL, n)
	}
	return nil
}

// minBloomFilterFpChance is BloomCalculations.minSupportedBloomFilterFpChance().
const minBloomFilterFpChance = 6.71e-05

func checkBloomFilter(name string, v optValue) error {
	f, ok := parseJavaDouble(v.text)
	if !ok {
		return invalid(v, "invalid double value %s for %s", v.text, name)
	}
	if f <= minBloomFilterFpChance || f > 1 { // as TableParams.validate compares: NaN passes
		return invalid(v, "%s must be larger than %g and less than or equal to 1.0 (got %s)", name, minBloomFilterFpChance, v.text)
	}
	return nil
}

func checkChance(name string, v optValue) error {
	f, ok := parseJavaDouble(v.text)
	if !ok {
		return invalid(v, "invalid double value %s for %s", v.text, name)
	}
	if f < 0 || f > 1 { // as TableParams.validate compares: NaN passes
		return invalid(v, "%s must be larger than or equal to 0 and smaller than or equal to 1.0 (got %s)", name, v.text)
	}
	return nil
}

func oneOf(fold bool, values ...string) func(string, optValue) error {
	return func(name string, v optValue) error {
		for _, x := range values {
			if v.text == x || fold && strings.EqualFold(v.text, x) {
				return nil
			}
		}
		return invalid(v, "invalid value %s for %s: use one of %s", v.text, name, strings.Join(values, ", "))
	}
}

var uuidText = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isUUID(name string, v optValue) error {
	if !uuidText.MatchString(v.text) {
		return invalid(v, "invalid table id %s: want a UUID", v.text)
	}
	return nil
}

var (
	percentileRetry = regexp.MustCompile(`^(?i)([0-9.]+)p(ercentile)?$`)
	fixedRetry      = regexp.MustCompile(`^(?i)([0-9.]+)ms$`)
	hybridRetry     = regexp.MustCompile(`^(?i)(MIN|MAX)\(([0-9.]+[a-z]+)\s*,\s*([0-9.]+[a-z]+)\)$`)
)

// retryKind parses one speculative retry policy (SpeculativeRetryPolicy.fromString).
func retryKind(s string) (string, bool) {
	switch {
	case strings.EqualFold(s, "ALWAYS"):
		return "always", true
	case strings.EqualFold(s, "NEVER"), strings.EqualFold(s, "NONE"):
		return "never", true
	case percentileRetry.MatchString(s):
		f, ok := parseJavaDouble(percentileRetry.FindStringSubmatch(s)[1])
		return "percentile", ok && f > 0 && f < 100
	case fixedRetry.MatchString(s):
		_, ok := parseJavaDouble(fixedRetry.FindStringSubmatch(s)[1])
		return "fixed", ok
	case hybridRetry.MatchString(s):
		m := hybridRetry.FindStringSubmatch(s)
		a, okA := retryKind(m[2])
		b, okB := retryKind(m[3])
		ok := okA && okB && a != b && (a == "percentile" || a == "fixed") && (b == "percentile" || b == "fixed")
		return "hybrid", ok
	}
	return "", false
}

func checkRetry(name string, v optValue) error {
	if _, ok := retryKind(v.text); !ok {
		return invalid(v, "invalid value %s for %s: use ALWAYS, NEVER, 99p (a percentile below 100), 50ms, or MIN(99p, 50ms)", v.text, name)
	}
	return nil
}

func checkCaching(name string, v optValue) error {
	for _, e := range v.entries {
		switch e.key {
		case "keys":
			if !strings.EqualFold(e.value, "ALL") && !strings.EqualFold(e.value, "NONE") {
				return invalid(v, "invalid value '%s' for caching sub-option 'keys': only 'ALL' and 'NONE' are allowed", e.value)
			}
		case "rows_per_partition":
			if !strings.EqualFold(e.value, "ALL") && !strings.EqualFold(e.value, "NONE") && !isDigits(e.value) {
				return invalid(v, "invalid value '%s' for caching sub-option 'rows_per_partition': only 'ALL', 'NONE', and integer values are allowed", e.value)
			}
		case "enabled":
			return cql.Errorf(e.pos, "%w: invalid caching sub-option enabled: only 'keys' and 'rows_per_partition' are allowed ('enabled' is ScyllaDB's: generate with -dialect scylla)", ErrInvalidOption)
		default:
			return cql.Errorf(e.pos, "%w: invalid caching sub-option %s: only 'keys' and 'rows_per_partition' are allowed", ErrInvalidOption, e.key)
		}
	}
	return nil
}

// isDigits is StringUtils.isNumeric: one or more Unicode digits.
func isDigits(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}

func isTrueFalse(s string) bool { return strings.EqualFold(s, "true") || strings.EqualFold(s, "false") }

// subOption checks one compaction or compression sub-option's value; ok
// reports whether the value passes, and want describes a good value.
type subOption func(value string) (ok bool, want string)

func subInt(min int64) subOption {
	return func(s string) (bool, string) {
		n, ok := parseJavaInt(s)
		return ok && n >= min, "an integer of at least " + strconv.FormatInt(min, 10)
	}
}

func subLong(min int64) subOption {
	return func(s string) (bool, string) {
		n, ok := parseJavaLong(s)
		return ok && n >= min, "an integer of at least " + strconv.FormatInt(min, 10)
	}
}

func subDouble(min float64) subOption {
	return func(s string) (bool, string) {
		f, ok := parseJavaDouble(s)
		// The strategies fail a value below min, so NaN passes, as in Java.
		return ok && !(f < min), "a number of at least " + strconv.FormatFloat(min, 'g', -1, 64)
	}
}

func subTrueFalse(s string) (bool, string) { return isTrueFalse(s), "'true' or 'false'" }
func subAny(string) (bool, string)         { return true, "" }

func subEnum(values ...string) subOption {
	return func(s string) (bool, string) {
		return slices.Contains(values, s), "one of " + strings.Join(values, ", ")
	}
}

// Sizes are read as FBUtilities.parseHumanReadable(s, null, "B") reads them:
// a number (an exponent or a binary exponent *2^n allowed), optional
// spaces, an optional decimal (k, M, G, …) or binary (Ki, Mi, …) prefix,
// and the unit B, which is required.
var (
	baseNumber     = regexp.MustCompile(`^(?:NaN|[+-]?Infinity|[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?)`)
	binaryExponent = regexp.MustCompile(`^\*2\^([+-]?[0-9]+)`)
)

// unitPrefixes are the SI prefixes FBUtilities knows, around the space that
// stands for none.
const unitPrefixes = "qryzafpnum KMGTPEZYRQ"

// parseSize is FBUtilities.parseHumanReadable with the unit B.
func parseSize(s string) (float64, bool) {
	body, ok := strings.CutSuffix(s, "B")
	if !ok {
		return 0, false
	}
	m := baseNumber.FindStringSubmatchIndex(body)
	if m == nil {
		return 0, false
	}
	v, ok := parseJavaDouble(body[:m[1]])
	if !ok {
		return 0, false
	}
	pos := m[1]
	if m[4] < 0 { // no decimal exponent: a binary one may follow
		if e := binaryExponent.FindStringSubmatch(body[pos:]); e != nil {
			power, ok := parseJavaInt(strings.TrimPrefix(e[1], "+"))
			if !ok {
				return 0, false
			}
			v = math.Ldexp(v, int(power))
			pos += len(e[0])
		}
	}
	for pos < len(body) && unicode.IsSpace(rune(body[pos])) {
		pos++
	}
	if pos < len(body) {
		if i := strings.IndexByte(unitPrefixes, body[pos]); i >= 0 {
			i -= strings.IndexByte(unitPrefixes, ' ')
			pos++
			if pos < len(body) && body[pos] == 'i' {
				pos++
				v = math.Ldexp(v, i*10)
			} else {
				v *= math.Pow(1000, float64(i))
			}
		}
	}
	return v, pos == len(body)
}

// javaLong is Java's (long) cast of a double.
func javaLong(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// minTargetSize is UCS's Controller.MIN_TARGET_SSTABLE_SIZE; defaultTargetSize
// is its target_sstable_size when the table sets none (1GiB).
const (
	minTargetSize     = 1 << 20
	defaultTargetSize = 1 << 30
)

func subTargetSize(s string) (bool, string) {
	const want = "a size of at least 1MiB, with its unit, such as 256MiB"
	v, ok := parseSize(s)
	return ok && !(v >= math.MaxInt64) && !(v < minTargetSize), want
}

func subFlushSize(s string) (bool, string) {
	v, ok := parseSize(s)
	return ok && javaLong(v) >= minTargetSize, "a size of at least 1MiB, with its unit, such as 64MiB"
}

func subMinSize(s string) (bool, string) {
	v, ok := parseSize(s)
	return ok && javaLong(v) >= 0, "a size with its unit, such as 100MiB, or 0"
}

// scalingParameter is UnifiedCompactionStrategy's SCALING_PARAMETER_PATTERN.
var scalingParameter = regexp.MustCompile(`^(?:(N)|L([0-9]+)|T([0-9]+)|([+-]?[0-9]+))$`)

// subScaling is Controller.parseScalingParameters: comma-separated N, Ln or
// Tn (a fan factor n of at least 2) or an integer, case as written.
func subScaling(s string) (bool, string) {
	const want = "scaling parameters such as T4, L10, N or -2 (fan factors of at least 2), comma separated"
	parts := strings.Split(s, ",")
	if len(parts) > 1 { // String.split drops trailing empty strings
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
	}
	for _, part := range parts {
		m := scalingParameter.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			return false, want
		}
		switch {
		case m[2] != "" || m[3] != "":
			if n, ok := parseJavaInt(m[2] + m[3]); !ok || n < 2 {
				return false, want
			}
		case m[4] != "":
			if _, ok := parseJavaInt(strings.TrimPrefix(m[4], "+")); !ok {
				return false, want
			}
		}
	}
	return true, ""
}

// subPercent is FBUtilities.parsePercent (0.1 or 10%), from 0 to 1.
func subPercent(s string) (bool, string) {
	t := strings.TrimSpace(s)
	number, percent := strings.CutSuffix(t, "%")
	f, ok := parseJavaDouble(strings.TrimSpace(number))
	if percent {
		f /= 100
	}
	return ok && !(f < 0 || f > 1), "a number between 0 and 1, or a percentage"
}

// subUnsafeExpiration is TimeWindowCompactionStrategyOptions' check of
// unsafe_aggressive_sstable_expiration: 'true' needs a JVM flag that a
// node does not have unless started with it.
func subUnsafeExpiration(s string) (bool, string) {
	return isTrueFalse(s) && !strings.EqualFold(s, "true"), "'false' (Cassandra refuses 'true' unless the node was started with -Dcassandra.allow_unsafe_aggressive_sstable_expiration=true)"
}

// Compaction sub-options: those every strategy takes, then per strategy.
var (
	commonCompaction = map[string]subOption{
		"enabled": subTrueFalse, "tombstone_threshold": subDouble(0), "tombstone_compaction_interval": subLong(0),
		"unchecked_tombstone_compaction": subTrueFalse, "log_all": subTrueFalse, "only_purge_repaired_tombstones": subAny,
		"provide_overlapping_tombstones": func(s string) (bool, string) {
			return slices.Contains([]string{"NONE", "ROW", "CELL"}, strings.ToUpper(s)), "NONE, ROW or CELL"
		},
	}
	thresholds = map[string]subOption{"min_threshold": subAny, "max_threshold": subAny}
	stcsOnly   = map[string]subOption{"min_sstable_size": subLong(0), "bucket_low": subDouble(math.Inf(-1)), "bucket_high": subDouble(math.Inf(-1))}
	lcsOnly    = map[string]subOption{"sstable_size_in_mb": subInt(1), "fanout_size": subInt(1), "single_sstable_uplevel": subAny}
	twcsOnly   = map[string]subOption{
		"timestamp_resolution":   subEnum("SECONDS", "MILLISECONDS", "MICROSECONDS", "NANOSECONDS"),
		"compaction_window_unit": subEnum("MINUTES", "HOURS", "DAYS"), "compaction_window_size": subInt(1),
		"expired_sstable_check_frequency_seconds": subLong(0), "unsafe_aggressive_sstable_expiration": subUnsafeExpiration,
	}
	ucsOnly = map[string]subOption{
		"scaling_parameters": subScaling, "base_shard_count": subInt(1), "target_sstable_size": subTargetSize,
		"flush_size_override": subFlushSize, "max_sstables_to_compact": subInt(math.MinInt32),
		"expired_sstable_check_frequency_seconds": subLong(1), "unsafe_aggressive_sstable_expiration": subTrueFalse,
		"overlap_inclusion_method": func(s string) (bool, string) {
			return slices.Contains([]string{"NONE", "SINGLE", "TRANSITIVE"}, strings.ToUpper(s)), "NONE, SINGLE or TRANSITIVE"
		},
		"min_sstable_size": subMinSize, "sstable_growth": subPercent,
	}
	// icsOnly are IncrementalCompactionStrategy's own options (ScyllaDB
	// docs/cql/compaction.rst).
	icsOnly = map[string]subOption{"sstable_size_in_mb": subInt(1), "space_amplification_goal": subDouble(1)}
)

func merge(maps ...map[string]subOption) map[string]subOption {
	out := map[string]subOption{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// compactionStrategy is one compaction class the server knows.
type compactionStrategy struct {
	name    string // short class name
	options map[string]subOption
	scylla  bool // ScyllaDB only
	thresh  bool // takes min_threshold and max_threshold
}

var compactionStrategies = []compactionStrategy{
	{name: "SizeTieredCompactionStrategy", options: merge(commonCompaction, thresholds, stcsOnly), thresh: true},
	{name: "LeveledCompactionStrategy", options: merge(commonCompaction, thresholds, stcsOnly, lcsOnly), thresh: true},
	{name: "TimeWindowCompactionStrategy", options: merge(commonCompaction, thresholds, stcsOnly, twcsOnly), thresh: true},
	{name: "UnifiedCompactionStrategy", options: merge(commonCompaction, ucsOnly)},
	{name: "IncrementalCompactionStrategy", options: merge(commonCompaction, thresholds, stcsOnly, icsOnly), scylla: true, thresh: true},
}

// checkCompaction is CompactionParams.fromMap and validate.
func (c *Catalog) checkCompaction(name string, v optValue) error {
	class, ok := v.get("class")
	if !ok {
		return invalid(v, "missing sub-option 'class' for the 'compaction' option")
	}
	short, known := strings.CutPrefix(class, "org.apache.cassandra.db.compaction.")
	if !known && !strings.Contains(class, ".") {
		short, known = class, true
	}
	i := slices.IndexFunc(compactionStrategies, func(s compactionStrategy) bool { return s.name == short })
	switch {
	case known && short == "DateTieredCompactionStrategy":
		return invalid(v, "DateTieredCompactionStrategy was removed in Cassandra 5.0; use TimeWindowCompactionStrategy")
	case !known || i < 0:
		return invalid(v, "unknown compaction strategy class %s", class)
	case compactionStrategies[i].scylla && c.opts.Dialect != Scylla:
		return invalid(v, "%s is a ScyllaDB compaction strategy; generate with -dialect scylla", short)
	}
	strategy := compactionStrategies[i]
	var unknown []string
	for _, e := range v.entries {
		if e.key == "class" {
			continue
		}
		check, ok := strategy.options[e.key]
		if !ok {
			unknown = append(unknown, e.key)
			continue
		}
		if ok, want := check(e.value); !ok {
			return cql.Errorf(e.pos, "%w: invalid value %s for compaction sub-option %s: want %s", ErrInvalidOption, e.value, e.key, want)
		}
	}
	if len(unknown) > 0 {
		return invalid(v, "compaction sub-options [%s] are not understood by %s", strings.Join(unknown, ", "), short)
	}
	if low, high := subValue(v, "bucket_low", 0.5), subValue(v, "bucket_high", 1.5); high <= low {
		return invalid(v, "bucket_high value (%g) is less than or equal to the bucket_low value (%g)", high, low)
	}
	if err := checkCompactionSizes(strategy.name, v); err != nil {
		return err
	}
	if strategy.thresh {
		minT, maxT := "4", "32"
		if s, ok := v.get("min_threshold"); ok {
			minT = s
		}
		if s, ok := v.get("max_threshold"); ok {
			maxT = s
		}
		if !isDigits(minT) || !isDigits(maxT) {
			return invalid(v, "min_threshold and max_threshold must be integers (got %s and %s)", minT, maxT)
		}
		lo, _ := strconv.Atoi(minT)
		hi, _ := strconv.Atoi(maxT)
		switch {
		case lo <= 0 || hi <= 0:
			return invalid(v, "compaction thresholds of 0 no longer disable compaction; set 'enabled' to false")
		case lo <= 1:
			return invalid(v, "min compaction threshold cannot be less than 2 (got %d)", lo)
		case lo > hi:
			return invalid(v, "min compaction threshold (got %d) cannot be greater than max compaction threshold (got %d)", lo, hi)
		}
	}
	return nil
}

// checkCompactionSizes applies the checks that span sub-options:
// LeveledCompactionStrategy's bound on the bytes of its largest level, and
// UnifiedCompactionStrategy's min_sstable_size below 70% of the target size.
func checkCompactionSizes(strategy string, v optValue) error {
	switch strategy {
	case "LeveledCompactionStrategy":
		size, fanout := int64(1), int64(10) // as validateOptions reads them when absent
		if s, ok := v.get("sstable_size_in_mb"); ok {
			size, _ = parseJavaInt(s)
		}
		if s, ok := v.get("fanout_size"); ok {
			fanout, _ = parseJavaInt(s)
		}
		const maxLevelCount = 9 // LeveledGenerations.MAX_LEVEL_COUNT
		levelBytes := new(big.Int).Exp(big.NewInt(fanout), big.NewInt(maxLevelCount-1), nil)
		levelBytes.Mul(levelBytes, big.NewInt(size<<20))
		if levelBytes.Cmp(big.NewInt(math.MaxInt64)) > 0 {
			return invalid(v, "a level of %d sstables of sstable_size_in_mb %d would hold %s bytes, more than %d: lower sstable_size_in_mb or fanout_size", fanout, size, levelBytes, int64(math.MaxInt64))
		}
	case "UnifiedCompactionStrategy":
		s, ok := v.get("min_sstable_size")
		if !ok {
			return nil
		}
		minSize, _ := parseSize(s)
		target := int64(defaultTargetSize)
		if t, ok := v.get("target_sstable_size"); ok {
			f, _ := parseSize(t)
			target = javaLong(math.Ceil(f))
		}
		if limit := javaLong(math.Ceil(float64(target) * math.Sqrt(0.5))); javaLong(minSize) >= limit {
			return invalid(v, "min_sstable_size (%s) must be less than 70%% of target_sstable_size (%d bytes)", s, target)
		}
	}
	return nil
}

// subValue returns a numeric sub-option, or def when absent.
func subValue(v optValue, key string, def float64) float64 {
	if s, ok := v.get(key); ok {
		if f, ok := parseJavaDouble(s); ok {
			return f
		}
	}
	return def
}

// compressors are the compressor classes and their own options.
var compressors = map[string]map[string]subOption{
	"LZ4Compressor": {
		"lz4_compressor_type": subEnum("fast", "high"),
		"lz4_high_compressor_level": func(s string) (bool, string) {
			n, ok := parseJavaInt(s)
			return ok && n >= 1 && n <= 17, "an integer from 1 to 17"
		},
	},
	"SnappyCompressor":  {},
	"DeflateCompressor": {},
	"ZstdCompressor": {
		"compression_level": func(s string) (bool, string) {
			n, ok := parseJavaInt(s)
			return ok && n >= -131072 && n <= 22, "an integer from -131072 to 22"
		},
	},
	"NoopCompressor": {},
}

// checkCompression is CompressionParams.fromMap.
func (c *Catalog) checkCompression(name string, v optValue) error {
	if c.opts.Dialect == Scylla {
		return checkScyllaCompression(v)
	}
	if len(v.entries) == 0 {
		return nil
	}
	enabled := true
	if s, ok := v.get("enabled"); ok {
		enabled = strings.EqualFold(s, "true")
	}
	class, hasClass := v.get("class")
	switch {
	case enabled && !hasClass:
		if _, old := v.get("sstable_compression"); old {
			return invalid(v, "missing sub-option 'class' for the 'compression' option ('sstable_compression' is the ScyllaDB and pre-3.0 name; generate with -dialect scylla for ScyllaDB)")
		}
		return invalid(v, "missing sub-option 'class' for the 'compression' option")
	case !enabled && len(v.entries) > 1:
		return invalid(v, "if the 'enabled' option is set to false no other options must be specified")
	case !enabled:
		return nil
	case class == "":
		return invalid(v, "the 'class' option must not be empty; to disable compression use 'enabled': false")
	}
	short, ok := strings.CutPrefix(class, "org.apache.cassandra.io.compress.")
	if !ok && strings.Contains(class, ".") {
		return invalid(v, "could not create compression for type %s", class)
	}
	own, known := compressors[short]
	if !known {
		return invalid(v, "could not create compression for type org.apache.cassandra.io.compress.%s", short)
	}
	for _, e := range v.entries {
		switch e.key {
		case "class", "enabled":
		case "chunk_length_in_kb":
			n, ok := parseJavaInt(e.value)
			switch {
			case !ok:
				return cql.Errorf(e.pos, "%w: invalid value for chunk_length_in_kb: %s", ErrInvalidOption, e.value)
			case n > math.MaxInt32/1024:
				return cql.Errorf(e.pos, "%w: value of chunk_length_in_kb is too large (%d)", ErrInvalidOption, n)
			case n <= 0:
				return cql.Errorf(e.pos, "%w: invalid negative or null chunk_length_in_kb", ErrInvalidOption)
			case n&(n-1) != 0:
				return cql.Errorf(e.pos, "%w: chunk_length_in_kb must be a power of 2 (got %d)", ErrInvalidOption, n)
			}
		case "min_compress_ratio":
			f, ok := parseJavaDouble(e.value)
			if !ok || f < 0 || f > 0 && f < 1 {
				return cql.Errorf(e.pos, "%w: min_compress_ratio can either be 0 or greater than or equal to 1 (got %s)", ErrInvalidOption, e.value)
			}
		default:
			check, ok := own[e.key]
			if !ok {
				return cql.Errorf(e.pos, "%w: unknown compression option %s for %s", ErrInvalidOption, e.key, short)
			}
			if ok, want := check(e.value); !ok {
				return cql.Errorf(e.pos, "%w: invalid value %s for compression option %s: want %s", ErrInvalidOption, e.value, e.key, want)
			}
		}
	}
	return nil
}

// checkScyllaCompression checks ScyllaDB's compression map: the class under
// sstable_compression (or class), chunk_length_in_kb a power of two.
func checkScyllaCompression(v optValue) error {
	for _, e := range v.entries {
		switch e.key {
		case "sstable_compression", "class":
			short := strings.TrimPrefix(e.value, "org.apache.cassandra.io.compress.")
			if _, ok := compressors[short]; !ok && short != "" {
				return cql.Errorf(e.pos, "%w: unknown compressor %s", ErrInvalidOption, e.value)
			}
		case "chunk_length_in_kb", "chunk_length_kb":
			n, ok := parseJavaInt(e.value)
			if !ok || n <= 0 || n&(n-1) != 0 {
				return cql.Errorf(e.pos, "%w: %s must be a power of two (got %s)", ErrInvalidOption, e.key, e.value)
			}
		case "crc_check_chance", "enabled", "compression_level":
		default:
			return cql.Errorf(e.pos, "%w: unknown compression option %s", ErrInvalidOption, e.key)
		}
	}
	return nil
}

// checkMemtable accepts the memtable configurations of Cassandra 5.0's
// shipped cassandra.yaml.
func checkMemtable(name string, v optValue) error {
	if !slices.Contains([]string{"default", "skiplist", "trie"}, v.text) {
		return invalid(v, "memtable configuration %q not found; the shipped cassandra.yaml defines default, skiplist and trie", v.text)
	}
	return nil
}

// scyllaMapKeys returns a check that allows only the given keys, each with
// its check.
func scyllaMapKeys(keys map[string]subOption) func(string, optValue) error {
	return func(name string, v optValue) error {
		for _, e := range v.entries {
			check, ok := keys[e.key]
			if !ok {
				return cql.Errorf(e.pos, "%w: unknown %s sub-option %s", ErrInvalidOption, name, e.key)
			}
			if ok, want := check(e.value); !ok {
				return cql.Errorf(e.pos, "%w: invalid value %s for %s sub-option %s: want %s", ErrInvalidOption, e.value, name, e.key, want)
			}
		}
		return nil
	}
}

func subBool(s string) (bool, string) { _, ok := parseBool(s); return ok, "true or false" }

// tableRules returns the options of CREATE TABLE, CREATE MATERIALIZED VIEW
// and ALTER TABLE/MATERIALIZED VIEW … WITH for the catalog's dialect.
func (c *Catalog) tableRules() map[string]optionRule {
	shared := map[string]optionRule{
		"bloom_filter_fp_chance":      constant(checkBloomFilter),
		"comment":                     constant(nil),
		"compaction":                  mapOf(c.checkCompaction),
		"compression":                 mapOf(c.checkCompression),
		"default_time_to_live":        constant(checkTTL),
		"gc_grace_seconds":            constant(intAtLeast(0)),
		"max_index_interval":          constant(isInt),
		"memtable_flush_period_in_ms": constant(intAtLeast(0)),
		"min_index_interval":          constant(intAtLeast(1)),
		"speculative_retry":           constant(checkRetry),
		"crc_check_chance":            constant(checkChance),
		"id":                          constant(isUUID),
	}
	if c.opts.Dialect == Scylla {
		scylla := map[string]optionRule{
			"caching": mapOf(scyllaMapKeys(map[string]subOption{
				"keys": subAny, "rows_per_partition": subAny, "enabled": subBool,
			})),
			"cdc": mapOf(scyllaMapKeys(map[string]subOption{
				"enabled": subBool, "preimage": subAny, "postimage": subBool, "delta": subEnum("full", "keys"), "ttl": subLong(0),
			})),
			"tombstone_gc": mapOf(scyllaMapKeys(map[string]subOption{
				"mode": subEnum("timeout", "repair", "disabled", "immediate"), "propagation_delay_in_seconds": subLong(0),
			})),
			"paxos_grace_seconds": constant(intAtLeast(0)),
			"per_partition_rate_limit": mapOf(scyllaMapKeys(map[string]subOption{
				"max_reads_per_second": subInt(0), "max_writes_per_second": subInt(0),
			})),
			"synchronous_updates": constant(isBool),
			// Per-table tablet options (docs/cql/ddl.rst, "Per-table tablet options").
			"tablets": mapOf(scyllaMapKeys(map[string]subOption{
				"expected_data_size_in_gb": subLong(0), "min_per_shard_tablet_count": subDouble(0), "min_tablet_count": subLong(0),
			})),
			"scylla_encryption_options":  mapOf(nil),
			"read_repair_chance":         constant(checkChance),
			"dclocal_read_repair_chance": constant(checkChance),
		}
		for k, v := range scylla {
			shared[k] = v
		}
		return shared
	}
	cassandra := map[string]optionRule{
		"allow_auto_snapshot":     constant(isBool),
		"caching":                 mapOf(checkCaching),
		"memtable":                constant(checkMemtable),
		"extensions":              {any: true},
		"incremental_backups":     constant(isBool),
		"additional_write_policy": constant(checkRetry),
		"cdc":                     constant(isBool),
		"read_repair":             constant(oneOf(true, "BLOCKING", "NONE")),
		"auto_repair":             mapOf(refuseAutoRepair),
	}
	for k, v := range cassandra {
		shared[k] = v
	}
	return shared
}

// refuseAutoRepair is TableAttributes.validate on a node without automated
// repair: Cassandra 5.0.9, the release this project runs, knows auto_repair
// but refuses it unless the node was started with the flag.
func refuseAutoRepair(name string, v optValue) error {
	return invalid(v, "option auto_repair is refused unless the node runs with automated repair on (-Dcassandra.autorepair.enable=true), which it is not by default")
}

// scyllaOnlyTable and removedTable name options the Cassandra dialect
// refuses, for a better message.
var (
	scyllaOnlyTable = []string{"tombstone_gc", "paxos_grace_seconds", "per_partition_rate_limit", "synchronous_updates", "scylla_encryption_options", "tablets"}
	removedTable    = map[string]string{
		"read_repair_chance":         "was removed in Cassandra 4.0",
		"dclocal_read_repair_chance": "was removed in Cassandra 4.0",
	}
	scyllaOnlyKeyspace = []string{"tablets", "storage", "consistency"}
)

// checkOptions validates WITH options against rules: known names, each at
// most once, values of the right shape and content.
func (c *Catalog) checkOptions(opts []cql.Option, rules map[string]optionRule, what string, scyllaOnly []string) error {
	seen := map[string]bool{}
	for _, o := range opts {
		rule, ok := rules[o.Name]
		if !ok {
			switch {
			case removedTable[o.Name] != "" && what == "table":
				return cql.Errorf(o.Pos, "%w %s: it %s (ScyllaDB still takes it: generate with -dialect scylla)", ErrUnknownOption, o.Name, removedTable[o.Name])
			case slices.Contains(scyllaOnly, o.Name) && c.opts.Dialect != Scylla:
				return cql.Errorf(o.Pos, "%w %s: it is a ScyllaDB %s option; generate with -dialect scylla", ErrUnknownOption, o.Name, what)
			}
			return cql.Errorf(o.Pos, "%w %s for a %s", ErrUnknownOption, o.Name, what)
		}
		if seen[o.Name] {
			return cql.Errorf(o.Pos, "%w: option %s is given twice", ErrDuplicate, o.Name)
		}
		seen[o.Name] = true
		v, err := readValue(o, c.opts.Dialect == Scylla && what == "keyspace" && o.Name == "replication")
		if err != nil {
			return err
		}
		switch {
		case rule.any:
		case rule.isMap && !v.isMap:
			if o.Name == "cdc" && c.opts.Dialect == Scylla {
				return invalid(v, "option cdc takes a map in ScyllaDB, such as {'enabled': true}")
			}
			return invalid(v, "option %s takes a map, not %s", o.Name, v.text)
		case !rule.isMap && v.isMap:
			if o.Name == "cdc" && c.opts.Dialect != Scylla {
				return invalid(v, "option cdc takes a boolean in Cassandra (the map form is ScyllaDB's: generate with -dialect scylla)")
			}
			return invalid(v, "option %s takes a constant, not a map", o.Name)
		}
		if rule.check != nil && !rule.any {
			if err := rule.check(o.Name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// optionText returns a constant option's raw text, if it is set.
func optionText(opts []cql.Option, name string) (string, bool) {
	for _, o := range opts {
		if o.Name == name {
			if t, ok := constantText(o.Value); ok {
				return t, true
			}
		}
	}
	return "", false
}

// checkTableParams applies the checks that span options or depend on the
// table (TableParams.validate and the statements' own checks). opts are the
// options in force after the statement.
func checkTableParams(t *Table, opts []cql.Option, pos cql.Position) error {
	minI, maxI := int64(128), int64(2048)
	if s, ok := optionText(opts, "min_index_interval"); ok {
		minI, _ = parseJavaInt(s)
	}
	if s, ok := optionText(opts, "max_index_interval"); ok {
		maxI, _ = parseJavaInt(s)
	}
	if maxI < minI {
		return cql.Errorf(pos, "%w: max_index_interval must be greater than or equal to min_index_interval (%d) (got %d)", ErrInvalidOption, minI, maxI)
	}
	if s, ok := optionText(opts, "default_time_to_live"); ok {
		if ttl, _ := parseJavaInt(s); ttl > 0 {
			switch {
			case t.View:
				return cql.Errorf(pos, "%w: a materialized view cannot set default_time_to_live: its rows expire with the base table's", ErrInvalidOption)
			case t.isCounter():
				return cql.Errorf(pos, "%w: a table with counters cannot set default_time_to_live", ErrInvalidOption)
			}
		}
	}
	return nil
}

// keyspaceRules returns the options of CREATE and ALTER KEYSPACE.
func (c *Catalog) keyspaceRules() map[string]optionRule {
	rules := map[string]optionRule{
		"replication":    mapOf(c.checkReplication),
		"durable_writes": constant(isBool),
	}
	if c.opts.Dialect == Scylla {
		rules["tablets"] = mapOf(scyllaMapKeys(map[string]subOption{"enabled": subBool, "initial": subInt(0)}))
		rules["storage"] = mapOf(nil)
		// consistency is experimental in ScyllaDB (docs/cql/ddl.rst).
		rules["consistency"] = constant(oneOf(false, "eventual", "local", "global"))
	}
	return rules
}

// checkReplication is ReplicationParams.fromMap and the strategies'
// validateOptions.
func (c *Catalog) checkReplication(name string, v optValue) error {
	if len(v.entries) == 0 {
		return nil
	}
	class, ok := v.get("class")
	if !ok && c.opts.Dialect == Scylla {
		class = "NetworkTopologyStrategy" // ScyllaDB's default class (docs/cql/ddl.rst)
	} else if !ok {
		return invalid(v, "missing replication strategy class (ScyllaDB defaults it to NetworkTopologyStrategy: generate with -dialect scylla)")
	}
	short, ok := strings.CutPrefix(class, "org.apache.cassandra.locator.")
	if !ok && strings.Contains(class, ".") {
		return invalid(v, "unable to find replication strategy class %s", class)
	}
	checkRF := func(e optEntry) error {
		if e.isList {
			if short != "NetworkTopologyStrategy" || e.key == "replication_factor" {
				return cql.Errorf(e.pos, "%w: a rack list is a replication factor of one data centre of NetworkTopologyStrategy, not of %s", ErrInvalidOption, e.key)
			}
			return nil
		}
		if strings.Contains(e.value, "/") {
			return cql.Errorf(e.pos, "%w: replication factor %s is transient, and transient replication is disabled by default", ErrInvalidOption, e.value)
		}
		n, ok := parseJavaInt(e.value)
		if !ok || n < 0 {
			return cql.Errorf(e.pos, "%w: invalid replication factor %s for %s: want a non-negative integer", ErrInvalidOption, e.value, e.key)
		}
		return nil
	}
	switch short {
	case "SimpleStrategy":
		for _, e := range v.entries {
			switch e.key {
			case "class":
			case "replication_factor":
				if err := checkRF(e); err != nil {
					return err
				}
			default:
				return cql.Errorf(e.pos, "%w: unrecognized strategy option %s passed to SimpleStrategy", ErrInvalidOption, e.key)
			}
		}
	case "NetworkTopologyStrategy":
		for _, e := range v.entries {
			if e.key == "class" {
				continue
			}
			if err := checkRF(e); err != nil {
				return err
			}
			if e.key != "replication_factor" && len(c.opts.Datacenters) > 0 && !slices.Contains(c.opts.Datacenters, e.key) {
				return cql.Errorf(e.pos, "%w: unrecognized strategy option %s passed to NetworkTopologyStrategy: the cluster's data centres are %s", ErrInvalidOption, e.key, strings.Join(c.opts.Datacenters, ", "))
			}
		}
	case "LocalStrategy":
		return invalid(v, "LocalStrategy is reserved for internal use")
	case "OldNetworkTopologyStrategy":
		return invalid(v, "OldNetworkTopologyStrategy was removed in Cassandra 4.0; use NetworkTopologyStrategy")
	case "EverywhereStrategy":
		if c.opts.Dialect != Scylla {
			return invalid(v, "EverywhereStrategy is a ScyllaDB replication strategy; generate with -dialect scylla")
		}
	default:
		return invalid(v, "unable to find replication strategy class %s", class)
	}
	return nil
}

// hasOption reports whether the option is set.
func hasOption(opts []cql.Option, name string) bool {
	return slices.ContainsFunc(opts, func(o cql.Option) bool { return o.Name == name })
}
