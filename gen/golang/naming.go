package golang

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jobsharp/cassandra/gen/cql"
)

// initialisms are written in capitals in Go names (the list of golint and
// staticcheck, plus CQL, TTL and DB).
var initialisms = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`ACL API ASCII CPU CQL CSS CSV DB DNS EOF GUID HTML HTTP HTTPS ID
		IP JSON LHS QPS RAM RHS RPC SLA SMTP SQL SSH TCP TLS TTL UDP UI UID UUID URI URL UTF8 VM XML
		XMPP XSRF XSS`) {
		initialisms[w] = true
	}
}

// words splits a CQL name into words: at every character that is neither a
// letter nor a digit, and at case changes (fooBar, HTTPServer).
func words(name string) []string {
	var out []string
	for _, chunk := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		runes := []rune(chunk)
		start := 0
		for i := 1; i < len(runes); i++ {
			prev, cur := runes[i-1], runes[i]
			split := unicode.IsLower(prev) && unicode.IsUpper(cur) ||
				unicode.IsUpper(prev) && unicode.IsUpper(cur) && i+1 < len(runes) && unicode.IsLower(runes[i+1])
			if split {
				out = append(out, string(runes[start:i]))
				start = i
			}
		}
		out = append(out, string(runes[start:]))
	}
	return out
}

// GoName turns a CQL name into an exported Go identifier: snake_case and
// camelCase words are joined in CamelCase, initialisms are capitalised
// (job_id → JobID, ids → IDs, "Weird Name" → WeirdName), and a name that
// would not start with an upper-case letter gets an X in front (1st → X1st).
func GoName(name string) string {
	s := strings.Join(goWords(name), "")
	if r, _ := utf8.DecodeRuneInString(s); s == "" || !unicode.IsUpper(r) {
		s = "X" + s
	}
	return s
}

// goWords are the words of a CQL name as GoName writes them: capitalised,
// initialisms in capitals.
func goWords(name string) []string {
	var out []string
	for _, w := range words(name) {
		up := strings.ToUpper(w)
		switch {
		case initialisms[up]:
			out = append(out, up)
		case len(up) > 1 && strings.HasSuffix(w, "s") && initialisms[up[:len(up)-1]]:
			out = append(out, up[:len(up)-1]+"s")
		default:
			r, size := utf8.DecodeRuneInString(w)
			out = append(out, string(unicode.ToUpper(r))+strings.ToLower(w[size:]))
		}
	}
	return out
}

// lowerName joins words from goWords into an unexported Go identifier:
// the first word in lower case (ID → id, JobID → jobID, TTL → ttl,
// ExpectedVersion → expectedVersion). A name that would not start with a
// letter gets an x in front (1st → x1st). It does not avoid keywords; see
// paramScope.
func lowerName(ws []string) string {
	s := ""
	if len(ws) > 0 {
		s = strings.ToLower(ws[0]) + strings.Join(ws[1:], "")
	}
	if r, _ := utf8.DecodeRuneInString(s); s == "" || !unicode.IsLetter(r) {
		s = "x" + s
	}
	return s
}

// goReserved are the names a generated parameter must not take: Go's
// keywords and predeclared identifiers, and the package names generated
// code may import (a parameter would shadow them in the method body).
var goReserved = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`break case chan const continue default defer else fallthrough for
		func go goto if import interface map package range return select struct switch type var
		any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 int32
		int64 rune string uint uint8 uint16 uint32 uint64 uintptr true false iota nil append cap
		clear close complex copy delete imag len make max min new panic print println real recover
		big context errors fmt gocql gocqlx inf net qb table time`) {
		goReserved[w] = true
	}
}

// paramRenames are the usual Go spellings of keywords used as names.
var paramRenames = map[string]string{"type": "typ", "func": "fn", "package": "pkg", "interface": "iface"}

// paramScope hands out the parameter names of one generated method.
type paramScope struct {
	reserved map[string]bool // the method's own names: receiver, context, …
	taken    map[string]bool // names given to parameters
}

// newParamScope returns a scope in which the given names (the method's
// receiver, its context, the identifiers its body uses) and goReserved
// cannot be parameters.
func newParamScope(reserved ...string) paramScope {
	s := paramScope{reserved: map[string]bool{}, taken: map[string]bool{}}
	for _, r := range reserved {
		s.reserved[r] = true
	}
	return s
}

// name returns a parameter name for want and takes it: want itself; for a
// keyword its usual spelling (type → typ) or want with a Value suffix
// (select → selectValue), as for a predeclared or reserved name (ctx →
// ctxValue); then, if an earlier parameter took that, a number (typ2). The
// result depends only on the names taken before, so it is deterministic.
func (s paramScope) name(want string) string {
	base := want
	if r, ok := paramRenames[want]; ok {
		base = r
	} else if s.reserved[want] || goReserved[want] {
		base = want + "Value"
	}
	name := base
	for i := 2; s.taken[name] || s.reserved[name] || goReserved[name]; i++ {
		name = base + strconv.Itoa(i)
	}
	s.taken[name] = true
	return name
}

// goNames returns the Go names of the CQL names of one scope (the tables
// and views of a package, its types, the columns of a table, the fields of
// a type), which CQL keeps distinct. Each gets GoName's name. Names that
// would share one differ only in case, quoting or punctuation; then each
// of them is told apart by how it is written in CQL:
//
//   - a name written without quotes (lower case, no reserved word) gets
//     its GoName followed by an underscore: value → Value_;
//   - a quoted name keeps its spelling (SpelledName): "Value" → Value,
//     "VALUE" → VALUE, "userId" → XuserId.
//
// Names that still collide (differing only in punctuation, such as "a b"
// and "a-b") are left for the caller to report.
func goNames(cqlNames []string) []string {
	out := make([]string, len(cqlNames))
	count := map[string]int{}
	for i, n := range cqlNames {
		out[i] = GoName(n)
		count[out[i]]++
	}
	for i, n := range cqlNames {
		switch {
		case count[out[i]] < 2:
		case cql.NeedsQuote(n):
			out[i] = SpelledName(n)
		default:
			out[i] += "_"
		}
	}
	return out
}

// SpelledName turns a CQL name into a Go identifier that keeps its
// spelling: letters, digits and underscores as written, any other
// character as an underscore, and an X in front when it would not start
// with an upper-case letter ("ColumnRenameWithConstants" stays so,
// "userId" → XuserId, "Weird Name" → Weird_Name).
func SpelledName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if r, _ := utf8.DecodeRuneInString(s); s == "" || !unicode.IsUpper(r) {
		s = "X" + s
	}
	return s
}

// goosList and goarchList are the file-name suffixes that make the go tool
// treat a file as OS- or architecture-specific.
var buildSuffixes = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`aix android darwin dragonfly freebsd hurd illumos ios js linux
		nacl netbsd openbsd plan9 solaris wasip1 windows zos 386 amd64 amd64p32 arm armbe arm64 arm64be
		loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390
		s390x sparc sparc64 wasm test`) {
		buildSuffixes[w] = true
	}
}

// FileBase turns a CQL name into a safe Go file base name: lower case,
// [a-z0-9_] only, not starting with "_" or "." (ignored by the go tool), and
// not ending in a GOOS, GOARCH or test suffix (jobs_linux → jobs_linux_cql).
func FileBase(name string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	s := strings.TrimRight(b.String(), "_")
	if s == "" {
		s = "x"
	}
	if i := strings.LastIndexByte(s, '_'); i >= 0 && buildSuffixes[s[i+1:]] {
		s += "_cql"
	}
	return s
}

// PackageName turns a directory name into a Go package name.
func PackageName(dir string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(dir) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' && b.Len() > 0 {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "generated"
	}
	return b.String()
}
