package convert

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/kube"
)

const cronV1beta1 = `# nightly report, keep this comment
apiVersion: batch/v1beta1
kind: CronJob
metadata:
  name: report
  namespace: payments
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: job, image: busybox}]
`

const configMap = `# settings, keep this comment too
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: payments
data:
  mode: fast
`

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func tree(t *testing.T) string {
	return writeTree(t, map[string]string{
		"app/workloads.yaml": cronV1beta1 + "---\n" + configMap,
		"app/values.yaml":    "replicas: 3\nimage: nginx\n",
		"app/list.json": `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb", "namespace": "payments"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "payments"}, "spec": {"ports": [{"port": 80}]}}
]}`,
		"app/psp.yml":      "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: old\nspec: {}\n",
		"app/.git/x.yaml":  "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: hidden}\n",
		"app/README.md":    "not a manifest",
		"app/deep/ok.yaml": configMap,
	})
}

func TestConvertManifestsReportsPerDocument(t *testing.T) {
	t.Parallel()
	dir := tree(t)
	res, err := ConvertManifests(context.Background(), ManifestOptions{Paths: []string{filepath.Join(dir, "app")}, Served: ServedBy(kube.MustParseVersion("v1.37"))})
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, f := range res.Files {
		rels = append(rels, f.Rel)
	}
	if got := strings.Join(rels, ","); got != "deep/ok.yaml,list.json,psp.yml,values.yaml,workloads.yaml" {
		t.Errorf("files = %s (hidden directories and non-manifests must be skipped)", got)
	}
	converted, failed, skipped := res.Counts()
	if converted != 2 || failed != 1 || skipped != 1 {
		t.Errorf("converted, failed, skipped = %d, %d, %d; want 2, 1, 1", converted, failed, skipped)
	}
	list := res.Files[1].Docs[0]
	items := list.Out.Object["items"].([]any)
	if items[0].(map[string]any)["apiVersion"] != "policy/v1" || items[1].(map[string]any)["apiVersion"] != "v1" {
		t.Errorf("List items not converted one by one: %v", items)
	}
	if res.Files[3].Docs[0].Skipped == "" {
		t.Error("values.yaml was not reported as skipped")
	}
	if !strings.Contains(res.Files[2].Docs[0].Error, "PodSecurityPolicy") {
		t.Errorf("PSP error = %q", res.Files[2].Docs[0].Error)
	}

	out, err := res.Render(false)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"apiVersion: batch/v1\n", "# settings, keep this comment too", "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy"} {
		if !strings.Contains(s, want) {
			t.Errorf("YAML output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "replicas: 3") {
		t.Error("a non-Kubernetes document reached the output")
	}
	js, err := res.Render(true)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(js, &l); err != nil || l.Kind != "List" || len(l.Items) != 5 {
		t.Errorf("JSON output: kind %q, %d items, err %v", l.Kind, len(l.Items), err)
	}
}

func TestConvertManifestsWritesMirrorAndInPlace(t *testing.T) {
	t.Parallel()
	dir := tree(t)
	outDir := filepath.Join(t.TempDir(), "out")
	served := ServedBy(kube.MustParseVersion("v1.37"))
	if _, err := ConvertManifests(context.Background(), ManifestOptions{Paths: []string{filepath.Join(dir, "app")}, Served: served, OutputDir: outDir}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(outDir, "workloads.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "apiVersion: batch/v1\n") || !strings.Contains(string(got), "# settings, keep this comment too") {
		t.Errorf("mirrored workloads.yaml:\n%s", got)
	}
	if v, err := os.ReadFile(filepath.Join(outDir, "values.yaml")); err != nil || string(v) != "replicas: 3\nimage: nginx\n" {
		t.Errorf("values.yaml not copied as is: %q %v", v, err)
	}
	if _, err := os.Stat(filepath.Join(outDir, "deep", "ok.yaml")); err != nil {
		t.Errorf("nested file not mirrored: %v", err)
	}
	orig, _ := os.ReadFile(filepath.Join(dir, "app", "workloads.yaml"))
	if !strings.Contains(string(orig), "batch/v1beta1") {
		t.Error("--output-dir changed the input")
	}

	okBefore, _ := os.Stat(filepath.Join(dir, "app", "deep", "ok.yaml"))
	if _, err := ConvertManifests(context.Background(), ManifestOptions{Paths: []string{filepath.Join(dir, "app")}, Served: served, InPlace: true}); err != nil {
		t.Fatal(err)
	}
	orig, _ = os.ReadFile(filepath.Join(dir, "app", "workloads.yaml"))
	if !strings.Contains(string(orig), "apiVersion: batch/v1\n") {
		t.Errorf("in place: not rewritten:\n%s", orig)
	}
	okAfter, _ := os.Stat(filepath.Join(dir, "app", "deep", "ok.yaml"))
	if !okAfter.ModTime().Equal(okBefore.ModTime()) {
		t.Error("in place: an unchanged file was rewritten")
	}
	psp, _ := os.ReadFile(filepath.Join(dir, "app", "psp.yml"))
	if !strings.Contains(string(psp), "policy/v1beta1") {
		t.Error("in place: a document that failed to convert was changed")
	}
}

func TestConvertManifestsBadInput(t *testing.T) {
	t.Parallel()
	served := ServedBy(kube.MustParseVersion("v1.37"))
	if _, err := ConvertManifests(context.Background(), ManifestOptions{Served: served}); err == nil {
		t.Error("no paths: no error")
	}
	if _, err := ConvertManifests(context.Background(), ManifestOptions{Paths: []string{"/nonexistent/x.yaml"}, Served: served}); err == nil {
		t.Error("missing file: no error")
	}
	dir := writeTree(t, map[string]string{"bad.yaml": "apiVersion: v1\nkind: ConfigMap\n--- junk\n"})
	if _, err := ConvertManifests(context.Background(), ManifestOptions{Paths: []string{filepath.Join(dir, "bad.yaml")}, Served: served}); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("malformed separator: error = %v, want one naming the file", err)
	}
	a := writeTree(t, map[string]string{"x.yaml": configMap})
	b := writeTree(t, map[string]string{"x.yaml": configMap})
	_, err := ConvertManifests(context.Background(), ManifestOptions{Paths: []string{filepath.Join(a, "x.yaml"), filepath.Join(b, "x.yaml")}, Served: served, OutputDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "would both be written") {
		t.Errorf("colliding outputs: error = %v", err)
	}
}
