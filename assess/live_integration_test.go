package assess

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/kube"
)

// legacyObjects are written to a real v1.24.17 apiserver through API versions it still
// serves but later releases remove.
var legacyObjects = []struct {
	gvr schema.GroupVersionResource
	doc string
}{
	{schema.GroupVersionResource{Group: "batch", Version: "v1beta1", Resource: "cronjobs"}, `
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: nightly, namespace: legacy}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: job, image: registry.example/job:1}]`},
	{schema.GroupVersionResource{Group: "policy", Version: "v1beta1", Resource: "poddisruptionbudgets"}, `
apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata: {name: web, namespace: legacy}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}`},
	{schema.GroupVersionResource{Group: "autoscaling", Version: "v2beta2", Resource: "horizontalpodautoscalers"}, `
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: legacy}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3`},
	{schema.GroupVersionResource{Group: "policy", Version: "v1beta1", Resource: "podsecuritypolicies"}, `
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: legacy-restricted}
spec:
  privileged: false
  seLinux: {rule: RunAsAny}
  runAsUser: {rule: MustRunAsNonRoot}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ["*"]`},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: old-apply
  namespace: legacy
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"apiVersion":"extensions/v1beta1","kind":"Deployment","metadata":{"name":"old-apply","namespace":"legacy"}}'
spec:
  selector: {matchLabels: {app: old}}
  template:
    metadata: {labels: {app: old}}
    spec:
      containers: [{name: app, image: registry.example/app:1}]`},
}

const helmManifest = `---
# Source: web/templates/ingress.yaml
apiVersion: networking.k8s.io/v1beta1
kind: Ingress
metadata: {name: web, namespace: legacy}
---
# Source: web/templates/hpa.yaml
apiVersion: autoscaling/v2beta1
kind: HorizontalPodAutoscaler
metadata: {name: web-helm, namespace: legacy}
`

func TestScanClusterOnV1_24(t *testing.T) {
	env := testenv.Start(t, "v1.24.17")
	ctx := context.Background()
	clients, err := kube.NewClients(env.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range legacyObjects {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(o.doc), &obj); err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: obj}
		res := clients.Dynamic.Resource(o.gvr)
		var cerr error
		if ns := u.GetNamespace(); ns != "" {
			_, cerr = res.Namespace(ns).Create(ctx, u, metav1.CreateOptions{FieldManager: "legacy-tool"})
		} else {
			_, cerr = res.Create(ctx, u, metav1.CreateOptions{FieldManager: "legacy-tool"})
		}
		if cerr != nil {
			t.Fatalf("creating %s %s through %s: %v", u.GetKind(), u.GetName(), o.gvr.GroupVersion(), cerr)
		}
	}
	release := map[string]any{"name": "web", "namespace": "legacy", "version": 2, "manifest": helmManifest,
		"info": map[string]any{"status": "deployed"}, "chart": map[string]any{"metadata": map[string]any{"name": "web", "version": "1.0.0"}}}
	for _, s := range []struct {
		name, release, version string
		data                   []byte
	}{
		{"sh.helm.release.v1.web.v2", "web", "2", encodeHelmRelease(t, release)},
		{"sh.helm.release.v1.broken.v1", "broken", "1", []byte("not-a-release")},
	} {
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: "legacy", Labels: map[string]string{"owner": "helm", "name": s.release, "version": s.version, "status": "deployed"}},
			Type:       "helm.sh/release.v1",
			Data:       map[string][]byte{"release": s.data},
		}
		if _, err := clients.Kube.CoreV1().Secrets("legacy").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	opts := Options{To: kubeVersion(t, "v1.37.2"), Clients: clients, Namespaces: []string{"legacy"}}
	if _, err := serverVersion(clients); err != nil {
		// Test binaries built without version stamping report v0.0.0-master.
		t.Logf("%v: using the version the test environment started", err)
		opts.From = &env.Version
	}
	r, err := Assess(ctx, opts)
	if err != nil {
		t.Fatalf("Assess: %v", err)
	}
	if r.From != "v1.24.17" {
		t.Errorf("source version %q, want v1.24.17", r.From)
	}
	for _, w := range []struct {
		severity                          Severity
		check, object, version, successor string
		where                             string
	}{
		{Blocker, "api-removed", "batch/v1beta1 CronJob legacy/nightly", "v1.25", "batch/v1", "live"},
		{Blocker, "api-removed", "policy/v1beta1 PodDisruptionBudget legacy/web", "v1.25", "policy/v1", "live"},
		{Blocker, "api-removed", "autoscaling/v2beta2 HorizontalPodAutoscaler legacy/web", "v1.26", "autoscaling/v2", "live"},
		{Blocker, "pod-security-policies", "PodSecurityPolicy legacy-restricted", "v1.25", "", "live"},
		{Blocker, "api-removed", "autoscaling/v2beta1 HorizontalPodAutoscaler legacy/web-helm", "v1.25", "autoscaling/v2", "helm release legacy/web v2"},
		{Info, "api-removed", "networking.k8s.io/v1beta1 Ingress legacy/web", "v1.22", "", "helm release legacy/web v2"},
		{Info, "api-removed", "extensions/v1beta1 Deployment legacy/old-apply", "v1.16", "", "live"},
	} {
		found := false
		for _, f := range r.Findings {
			if f.Severity == w.severity && f.Check == w.check && strings.Contains(f.Object, w.object) && f.Version == w.version &&
				strings.HasPrefix(f.Where, w.where) && strings.Contains(f.Message+f.Action, w.successor) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing %+v; got:\n%s", w, dumpFindings(r))
		}
	}
	if errs := strings.Join(r.Errors, "\n"); !strings.Contains(errs, "helm release legacy/broken v1") {
		t.Errorf("the unreadable Helm release is not reported: %s", errs)
	}
	if !r.HasBlockers() {
		t.Error("no blockers")
	}
}
