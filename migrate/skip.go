package migrate

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// skippedResources are whole resources green re-creates by itself or that must not move.
var skippedResources = map[schema.GroupResource]string{
	{Group: "", Resource: "events"}:                                        "events are history, not state",
	{Group: "events.k8s.io", Resource: "events"}:                           "events are history, not state",
	{Group: "discovery.k8s.io", Resource: "endpointslices"}:                "green's endpointslice controller computes them",
	{Group: "coordination.k8s.io", Resource: "leases"}:                     "leases belong to blue's controllers",
	{Group: "metrics.k8s.io", Resource: "pods"}:                            "metrics are measured, not stored",
	{Group: "", Resource: "bindings"}:                                      "not an object",
	{Group: "", Resource: "componentstatuses"}:                             "not an object",
	{Group: "authorization.k8s.io", Resource: "localsubjectaccessreviews"}: "not an object",
}

// legacyAliases maps a resource in an old group to the group that took it over; when blue
// serves both, the objects are the same and are read once from the new group.
var legacyAliases = map[schema.GroupResource]string{
	{Group: "extensions", Resource: "deployments"}:         "apps",
	{Group: "extensions", Resource: "daemonsets"}:          "apps",
	{Group: "extensions", Resource: "replicasets"}:         "apps",
	{Group: "extensions", Resource: "networkpolicies"}:     "networking.k8s.io",
	{Group: "extensions", Resource: "ingresses"}:           "networking.k8s.io",
	{Group: "extensions", Resource: "podsecuritypolicies"}: "policy",
	{Group: "events.k8s.io", Resource: "events"}:           "",
}

// skipReason says why a listed object is not moved, or "" to move it.
// selectorServices holds "namespace/name" of blue's Services that have a selector.
func skipReason(obj *unstructured.Unstructured, selectorServices map[string]bool) string {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return fmt.Sprintf("controlled by %s %s; green's controller re-creates it", ref.Kind, ref.Name)
		}
	}
	gvk := obj.GroupVersionKind()
	switch {
	case gvk.Group == "" && gvk.Kind == "Secret":
		if autoTokenSecret(obj) {
			return "service account token; green issues its own"
		}
	case gvk.Group == "" && gvk.Kind == "ConfigMap":
		if obj.GetName() == "kube-root-ca.crt" {
			return "green publishes its own CA bundle"
		}
	case gvk.Group == "" && gvk.Kind == "Endpoints":
		if selectorServices[obj.GetNamespace()+"/"+obj.GetName()] {
			return "endpoints of a selector Service; green computes them"
		}
	case gvk.Group == "batch" && gvk.Kind == "Job":
		if c := finishedCondition(obj); c != "" {
			return fmt.Sprintf("finished on blue (%s); re-creating it would run it again", c)
		}
	case gvk.Group == "rbac.authorization.k8s.io" && (gvk.Kind == "ClusterRole" || gvk.Kind == "ClusterRoleBinding"):
		if obj.GetLabels()["kubernetes.io/bootstrapping"] == "rbac-defaults" {
			return "built-in bootstrap policy; green has its own version"
		}
	case gvk.Group == "scheduling.k8s.io" && gvk.Kind == "PriorityClass":
		if strings.HasPrefix(obj.GetName(), "system-") {
			return "built-in priority class; green has its own"
		}
	}
	return ""
}

// autoTokenSecret reports a token Secret the token controller generated for a
// ServiceAccount ("<sa>-token-xxxxx"), as opposed to one a user created and named.
func autoTokenSecret(obj *unstructured.Unstructured) bool {
	t, _, _ := unstructured.NestedString(obj.Object, "type")
	if t != "kubernetes.io/service-account-token" {
		return false
	}
	sa := obj.GetAnnotations()["kubernetes.io/service-account.name"]
	return sa != "" && strings.HasPrefix(obj.GetName(), sa+"-token-")
}

// finishedCondition returns "Complete" or "Failed" when a Job has finished.
func finishedCondition(obj *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if (m["type"] == "Complete" || m["type"] == "Failed") && m["status"] == "True" {
			return m["type"].(string)
		}
	}
	return ""
}
