package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobsharp/cassandra/internal/cqltest"
)

// syncBuffer is a bytes.Buffer that a running command writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveDashboard starts jobsharp dashboard until the test ends and returns
// the URL it prints.
func serveDashboard(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	a := &app{stdout: stdout, stderr: stderr, getenv: func(k string) string { return env[k] }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"dashboard"}, args...), a) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("jobsharp dashboard exited %d after the interrupt; stderr:\n%s", code, stderr.String())
		}
	})
	addr := regexp.MustCompile(`at (http://\S+/)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("jobsharp dashboard exited %d; stderr:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobsharp dashboard printed no address in 30s; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpGet(t *testing.T, url, user, password string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestDashboardCommand(t *testing.T) {
	t.Parallel()
	s := adminSession(t)
	ks := cqltest.UniqueKeyspace(t)
	cqltest.DropKeyspaceAtEnd(t, s, ks)
	env := hostEnv(ks)
	jobsharp(t, env, "schema", "apply", "--replication", "SimpleStrategy:1").want(t, ExitOK, nil, nil)
	jobsharp(t, env, "enqueue", "--type", "email.send", "--queue", "mail").want(t, ExitOK, nil, nil)

	t.Run("Loopback", func(t *testing.T) {
		t.Parallel()
		u := serveDashboard(t, env, "--listen", "127.0.0.1:0", "--read-only")
		code, body := httpGet(t, u, "", "")
		if code != http.StatusOK || !strings.Contains(body, "mail") || !strings.Contains(body, "read-only") {
			t.Errorf("GET %s = %d\n%s", u, code, body)
		}
	})

	t.Run("BasicAuthAndPrefix", func(t *testing.T) {
		t.Parallel()
		env := hostEnv(ks)
		env[dashboardPasswordEnv] = "s3cret"
		u := serveDashboard(t, env, "--listen", "127.0.0.1:0", "--basic-auth", "ops", "--prefix", "/jobs")
		if !strings.HasSuffix(u, "/jobs/") {
			t.Errorf("address %s lacks the prefix", u)
		}
		if code, _ := httpGet(t, u, "", ""); code != http.StatusUnauthorized {
			t.Errorf("without credentials: %d, want 401", code)
		}
		if code, _ := httpGet(t, u, "ops", "wrong"); code != http.StatusUnauthorized {
			t.Errorf("with a wrong password: %d, want 401", code)
		}
		if code, body := httpGet(t, u, "ops", "s3cret"); code != http.StatusOK || !strings.Contains(body, "/jobs/static/dashboard.js") {
			t.Errorf("with credentials: %d\n%s", code, body)
		}
	})

	t.Run("EveryInterfaceWithBasicAuth", func(t *testing.T) {
		t.Parallel()
		// With --basic-auth and the password in the environment, an address
		// beyond loopback is served, and asks for the credentials.
		env := hostEnv(ks)
		env[dashboardPasswordEnv] = "s3cret"
		u := serveDashboard(t, env, "--listen", "0.0.0.0:0", "--basic-auth", "ops")
		m := regexp.MustCompile(`^http://(?:0\.0\.0\.0|\[::\]):(\d+)/$`).FindStringSubmatch(u)
		if m == nil {
			t.Fatalf("jobsharp dashboard serves %s, want every interface (0.0.0.0 or [::])", u)
		}
		local := "http://127.0.0.1:" + m[1] + "/"
		if code, _ := httpGet(t, local, "", ""); code != http.StatusUnauthorized {
			t.Errorf("without credentials: %d, want 401", code)
		}
		if code, body := httpGet(t, local, "ops", "s3cret"); code != http.StatusOK || !strings.Contains(body, "mail") {
			t.Errorf("with credentials: %d\n%s", code, body)
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		jobsharp(t, env, "dashboard", "--listen", "0.0.0.0:0").want(t, ExitUsage, nil, []string{"--basic-auth USER", dashboardPasswordEnv})
		jobsharp(t, env, "dashboard", "--listen", ":8080").want(t, ExitUsage, nil, []string{"every interface"})
		jobsharp(t, env, "dashboard", "--listen", "10.1.2.3:8080").want(t, ExitUsage, nil, []string{"--basic-auth"})
		jobsharp(t, env, "dashboard", "--listen", "127.0.0.1:0", "--basic-auth", "ops").want(t, ExitUsage, nil, []string{"needs a password"})
		jobsharp(t, env, "dashboard", "--listen", "nonsense").want(t, ExitUsage, nil, []string{"want host:port"})
		jobsharp(t, env, "dashboard", "--listen", "127.0.0.1:0", "--tls-cert", "x.pem").want(t, ExitUsage, nil, []string{"go together"})
		jobsharp(t, env, "dashboard", "--listen", "127.0.0.1:0", "--prefix", "jobs/").want(t, ExitUsage, nil, []string{"Prefix"})
	})
}
