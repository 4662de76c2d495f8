package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stagingModules are the staging modules read beside k8s.io/kubernetes: the module zip of
// kubernetes leaves out staging/ (each is a module of its own, tagged v0.Y.Z).
var stagingModules = []string{
	"k8s.io/apiserver",
	"k8s.io/component-base",
	"k8s.io/controller-manager",
	"k8s.io/cloud-provider",
	"k8s.io/kubelet",
	"k8s.io/kube-proxy",
	"k8s.io/kube-scheduler",
	"k8s.io/apiextensions-apiserver",
	"k8s.io/client-go",
	"k8s.io/api",
}

// goCmd runs the go command with GOFLAGS=-mod=mod so that a go.mod around the working
// directory does not matter.
func goCmd(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// listedVersions returns the release versions the proxy lists for a module.
func listedVersions(ctx context.Context, module string) ([]string, error) {
	out, err := goCmd(ctx, "list", "-m", "-versions", module)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return nil, nil
	}
	var vs []string
	for _, v := range f[1:] {
		if !strings.Contains(v, "-") {
			vs = append(vs, v)
		}
	}
	return vs, nil
}

// semver is a release version vMAJOR.MINOR.PATCH.
type semver struct{ major, minor, patch int }

func parseSemver(v string) (semver, bool) {
	p := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(p) != 3 {
		return semver{}, false
	}
	var n [3]int
	for i, s := range p {
		x, err := strconv.Atoi(s)
		if err != nil {
			return semver{}, false
		}
		n[i] = x
	}
	return semver{n[0], n[1], n[2]}, true
}

func (s semver) String() string { return fmt.Sprintf("v%d.%d.%d", s.major, s.minor, s.patch) }

// proxy answers whether a module version is available from the first HTTP(S) proxy in
// GOPROXY (GET $proxy/$module/@v/$version.info).
type proxy struct {
	base   string
	client *http.Client
}

func newProxy(ctx context.Context) (*proxy, error) {
	out, err := goCmd(ctx, "env", "GOPROXY")
	if err != nil {
		return nil, err
	}
	for _, p := range strings.FieldsFunc(strings.TrimSpace(string(out)), func(r rune) bool { return r == ',' || r == '|' }) {
		if strings.HasPrefix(p, "http") {
			return &proxy{base: strings.TrimSuffix(p, "/"), client: &http.Client{Timeout: 30 * time.Second}}, nil
		}
	}
	return nil, fmt.Errorf("GOPROXY %q names no HTTP proxy; pass -versions", strings.TrimSpace(string(out)))
}

func (p *proxy) available(ctx context.Context, module, version string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/"+module+"/@v/"+version+".info", nil)
	if err != nil {
		return false, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("module proxy: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	switch {
	case resp.StatusCode == http.StatusOK:
		return true, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone || resp.StatusCode == http.StatusForbidden:
		return false, nil
	}
	return false, fmt.Errorf("module proxy: %s@%s: %s", module, version, resp.Status)
}

// latestPatches finds the last patch of every minor from `from` on. The proxy's version list
// is the start: proxy.golang.org lists only the versions it has been asked for, so the list
// of k8s.io/kubernetes misses most releases (v1.15.x is not listed at all). The lists of the
// staging modules (v0.Y.Z = v1.Y.Z) are added, and from the newest listed patch of a minor
// each following patch is asked for by its .info until `gap` in a row are not served.
func latestPatches(ctx context.Context, log *slog.Logger, from int) ([]semver, error) {
	p, err := newProxy(ctx)
	if err != nil {
		return nil, err
	}
	listed := map[int]int{} // minor -> newest listed patch
	for _, m := range append([]string{"k8s.io/kubernetes", "k8s.io/api"}, stagingModules...) {
		vs, err := listedVersions(ctx, m)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			s, ok := parseSemver(v)
			if !ok || (m == "k8s.io/kubernetes") != (s.major == 1) || s.major > 1 {
				continue
			}
			if cur, ok := listed[s.minor]; !ok || s.patch > cur {
				listed[s.minor] = s.patch
			}
		}
	}
	const gap = 5
	var out []semver
	for minor := from; ; minor++ {
		start := 0
		if n, ok := listed[minor]; ok {
			start = n
		}
		best, misses := -1, 0
		for patch := start; misses < gap; patch++ {
			ok, err := p.available(ctx, "k8s.io/kubernetes", semver{1, minor, patch}.String())
			if err != nil {
				return nil, err
			}
			if ok {
				best, misses = patch, 0
			} else {
				misses++
			}
		}
		if best < 0 && start > 0 { // the listed patch itself is not served: look below it
			for patch := start - 1; patch >= 0 && best < 0; patch-- {
				if ok, err := p.available(ctx, "k8s.io/kubernetes", semver{1, minor, patch}.String()); err != nil {
					return nil, err
				} else if ok {
					best = patch
				}
			}
		}
		if best < 0 {
			break
		}
		v := semver{1, minor, best}
		if n, ok := listed[minor]; ok && n > best {
			log.Warn("newest listed patch not served by the proxy", "minor", minor, "listed", semver{1, minor, n}, "using", v)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the module proxy serves no k8s.io/kubernetes v1.%d.x", from)
	}
	return out, nil
}

type downloaded struct {
	Path, Version, Dir, Error string
}

// download returns the directory of module@version in the module cache, downloading it
// only when it is not there yet.
func download(ctx context.Context, module, version string) (string, error) {
	if dir, ok := cachedDir(ctx, module, version); ok {
		return dir, nil
	}
	out, err := goCmd(ctx, "mod", "download", "-json", module+"@"+version)
	var d downloaded
	if jerr := json.Unmarshal(out, &d); jerr == nil && d.Error != "" {
		return "", fmt.Errorf("%s@%s: %s", module, version, d.Error)
	}
	if err != nil {
		return "", err
	}
	if d.Dir == "" {
		return "", fmt.Errorf("%s@%s: go mod download gave no directory", module, version)
	}
	return d.Dir, nil
}

var (
	modCacheOnce sync.Once
	modCache     string
)

// cachedDir is the extracted module directory if the module cache holds it complete
// (go marks a finished extraction by the .ziphash beside the zip).
func cachedDir(ctx context.Context, module, version string) (string, bool) {
	modCacheOnce.Do(func() {
		if out, err := goCmd(ctx, "env", "GOMODCACHE"); err == nil {
			modCache = strings.TrimSpace(string(out))
		}
	})
	if modCache == "" {
		return "", false
	}
	dir := filepath.Join(modCache, module+"@"+version)
	hash := filepath.Join(modCache, "cache", "download", module, "@v", version+".ziphash")
	if _, err := os.Stat(hash); err != nil {
		return "", false
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", false
	}
	return dir, true
}

// stagingDir downloads a staging module for release v: v0.Y.Z, or the newest lower patch of
// the same minor that the proxy serves. It returns "" when no patch of the minor is served.
func stagingDir(ctx context.Context, log *slog.Logger, module string, v semver) (dir, version string) {
	for patch := v.patch; patch >= 0; patch-- {
		ver := semver{0, v.minor, patch}.String()
		d, err := download(ctx, module, ver)
		if err == nil {
			if patch != v.patch {
				log.Info("staging module at a lower patch", "module", module, "want", semver{0, v.minor, v.patch}, "using", ver)
			}
			return d, ver
		}
		if ctx.Err() != nil {
			return "", ""
		}
	}
	log.Info("staging module not served for this minor", "module", module, "minor", v.minor)
	return "", ""
}

// release is one release's module directories.
type release struct {
	v       semver
	dirs    map[string]string // module -> directory
	modules map[string]string // staging module -> version
}

func (r release) minor() string { return fmt.Sprintf("v1.%d", r.v.minor) }

// fetchReleases downloads kubernetes and its staging modules for every version, two at a
// time (the machine has two cores and the work is mostly unzipping).
func fetchReleases(ctx context.Context, log *slog.Logger, versions []semver) ([]release, error) {
	out := make([]release, len(versions))
	errs := make([]error, len(versions))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, v := range versions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			dir, err := download(ctx, "k8s.io/kubernetes", v.String())
			if err != nil {
				errs[i] = err
				return
			}
			r := release{v: v, dirs: map[string]string{"k8s.io/kubernetes": dir}, modules: map[string]string{}}
			for _, m := range stagingModules {
				if d, ver := stagingDir(ctx, log, m, v); d != "" {
					r.dirs[m], r.modules[m] = d, ver
				}
			}
			out[i] = r
			log.Info("release ready", "version", v, "took", time.Since(start).Round(time.Millisecond))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].v.minor < out[j].v.minor })
	return out, nil
}
