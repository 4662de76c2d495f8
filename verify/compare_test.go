package verify

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

const applied = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: payments, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.25"}]}`

func TestCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		green     string
		wantPaths []string
	}{
		{"fields green defaulted do not count", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: payments, uid: u, resourceVersion: "5", labels: {app: web}, annotations: {deployment.kubernetes.io/revision: "1"}}
spec:
  replicas: 2
  revisionHistoryLimit: 10
  progressDeadlineSeconds: 600
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {restartPolicy: Always, containers: [{name: web, image: "nginx:1.25", imagePullPolicy: IfNotPresent}]}
status: {replicas: 2}`, nil},
		{"a changed field is named by its path", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: payments, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.26"}]}`, []string{"spec.replicas", "spec.template.spec.containers[0].image"}},
		{"a removed field is absent", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: payments}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.25"}]}`, []string{"metadata.labels"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			diffs, wh, gh := Compare(obj(t, applied), obj(t, tt.green))
			var paths []string
			for _, d := range diffs {
				paths = append(paths, d.Path)
			}
			if strings.Join(paths, ",") != strings.Join(tt.wantPaths, ",") {
				t.Errorf("diff paths = %v, want %v (%+v)", paths, tt.wantPaths, diffs)
			}
			if (wh == gh) != (len(tt.wantPaths) == 0) {
				t.Errorf("hashes %s/%s disagree with the diff", wh, gh)
			}
		})
	}
}

func TestCompareMasksSecretValues(t *testing.T) {
	t.Parallel()
	want := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: payments}\ndata: {password: aHVudGVyMjI=, user: YWRtaW4=}")
	green := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: payments}\ndata: {password: b3RoZXJwYXNz}")
	diffs, _, _ := Compare(want, green)
	if len(diffs) != 2 {
		t.Fatalf("diffs = %+v, want password and user", diffs)
	}
	for _, d := range diffs {
		s := d.Path + d.Want + d.Green
		for _, v := range []string{"aHVudGVyMjI=", "YWRtaW4=", "b3RoZXJwYXNz", "hunter22"} {
			if strings.Contains(s, v) {
				t.Errorf("diff %+v shows a secret value", d)
			}
		}
	}
	green2 := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: payments}")
	diffs, _, _ = Compare(want, green2)
	if len(diffs) != 1 || diffs[0].Path != "data" || strings.Contains(diffs[0].Want, "aHVu") {
		t.Errorf("a missing data map must be reported masked: %+v", diffs)
	}
}

func TestCompareIgnoresSuspendPhoenixManages(t *testing.T) {
	t.Parallel()
	want := obj(t, "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: n, namespace: p, annotations: {phoenix.dev/original-suspend: \"false\"}}\nspec: {suspend: true, schedule: '* * * * *'}")
	green := obj(t, "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: n, namespace: p, annotations: {phoenix.dev/original-suspend: \"false\"}}\nspec: {suspend: false, schedule: '* * * * *'}")
	if diffs, _, _ := Compare(want, green); len(diffs) != 0 {
		t.Errorf("cutover resuming a CronJob is not a parity failure: %+v", diffs)
	}
}
