package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// ControlPlaneBinaries are the Kubernetes programs a local cluster runs.
var ControlPlaneBinaries = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// NodeBinaries are the Kubernetes programs of a real node and of the in-place path, and
// kubectl (tests and the demo drive real nodes with it).
var NodeBinaries = []string{"kubelet", "kube-proxy", "kubeadm", "kubectl"}

// CachedBinaries is everything the per-version cache holds: one build makes all of them.
var CachedBinaries = append(append([]string(nil), ControlPlaneBinaries...), NodeBinaries...)

// KwokVersion is the kwok release phoenix installs when none is found.
const KwokVersion = "v0.8.0"

// EnvCache overrides the binary cache directory.
const EnvCache = "PHOENIX_CACHE"

// CacheDir is $PHOENIX_CACHE, or $XDG_CACHE_HOME/phoenix, or ~/.cache/phoenix.
func CacheDir() string {
	if v := os.Getenv(EnvCache); v != "" {
		return v
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "phoenix")
	}
	return filepath.Join(os.TempDir(), "phoenix-cache")
}

// VersionCacheDir is where the binaries of one Kubernetes version are cached.
func VersionCacheDir(v kube.Version) string { return filepath.Join(CacheDir(), "k8s", v.String()) }

// Binaries are the resolved paths of a cluster's programs and where they came from.
type Binaries struct {
	Dir    string
	Kwok   string
	Etcd   string
	Source string
}

// Path returns the path of one control-plane binary.
func (b Binaries) Path(name string) string { return filepath.Join(b.Dir, name) }

// BinaryResolver finds (or fetches, or builds) the programs of a version.
type BinaryResolver struct {
	BinDir string
	// Download enables official release downloads from dl.k8s.io (checksum-verified).
	Download bool
	// Build enables building from the k8s.io/kubernetes Go module with the go tool.
	Build bool
	Log   *slog.Logger
	// HTTP is the client for downloads (nil: a client with a short timeout).
	HTTP *http.Client
}

func hasAll(dir string) bool { return hasAllOf(dir, ControlPlaneBinaries) }

func hasAllOf(dir string, names []string) bool {
	if dir == "" {
		return false
	}
	for _, b := range names {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// Resolve returns the binaries for v in this order: --bin-dir, the per-version cache, an
// official release download, a build from the Go module.
func (r *BinaryResolver) Resolve(ctx context.Context, v kube.Version) (Binaries, error) {
	etcd, err := findEtcd()
	if err != nil {
		return Binaries{}, err
	}
	kwok, err := r.resolveKwok(ctx)
	if err != nil {
		return Binaries{}, err
	}
	b := Binaries{Etcd: etcd, Kwok: kwok}
	if r.BinDir != "" {
		if !hasAll(r.BinDir) {
			return Binaries{}, fmt.Errorf("--bin-dir %s does not hold %s", r.BinDir, strings.Join(ControlPlaneBinaries, ", "))
		}
		b.Dir, b.Source = r.BinDir, "--bin-dir "+r.BinDir
		return b, nil
	}
	cache := VersionCacheDir(v)
	if hasAll(cache) {
		b.Dir, b.Source = cache, "cache "+cache
		return b, nil
	}
	var why []string
	if r.Download {
		if err := r.download(ctx, v, cache); err == nil {
			b.Dir, b.Source = cache, "downloaded from dl.k8s.io (sha256 verified) into "+cache
			return b, nil
		} else {
			why = append(why, "download: "+err.Error())
			r.Log.Info("release download failed, building from source", "version", v, "err", err)
		}
	}
	if r.Build {
		if err := BuildFromModule(ctx, v, cache, r.Log); err == nil {
			b.Dir, b.Source = cache, "built from the k8s.io/kubernetes Go module into "+cache
			return b, nil
		} else {
			why = append(why, "build: "+err.Error())
		}
	}
	return Binaries{}, fmt.Errorf("no Kubernetes %s binaries: not in --bin-dir or %s (%s); run `hack/build-k8s.sh %s` or pass --bin-dir", v, cache, strings.Join(why, "; "), v)
}

func findEtcd() (string, error) {
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/etcd", "/usr/local/bin/etcd"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("etcd not found on PATH: install it (Debian: apt-get install etcd-server)")
}

func (r *BinaryResolver) resolveKwok(ctx context.Context) (string, error) {
	if r.BinDir != "" {
		if p := filepath.Join(r.BinDir, "kwok"); isExec(p) {
			return p, nil
		}
	}
	cached := filepath.Join(CacheDir(), "kwok", KwokVersion, "kwok")
	if isExec(cached) {
		return cached, nil
	}
	if p, err := exec.LookPath("kwok"); err == nil {
		return p, nil
	}
	if !r.Build {
		return "", fmt.Errorf("kwok not found in %s or on PATH: install it with `GOBIN=%s go install sigs.k8s.io/kwok/cmd/kwok@%s`", filepath.Dir(cached), filepath.Dir(cached), KwokVersion)
	}
	r.Log.Info("installing kwok", "version", KwokVersion)
	cmd := exec.CommandContext(ctx, "go", "install", "sigs.k8s.io/kwok/cmd/kwok@"+KwokVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(cached), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install kwok@%s: %w: %s", KwokVersion, err, lastLines(string(out), 5))
	}
	return cached, nil
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// download fetches the official release binaries and verifies each against its
// published sha256 file.
func (r *BinaryResolver) download(ctx context.Context, v kube.Version, dest string) error {
	client := r.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	tmp := dest + ".download"
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	base := fmt.Sprintf("https://dl.k8s.io/release/%s/bin/%s/%s/", v, runtime.GOOS, runtime.GOARCH)
	for _, name := range CachedBinaries {
		sumCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		want, err := fetch(sumCtx, client, base+name+".sha256", 1<<10)
		cancel()
		if err != nil {
			return err
		}
		wantHex := strings.Fields(string(want))
		if len(wantHex) == 0 {
			return fmt.Errorf("empty checksum for %s", name)
		}
		if err := fetchToFile(ctx, client, base+name, filepath.Join(tmp, name), wantHex[0]); err != nil {
			return err
		}
	}
	return replaceDir(tmp, dest)
}

func fetch(ctx context.Context, c *http.Client, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit))
}

func fetchToFile(ctx context.Context, c *http.Client, url, path, wantSHA string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, wantSHA) {
		return fmt.Errorf("checksum mismatch for %s: got %s, want %s", url, got, wantSHA)
	}
	return nil
}

func replaceDir(src, dest string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	_ = os.RemoveAll(dest)
	return os.Rename(src, dest)
}

var stagingRE = regexp.MustCompile(`(?m)^\s*(k8s\.io/[a-z0-9-]+)\s+=>\s+\./staging/src/k8s\.io/[a-z0-9-]+`)

// EnsureCached makes sure the per-version cache holds v's control-plane binaries,
// building them from the Go module when it does not, and that kwok is installed; it is
// what `make test-binaries` runs (hack/build-k8s). It needs no etcd and no network but the
// module proxy.
func EnsureCached(ctx context.Context, v kube.Version, log *slog.Logger) (dir string, built bool, err error) {
	r := &BinaryResolver{Build: true, Log: log}
	if _, err := r.resolveKwok(ctx); err != nil {
		return "", false, err
	}
	dir = VersionCacheDir(v)
	if hasAllOf(dir, CachedBinaries) {
		return dir, false, nil
	}
	return dir, true, BuildFromModule(ctx, v, dir, log)
}

// BuildFromModule builds the control-plane binaries of v from the k8s.io/kubernetes Go
// module into dest (the recipe of DEVELOPERS.md).
func BuildFromModule(ctx context.Context, v kube.Version, dest string, log *slog.Logger) error {
	if _, err := exec.LookPath("go"); err != nil {
		return errors.New("the go tool is not on PATH")
	}
	work, err := os.MkdirTemp("", "phoenix-k8sbuild-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, lastLines(string(out), 5))
		}
		return string(out), nil
	}
	log.Info("building Kubernetes from the Go module (several minutes)", "version", v)
	if _, err := run("mod", "init", "phoenix.local/k8sbuild"); err != nil {
		return err
	}
	out, err := run("mod", "download", "-json", "k8s.io/kubernetes@"+v.String())
	if err != nil {
		return fmt.Errorf("k8s.io/kubernetes@%s is not available from the module proxy: %w", v, err)
	}
	m := regexp.MustCompile(`"GoMod":\s*"([^"]+)"`).FindStringSubmatch(out)
	if m == nil {
		return errors.New("cannot locate the go.mod of k8s.io/kubernetes")
	}
	gomod, err := os.ReadFile(m[1])
	if err != nil {
		return err
	}
	staging := fmt.Sprintf("v0.%d.%d", v.Minor, v.Patch)
	for _, sm := range stagingRE.FindAllStringSubmatch(string(gomod), -1) {
		if _, err := run("mod", "edit", "-replace", sm[1]+"="+sm[1]+"@"+staging); err != nil {
			return err
		}
	}
	if _, err := run("mod", "edit", "-require", "k8s.io/kubernetes@"+v.String()); err != nil {
		return err
	}
	var pkgs []string
	for _, b := range CachedBinaries {
		// The version must be named: a bare `go get PKG` upgrades to the latest release.
		pkgs = append(pkgs, "k8s.io/kubernetes/cmd/"+b+"@"+v.String())
	}
	if _, err := run(append([]string{"get"}, pkgs...)...); err != nil {
		return err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	// Releases before ~1.26 serve /version from k8s.io/client-go/pkg/version, later ones
	// from k8s.io/component-base/version: stamp both.
	ld := "-s -w"
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		ld += fmt.Sprintf(" -X %s.gitVersion=%s -X %s.gitMajor=%d -X %s.gitMinor=%d -X %s.gitTreeState=clean", pkg, v, pkg, v.Major, pkg, v.Minor, pkg)
	}
	// Only what is missing: a cache filled before a binary joined the list gains it
	// without rebuilding the rest. Each binary lands under its name by a rename, so a
	// killed build never leaves a half-written program in the cache.
	for _, b := range CachedBinaries {
		if isExec(filepath.Join(dest, b)) {
			continue
		}
		log.Info("go build", "binary", b, "version", v)
		tmp := filepath.Join(dest, "."+b+".build")
		if _, err := run("build", "-trimpath", "-ldflags", ld, "-o", tmp, "k8s.io/kubernetes/cmd/"+b); err != nil {
			_ = os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dest, b)); err != nil {
			return err
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
