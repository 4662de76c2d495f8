package migrate

import (
	"fmt"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Dependency levels, applied in this order; objects within a level go concurrently.
const (
	LevelCRDs = iota
	LevelNamespaces
	LevelClusterDeps
	LevelRBAC
	LevelConfig
	LevelStorage
	LevelServices
	LevelWorkloads
	LevelRoutes
	LevelWebhooks
	numLevels
)

var levelNames = [numLevels]string{"crds", "namespaces", "cluster-deps", "rbac", "config", "storage", "services", "workloads", "routes", "webhooks"}

// LevelName names a dependency level ("crds", "namespaces", ...).
func LevelName(l int) string {
	if l < 0 || l >= numLevels {
		return "level-" + strconv.Itoa(l)
	}
	return levelNames[l]
}

var kindLevels = map[schema.GroupKind]int{
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:               LevelCRDs,
	{Group: "", Kind: "Namespace"}:                                                  LevelNamespaces,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                 LevelClusterDeps,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                             LevelClusterDeps,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                              LevelClusterDeps,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                    LevelClusterDeps,
	{Group: "", Kind: "ServiceAccount"}:                                             LevelRBAC,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                       LevelRBAC,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                LevelRBAC,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:                              LevelRBAC,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:                       LevelRBAC,
	{Group: "", Kind: "ConfigMap"}:                                                  LevelConfig,
	{Group: "", Kind: "Secret"}:                                                     LevelConfig,
	{Group: "", Kind: "LimitRange"}:                                                 LevelConfig,
	{Group: "", Kind: "ResourceQuota"}:                                              LevelConfig,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:                             LevelConfig,
	{Group: "", Kind: "PersistentVolumeClaim"}:                                      LevelStorage,
	{Group: "", Kind: "Service"}:                                                    LevelServices,
	{Group: "", Kind: "Endpoints"}:                                                  LevelServices,
	{Group: "networking.k8s.io", Kind: "Ingress"}:                                   LevelRoutes,
	{Group: "extensions", Kind: "Ingress"}:                                          LevelRoutes,
	{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"}:                         LevelRoutes,
	{Group: "gateway.networking.k8s.io", Kind: "GRPCRoute"}:                         LevelRoutes,
	{Group: "gateway.networking.k8s.io", Kind: "Gateway"}:                           LevelRoutes,
	{Group: "route.openshift.io", Kind: "Route"}:                                    LevelRoutes,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}: LevelWebhooks,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:   LevelWebhooks,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                           LevelWebhooks,
}

// LevelOf returns the dependency level of a kind; anything not listed (workloads, custom
// resources, HPAs, PDBs) is a workload.
func LevelOf(gk schema.GroupKind) int {
	if l, ok := kindLevels[gk]; ok {
		return l
	}
	return LevelWorkloads
}

// Levels groups objects by dependency level, each group sorted by key for a stable order.
func Levels(objs []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	out := make([][]*unstructured.Unstructured, numLevels)
	for _, o := range objs {
		l := LevelOf(o.GroupVersionKind().GroupKind())
		out[l] = append(out[l], o)
	}
	for _, l := range out {
		sort.Slice(l, func(i, j int) bool { return RefOf(l[i]).Key() < RefOf(l[j]).Key() })
	}
	return out
}

// Suspend makes a CronJob, or a Job that has not finished, land suspended on green so
// nothing runs twice while blue still serves; the original spec.suspend is kept in the
// phoenix.dev/original-suspend annotation for cutover. It reports whether it changed obj.
func Suspend(obj *unstructured.Unstructured) (bool, error) {
	gvk := obj.GroupVersionKind()
	if gvk.Group != "batch" || (gvk.Kind != "CronJob" && gvk.Kind != "Job") {
		return false, nil
	}
	orig, _, _ := unstructured.NestedBool(obj.Object, "spec", "suspend")
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	if _, kept := ann[AnnotationOriginalSuspend]; !kept {
		ann[AnnotationOriginalSuspend] = strconv.FormatBool(orig)
	}
	obj.SetAnnotations(ann)
	if err := unstructured.SetNestedField(obj.Object, true, "spec", "suspend"); err != nil {
		return false, fmt.Errorf("%s: setting spec.suspend (is spec an object?): %w", RefOf(obj), err)
	}
	return true, nil
}
