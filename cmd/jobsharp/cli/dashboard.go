package cli

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jobsharp/cassandra/dashboard"
)

// dashboardPasswordEnv holds the password of --basic-auth: never a flag, so
// that it shows neither in ps nor in shell history.
const dashboardPasswordEnv = "JOBSHARP_DASHBOARD_PASSWORD"

func dashboardCommand() command {
	return command{
		name:     "dashboard",
		synopsis: "[--listen 127.0.0.1:8080] [--read-only] [--basic-auth USER] [--prefix /path] [connection flags]",
		summary:  "serve the web dashboard of a keyspace",
		help: `Serves the dashboard (package dashboard): jobs per queue and state, a live
throughput chart, lists per state, job pages, queues, recurring schedules,
batches, search by id, and actions on jobs (requeue, cancel, delete, run
now, one by one or in bulk) unless --read-only.

It listens on 127.0.0.1:8080 by default. An address other than a loopback
one needs --basic-auth USER with the password in ` + dashboardPasswordEnv + `:
whoever reaches the port could otherwise operate the job store. Serve it
over TLS (--tls-cert and --tls-key, or a TLS proxy) when the password
crosses a network. Ctrl-C stops it.`,
		setup: func(fs *flagSet, a *app) func(context.Context) error {
			conn := addConnFlags(fs)
			listen := fs.String("listen", "127.0.0.1:8080", "listen on this `host:port`; a non-loopback host needs --basic-auth")
			fs.fromEnv("listen", "JOBSHARP_DASHBOARD_LISTEN")
			readOnly := fs.Bool("read-only", false, "show the store but refuse every change")
			fs.fromEnv("read-only", "JOBSHARP_DASHBOARD_READ_ONLY")
			user := fs.String("basic-auth", "", "require HTTP basic authentication as this `user`; the password comes from "+dashboardPasswordEnv)
			fs.fromEnv("basic-auth", "JOBSHARP_DASHBOARD_USER")
			prefix := fs.String("prefix", "", "serve under this path, such as /jobs (for a proxy that forwards a path)")
			certFile := fs.String("tls-cert", "", "serve HTTPS with this PEM certificate (with --tls-key)")
			keyFile := fs.String("tls-key", "", "the PEM private key of --tls-cert")
			return func(ctx context.Context) error {
				password := a.getenv(dashboardPasswordEnv)
				if err := checkListen(*listen, *user, password); err != nil {
					return err
				}
				if (*certFile == "") != (*keyFile == "") {
					return usagef("--tls-cert and --tls-key go together")
				}
				store, err := conn.connect(ctx, a)
				if err != nil {
					return err
				}
				defer store.Close()
				logger := slog.New(slog.NewTextHandler(a.stderr, nil))
				d, err := dashboard.New(store, &dashboard.Options{Prefix: *prefix, ReadOnly: *readOnly, Logger: logger})
				if err != nil {
					return usagef("%v", err)
				}
				defer d.Close()
				mux := http.NewServeMux()
				mux.Handle(*prefix+"/", d)
				if *prefix != "" {
					mux.Handle("/{$}", http.RedirectHandler(*prefix+"/", http.StatusFound))
				}
				var h http.Handler = mux
				if *user != "" {
					h = basicAuth(*user, password, h)
				}
				ln, err := net.Listen("tcp", *listen)
				if err != nil {
					return err
				}
				scheme := "http"
				if *certFile != "" {
					scheme = "https"
				}
				fmt.Fprintf(a.stdout, "dashboard of keyspace %s at %s://%s%s/\n", conn.keyspace, scheme, ln.Addr(), *prefix)
				if *user != "" && *certFile == "" {
					fmt.Fprintln(a.stderr, "warning: basic authentication over plain HTTP sends the password in clear; use --tls-cert/--tls-key or a TLS proxy when it crosses a network")
				}
				srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
				served := make(chan error, 1)
				go func() {
					if *certFile != "" {
						served <- srv.ServeTLS(ln, *certFile, *keyFile)
					} else {
						served <- srv.Serve(ln)
					}
				}()
				select {
				case err := <-served:
					return err
				case <-ctx.Done():
				}
				shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := srv.Shutdown(shutdown); err != nil {
					return err
				}
				if err := <-served; !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			}
		},
	}
}

// checkListen refuses to serve a non-loopback address without basic
// authentication, and basic authentication without a password.
func checkListen(listen, user, password string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usagef("--listen %q: want host:port, such as 127.0.0.1:8080", listen)
	}
	switch {
	case user != "" && password == "":
		return usagef("--basic-auth %s needs a password in %s", user, dashboardPasswordEnv)
	case user == "" && password != "":
		return usagef("%s is set but --basic-auth names no user", dashboardPasswordEnv)
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if !loopback && user == "" {
		what := host
		if host == "" {
			what = "every interface"
		}
		return usagef("--listen %s would serve the dashboard on %s, where anyone who reaches the port could operate the job store: give --basic-auth USER with the password in %s, or listen on 127.0.0.1 behind a proxy that authenticates", listen, what, dashboardPasswordEnv)
	}
	return nil
}

// basicAuth requires the user and password of HTTP basic authentication.
// Both are compared as SHA-256 digests in constant time, so neither their
// content nor their length leaks through timing.
func basicAuth(user, password string, next http.Handler) http.Handler {
	wantUser, wantPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser, gotPass := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		if !ok || subtle.ConstantTimeCompare(gotUser[:], wantUser[:])&subtle.ConstantTimeCompare(gotPass[:], wantPass[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="jobsharp dashboard", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
