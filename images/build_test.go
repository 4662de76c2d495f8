package images

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildReusesTheCacheOnlyForTheSameImage builds the real pause image (go build of a tiny
// package; go's build cache makes reruns cheap).
func TestBuildReusesTheCacheOnlyForTheSameImage(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	ctx := context.Background()
	opt := Options{CacheDir: t.TempDir()}

	first, err := Build(ctx, Pause, opt)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if dir, name := filepath.Split(first.Path); filepath.Clean(dir) != opt.CacheDir || !strings.HasPrefix(name, "registry.k8s.io_pause_3.10-") {
		t.Errorf("image path %s, want registry.k8s.io_pause_3.10-HASH.tar in %s", first.Path, opt.CacheDir)
	}
	f, err := os.Open(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	lay, err := ReadLayout(f)
	f.Close()
	if err != nil {
		t.Fatalf("reading the built tar: %v", err)
	}
	if lay.Manifest.Digest != first.ManifestDigest || lay.Config.Digest != first.ConfigDigest || first.Ref != Pause.Ref {
		t.Errorf("Build returned %+v, the tar holds manifest %s config %s", first, lay.Manifest.Digest, lay.Config.Digest)
	}

	// Mark the cached file; a reuse leaves it alone, a rebuild replaces it.
	if err := os.Chmod(first.Path, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		spec        Spec
		wantReused  bool
		wantSameCfg bool
	}{
		{name: "the same spec reuses the cached tar", spec: Pause, wantReused: true, wantSameCfg: true},
		{name: "another entrypoint under the same ref rebuilds", spec: withEntrypoint(Pause, "/pause", "-x"), wantReused: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Build(ctx, tt.spec, opt)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			st, err := os.Stat(got.Path)
			if err != nil {
				t.Fatal(err)
			}
			if reused := st.Mode().Perm() == 0o600; reused != tt.wantReused || got.Path != first.Path {
				t.Errorf("reused=%v path %s, want reused=%v and the same path %s", reused, got.Path, tt.wantReused, first.Path)
			}
			if same := got.ConfigDigest == first.ConfigDigest; same != tt.wantSameCfg {
				t.Errorf("config %s vs first %s: same=%v, want %v", got.ConfigDigest, first.ConfigDigest, same, tt.wantSameCfg)
			}
		})
	}
}

func TestBuildRejectsBadSpecsBeforeBuilding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"a short reference", Spec{Ref: "pause:3.10", Package: Pause.Package, Binary: "/pause", Entrypoint: []string{"/pause"}}, "REGISTRY/PATH:TAG"},
		{"a package outside the module", Spec{Ref: Pause.Ref, Package: "example.com/x", Binary: "/pause", Entrypoint: []string{"/pause"}}, "not in module"},
		{"a relative binary path", Spec{Ref: Pause.Ref, Package: Pause.Package, Binary: "pause", Entrypoint: []string{"/pause"}}, "clean absolute"},
		{"no entrypoint", Spec{Ref: Pause.Ref, Package: Pause.Package, Binary: "/pause"}, "set an entrypoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Build(context.Background(), tt.spec, Options{CacheDir: t.TempDir(), SourceDir: t.TempDir(), Go: "/nonexistent/go"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Build = %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func withEntrypoint(s Spec, ep ...string) Spec {
	s.Entrypoint = ep
	return s
}
