package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jobsharp/cassandra/repo"
)

// Defaults of [Options].
const (
	DefaultPageSize      = 50
	DefaultChartInterval = 5 * time.Second
	DefaultChartPoints   = 120
	DefaultBulkChunk     = 100
	DefaultScanLimit     = 1_000
)

// maxScanLimit bounds Options.ScanLimit.
const maxScanLimit = 10_000

// Options shape a [Dashboard]. The zero value of every field means its
// default; [New] rejects values out of range with an error that names the
// field.
type Options struct {
	// Prefix is the path the dashboard is served under, such as
	// "/admin/jobs" (no trailing slash); "" serves it at the root. Mount the
	// handler at Prefix+"/" as it is, without http.StripPrefix: its links
	// and cookie path start with Prefix.
	Prefix string

	// ReadOnly hides every action and refuses every state-changing request
	// with 403 Forbidden.
	ReadOnly bool

	// Authorize, when set, is asked before every request but those for the
	// embedded script, style sheet and icon: with ActionView for reading
	// pages and the JSON endpoints, with the action's name for a change. A
	// non-nil error refuses the request with 403 Forbidden and the error's
	// text. Authenticate in your own middleware around the handler and let
	// Authorize read what it put in the request's context.
	Authorize func(r *http.Request, action Action) error

	// TrustedOrigins are origins ("https://admin.example.com") allowed to
	// send state-changing requests although they differ from the request's
	// host, for a proxy that rewrites Host (see
	// [http.CrossOriginProtection.AddTrustedOrigin]).
	TrustedOrigins []string

	// PageSize is the number of jobs per list page; 1 to 500, default 50.
	PageSize int
	// ScanLimit is how many jobs a page of a list filtered by job type
	// reads at most to fill itself; PageSize to 10,000, default 1,000. A
	// page that stops there shows the matches it found and links to the
	// next page, which goes on from where it stopped.
	ScanLimit int

	// ChartInterval is how often the throughput chart samples the store's
	// counters; 100ms to 1h, default 5s; negative turns the chart off (no
	// sampling at all). ChartPoints is how many intervals it shows; 2 to
	// 1,000, default 120.
	ChartInterval time.Duration
	ChartPoints   int

	// BulkChunk is how many jobs a bulk action reads and changes per round
	// (a whole list is read a chunk at a time, by position, to its end);
	// 1 to 1,000, default 100.
	BulkChunk int

	// Logger receives the errors of background work (chart sampling, bulk
	// actions). Default slog.Default().
	Logger *slog.Logger
}

// Action names what a request does, for [Options.Authorize].
type Action string

// The actions. Reading any page or JSON endpoint is ActionView.
const (
	ActionView            Action = "view"
	ActionJobRequeue      Action = "job.requeue"
	ActionJobCancel       Action = "job.cancel"
	ActionJobDelete       Action = "job.delete"
	ActionJobRunNow       Action = "job.run-now"
	ActionRecurringRemove Action = "recurring.remove"
	ActionQueuePause      Action = "queue.pause"
	ActionQueueResume     Action = "queue.resume"
	// ActionRecurringPause, ActionRecurringResume and ActionRecurringTrigger
	// pause a schedule, resume it (skipping what passed while it was
	// paused) and create one job of it now.
	ActionRecurringPause   Action = "recurring.pause"
	ActionRecurringResume  Action = "recurring.resume"
	ActionRecurringTrigger Action = "recurring.trigger"
	// ActionBulkCancel stops a running bulk action; starting one is
	// authorised as its job action.
	ActionBulkCancel Action = "bulk.cancel"
)

// ErrInvalidOptions is matched by the error [New] returns for bad [Options].
var ErrInvalidOptions = errors.New("dashboard: invalid options")

type settings struct {
	prefix         string
	readOnly       bool
	authorize      func(*http.Request, Action) error
	pageSize       int
	scanLimit      int
	chartInterval  time.Duration
	chartPoints    int
	bulkChunk      int
	log            *slog.Logger
	trustedOrigins []string
}

func (o *Options) settings() (settings, error) {
	if o == nil {
		o = &Options{}
	}
	s := settings{
		prefix: o.Prefix, readOnly: o.ReadOnly, authorize: o.Authorize, pageSize: o.PageSize, scanLimit: o.ScanLimit,
		chartInterval: o.ChartInterval, chartPoints: o.ChartPoints, bulkChunk: o.BulkChunk, log: o.Logger,
		trustedOrigins: o.TrustedOrigins,
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch {
	case s.prefix != "" && !strings.HasPrefix(s.prefix, "/"):
		bad("Prefix %q must start with /", s.prefix)
	case strings.HasSuffix(s.prefix, "/"):
		bad("Prefix %q must not end with /", s.prefix)
	case strings.ContainsAny(s.prefix, "{}?#%"):
		bad("Prefix %q must be a plain path", s.prefix)
	}
	def := func(v *int, d, lo, hi int, name string) {
		if *v == 0 {
			*v = d
		}
		if *v < lo || *v > hi {
			bad("%s must be between %d and %d, got %d", name, lo, hi, *v)
		}
	}
	def(&s.pageSize, DefaultPageSize, 1, 500, "PageSize")
	def(&s.scanLimit, max(DefaultScanLimit, s.pageSize), s.pageSize, maxScanLimit, "ScanLimit")
	def(&s.chartPoints, DefaultChartPoints, 2, 1_000, "ChartPoints")
	def(&s.bulkChunk, DefaultBulkChunk, 1, 1_000, "BulkChunk")
	if s.chartInterval == 0 {
		s.chartInterval = DefaultChartInterval
	}
	if s.chartInterval >= 0 && (s.chartInterval < 100*time.Millisecond || s.chartInterval > time.Hour) {
		bad("ChartInterval must be between 100ms and 1h, got %s", s.chartInterval)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if len(problems) > 0 {
		return s, fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(problems, "; "))
	}
	return s, nil
}

// Dashboard is the web interface to a job store: an [http.Handler] that
// serves pages, JSON endpoints and embedded assets under [Options.Prefix].
// It is safe for concurrent use. Close stops its background work.
type Dashboard struct {
	store   *repo.Store
	set     settings
	mux     *http.ServeMux
	cop     *http.CrossOriginProtection
	pages   *pages
	chart   *sampler
	bulk    *bulkRunner
	ctx     context.Context // background work; cancelled by Close
	cancel  context.CancelFunc
	closeMu sync.Once
}

// New returns the dashboard of a store. opts may be nil. The throughput
// chart samples the store's counters only while someone looks at the
// dashboard; call Close to stop it and any running bulk action.
func New(store *repo.Store, opts *Options) (*Dashboard, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidOptions)
	}
	set, err := opts.settings()
	if err != nil {
		return nil, err
	}
	cop := http.NewCrossOriginProtection()
	for _, o := range set.trustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("%w: TrustedOrigins: %w", ErrInvalidOptions, err)
		}
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dashboard{store: store, set: set, cop: cop, pages: p, ctx: ctx, cancel: cancel}
	d.chart = newSampler(ctx, store, set)
	d.bulk = newBulkRunner(ctx, d)
	d.mux = d.routes()
	return d, nil
}

// Close stops the chart's sampling and cancels running bulk actions. The
// handler keeps serving pages afterwards, without a live chart.
func (d *Dashboard) Close() {
	d.closeMu.Do(func() {
		d.cancel()
		d.chart.wait()
		d.bulk.wait()
	})
}

// ServeHTTP serves the dashboard. Every response carries a
// Content-Security-Policy that allows only the dashboard's own script and
// style, and forbids framing.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	d.mux.ServeHTTP(w, r)
}

// postOnly answers 405 Method Not Allowed to a request that only a POST
// may make.
var postOnly = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, "method not allowed: "+r.URL.Path+" takes a POST", http.StatusMethodNotAllowed)
})

// contentSecurityPolicy: nothing but the dashboard's own files; no inline
// script or style, no plugins, no framing, forms post only here.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// routes maps every path. Methods are part of the patterns, so a wrong
// method gets 405 Method Not Allowed from the mux.
func (d *Dashboard) routes() *http.ServeMux {
	m := http.NewServeMux()
	p := d.set.prefix
	m.Handle("GET "+p+"/{$}", d.view(d.overview))
	m.Handle("GET "+p+"/jobs", d.view(d.jobList))
	m.Handle("GET "+p+"/jobs/{id}", d.view(d.jobPage))
	m.Handle("POST "+p+"/jobs/{id}/requeue", d.change(ActionJobRequeue, d.jobAction(ActionJobRequeue)))
	m.Handle("POST "+p+"/jobs/{id}/cancel", d.change(ActionJobCancel, d.jobAction(ActionJobCancel)))
	m.Handle("POST "+p+"/jobs/{id}/delete", d.change(ActionJobDelete, d.jobAction(ActionJobDelete)))
	m.Handle("POST "+p+"/jobs/{id}/run", d.change(ActionJobRunNow, d.jobAction(ActionJobRunNow)))
	m.Handle("POST "+p+"/bulk", d.bulkConfirm())
	m.Handle("POST "+p+"/bulk/start", d.bulkStart())
	m.Handle("GET "+p+"/bulk/{id}", d.view(d.bulkPage))
	// GET /bulk/start would match /bulk/{id}: it is a wrong method, not an
	// unknown bulk action.
	m.Handle("GET "+p+"/bulk/start", postOnly)
	m.Handle("POST "+p+"/bulk/{id}/cancel", d.change(ActionBulkCancel, d.bulkCancel))
	m.Handle("GET "+p+"/queues", d.view(d.queuesPage))
	m.Handle("POST "+p+"/queues/{queue}/pause", d.change(ActionQueuePause, d.queuePause))
	m.Handle("POST "+p+"/queues/{queue}/resume", d.change(ActionQueueResume, d.queueResume))
	m.Handle("GET "+p+"/processors", d.view(d.processorsPage))
	m.Handle("GET "+p+"/recurring", d.view(d.recurringPage))
	for _, a := range []Action{ActionRecurringRemove, ActionRecurringPause, ActionRecurringResume, ActionRecurringTrigger} {
		m.Handle("POST "+p+"/recurring/{id}/"+strings.TrimPrefix(string(a), "recurring."), d.change(a, d.recurringAction(a)))
	}
	m.Handle("GET "+p+"/batches", d.view(d.batchesPage))
	m.Handle("GET "+p+"/batches/{id}", d.view(d.batchPage))
	m.Handle("GET "+p+"/search", d.view(d.search))
	m.Handle("GET "+p+"/api/throughput", d.view(d.throughputJSON))
	m.Handle("GET "+p+"/api/bulk/{id}", d.view(d.bulkJSON))
	m.Handle("GET "+p+"/static/", http.StripPrefix(p+"/static/", staticFiles()))
	return m
}
