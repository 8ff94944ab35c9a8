package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/jobsharp/cassandra/repo"
)

// csrfCookie holds the per-browser token that every state-changing form
// repeats in its csrfField (double-submit). The cookie is HttpOnly and
// SameSite=Strict; the token is random and never derived from the session.
const (
	csrfCookie = "jobsharp_csrf"
	csrfField  = "csrf_token"
	// csrfHeader may carry the token instead of the form field (scripts).
	csrfHeader = "X-CSRF-Token"
)

// call is one request to a handler: the response, the request and the
// CSRF token the page embeds in its forms.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	csrf string
}

// handlerFunc handles a request; an error is rendered as an error page (an
// *httpError keeps its status, anything else is a 500).
type handlerFunc func(c *call) error

// httpError is an error with the status it answers.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to a status: repo's sentinels to 404, 409 and 400,
// anything unknown to 500.
func statusOf(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, repo.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, repo.ErrWrongState), errors.Is(err, repo.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, repo.ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// view serves a page or JSON endpoint: authorised as ActionView, with a
// CSRF token for the page's forms.
func (d *Dashboard) view(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{w: w, r: r}
		if err := d.authorize(r, ActionView); err != nil {
			d.fail(c, err)
			return
		}
		c.csrf = d.csrfToken(w, r)
		if err := h(c); err != nil {
			d.fail(c, err)
		}
	})
}

// change serves a state-changing request for a fixed action.
func (d *Dashboard) change(a Action, h handlerFunc) http.Handler {
	return d.changeBy(func(*http.Request) (Action, error) { return a, nil }, h)
}

// changeBy serves a state-changing request whose action the request names
// (bulk actions). In order: cross-origin check, CSRF token, the action,
// authorisation, read-only mode.
func (d *Dashboard) changeBy(action func(*http.Request) (Action, error), h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{w: w, r: r}
		if err := d.checkCSRF(r); err != nil {
			d.fail(c, err)
			return
		}
		c.csrf = d.csrfToken(w, r)
		a, err := action(r)
		if err == nil {
			err = d.authorize(r, a)
		}
		if err == nil && d.set.readOnly {
			err = errorf(http.StatusForbidden, "the dashboard is read-only")
		}
		if err == nil {
			err = h(c)
		}
		if err != nil {
			d.fail(c, err)
		}
	})
}

func (d *Dashboard) authorize(r *http.Request, a Action) error {
	if d.set.authorize == nil {
		return nil
	}
	if err := d.set.authorize(r, a); err != nil {
		return errorf(http.StatusForbidden, "not allowed to %s: %v", a, err)
	}
	return nil
}

// checkCSRF refuses a state-changing request that a browser sent from
// another origin (Sec-Fetch-Site or Origin, by http.CrossOriginProtection)
// or that lacks the token of the csrf cookie. The token also covers old
// browsers that send neither header.
func (d *Dashboard) checkCSRF(r *http.Request) error {
	if err := d.cop.Check(r); err != nil {
		return errorf(http.StatusForbidden, "cross-origin request refused: %v", err)
	}
	ck, err := r.Cookie(csrfCookie)
	if err != nil || !validToken(ck.Value) {
		return errorf(http.StatusForbidden, "missing CSRF cookie: load the page again and resubmit")
	}
	sent := r.Header.Get(csrfHeader)
	if sent == "" {
		if err := r.ParseForm(); err != nil {
			return errorf(http.StatusBadRequest, "bad form: %v", err)
		}
		sent = r.PostForm.Get(csrfField)
	}
	if sent == "" {
		return errorf(http.StatusForbidden, "missing CSRF token: load the page again and resubmit")
	}
	if subtle.ConstantTimeCompare([]byte(sent), []byte(ck.Value)) != 1 {
		return errorf(http.StatusForbidden, "CSRF token does not match: load the page again and resubmit")
	}
	return nil
}

// csrfToken returns the browser's token, setting a new cookie when it has
// none.
func (d *Dashboard) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(csrfCookie); err == nil && validToken(ck.Value) {
		return ck.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: tok, Path: d.set.prefix + "/",
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	return tok
}

// validToken reports whether v has the shape of a token csrfToken makes.
func validToken(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 32
}
