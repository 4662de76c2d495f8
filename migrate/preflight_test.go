package migrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestPreflightFailsWhenGreenLacksACustomResourceAPI(t *testing.T) {
	t.Parallel()
	green := &apiIndex{served: map[schema.GroupVersionKind]bool{{Version: "v1", Kind: "ConfigMap"}: true}}
	crd := map[schema.GroupVersionKind]bool{{Group: "example.com", Version: "v1", Kind: "Widget"}: true}
	mk := func(y string) *item {
		o := obj(t, y)
		return &item{obj: o, readRef: RefOf(o)}
	}
	tests := []struct {
		name    string
		items   []*item
		wantErr string
	}{
		{"built-in and CRD-backed kinds pass", []*item{
			mk("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: p}"),
			mk("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: p}"),
		}, ""},
		{"an aggregated API green lacks stops the run", []*item{
			mk("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: p}"),
			mk("apiVersion: metrics.example.io/v1beta1\nkind: Usage\nmetadata: {name: u, namespace: p}"),
		}, "green does not serve metrics.example.io/v1beta1 (needed by Usage.metrics.example.io p/u)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &run{gIdx: green, crdServed: crd, items: tt.items}
			err := r.preflight(context.Background())
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("preflight = %v, want %q", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "nothing was written") {
				t.Errorf("the error must say nothing was written: %v", err)
			}
		})
	}
}

func TestExportWritesSecretsPrivateAndNoValuesInThePlan(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "artifacts") // phoenix creates the directory itself
	secret := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: p}\ndata: {password: aHVudGVyMjI=}")
	cm := obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: p}\ndata: {k: v}")
	items := []*item{
		{obj: cm, readRef: RefOf(cm), from: "v1", level: LevelConfig},
		{obj: secret, readRef: RefOf(secret), from: "v1", level: LevelConfig, notes: []string{"value aHVudGVyMjI= seen"}},
	}
	if err := export(dir, items); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{
		artifactPath(dir, LevelConfig, RefOf(secret)): 0o600,
		artifactPath(dir, LevelConfig, RefOf(cm)):     0o644,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", filepath.Base(path), fi.Mode().Perm(), mode)
		}
	}
	plan, err := os.ReadFile(filepath.Join(dir, "plan.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plan), "aHVudGVyMjI=") || strings.Contains(string(plan), "hunter22") {
		t.Errorf("plan.txt shows a Secret value:\n%s", plan)
	}
	if !strings.Contains(string(plan), "Secret p/db") || !strings.Contains(string(plan), "04 config") {
		t.Errorf("plan.txt does not list the objects by level:\n%s", plan)
	}
}
