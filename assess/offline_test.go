package assess

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/kube"
)

func assessManifests(t *testing.T, from, to string, path Path) *Report {
	t.Helper()
	opts := Options{To: kubeVersion(t, to), Path: path, ManifestDir: "testdata/manifests"}
	if from != "" {
		v := kubeVersion(t, from)
		opts.From = &v
	}
	r, err := Assess(context.Background(), opts)
	if err != nil {
		t.Fatalf("Assess: %v", err)
	}
	return r
}

type wantFinding struct {
	severity Severity
	check    string
	object   string // substring
	version  string
	hop      string
}

func findFinding(r *Report, w wantFinding) bool {
	for _, f := range r.Findings {
		if f.Severity == w.severity && f.Check == w.check && strings.Contains(f.Object, w.object) && f.Version == w.version && f.Hop == w.hop {
			return true
		}
	}
	return false
}

func dumpFindings(r *Report) string {
	var b bytes.Buffer
	for _, f := range r.Findings {
		b.WriteString(string(f.Severity) + " " + f.Check + " " + f.Object + " " + f.Version + " " + f.Hop + "\n")
	}
	return b.String()
}

func TestScanManifestsBlueGreen(t *testing.T) {
	t.Parallel()
	r := assessManifests(t, "", "v1.37.2", BlueGreen)
	for _, w := range []wantFinding{
		{Blocker, "api-removed", "batch/v1beta1 CronJob payments/report", "v1.25", ""},
		{Blocker, "api-removed", "policy/v1beta1 PodDisruptionBudget payments/api", "v1.25", ""},
		{Blocker, "api-removed", "extensions/v1beta1 Ingress payments/web", "v1.22", ""},
		{Blocker, "api-removed", "autoscaling/v2beta2 HorizontalPodAutoscaler payments/web", "v1.26", ""},
		{Blocker, "api-removed", "rbac.authorization.k8s.io/v1beta1 ClusterRole payments-reader", "v1.22", ""},
		{Action, "bound-sa-token", "CronJob payments/report", "v1.21", ""},
		{Blocker, "feature-gates", "VolumeSubpathEnvExpansion in kube-apiserver", "v1.19", ""},
		{Blocker, "feature-gates", "SupportIPVSProxyMode in KubeProxyConfiguration", "v1.20", ""},
		{Blocker, "kubeadm-config", "kube-apiserver --insecure-port", "v1.20", ""},
		{Blocker, "kubeadm-config", "kube-apiserver --insecure-port", "v1.24", ""},
		{Action, "kubeadm-config", "ClusterConfiguration kubeadm.k8s.io/v1beta2", "v1.27", ""},
	} {
		if !findFinding(r, w) {
			t.Errorf("missing %+v; got:\n%s", w, dumpFindings(r))
		}
	}
	if findFinding(r, wantFinding{Action, "bound-sa-token", "Deployment payments/api", "v1.21", ""}) {
		t.Errorf("a pod template with fsGroup set is reported as unable to read its token")
	}
	if findFinding(r, wantFinding{Action, "kubeadm-config", "kube-scheduler --port", "v1.23", ""}) {
		t.Errorf("--port=0 (insecure serving off) is reported")
	}
	for _, f := range r.Findings {
		if strings.Contains(f.Where, "rendered-chart.yaml") && !strings.Contains(f.Where, "web/templates/") {
			t.Errorf("a rendered chart's finding does not name its template: %q", f.Where)
		}
	}
	errs := strings.Join(r.Errors, "\n")
	for _, want := range []string{"app/settings.yaml: document 1 is not a Kubernetes object", "app/broken.yaml"} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors do not contain %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "README") {
		t.Errorf("a non-manifest file was read: %s", errs)
	}
	if !r.HasBlockers() {
		t.Errorf("no blockers")
	}
}

func TestScanManifestsInPlacePlacesFindingsOnHops(t *testing.T) {
	t.Parallel()
	r := assessManifests(t, "v1.14.5", "v1.21.14", InPlace)
	if len(r.Hops) != 7 {
		t.Fatalf("%d hops, want 7", len(r.Hops))
	}
	for _, w := range []wantFinding{
		{Blocker, "feature-gates", "VolumeSubpathEnvExpansion in kube-apiserver", "v1.19", "v1.19.16"},
		{Blocker, "kubeadm-config", "kube-apiserver --insecure-port", "v1.20", "v1.20.15"},
		{Blocker, "feature-gates", "SupportIPVSProxyMode in KubeProxyConfiguration", "v1.20", "v1.20.15"},
		{Info, "api-removed", "batch/v1beta1 CronJob payments/report", "v1.25", ""},
		{Info, "api-removed", "extensions/v1beta1 Ingress payments/web", "v1.22", ""},
		{Action, "bound-sa-token", "CronJob payments/report", "v1.21", "v1.21.14"},
	} {
		if !findFinding(r, w) {
			t.Errorf("missing %+v; got:\n%s", w, dumpFindings(r))
		}
	}
	for _, f := range r.Findings {
		if f.Version == "v1.24" || f.Version == "v1.27" {
			if f.Severity != Info {
				t.Errorf("finding beyond the target v1.21 is %s: %+v", f.Severity, f)
			}
		}
	}
}

func TestAssessRejectsBadInput(t *testing.T) {
	t.Parallel()
	v := func(s string) *kube.Version { x := kube.MustParseVersion(s); return &x }
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"nothing to scan", Options{To: kube.MustParseVersion("v1.37.2")}, "nothing to assess"},
		{"an unknown target", Options{To: kube.MustParseVersion("v1.40.0"), ManifestDir: "testdata/manifests"}, "outside what phoenix knows"},
		{"a target older than the source", Options{To: kube.MustParseVersion("v1.20.0"), From: v("v1.24.17"), ManifestDir: "testdata/manifests"}, "older than the source"},
		{"in-place without a source version", Options{To: kube.MustParseVersion("v1.25.0"), Path: InPlace, ManifestDir: "testdata/manifests"}, "needs the source version"},
		{"a missing directory", Options{To: kube.MustParseVersion("v1.25.0"), ManifestDir: "testdata/nope"}, "reading manifests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Assess(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestReportGolden(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		path     Path
	}{
		{"blue-green", "", "v1.37.2", BlueGreen},
		{"in-place", "v1.14.5", "v1.21.14", InPlace},
	} {
		r := assessManifests(t, tc.from, tc.to, tc.path)
		for format, ext := range map[string]string{FormatTable: "txt", FormatJSON: "json", FormatYAML: "yaml", FormatMarkdown: "md"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				var b bytes.Buffer
				if err := r.Render(&b, format); err != nil {
					t.Fatal(err)
				}
				golden(t, tc.name+"."+ext, b.Bytes())
			})
		}
	}
}
