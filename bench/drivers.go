package bench

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jobsharp/cassandra/bench/workload"
)

// driver is one contender's driver program, built and ready to run.
type driver struct {
	name string
	bin  string
	// conn are the flags that name the contender's store.
	conn []string
}

// run runs the driver with args and returns its stdout. A failure carries
// the end of its stderr.
func (d *driver) run(ctx context.Context, args ...string) ([]byte, string, error) {
	cmd := exec.CommandContext(ctx, d.bin, append(append([]string{}, d.conn...), args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), fmt.Errorf("%s driver %s: %w\n%s", d.name, strings.Join(args, " "), err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes(), stderr.String(), nil
}

// workload runs one workload and decodes its result.
func (d *driver) workload(ctx context.Context, args ...string) (*workload.Result, string, error) {
	out, stderr, err := d.run(ctx, args...)
	if err != nil {
		return nil, stderr, err
	}
	var res workload.Result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, stderr, fmt.Errorf("%s driver: decode its result: %w\n%s", d.name, err, tail(string(out), 500))
	}
	return &res, stderr, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// moduleRoot returns the directory of this module's go.mod, from the
// current directory (the repository root under go run, bench/ under go
// test).
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root (go env GOMOD): %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("find the module root: not inside the github.com/jobsharp/cassandra module")
	}
	return filepath.Dir(gomod), nil
}

// goBuild builds the package pkg of the module in dir into out.
func goBuild(ctx context.Context, dir, out, pkg string, tags ...string) error {
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", pkg, dir, err, tail(string(out), 2000))
	}
	return nil
}

// buildOurs builds the driver of this commit's store.
func buildOurs(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "ours")
	return bin, goBuild(ctx, root, bin, "./bench/driver")
}

// buildRaw builds the driver of raw gocql: the same directory, built from
// this tree with the jobsharp_raw tag, so that it uses the adapter that
// sends the store's statements itself (bench/driver/raw.go).
func buildRaw(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "raw")
	return bin, goBuild(ctx, root, bin, "./bench/driver", "jobsharp_raw")
}

// resolveCommit returns the full hash of commit in the repository at root.
func resolveCommit(ctx context.Context, root, commit string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--verify", "--quiet", commit+"^{commit}").Output()
	if err != nil {
		return "", fmt.Errorf("the previous design's commit %s is not in the repository at %s (a shallow clone? git fetch --unshallow): %w", commit, root, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// driverPackages are the directories that make up the Cassandra driver,
// copied into the archive of the previous design's commit.
var driverPackages = []string{"bench/driver", "bench/workload", "bench/cqlcount"}

// buildPrevious builds the driver of the previous design: the tree of
// commit (a git archive, so the repository is left as it is), with this
// commit's driver packages copied in, built with the jobsharp_previous tag
// so that the driver uses the adapter frozen on that commit's API.
func buildPrevious(ctx context.Context, root, dir, commit string) (string, error) {
	src := filepath.Join(dir, "previous-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", commit)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("git archive %s: %w", commit, err)
	}
	xerr := untar(stdout, src)
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("git archive %s: %w: %s", commit, err, stderr.String())
	}
	if xerr != nil {
		return "", fmt.Errorf("unpack git archive %s: %w", commit, xerr)
	}
	for _, pkg := range driverPackages {
		if err := copyPackage(filepath.Join(root, pkg), filepath.Join(src, pkg)); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "previous")
	return bin, goBuild(ctx, src, bin, "./bench/driver", "jobsharp_previous")
}

// untar writes the regular files and directories of a tar stream under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("entry %q leaves the directory", h.Name)
		}
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// copyPackage copies the non-test Go files of the package in from to to.
func copyPackage(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, n))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// buildRiver builds the River driver, a module of its own under bench/river.
func buildRiver(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "river")
	return bin, goBuild(ctx, filepath.Join(root, "bench", "river"), bin, ".")
}

// postgresAnswers reports whether something accepts connections at the
// host and port of a postgres:// DSN.
func postgresAnswers(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// redactDSN hides a DSN's password.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<unparsable DSN>"
	}
	return u.Redacted()
}
