package migrate

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The PSP of the e2e fixture (e2e/testdata/payments/app.yaml, payments-restricted).
const fixturePSP = `
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: payments-restricted}
spec:
  privileged: false
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  fsGroup: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  volumes: [configMap, emptyDir, projected, secret, downwardAPI, persistentVolumeClaim]`

// The upstream example, kubernetes/website content/en/examples/policy/restricted-psp.yaml.
const upstreamRestrictedPSP = `
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: restricted
  annotations:
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: 'docker/default,runtime/default'
    apparmor.security.beta.kubernetes.io/allowedProfileNames: 'runtime/default'
    seccomp.security.alpha.kubernetes.io/defaultProfileName:  'runtime/default'
    apparmor.security.beta.kubernetes.io/defaultProfileName:  'runtime/default'
spec:
  privileged: false
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap, emptyDir, projected, secret, downwardAPI, csi, persistentVolumeClaim, ephemeral]
  hostNetwork: false
  hostIPC: false
  hostPID: false
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  fsGroup: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  readOnlyRootFilesystem: false`

// The payments-api Deployment of the e2e fixture: no securityContext at all.
const fixtureDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: payments-api, namespace: payments}
spec:
  selector: {matchLabels: {app: payments-api}}
  template:
    metadata: {labels: {app: payments-api}}
    spec:
      serviceAccountName: payments-api
      containers:
      - name: api
        image: registry.example.com/payments/api:4.2.1
        ports: [{containerPort: 8080}]`

const restrictedDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: hardened, namespace: payments}
spec:
  selector: {matchLabels: {app: hardened}}
  template:
    metadata: {labels: {app: hardened}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: api
        image: registry.example.com/payments/api:4.2.1
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}`

const privilegedPod = `
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: payments}
spec:
  containers:
  - name: sh
    image: busybox
    securityContext: {privileged: true}`

const customSELinuxCronJob = `
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: payments}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, seLinuxOptions: {type: spc_t}}
          containers:
          - name: job
            image: busybox
            securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}`

func TestDecidePodSecurityEnforcesWhatTheExistingPodsPass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		psp           string
		pods          []string
		enforce, warn string
		noteHas       []string
	}{
		{name: "the e2e fixture's PSP (no seccomp profile: baseline) with its pods, which set no securityContext, enforces baseline",
			psp: fixturePSP, pods: []string{fixtureDeployment}, enforce: "baseline", warn: "restricted",
			noteHas: []string{"translate to baseline", "all 1 pods and pod templates of the namespace pass it, so it is enforced", "seLinux rule RunAsAny is harmless here"}},
		{name: "the upstream restricted PSP with pods that set no securityContext enforces the baseline they pass",
			psp: upstreamRestrictedPSP, pods: []string{fixtureDeployment}, enforce: "baseline", warn: "restricted",
			noteHas: []string{"translate to restricted", "enforcing restricted would reject pods that exist", "Deployment payments-api (", "allowPrivilegeEscalation"}},
		{name: "the upstream restricted PSP with pods that comply enforces restricted",
			psp: upstreamRestrictedPSP, pods: []string{restrictedDeployment}, enforce: "restricted",
			noteHas: []string{"all 1 pods and pod templates of the namespace pass it, so it is enforced"}},
		{name: "an over-permissive pod keeps the level honest",
			psp: upstreamRestrictedPSP, pods: []string{restrictedDeployment, privilegedPod}, enforce: "privileged", warn: "restricted",
			noteHas: []string{"baseline rejects Pod debug", "privileged"}},
		{name: "a pod that sets seLinuxOptions makes seLinux RunAsAny count",
			psp: upstreamRestrictedPSP, pods: []string{customSELinuxCronJob}, enforce: "privileged", warn: "restricted",
			noteHas: []string{"translate to privileged"}},
		{name: "no pods: the PSP's own level",
			psp: upstreamRestrictedPSP, enforce: "restricted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			psp := obj(t, tc.psp)
			var items []*item
			for _, p := range tc.pods {
				items = append(items, &item{obj: obj(t, p)})
			}
			pods, err := podsOf(items, "payments")
			if err != nil {
				t.Fatal(err)
			}
			if len(pods) != len(tc.pods) {
				t.Fatalf("podsOf found %d pods, want %d", len(pods), len(tc.pods))
			}
			dec := decidePodSecurity([]string{psp.GetName()}, map[string]*unstructured.Unstructured{psp.GetName(): psp}, pods)
			if dec.enforce != tc.enforce || dec.warn != tc.warn {
				t.Errorf("enforce=%s warn=%s, want enforce=%s warn=%s\nnote: %s", dec.enforce, dec.warn, tc.enforce, tc.warn, dec.note)
			}
			for _, w := range tc.noteHas {
				if !strings.Contains(dec.note, w) {
					t.Errorf("note lacks %q:\n%s", w, dec.note)
				}
			}
		})
	}
}

func TestBindsPodsFollowsServiceAccountUsersAndPodCreators(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		subject string
		want    bool
	}{
		{"{kind: User, name: 'system:serviceaccount:payments:api'}", true},
		{"{kind: User, name: 'system:serviceaccount:other:api'}", false},
		{"{kind: ServiceAccount, name: replicaset-controller, namespace: kube-system}", true},
		{"{kind: User, name: 'system:serviceaccount:kube-system:job-controller'}", true},
		{"{kind: ServiceAccount, name: coredns, namespace: kube-system}", false},
		{"{kind: User, name: alice}", false},
	} {
		b := obj(t, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nsubjects: ["+tc.subject+"]")
		if got := bindsPods(b, "payments"); got != tc.want {
			t.Errorf("bindsPods(%s) = %v, want %v", tc.subject, got, tc.want)
		}
	}
}
