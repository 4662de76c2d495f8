package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

// Spec is one image: a Go package of this module built into a single static binary.
type Spec struct {
	// Ref is the full image name a real cluster uses, e.g. registry.k8s.io/pause:3.10.
	Ref string
	// Package is the Go package to build, inside ModulePath.
	Package string
	// Binary is the binary's path in the image, e.g. /pause.
	Binary       string
	Entrypoint   []string
	Env          []string
	ExposedPorts []string
}

// Options says where Build finds the source and keeps its output. Zero values pick defaults.
type Options struct {
	// CacheDir holds the image tars (default $PHOENIX_CACHE/images, or the user cache
	// directory's phoenix/images).
	CacheDir string
	// SourceDir is the phoenix module root (default FindSource from the working directory).
	SourceDir string
	// Go is the go command (default "go" on PATH).
	Go  string
	Log *slog.Logger
}

// Image is a built image tar, ready for Import.
type Image struct {
	Ref            string
	Path           string
	ManifestDigest string
	ConfigDigest   string
}

// Build compiles spec.Package for linux (static, stripped, -trimpath) and writes the image
// tar into the cache, or reuses a cached tar of the same binary.
func Build(ctx context.Context, spec Spec, opt Options) (Image, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return Image{}, err
	}
	if err := spec.validate(); err != nil {
		return Image{}, err
	}
	start := time.Now()
	bin, err := goBuild(ctx, opt, spec.Package)
	if err != nil {
		return Image{}, err
	}
	sum := sha256.Sum256(bin)
	binSHA := hex.EncodeToString(sum[:])
	target := filepath.Join(opt.CacheDir, cacheName(spec.Ref, binSHA))
	files := layerFiles(spec.Binary, bin)
	cfg := spec.config()

	if img, ok := reuse(target, spec.Ref, files, cfg, opt.Log); ok {
		opt.Log.Info("image cached", "ref", spec.Ref, "path", target, "elapsed", time.Since(start).Round(time.Millisecond))
		return img, nil
	}
	var buf bytes.Buffer
	lay, err := WriteLayout(&buf, files, cfg, spec.Ref)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	if err := state.WriteFileAtomic(target, buf.Bytes(), 0o644); err != nil {
		return Image{}, fmt.Errorf("saving image %s: %w (check that %s is writable, or set %s)", spec.Ref, err, opt.CacheDir, EnvCache)
	}
	opt.Log.Info("image built", "ref", spec.Ref, "path", target, "manifest", lay.Manifest.Digest, "elapsed", time.Since(start).Round(time.Millisecond))
	return Image{Ref: spec.Ref, Path: target, ManifestDigest: lay.Manifest.Digest, ConfigDigest: lay.Config.Digest}, nil
}

// reuse returns the cached tar at path if it is intact and holds exactly the config this
// build would write (the config names the layer's diff_id, so it pins the binary too).
func reuse(path, ref string, files []File, cfg ImageConfig, log *slog.Logger) (Image, bool) {
	f, err := os.Open(path)
	if err != nil {
		return Image{}, false
	}
	defer f.Close()
	lay, err := ReadLayout(f)
	if err != nil {
		log.Warn("rebuilding a damaged cached image", "path", path, "err", err)
		return Image{}, false
	}
	layer, err := layerTar(files)
	if err != nil {
		return Image{}, false
	}
	want, err := configJSON(cfg, digestOf(layer))
	if err != nil || digestOf(want) != lay.Config.Digest || lay.Manifest.Annotations[AnnotationImageName] != ref {
		log.Info("cached image differs, rebuilding", "path", path)
		return Image{}, false
	}
	return Image{Ref: ref, Path: path, ManifestDigest: lay.Manifest.Digest, ConfigDigest: lay.Config.Digest}, true
}

// layerFiles is an image's one layer: the binary and a world-writable /tmp.
func layerFiles(binary string, data []byte) []File {
	return []File{
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: binary, Mode: 0o755, Data: data},
	}
}

func (s Spec) config() ImageConfig {
	return ImageConfig{Architecture: runtime.GOARCH, OS: "linux", Entrypoint: s.Entrypoint, Env: s.Env, ExposedPorts: s.ExposedPorts}
}

func (s Spec) validate() error {
	if _, err := refTag(s.Ref); err != nil {
		return err
	}
	if s.Package != ModulePath && !strings.HasPrefix(s.Package, ModulePath+"/") {
		return fmt.Errorf("image %s: package %q is not in module %s: images are built from phoenix's own packages", s.Ref, s.Package, ModulePath)
	}
	if !strings.HasPrefix(s.Binary, "/") || filepath.Clean(s.Binary) != s.Binary || s.Binary == "/" || s.Binary == "/tmp" {
		return fmt.Errorf("image %s: binary path %q must be a clean absolute file path such as /app", s.Ref, s.Binary)
	}
	if len(s.Entrypoint) == 0 {
		return fmt.Errorf("image %s: set an entrypoint, e.g. [%q]", s.Ref, s.Binary)
	}
	return nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.CacheDir == "" {
		d, err := defaultCacheDir()
		if err != nil {
			return o, err
		}
		o.CacheDir = d
	}
	if o.SourceDir == "" {
		cwd, err := os.Getwd()
		if err != nil {
			return o, fmt.Errorf("finding the phoenix source: %w", err)
		}
		if o.SourceDir, err = FindSource(cwd); err != nil {
			return o, err
		}
	}
	if o.Go == "" {
		o.Go = "go"
	}
	return o, nil
}

// goBuild builds pkg as a static linux binary and returns its bytes. VCS stamping is off so
// that the binary, and with it the image digest, does not change with the git status.
func goBuild(ctx context.Context, opt Options, pkg string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "phoenix-image-*")
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", pkg, err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "bin")
	cmd := exec.CommandContext(ctx, opt.Go, "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = opt.SourceDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	opt.Log.Debug("go build", "package", pkg, "dir", opt.SourceDir)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("building %s: %w", pkg, ctx.Err())
		}
		var execErr *exec.Error
		if errors.As(err, &execErr) {
			return nil, fmt.Errorf("building %s: %w (install Go or put it on PATH)", pkg, err)
		}
		return nil, fmt.Errorf("go build %s in %s failed: %w: %s", pkg, opt.SourceDir, err, tail(output.String(), 20))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("reading the built %s: %w", pkg, err)
	}
	return data, nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
