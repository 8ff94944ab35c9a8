package devcluster

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// JavaHome is the JDK that runs Cassandra. Cassandra 5.0 supports JDK 11 and
// 17 only; Debian's openjdk-17 package installs here.
const JavaHome = "/usr/lib/jvm/java-17-openjdk-amd64"

// Reasons a start can fail before Cassandra runs. Each is returned wrapped
// with the details, so callers can test them with errors.Is.
var (
	ErrJDKMissing       = errors.New("JDK 17 is missing")
	ErrMavenUnreachable = errors.New("maven central is unreachable")
	ErrPortInUse        = errors.New("port in use")
	ErrStartFailed      = errors.New("cassandra did not start")
)

const (
	mavenCentral = "https://repo.maven.apache.org/maven2"
	artifactPath = "org/apache/cassandra/cassandra-all"
	// fallbackVersion is tried when Maven Central's version list cannot be
	// read (it resolved on 2026-11-28).
	fallbackVersion = "5.0.9"
)

// Installation is a resolved Cassandra server: its version, the folder with
// its jars and the java binary that runs it.
type Installation struct {
	Version string
	LibDir  string
	Java    string
}

// Install makes sure JDK 17, Maven and the cassandra-all jars are present and
// returns the installation. version pins a 5.0.x release; empty means the
// newest cached one, or else the newest that resolves on Maven Central.
// Progress goes to log.
func Install(ctx context.Context, cacheDir, version string, log io.Writer) (*Installation, error) {
	java, err := ensureJDK(ctx, log)
	if err != nil {
		return nil, err
	}
	if version == "" {
		version = newestCached(cacheDir)
	}
	if version != "" {
		lib := libDir(cacheDir, version)
		if complete(lib) {
			return &Installation{Version: version, LibDir: lib, Java: java}, nil
		}
	}
	if err := ensureCommand(ctx, "mvn", "maven", log); err != nil {
		return nil, err
	}
	candidates := []string{version}
	if version == "" {
		candidates = remoteVersions(ctx, log)
	}
	var errs []error
	for _, v := range candidates {
		lib := libDir(cacheDir, v)
		start := time.Now()
		fmt.Fprintf(log, "resolving org.apache.cassandra:cassandra-all:%s and its runtime dependencies with Maven…\n", v)
		err := resolve(ctx, cacheDir, v, lib)
		if err == nil {
			fmt.Fprintf(log, "installed Cassandra %s into %s in %s\n", v, lib, time.Since(start).Round(time.Second))
			return &Installation{Version: v, LibDir: lib, Java: java}, nil
		}
		errs = append(errs, err)
		if errors.Is(err, ErrMavenUnreachable) {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func libDir(cacheDir, version string) string {
	return filepath.Join(cacheDir, "lib", version)
}

// complete reports whether a lib folder was fully resolved; the marker is
// written last, so an interrupted download is never used.
func complete(lib string) bool {
	_, err := os.Stat(filepath.Join(lib, ".complete"))
	return err == nil
}

// newestCached returns the newest fully resolved version in the cache, or "".
func newestCached(cacheDir string) string {
	entries, err := os.ReadDir(filepath.Join(cacheDir, "lib"))
	if err != nil {
		return ""
	}
	var versions []string
	for _, e := range entries {
		if complete(filepath.Join(cacheDir, "lib", e.Name())) {
			versions = append(versions, e.Name())
		}
	}
	sortVersionsDesc(versions)
	if len(versions) == 0 {
		return ""
	}
	return versions[0]
}

// remoteVersions lists the 5.0.x releases on Maven Central, newest first. When
// the list cannot be read it falls back to a release known to resolve.
func remoteVersions(ctx context.Context, log io.Writer) []string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, mavenCentral+"/"+artifactPath+"/maven-metadata.xml", nil)
	if err != nil {
		return []string{fallbackVersion}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(log, "cannot list Cassandra versions (%v); trying %s\n", err, fallbackVersion)
		return []string{fallbackVersion}
	}
	defer resp.Body.Close()
	var meta struct {
		Versions []string `xml:"versioning>versions>version"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&meta); err != nil || resp.StatusCode != http.StatusOK {
		fmt.Fprintf(log, "cannot read Cassandra versions (HTTP %d); trying %s\n", resp.StatusCode, fallbackVersion)
		return []string{fallbackVersion}
	}
	var out []string
	for _, v := range meta.Versions {
		if strings.HasPrefix(v, "5.0.") && isNumeric(strings.TrimPrefix(v, "5.0.")) {
			out = append(out, v)
		}
	}
	sortVersionsDesc(out)
	if len(out) == 0 {
		return []string{fallbackVersion}
	}
	return out
}

func isNumeric(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// sortVersionsDesc sorts dotted numeric versions, newest first.
func sortVersionsDesc(vs []string) {
	sort.Slice(vs, func(i, j int) bool {
		a, b := strings.Split(vs[i], "."), strings.Split(vs[j], ".")
		for k := 0; k < len(a) && k < len(b); k++ {
			x, _ := strconv.Atoi(a[k])
			y, _ := strconv.Atoi(b[k])
			if x != y {
				return x > y
			}
		}
		return len(a) > len(b)
	})
}

const pomTemplate = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.jobsharp</groupId>
  <artifactId>cassandra-server-lib</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>%s</version>
    </dependency>
  </dependencies>
</project>
`

// resolve copies cassandra-all and its runtime dependencies into lib. It
// works in a temporary folder and renames it into place, so a failed or
// interrupted run leaves nothing half-resolved.
func resolve(ctx context.Context, cacheDir, version, lib string) error {
	work := filepath.Join(cacheDir, "tmp")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(work, "resolve-"+version+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "pom.xml"), fmt.Appendf(nil, pomTemplate, version), 0o644); err != nil {
		return err
	}
	out := filepath.Join(dir, "lib")
	cmd := exec.CommandContext(ctx, "mvn", "-B", "-q",
		"org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
		"-DincludeScope=runtime",
		"-DoutputDirectory="+out,
		// Only the Linux natives are needed; this trims the download.
		"-DexcludeClassifiers=windows-x86_64,osx-x86_64,osx-aarch_64")
	cmd.Dir = dir
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		text := output.String()
		if unreachable(text) {
			return fmt.Errorf("%w: mvn could not download cassandra-all %s (check the network or ~/.m2/settings.xml):\n%s", ErrMavenUnreachable, version, tail(text, 15))
		}
		return fmt.Errorf("resolve cassandra-all %s with mvn: %w:\n%s", version, err, tail(text, 15))
	}
	if _, err := os.Stat(filepath.Join(out, "cassandra-all-"+version+".jar")); err != nil {
		return fmt.Errorf("resolve cassandra-all %s: the jar is missing after mvn ran: %w", version, err)
	}
	if err := os.WriteFile(filepath.Join(out, ".complete"), []byte(version+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(lib), 0o755); err != nil {
		return err
	}
	_ = os.RemoveAll(lib)
	return os.Rename(out, lib)
}

func unreachable(mvnOutput string) bool {
	for _, s := range []string{"Could not transfer", "UnknownHostException", "Connection refused", "Connect timed out", "Network is unreachable", "Could not resolve host", "No route to host"} {
		if strings.Contains(mvnOutput, s) {
			return true
		}
	}
	return false
}

// ensureJDK returns the java binary of JDK 17, installing Debian's
// openjdk-17-jre-headless when it is missing.
func ensureJDK(ctx context.Context, log io.Writer) (string, error) {
	java := filepath.Join(JavaHome, "bin", "java")
	if _, err := os.Stat(java); err == nil {
		return java, nil
	}
	fmt.Fprintf(log, "%s is missing; installing openjdk-17-jre-headless with apt…\n", java)
	if err := aptInstall(ctx, log, "openjdk-17-jre-headless"); err != nil {
		return "", fmt.Errorf("%w: %s not found and apt could not install it: %w", ErrJDKMissing, java, err)
	}
	if _, err := os.Stat(java); err != nil {
		return "", fmt.Errorf("%w: %s still missing after apt install", ErrJDKMissing, java)
	}
	return java, nil
}

// ensureCommand installs the Debian package pkg when command is not on PATH.
func ensureCommand(ctx context.Context, command, pkg string, log io.Writer) error {
	if _, err := exec.LookPath(command); err == nil {
		return nil
	}
	fmt.Fprintf(log, "%s is missing; installing %s with apt…\n", command, pkg)
	if err := aptInstall(ctx, log, pkg); err != nil {
		return fmt.Errorf("install %s: %w", pkg, err)
	}
	return nil
}

func aptInstall(ctx context.Context, log io.Writer, pkgs ...string) error {
	var prefix []string
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("sudo"); err != nil {
			return fmt.Errorf("not root and no sudo: run apt-get install -y %s as root", strings.Join(pkgs, " "))
		}
		prefix = []string{"sudo"}
	}
	run := func(args ...string) error {
		argv := append(append([]string{}, prefix...), args...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = log, log
		return cmd.Run()
	}
	install := append([]string{"apt-get", "install", "-y", "--no-install-recommends"}, pkgs...)
	if err := run(install...); err == nil {
		return nil
	}
	// The package lists of a fresh machine may be missing or stale.
	if err := run("apt-get", "update"); err != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	if err := run(install...); err != nil {
		return fmt.Errorf("apt-get install %s: %w", strings.Join(pkgs, " "), err)
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
