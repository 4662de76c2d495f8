package assess

import (
	"strings"
	"testing"
)

// guideRemovals transcribes every removal of the Deprecated API Migration Guide
// (https://kubernetes.io/docs/reference/using-api/deprecation-guide/, sections v1.16 to
// v1.32) independently of data/apis.yaml, so a slip in either fails this test.
var guideRemovals = []struct{ apiVersion, kind, removedIn, successor string }{
	{"extensions/v1beta1", "NetworkPolicy", "v1.16", "networking.k8s.io/v1"},
	{"extensions/v1beta1", "DaemonSet", "v1.16", "apps/v1"},
	{"apps/v1beta2", "DaemonSet", "v1.16", "apps/v1"},
	{"extensions/v1beta1", "Deployment", "v1.16", "apps/v1"},
	{"apps/v1beta1", "Deployment", "v1.16", "apps/v1"},
	{"apps/v1beta2", "Deployment", "v1.16", "apps/v1"},
	{"apps/v1beta1", "StatefulSet", "v1.16", "apps/v1"},
	{"apps/v1beta2", "StatefulSet", "v1.16", "apps/v1"},
	{"extensions/v1beta1", "ReplicaSet", "v1.16", "apps/v1"},
	{"apps/v1beta1", "ReplicaSet", "v1.16", "apps/v1"},
	{"apps/v1beta2", "ReplicaSet", "v1.16", "apps/v1"},
	{"extensions/v1beta1", "PodSecurityPolicy", "v1.16", "policy/v1beta1"},
	{"admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration", "v1.22", "admissionregistration.k8s.io/v1"},
	{"admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration", "v1.22", "admissionregistration.k8s.io/v1"},
	{"apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", "v1.22", "apiextensions.k8s.io/v1"},
	{"apiregistration.k8s.io/v1beta1", "APIService", "v1.22", "apiregistration.k8s.io/v1"},
	{"authentication.k8s.io/v1beta1", "TokenReview", "v1.22", "authentication.k8s.io/v1"},
	{"authorization.k8s.io/v1beta1", "LocalSubjectAccessReview", "v1.22", "authorization.k8s.io/v1"},
	{"authorization.k8s.io/v1beta1", "SelfSubjectAccessReview", "v1.22", "authorization.k8s.io/v1"},
	{"authorization.k8s.io/v1beta1", "SubjectAccessReview", "v1.22", "authorization.k8s.io/v1"},
	{"certificates.k8s.io/v1beta1", "CertificateSigningRequest", "v1.22", "certificates.k8s.io/v1"},
	{"coordination.k8s.io/v1beta1", "Lease", "v1.22", "coordination.k8s.io/v1"},
	{"extensions/v1beta1", "Ingress", "v1.22", "networking.k8s.io/v1"},
	{"networking.k8s.io/v1beta1", "Ingress", "v1.22", "networking.k8s.io/v1"},
	{"networking.k8s.io/v1beta1", "IngressClass", "v1.22", "networking.k8s.io/v1"},
	{"rbac.authorization.k8s.io/v1beta1", "ClusterRole", "v1.22", "rbac.authorization.k8s.io/v1"},
	{"rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding", "v1.22", "rbac.authorization.k8s.io/v1"},
	{"rbac.authorization.k8s.io/v1beta1", "Role", "v1.22", "rbac.authorization.k8s.io/v1"},
	{"rbac.authorization.k8s.io/v1beta1", "RoleBinding", "v1.22", "rbac.authorization.k8s.io/v1"},
	{"scheduling.k8s.io/v1beta1", "PriorityClass", "v1.22", "scheduling.k8s.io/v1"},
	{"storage.k8s.io/v1beta1", "CSIDriver", "v1.22", "storage.k8s.io/v1"},
	{"storage.k8s.io/v1beta1", "CSINode", "v1.22", "storage.k8s.io/v1"},
	{"storage.k8s.io/v1beta1", "StorageClass", "v1.22", "storage.k8s.io/v1"},
	{"storage.k8s.io/v1beta1", "VolumeAttachment", "v1.22", "storage.k8s.io/v1"},
	{"batch/v1beta1", "CronJob", "v1.25", "batch/v1"},
	{"discovery.k8s.io/v1beta1", "EndpointSlice", "v1.25", "discovery.k8s.io/v1"},
	{"events.k8s.io/v1beta1", "Event", "v1.25", "events.k8s.io/v1"},
	{"autoscaling/v2beta1", "HorizontalPodAutoscaler", "v1.25", "autoscaling/v2"},
	{"policy/v1beta1", "PodDisruptionBudget", "v1.25", "policy/v1"},
	{"policy/v1beta1", "PodSecurityPolicy", "v1.25", ""},
	{"node.k8s.io/v1beta1", "RuntimeClass", "v1.25", "node.k8s.io/v1"},
	{"flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "v1.26", "flowcontrol.apiserver.k8s.io/v1beta3"},
	{"flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration", "v1.26", "flowcontrol.apiserver.k8s.io/v1beta3"},
	{"autoscaling/v2beta2", "HorizontalPodAutoscaler", "v1.26", "autoscaling/v2"},
	{"storage.k8s.io/v1beta1", "CSIStorageCapacity", "v1.27", "storage.k8s.io/v1"},
	{"flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "v1.29", "flowcontrol.apiserver.k8s.io/v1"},
	{"flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration", "v1.29", "flowcontrol.apiserver.k8s.io/v1"},
	{"flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "v1.32", "flowcontrol.apiserver.k8s.io/v1"},
	{"flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration", "v1.32", "flowcontrol.apiserver.k8s.io/v1"},
}

func TestKnowledgeBaseHasEveryGuideRemoval(t *testing.T) {
	t.Parallel()
	kb, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, want := range guideRemovals {
		t.Run(want.apiVersion+" "+want.kind, func(t *testing.T) {
			got, ok := kb.LookupAPI(want.apiVersion, want.kind)
			if !ok {
				t.Fatalf("%s %s missing from data/apis.yaml", want.apiVersion, want.kind)
			}
			if got.RemovedIn != want.removedIn || got.Successor != want.successor {
				t.Fatalf("got removed in %s, successor %q; the guide says %s, %q", got.RemovedIn, got.Successor, want.removedIn, want.successor)
			}
			if !strings.HasPrefix(got.Source, "https://") {
				t.Fatalf("source %q is not a URL", got.Source)
			}
		})
	}
	if len(kb.APIs) != len(guideRemovals) {
		t.Errorf("data/apis.yaml has %d entries, the guide %d: add the new ones to guideRemovals after review", len(kb.APIs), len(guideRemovals))
	}
}

func TestKnowledgeBaseEntries(t *testing.T) {
	t.Parallel()
	kb := MustLoad()
	for _, tc := range []struct {
		name         string
		gate, remove string
	}{
		{"the seed's gate: gone from the v1.19 source (the removed-gates table said v1.25)", "VolumeSubpathEnvExpansion", "v1.19"},
		{"bound service-account tokens: gone from the v1.23 source", "BoundServiceAccountTokenVolume", "v1.23"},
		{"dynamic kubelet config", "DynamicKubeletConfig", "v1.26"},
		{"PodSecurity admission gate", "PodSecurity", "v1.28"},
		// Per-gate pages of kubernetes/website (stable toVersion + 1, `removed: true`).
		{"self-link removal gate", "RemoveSelfLink", "v1.30"},
		{"expanded DNS config", "ExpandedDNSConfig", "v1.30"},
		{"Azure File CSI migration", "CSIMigrationAzureFile", "v1.30"},
		{"deprecated admission plugin gate", "SecurityContextDeny", "v1.30"},
		{"API priority and fairness", "APIPriorityAndFairness", "v1.31"},
		{"in-tree GCE PD unregister (alpha)", "InTreePluginGCEUnregister", "v1.31"},
		{"RBD CSI migration (deprecated)", "CSIMigrationRBD", "v1.31"},
		{"server-side apply", "ServerSideApply", "v1.32"},
		{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicy", "v1.32"},
		{"KMS v2", "KMSv2", "v1.32"},
		{"AppArmor", "AppArmor", "v1.33"},
		{"API list chunking", "APIListChunking", "v1.33"},
		{"watch bookmarks", "WatchBookmark", "v1.33"},
		// v1.37.0-alpha.1 changelog.
		{"sidecar containers", "SidecarContainers", "v1.37"},
		{"consistent list from cache", "ConsistentListFromCache", "v1.37"},
	} {
		g, ok := kb.LookupGate(tc.gate)
		if !ok || g.RemovedIn != tc.remove {
			t.Errorf("%s: gate %s = %+v, want removed in %s", tc.name, tc.gate, g, tc.remove)
		}
	}
	for api, removed := range map[string]string{"kubeadm.k8s.io/v1beta1": "v1.22", "kubeadm.k8s.io/v1beta2": "v1.27", "kubeadm.k8s.io/v1beta3": "v1.37", "kubeadm.k8s.io/v1beta4": ""} {
		if k, ok := kb.LookupKubeadmAPI(api); !ok || k.RemovedIn != removed {
			t.Errorf("%s = %+v, want removed in %s", api, k, removed)
		}
	}
	for _, want := range []struct{ component, flag, effect, since string }{
		{"kubelet", "--allow-privileged", "removed", "v1.15"},
		{"kubelet", "--keep-terminated-pod-volumes", "removed", "v1.31"},
		{"kube-controller-manager", "--concurrent-service-syncs", "no-op", "v1.31"},
		{"kube-controller-manager", "--concurrent-service-syncs", "removed", "v1.37"},
	} {
		found := false
		for _, f := range kb.Flags {
			if f.Component == want.component && f.Flag == want.flag && f.Effect == want.effect {
				found = true
				if f.Since != want.since {
					t.Errorf("%s %s %s since %s, want %s", want.component, want.flag, want.effect, f.Since, want.since)
				}
			}
		}
		if !found {
			t.Errorf("%s %s (%s) missing from data/flags.yaml", want.component, want.flag, want.effect)
		}
	}
	wantPitfalls := map[string]string{
		"coredns-ready-plugin": "v1.16", "insecure-ports-scheduler-controller-manager": "v1.19", "insecure-apiserver-port": "v1.20",
		"webhook-cert-cn-only": "v1.19", "metrics-label-renames": "v1.16", "bound-sa-token-nonroot": "v1.21", "pause-image": "v1.20",
		"dockershim-removal": "v1.24", "psp-removal": "v1.25", "kubelet-container-hash-restart": "v1.14", "kubeadm-one-minor-per-hop": "v1.14",
		"removed-gate-volume-subpath-env-expansion": "v1.19", "kubelet-allow-privileged": "v1.15",
	}
	for id, since := range wantPitfalls {
		p, ok := kb.Pitfall(id)
		if !ok || p.Since != since {
			t.Errorf("pitfall %s = %+v, want since %s", id, p, since)
		}
	}
	for _, p := range kb.Pitfalls {
		if !strings.Contains(p.Source, "https://") && !strings.Contains(p.Source, "seed") {
			t.Errorf("pitfall %s names no upstream source or seed: %q", p.ID, p.Source)
		}
	}
	gv := kb.RemovedGroupVersions(kubeVersion(t, "v1.25.0"))
	if len(gv["batch/v1beta1"]) != 1 || len(gv["flowcontrol.apiserver.k8s.io/v1beta1"]) != 0 {
		t.Errorf("RemovedGroupVersions(v1.25) = %v", gv)
	}
}
