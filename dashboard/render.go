package dashboard

import (
	"bytes"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/jobsharp/cassandra/repo"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFS embed.FS

// staticFiles serves the embedded script and style sheet.
func staticFiles() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return http.FileServerFS(sub)
}

// pages holds one template set per page: the layout plus the page's file.
type pages struct{ sets map[string]*template.Template }

// pageNames are the page templates, each templates/<name>.html.
var pageNames = []string{"overview", "jobs", "job", "confirm", "bulk", "queues", "processors", "recurring", "batches", "batch", "error"}

func parsePages() (*pages, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: parse layout: %w", err)
	}
	p := &pages{sets: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: parse page %s: %w", name, err)
		}
		p.sets[name] = t
	}
	return p, nil
}

// base is what every page's layout needs.
type base struct {
	Title    string
	Nav      string // the active navigation entry
	Prefix   string
	CSRF     string
	ReadOnly bool
	// Flash is a message after an action; it comes from a fixed set
	// (flashes), never from the request.
	Flash string
}

func (d *Dashboard) base(c *call, title, nav string) base {
	return base{Title: title, Nav: nav, Prefix: d.set.prefix, CSRF: c.csrf, ReadOnly: d.set.readOnly, Flash: flashes[c.r.URL.Query().Get("done")]}
}

// flashes are the messages a redirect after an action may show.
var flashes = map[string]string{
	"requeue": "The job was requeued.",
	"cancel":  "The job was cancelled.",
	"delete":  "The job was deleted.",
	"run":     "The job is due now.",
	"remove":  "The recurring schedule was removed.",
	// Processors read the flags once per poll interval.
	"pause-queue":  "The queue is paused: processors stop claiming its jobs within one poll interval; running jobs go on.",
	"resume-queue": "The queue is resumed: processors claim its jobs again within one poll interval.",
	"pause":        "The recurring schedule was paused: its occurrences create no job until it is resumed.",
	"resume":       "The recurring schedule was resumed; occurrences passed while it was paused are skipped.",
	"trigger":      "A job of the recurring schedule was created; it is due now.",
}

// render writes a page. It renders into a buffer first, so a template
// error gives a clean 500 rather than half a page.
func (d *Dashboard) render(c *call, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := d.pages.sets[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.WriteHeader(status)
	_, err := buf.WriteTo(c.w)
	return err
}

type errorPage struct {
	base
	Status  int
	Message string
}

// fail answers a request with its error as a page (or as JSON for the JSON
// endpoints). Errors of unknown kind are logged and shown as they are: the
// dashboard is an operator's tool, and the message names the problem.
func (d *Dashboard) fail(c *call, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		d.set.log.Error("jobsharp dashboard: request failed", "method", c.r.Method, "path", c.r.URL.Path, "err", err)
	}
	if strings.HasPrefix(c.r.URL.Path, d.set.prefix+"/api/") {
		writeJSON(c.w, status, map[string]string{"error": err.Error()})
		return
	}
	p := errorPage{base: d.base(c, http.StatusText(status), ""), Status: status, Message: err.Error()}
	if rerr := d.render(c, status, "error", p); rerr != nil {
		http.Error(c.w, err.Error(), status)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// redirect answers a change with 303 See Other, so that reloading the
// result does not repeat the change.
func (d *Dashboard) redirect(c *call, path string, q url.Values) error {
	u := d.set.prefix + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	http.Redirect(c.w, c.r, u, http.StatusSeeOther)
	return nil
}

// funcs are the templates' helpers. None returns template.HTML: every
// value a template prints is escaped by html/template.
var funcs = template.FuncMap{
	"time":     formatTime,
	"ago":      ago,
	"id":       formatID,
	"bytes":    formatBytes,
	"stateCSS": func(s repo.State) string { return "state-" + strings.ToLower(s.String()) },
	"states":   repo.States,
	// segment escapes a value for one path segment (a schedule id may hold
	// a slash).
	"segment": url.PathEscape,
	"maxDue":  func() int { return repo.MaxDue },
	"add": func(n ...int) int {
		sum := 0
		for _, v := range n {
			sum += v
		}
		return sum
	},
	// rows hands a list of jobs and the link prefix to the jobRows template.
	"rows": func(prefix string, jobs []*repo.Job) any {
		return struct {
			Page base
			Jobs []*repo.Job
		}{base{Prefix: prefix}, jobs}
	},
	"percent": func(n, of int) int {
		if of <= 0 {
			return 0
		}
		return n * 100 / of
	},
}

// URL returns the dashboard path with query parameters given as name,
// value pairs; empty values are left out. Templates use it for every link,
// so html/template sees whole URLs (and filters their scheme).
func (b base) URL(path string, kv ...any) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if s := fmt.Sprint(kv[i+1]); s != "" {
			v.Set(fmt.Sprint(kv[i]), s)
		}
	}
	u := b.Prefix + path
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u
}

// formatTime prints a time in UTC to the millisecond, or "–" for none.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}

// ago prints how long ago (or, for the future, in how long) t is.
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, " from now"
	}
	switch {
	case d < time.Second:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds%s", int(d.Seconds()), suffix)
	case d < time.Hour:
		return fmt.Sprintf("%dm%s", int(d.Minutes()), suffix)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%s", int(d.Hours()), suffix)
	}
	return fmt.Sprintf("%dd%s", int(d.Hours()/24), suffix)
}

func formatID(id gocql.UUID) string {
	if id == (gocql.UUID{}) {
		return ""
	}
	return id.String()
}

// formatted is a payload (arguments, result) as shown: indented JSON, or a
// hex dump when it is not JSON.
type formatted struct {
	Text  string
	JSON  bool
	Empty bool
	Size  int
}

func formatBytes(b []byte) formatted {
	if len(b) == 0 {
		return formatted{Empty: true}
	}
	var out bytes.Buffer
	if json.Valid(b) {
		if err := json.Indent(&out, b, "", "  "); err == nil {
			return formatted{Text: out.String(), JSON: true, Size: len(b)}
		}
	}
	return formatted{Text: hex.Dump(b), Size: len(b)}
}

// parseID parses a job or batch id from a path segment: 400 when it is not
// a UUID.
func parseID(s, what string) (gocql.UUID, error) {
	id, err := gocql.ParseUUID(s)
	if err != nil {
		return id, errorf(http.StatusBadRequest, "%q is not a %s id (want a UUID such as 0190a5c2-7b3e-7000-8000-000000000000)", s, what)
	}
	return id, nil
}
