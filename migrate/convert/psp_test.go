package convert

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func mustYAML(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestPSPToPodSecurity(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		psp          string
		wantLevel    string
		wantFaithful bool
		wantNote     string // a note that must be there (substring)
	}{{
		name: "a policy that allows everything maps to privileged, faithfully",
		psp: `
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: privileged}
spec:
  privileged: true
  allowPrivilegeEscalation: true
  allowedCapabilities: ["*"]
  volumes: ["*"]
  hostNetwork: true
  hostPorts: [{min: 0, max: 65535}]
  hostIPC: true
  hostPID: true
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}`,
		wantLevel: LevelPrivileged, wantFaithful: true, wantNote: "spec.hostNetwork",
	}, {
		name: "the upstream restricted example needs privileged only for its SELinux rule, and mutated pods",
		psp: `
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: restricted
  annotations:
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: docker/default,runtime/default
    seccomp.security.alpha.kubernetes.io/defaultProfileName: runtime/default
spec:
  privileged: false
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap, emptyDir, projected, secret, downwardAPI, persistentVolumeClaim]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  fsGroup: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  readOnlyRootFilesystem: false`,
		wantLevel: LevelPrivileged, wantFaithful: false, wantNote: "rule RunAsAny lets pods choose any SELinux",
	}, {
		name: "a restricted policy with MustRunAs SELinux maps to restricted, but not faithfully (it mutated pods)",
		psp: `
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: tight
  annotations:
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: runtime/default
spec:
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  allowedCapabilities: [NET_BIND_SERVICE]
  volumes: [configMap, secret, emptyDir]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: MustRunAs}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}`,
		wantLevel: LevelRestricted, wantFaithful: false, wantNote: "every container must set it itself",
	}, {
		name: "a capability outside the baseline set needs privileged; assigned SELinux options are not faithful",
		psp: `
apiVersion: extensions/v1beta1
kind: PodSecurityPolicy
metadata: {name: baseline}
spec:
  allowedCapabilities: [CHOWN, NET_RAW]
  volumes: [configMap, secret, nfs]
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: MustRunAs, seLinuxOptions: {type: container_t}}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}`,
		wantLevel: LevelPrivileged, wantFaithful: false, wantNote: "it allows capability NET_RAW",
	}, {
		name: "a policy with only baseline capabilities and no host access maps to baseline",
		psp: `
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: baseline}
spec:
  allowedCapabilities: [CHOWN]
  volumes: [configMap, secret, nfs]
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: MustRunAs}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}`,
		wantLevel: LevelBaseline, wantFaithful: true, wantNote: "it allows nfs volumes",
	}, {
		name: "allowed host paths cannot be expressed",
		psp: `
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: logs}
spec:
  volumes: [hostPath]
  allowedHostPaths: [{pathPrefix: /var/log, readOnly: true}]
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: MustRunAs}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}`,
		wantLevel: LevelPrivileged, wantFaithful: false, wantNote: "limits hostPath volumes to some paths",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			level, faithful, notes := PSPToPodSecurity(mustYAML(t, tc.psp))
			var all []string
			for _, n := range notes {
				all = append(all, n.String())
				if !strings.HasPrefix(n.To, PodSecurityEnforceLabel+"=") {
					t.Errorf("note target %q does not name the label", n.To)
				}
			}
			joined := strings.Join(all, "\n")
			if level != tc.wantLevel || faithful != tc.wantFaithful {
				t.Errorf("got %s (faithful %v), want %s (faithful %v); notes:\n%s", level, faithful, tc.wantLevel, tc.wantFaithful, joined)
			}
			if !strings.Contains(joined, tc.wantNote) {
				t.Errorf("no note containing %q in:\n%s", tc.wantNote, joined)
			}
		})
	}
}

func TestPodSecurityLabels(t *testing.T) {
	t.Parallel()
	l, err := PodSecurityLabels(LevelBaseline)
	if err != nil || l[PodSecurityEnforceLabel] != LevelBaseline || l[PodSecurityWarnLabel] != LevelRestricted {
		t.Errorf("labels = %v, %v", l, err)
	}
	if _, err := PodSecurityLabels("strict"); err == nil {
		t.Error("an unknown level was accepted")
	}
}
