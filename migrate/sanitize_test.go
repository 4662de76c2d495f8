package migrate

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatalf("bad test YAML: %v", err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in, want  string
		wantNotes []string // substrings, in order
	}{
		{
			name: "metadata that belongs to blue is dropped and status goes",
			in: `
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: payments
  uid: 1234
  resourceVersion: "99"
  generation: 3
  creationTimestamp: "2020-01-01T00:00:00Z"
  selfLink: /api/v1/namespaces/payments/configmaps/app
  managedFields: [{manager: kubectl}]
  labels: {app: web}
data: {k: v}
status: {x: 1}`,
			want: `
apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: payments, labels: {app: web}}
data: {k: v}`,
		},
		{
			name: "a Service loses its cluster IPs and allocated node ports but keeps requested ones",
			in: `
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: payments
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"spec":{"ports":[{"port":80,"nodePort":30080}]}}'
spec:
  type: NodePort
  clusterIP: 10.0.0.7
  clusterIPs: [10.0.0.7]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  ports:
  - {port: 80, nodePort: 30080}
  - {port: 443, nodePort: 31443}`,
			want: `
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: payments
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"spec":{"ports":[{"port":80,"nodePort":30080}]}}'
spec:
  type: NodePort
  ports:
  - {port: 80, nodePort: 30080}
  - {port: 443}`,
		},
		{
			name: "a Service keeps the node ports a field manager owns (create, Helm, server-side apply) and drops allocated ones",
			in: `
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: payments
  managedFields:
  - manager: helm
    operation: Update
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:type": {}, "f:ports": {".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:nodePort": {}}, "k:{\"port\":443,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}}}
spec:
  type: NodePort
  clusterIP: 10.0.0.7
  ports:
  - {port: 80, protocol: TCP, nodePort: 30080}
  - {port: 443, protocol: TCP, nodePort: 31443}`,
			want: `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: payments}
spec:
  type: NodePort
  ports:
  - {port: 80, protocol: TCP, nodePort: 30080}
  - {port: 443, protocol: TCP}`,
		},
		{
			name: "a headless Service keeps clusterIP None",
			in: `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: payments}
spec: {clusterIP: None, clusterIPs: [None], ports: [{port: 5432}]}`,
			want: `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: payments}
spec: {clusterIP: None, clusterIPs: [None], ports: [{port: 5432}]}`,
		},
		{
			name: "a bound PVC loses its volume and binding annotations and says its data stays behind",
			in: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: payments
  annotations:
    pv.kubernetes.io/bind-completed: "yes"
    pv.kubernetes.io/bound-by-controller: "yes"
    volume.beta.kubernetes.io/storage-provisioner: rancher.io/local-path
    volume.kubernetes.io/selected-node: node-1
spec:
  storageClassName: standard
  volumeName: pvc-123
  resources: {requests: {storage: 1Gi}}
status: {phase: Bound}`,
			want: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: payments}
spec:
  storageClassName: standard
  resources: {requests: {storage: 1Gi}}`,
			wantNotes: []string{"bound to PersistentVolume pvc-123", "not copied"},
		},
		{
			name: "a Pod loses its node",
			in: `
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: payments}
spec: {nodeName: node-1, containers: [{name: c, image: nginx}]}`,
			want: `
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: payments}
spec: {containers: [{name: c, image: nginx}]}`,
		},
		{
			name: "a Job loses its generated selector and controller labels",
			in: `
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: payments}
spec:
  selector: {matchLabels: {controller-uid: abc}}
  template:
    metadata: {labels: {controller-uid: abc, job-name: once, app: migrate}}
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}`,
			want: `
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: payments}
spec:
  template:
    metadata: {labels: {app: migrate}}
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}`,
		},
		{
			name: "a Job with a manual selector keeps it",
			in: `
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: payments}
spec:
  manualSelector: true
  selector: {matchLabels: {app: migrate}}
  template: {metadata: {labels: {app: migrate}}}`,
			want: `
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: payments}
spec:
  manualSelector: true
  selector: {matchLabels: {app: migrate}}
  template: {metadata: {labels: {app: migrate}}}`,
		},
		{
			name: "owner references are dropped with a note, since owner UIDs differ on green",
			in: `
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  namespace: payments
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: parent, uid: u1}]`,
			want: `
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: payments}`,
			wantNotes: []string{"owner reference to ConfigMap parent dropped"},
		},
		{
			name: "a ServiceAccount forgets its auto-generated token secrets",
			in: `
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: payments}
secrets: [{name: app-token-x7k2p}, {name: registry-creds}]`,
			want: `
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: payments}
secrets: [{name: registry-creds}]`,
		},
		{
			name: "a user-made token Secret loses the token green re-issues",
			in: `
apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata: {name: ci-token, namespace: payments, annotations: {kubernetes.io/service-account.name: ci}}
data: {token: c2VjcmV0, ca.crt: Y2E=, namespace: cGF5bWVudHM=, extra: eA==}`,
			want: `
apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata: {name: ci-token, namespace: payments, annotations: {kubernetes.io/service-account.name: ci}}
data: {extra: eA==}`,
		},
		{
			name: "an aggregated ClusterRole loses the rules its controller fills",
			in: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: agg}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {a: b}}]}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]`,
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: agg}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {a: b}}]}`,
		},
		{
			name: "a Deployment loses the revision annotation its controller wrote",
			in: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: payments, annotations: {deployment.kubernetes.io/revision: "4", team: pay}}
spec: {replicas: 2}`,
			want: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: payments, annotations: {team: pay}}
spec: {replicas: 2}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := obj(t, tt.in)
			notes := Sanitize(o)
			want := obj(t, tt.want)
			if !reflect.DeepEqual(o.Object, want.Object) {
				got, _ := yaml.Marshal(o.Object)
				w, _ := yaml.Marshal(want.Object)
				t.Errorf("Sanitize:\n got:\n%s\nwant:\n%s", got, w)
			}
			all := strings.Join(notes, "\n")
			for _, n := range tt.wantNotes {
				if !strings.Contains(all, n) {
					t.Errorf("notes %q do not mention %q", notes, n)
				}
			}
			if len(tt.wantNotes) == 0 && o.GetKind() != "PersistentVolumeClaim" && len(notes) > 0 {
				t.Errorf("unexpected notes %q", notes)
			}
		})
	}
}

func TestSkipReason(t *testing.T) {
	t.Parallel()
	services := map[string]bool{"payments/web": true}
	tests := []struct {
		name, in string
		want     string // substring; "" means moved
	}{
		{"a controller-owned ReplicaSet is re-made by green", `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-1, namespace: payments, ownerReferences: [{kind: Deployment, name: web, controller: true, uid: u}]}`, "controlled by Deployment web"},
		{"a non-controller owner does not make an object skipped", `
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: payments, ownerReferences: [{kind: ConfigMap, name: p, uid: u}]}`, ""},
		{"an auto-generated token Secret is skipped", `
apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata: {name: default-token-abcde, namespace: payments, annotations: {kubernetes.io/service-account.name: default}}`, "service account token"},
		{"a token Secret a user named moves", `
apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata: {name: ci-token, namespace: payments, annotations: {kubernetes.io/service-account.name: ci}}`, ""},
		{"kube-root-ca.crt is skipped", `
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-root-ca.crt, namespace: payments}`, "CA bundle"},
		{"Endpoints of a selector Service are skipped", `
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: payments}`, "selector Service"},
		{"Endpoints of a Service without selector move", `
apiVersion: v1
kind: Endpoints
metadata: {name: external-db, namespace: payments}`, ""},
		{"a finished Job is skipped so it does not run again", `
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: payments}
status: {conditions: [{type: Complete, status: "True"}]}`, "finished on blue (Complete)"},
		{"a running Job moves", `
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: payments}
status: {active: 1}`, ""},
		{"a bootstrap ClusterRole is skipped", `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: view, labels: {kubernetes.io/bootstrapping: rbac-defaults}}`, "bootstrap"},
		{"a built-in PriorityClass is skipped", `
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: system-cluster-critical}`, "built-in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := skipReason(obj(t, tt.in), services)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("skipReason = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSanitizePrunesNulls(t *testing.T) {
	t.Parallel()
	o := obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: payments}
spec:
  template:
    metadata: {creationTimestamp: null, labels: {app: web}}
    spec: {containers: [{name: c, image: nginx, resources: null}]}`)
	Sanitize(o)
	if _, found, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "template", "metadata", "creationTimestamp"); found {
		t.Errorf("creationTimestamp: null survived")
	}
	c, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	if _, found := c[0].(map[string]any)["resources"]; found {
		t.Errorf("a null inside a list survived")
	}
}
