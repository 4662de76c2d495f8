package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestExportWithHostileNamesStaysInsideItsDirectory(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "art")
	var items []*item
	add := func(group, kind, ns, name string) {
		o := &unstructured.Unstructured{Object: map[string]any{}}
		o.SetAPIVersion("v1")
		if group != "" {
			o.SetAPIVersion(group + "/v1")
		}
		o.SetKind(kind)
		o.SetNamespace(ns)
		o.SetName(name)
		items = append(items, &item{obj: o, readRef: RefOf(o), from: o.GetAPIVersion(), level: LevelConfig})
	}
	add("", "ConfigMap", "../../..", "escape")
	add("", "ConfigMap", "p", "../../../../outside")
	add("evil.example/../..", "../../Kind", "p", "x")
	add("", "ConfigMap", "p", "system:x")
	add("", "ConfigMap", "p", "system_x")
	add("", "ConfigMap", "p", "system%3Ax")
	add("", "ConfigMap", "p", "..")
	add("", "ConfigMap", "p", ".")
	add("", "ConfigMap", "", "_cluster")
	add("", "ConfigMap", "_cluster", "a")
	add("", "ConfigMap", "p", strings.Repeat("long", 80))
	add("", "ConfigMap", "p", strings.Repeat("long", 80)+"2")
	add("", "ConfigMap", "p", "a\nb/c\\d")
	if err := export(dir, items); err != nil {
		t.Fatal(err)
	}
	var files []string
	err := filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if fi.Mode().Perm() != 0o700 && p != base {
				t.Errorf("directory %s has mode %v, want 0700", p, fi.Mode().Perm())
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, "..") {
			t.Errorf("%s is outside the artifact directory", p)
		}
		if strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(items) {
		t.Errorf("%d objects wrote %d files (a collision or an escape):\n%s", len(items), len(files), strings.Join(files, "\n"))
	}
	// A second export into the directory phoenix made works (and replaces the first).
	if err := export(dir, items[:1]); err != nil {
		t.Fatalf("re-export: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*", "*.yaml")); len(m) != 1 {
		t.Errorf("after re-export: %v", m)
	}
}

func TestArtifactsRefusesDirectoriesPhoenixDidNotMake(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	foreign := filepath.Join(base, "foreign")
	shared := filepath.Join(base, "shared")
	link := filepath.Join(base, "link")
	for _, d := range []string{foreign, shared} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(shared, artifactMarker), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(foreign, link); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{foreign: "not created by phoenix", shared: "writable by others", link: "not a directory"} {
		if err := export(dir, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("export to %s: %v, want %q", filepath.Base(dir), err, want)
		}
	}
	if entries, _ := os.ReadDir(foreign); len(entries) != 0 {
		t.Errorf("something was written into the refused directory: %v", entries)
	}
}

func TestPathComponentIsOneToOneAndSafe(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, s := range []string{"system:x", "system_x", "system%3Ax", "..", ".", "", "a/b", "A", "a", ".hidden", "x.y"} {
		c := pathComponent(s)
		if c == "." || c == ".." || strings.ContainsAny(c, "/_\\\x00") || c == "" {
			t.Errorf("pathComponent(%q) = %q", s, c)
		}
		if prev, ok := seen[c]; ok {
			t.Errorf("%q and %q both encode to %q", prev, s, c)
		}
		seen[c] = s
	}
}

func TestSecretArtifactsAreRemovedAfterTheRun(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "art")
	secret := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: p}\ndata: {password: aHVudGVyMjI=}")
	cm := obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: p}\ndata: {k: v}")
	items := []*item{
		{obj: cm, readRef: RefOf(cm), from: "v1", level: LevelConfig},
		{obj: secret, readRef: RefOf(secret), from: "v1", level: LevelConfig},
	}
	if err := export(dir, items); err != nil {
		t.Fatal(err)
	}
	n, err := removeSecretArtifacts(dir, items)
	if err != nil || n != 1 {
		t.Fatalf("removed %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(artifactPath(dir, LevelConfig, RefOf(secret))); !os.IsNotExist(err) {
		t.Errorf("the Secret artifact is still there: %v", err)
	}
	if _, err := os.Stat(artifactPath(dir, LevelConfig, RefOf(cm))); err != nil {
		t.Errorf("the ConfigMap artifact went too: %v", err)
	}
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if data, _ := os.ReadFile(p); strings.Contains(string(data), "aHVudGVyMjI=") {
				t.Errorf("%s still holds the Secret value", p)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
