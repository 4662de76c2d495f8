package migrate_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/migrate"
)

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

func get(t *testing.T, cfg *rest.Config, r schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(cfg)
	var ri dynamic.ResourceInterface = dyn.Resource(r)
	if ns != "" {
		ri = dyn.Resource(r).Namespace(ns)
	}
	obj, err := ri.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("green should serve %s %s/%s: %v", r, ns, name, err)
	}
	return obj
}

func logProgress(t *testing.T) func(string) { return func(s string) { t.Log(s) } }

func outcomes(res *migrate.Result) map[string]migrate.ObjectResult {
	m := map[string]migrate.ObjectResult{}
	for _, o := range res.Objects {
		m[o.Ref.Kind+" "+o.Ref.Name] = o
	}
	return m
}

func TestMigrateMovesRemovedVersionsToGreenWithoutWritingToBlue(t *testing.T) {
	blue, green := clusters(t)
	const ns = "payments"
	createFixture(t, blue.RESTConfig(), ns, 0)
	ctx := context.Background()
	blueCfg, writes := countingConfig(blue.RESTConfig())
	root := t.TempDir()
	opts := migrate.Options{Blue: blueCfg, Green: green.RESTConfig(), Namespaces: []string{ns}, JournalRoot: root, Progress: logProgress(t),
		KeepSecrets: true} // the Secret artifacts' modes are checked below
	res, err := migrate.Run(ctx, opts)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for ns, m := range res.Namespaces {
		for _, e := range m.Errors {
			t.Errorf("error in %q: %s", ns, e)
		}
	}
	if n, seen := writes.writes(); n != 0 || res.BlueWritesRefused != 0 {
		t.Fatalf("blue received %d write requests (%v), phoenix refused %d; want none", n, seen, res.BlueWritesRefused)
	}

	// Removed versions arrive in versions green serves.
	cj := get(t, green.Config, gvr("batch", "v1", "cronjobs"), ns, "nightly")
	if s, _, _ := unstructured.NestedBool(cj.Object, "spec", "suspend"); !s || cj.GetAnnotations()[migrate.AnnotationOriginalSuspend] != "false" {
		t.Errorf("CronJob on green: suspend=%v annotation=%q; want suspended with original false", s, cj.GetAnnotations()[migrate.AnnotationOriginalSuspend])
	}
	get(t, green.Config, gvr("policy", "v1", "poddisruptionbudgets"), ns, "web")
	worker := get(t, green.Config, gvr("autoscaling", "v2", "horizontalpodautoscalers"), ns, "worker")
	if u, _, _ := unstructured.NestedSlice(worker.Object, "spec", "metrics"); len(u) != 1 || !strings.Contains(mustJSON(u), `"averageUtilization":80`) {
		t.Errorf("HPA v2beta1 worker on green has metrics %s; want memory averageUtilization 80", mustJSON(u))
	}
	get(t, green.Config, gvr("autoscaling", "v2", "horizontalpodautoscalers"), ns, "web")
	gear := get(t, green.Config, gvr("example.com", "v1", "widgets"), ns, "gear")
	if size, _, _ := unstructured.NestedInt64(gear.Object, "spec", "size"); size != 3 {
		t.Errorf("Widget gear on green has size %d, want 3", size)
	}
	sec := get(t, green.Config, gvr("", "v1", "secrets"), ns, "db")
	if p, _, _ := unstructured.NestedString(sec.Object, "data", "password"); p != base64.StdEncoding.EncodeToString([]byte("hunter22-very-secret")) {
		t.Errorf("Secret db did not arrive intact")
	}
	nsObj := get(t, green.Config, gvr("", "v1", "namespaces"), "", ns)
	psa := ""
	for k, v := range nsObj.GetLabels() {
		if strings.HasPrefix(k, "pod-security.kubernetes.io/") {
			psa += k + "=" + v + " "
		}
	}
	if psa == "" {
		t.Errorf("namespace %s on green has no Pod Security Admission labels translated from its PSP (labels %v)", ns, nsObj.GetLabels())
	}
	// The fixture's PSP has no seccomp profile (baseline) and its pods pass baseline: enforced.
	if l := nsObj.GetLabels()["pod-security.kubernetes.io/enforce"]; l != "baseline" {
		t.Errorf("namespace %s on green enforces %q, want baseline (labels %s)", ns, l, psa)
	}
	get(t, green.Config, gvr("storage.k8s.io", "v1", "storageclasses"), "", ns+"-fast")
	get(t, green.Config, gvr("scheduling.k8s.io", "v1", "priorityclasses"), "", ns+"-high")
	get(t, green.Config, gvr("rbac.authorization.k8s.io", "v1", "clusterrolebindings"), "", ns+"-app-node-reader")
	get(t, green.Config, gvr("rbac.authorization.k8s.io", "v1", "clusterroles"), "", ns+"-node-reader")
	get(t, green.Config, gvr("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"), "", ns+"-widgets")
	pvc := get(t, green.Config, gvr("", "v1", "persistentvolumeclaims"), ns, "data")
	if v, _, _ := unstructured.NestedString(pvc.Object, "spec", "volumeName"); v != "" {
		t.Errorf("PVC arrived bound to blue's volume %s", v)
	}

	byName := outcomes(res)
	if o := byName["CronJob nightly"]; o.Outcome != migrate.Converted || o.From != "batch/v1beta1" || o.To != "batch/v1" {
		t.Errorf("CronJob outcome %+v, want converted batch/v1beta1 -> batch/v1", o)
	}
	if o := byName["PodSecurityPolicy "+ns+"-restricted"]; o.Outcome != migrate.Skipped {
		t.Errorf("PSP outcome %+v, want skipped (translated)", o)
	}
	if o := byName["ConfigMap kube-root-ca.crt"]; o.Outcome != migrate.Skipped {
		t.Errorf("kube-root-ca.crt outcome %+v, want skipped", o)
	}
	for _, o := range res.Objects {
		if o.Ref.Kind == "ReplicaSet" && o.Outcome != migrate.Skipped {
			t.Errorf("controller-owned %s moved: %+v", o.Ref, o)
		}
	}

	// Secret values appear nowhere but in the Secret's own 0600 artifact.
	out, _ := json.Marshal(res)
	if strings.Contains(string(out), "hunter22") {
		t.Errorf("the result shows a Secret value")
	}
	err = filepath.Walk(res.ArtifactsDir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		isSecret := strings.Contains(filepath.Base(p), "_secret_")
		if isSecret && fi.Mode().Perm() != 0o600 || !isSecret && fi.Mode().Perm() != 0o644 {
			t.Errorf("artifact %s has mode %v", p, fi.Mode().Perm())
		}
		if !isSecret && strings.Contains(string(data), base64.StdEncoding.EncodeToString([]byte("hunter22-very-secret"))) {
			t.Errorf("artifact %s shows a Secret value", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Deployments become Available on green.
	waitFor(t, 3*time.Minute, "Deployment web Available on green", func() bool {
		d := get(t, green.Config, gvr("apps", "v1", "deployments"), ns, "web")
		a, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas")
		return a == 2
	})

	// A second run changes nothing.
	before := snapshotRVs(t, green.Config, ns)
	res2, err := migrate.Run(ctx, opts)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if res2.Counts[migrate.Applied]+res2.Counts[migrate.Converted]+res2.Counts[migrate.Failed] != 0 {
		t.Errorf("second run: %s; want only unchanged and skipped", res2.Summary())
		for _, o := range res2.Objects {
			if o.Outcome != migrate.Unchanged && o.Outcome != migrate.Skipped {
				t.Logf("  %s %s %s", o.Outcome, o.Ref, o.Reason)
			}
		}
	}
	after := snapshotRVs(t, green.Config, ns)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed on green by the second run (%s -> %s)", k, v, after[k])
		}
	}
	if n, _ := writes.writes(); n != 0 {
		t.Errorf("blue received %d writes", n)
	}
}

func mustJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Second)
	}
}

// snapshotRVs maps "Kind name" to the resourceVersion of the namespace's objects on
// green, or to the generation for kinds whose status green's controllers keep updating.
func snapshotRVs(t *testing.T, cfg *rest.Config, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	dyn := dynamic.NewForConfigOrDie(cfg)
	for _, r := range snapshotResources {
		l, err := dyn.Resource(r).Namespace(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("listing %s on green: %v", r, err)
		}
		for _, o := range l.Items {
			v := "rv " + o.GetResourceVersion()
			if o.GetKind() == "Deployment" || o.GetKind() == "HorizontalPodAutoscaler" || o.GetKind() == "PersistentVolumeClaim" {
				v = "generation " + strconv.FormatInt(o.GetGeneration(), 10)
			}
			out[o.GetKind()+" "+o.GetName()] = v
		}
	}
	return out
}

var snapshotResources = []schema.GroupVersionResource{
	gvr("", "v1", "configmaps"), gvr("", "v1", "secrets"), gvr("", "v1", "services"), gvr("", "v1", "serviceaccounts"),
	gvr("", "v1", "persistentvolumeclaims"), gvr("apps", "v1", "deployments"), gvr("batch", "v1", "cronjobs"),
	gvr("policy", "v1", "poddisruptionbudgets"), gvr("autoscaling", "v2", "horizontalpodautoscalers"),
	gvr("example.com", "v1", "widgets"), gvr("rbac.authorization.k8s.io", "v1", "roles"),
	gvr("rbac.authorization.k8s.io", "v1", "rolebindings"),
}
