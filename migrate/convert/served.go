package convert

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// newestKnownMinor is the newest Kubernetes minor the served table describes.
const newestKnownMinor = 37

// span is the range of minors [from, until) in which a version is served by default;
// until 0 means still served. off marks versions never served by default (alpha, and
// betas introduced after 1.24 that ship disabled).
type span struct {
	from, until int
	off         bool
}

func (s span) servedIn(minor int) bool {
	if s.off {
		return false
	}
	return minor >= s.from && (s.until == 0 || minor < s.until)
}

// servedTable lists, for every group/version/kind phoenix converts from or to, the minors
// that serve it by default. Sources: the Kubernetes deprecated API migration guide
// (kubernetes.io/docs/reference/using-api/deprecation-guide) and each release's default
// API enablement (pkg/controlplane/instance.go). Minors before 1.14 are not modelled:
// from 0 means "served in 1.14 already".
var servedTable = map[schema.GroupVersionKind]span{}

// removedGV holds the group/versions of servedTable whose every kind stops being served
// (or never is): Kubernetes removed them, and the table lists every kind they served.
var removedGV = map[schema.GroupVersion]bool{}

// markRemovedGVs fills removedGV once servedTable is complete.
func markRemovedGVs() {
	live := map[schema.GroupVersion]bool{}
	for gvk, s := range servedTable {
		if s.until == 0 && !s.off {
			live[gvk.GroupVersion()] = true
		}
	}
	for gvk := range servedTable {
		if !live[gvk.GroupVersion()] {
			removedGV[gvk.GroupVersion()] = true
		}
	}
}

func serve(group, version string, s span, kinds ...string) {
	for _, k := range kinds {
		servedTable[schema.GroupVersionKind{Group: group, Version: version, Kind: k}] = s
	}
}

func init() {
	const (
		apps       = "apps"
		ext        = "extensions"
		net        = "networking.k8s.io"
		policy     = "policy"
		apiext     = "apiextensions.k8s.io"
		admission  = "admissionregistration.k8s.io"
		apireg     = "apiregistration.k8s.io"
		certs      = "certificates.k8s.io"
		coord      = "coordination.k8s.io"
		rbac       = "rbac.authorization.k8s.io"
		sched      = "scheduling.k8s.io"
		storage    = "storage.k8s.io"
		batch      = "batch"
		autoscale  = "autoscaling"
		node       = "node.k8s.io"
		flow       = "flowcontrol.apiserver.k8s.io"
		discovery  = "discovery.k8s.io"
		events     = "events.k8s.io"
		workloads  = "Deployment"
		daemonSet  = "DaemonSet"
		replicaSet = "ReplicaSet"
		stateful   = "StatefulSet"
		revision   = "ControllerRevision"
	)
	// Removed in 1.16.
	serve(apps, "v1", span{}, workloads, daemonSet, replicaSet, stateful, revision)
	serve(apps, "v1beta1", span{until: 16}, workloads, stateful, revision)
	serve(apps, "v1beta2", span{until: 16}, workloads, daemonSet, replicaSet, stateful, revision)
	serve(ext, "v1beta1", span{until: 16}, workloads, daemonSet, replicaSet, "NetworkPolicy", "PodSecurityPolicy")
	serve(net, "v1", span{}, "NetworkPolicy")

	// Removed in 1.22.
	serve(ext, "v1beta1", span{until: 22}, "Ingress")
	serve(net, "v1beta1", span{until: 22}, "Ingress")
	serve(net, "v1beta1", span{from: 18, until: 22}, "IngressClass")
	serve(net, "v1", span{from: 19}, "Ingress", "IngressClass")
	serve(apiext, "v1beta1", span{until: 22}, "CustomResourceDefinition")
	serve(apiext, "v1", span{from: 16}, "CustomResourceDefinition")
	serve(admission, "v1beta1", span{until: 22}, "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
	serve(admission, "v1", span{from: 16}, "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
	serve(apireg, "v1beta1", span{until: 22}, "APIService")
	serve(apireg, "v1", span{}, "APIService")
	serve(certs, "v1beta1", span{until: 22}, "CertificateSigningRequest")
	serve(certs, "v1", span{from: 19}, "CertificateSigningRequest")
	serve(coord, "v1beta1", span{until: 22}, "Lease")
	serve(coord, "v1", span{}, "Lease")
	serve(rbac, "v1beta1", span{until: 22}, "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
	serve(rbac, "v1", span{}, "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
	serve(sched, "v1beta1", span{until: 22}, "PriorityClass")
	serve(sched, "v1", span{}, "PriorityClass")
	serve(storage, "v1beta1", span{until: 22}, "StorageClass", "VolumeAttachment", "CSIDriver", "CSINode")
	serve(storage, "v1", span{}, "StorageClass", "VolumeAttachment")
	serve(storage, "v1", span{from: 17}, "CSINode")
	serve(storage, "v1", span{from: 18}, "CSIDriver")

	// Removed in 1.25.
	serve(batch, "v2alpha1", span{off: true}, "CronJob")
	serve(batch, "v1beta1", span{until: 25}, "CronJob")
	serve(batch, "v1", span{from: 21}, "CronJob")
	serve(discovery, "v1beta1", span{from: 17, until: 25}, "EndpointSlice")
	serve(discovery, "v1", span{from: 21}, "EndpointSlice")
	serve(events, "v1beta1", span{until: 25}, "Event")
	serve(events, "v1", span{from: 19}, "Event")
	serve(autoscale, "v2beta1", span{until: 25}, "HorizontalPodAutoscaler")
	serve(policy, "v1beta1", span{until: 25}, "PodDisruptionBudget", "PodSecurityPolicy")
	serve(policy, "v1", span{from: 21}, "PodDisruptionBudget")
	serve(node, "v1alpha1", span{off: true}, "RuntimeClass")
	serve(node, "v1beta1", span{until: 25}, "RuntimeClass")
	serve(node, "v1", span{from: 20}, "RuntimeClass")

	// Removed in 1.26, 1.27, 1.29 and 1.32.
	serve(autoscale, "v2beta2", span{until: 26}, "HorizontalPodAutoscaler")
	serve(autoscale, "v2", span{from: 23}, "HorizontalPodAutoscaler")
	serve(storage, "v1beta1", span{from: 21, until: 27}, "CSIStorageCapacity")
	serve(storage, "v1", span{from: 24}, "CSIStorageCapacity")
	serve(flow, "v1beta1", span{from: 20, until: 26}, "FlowSchema", "PriorityLevelConfiguration")
	serve(flow, "v1beta2", span{from: 23, until: 29}, "FlowSchema", "PriorityLevelConfiguration")
	serve(flow, "v1beta3", span{from: 26, until: 32}, "FlowSchema", "PriorityLevelConfiguration")
	serve(flow, "v1", span{from: 29}, "FlowSchema", "PriorityLevelConfiguration")

	// Betas that ship disabled (new betas are off by default since 1.24) and went GA.
	serve(admission, "v1beta1", span{off: true}, "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
	serve(admission, "v1", span{from: 30}, "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
	serve(net, "v1beta1", span{off: true}, "IPAddress", "ServiceCIDR")
	serve(net, "v1", span{from: 33}, "IPAddress", "ServiceCIDR")
	serve(storage, "v1beta1", span{off: true}, "VolumeAttributesClass")
	serve(storage, "v1", span{from: 34}, "VolumeAttributesClass")
	markRemovedGVs()
}
