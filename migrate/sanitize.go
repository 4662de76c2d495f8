package migrate

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// blueOnlyAnnotations are annotations blue's controllers wrote about blue's state.
var blueOnlyAnnotations = []string{
	"deployment.kubernetes.io/revision",
	"pv.kubernetes.io/bind-completed",
	"pv.kubernetes.io/bound-by-controller",
	"pv.kubernetes.io/migrated-to",
	"volume.beta.kubernetes.io/storage-provisioner",
	"volume.kubernetes.io/storage-provisioner",
	"volume.kubernetes.io/selected-node",
	"control-plane.alpha.kubernetes.io/leader",
	"endpoints.kubernetes.io/last-change-trigger-time",
}

// jobControllerLabels are the labels the Job controller adds to an auto-generated selector.
var jobControllerLabels = []string{"controller-uid", "job-name", "batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name"}

// Sanitize removes what belongs to blue alone from obj, in place, and returns notes about
// anything the operator should know (for example that a PVC arrives without its data).
func Sanitize(obj *unstructured.Unstructured) []string {
	var notes []string
	u := obj.Object
	// Which node ports a user asked for is recorded in managedFields, read before they go.
	var ownedPorts map[string]bool
	if gvk := obj.GroupVersionKind(); gvk.Group == "" && gvk.Kind == "Service" {
		ownedPorts = kube.ChosenNodePorts(obj)
	}
	for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
		"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "generateName"} {
		unstructured.RemoveNestedField(u, "metadata", f)
	}
	if refs := obj.GetOwnerReferences(); len(refs) > 0 {
		// Owner UIDs are blue's: on green the garbage collector would delete the object.
		for _, r := range refs {
			notes = append(notes, fmt.Sprintf("owner reference to %s %s dropped (owner UIDs differ on green); re-link it if needed", r.Kind, r.Name))
		}
		unstructured.RemoveNestedField(u, "metadata", "ownerReferences")
	}
	if ann := obj.GetAnnotations(); len(ann) > 0 {
		for _, a := range blueOnlyAnnotations {
			delete(ann, a)
		}
		setOrDropAnnotations(obj, ann)
	}
	unstructured.RemoveNestedField(u, "status")
	pruneNulls(u)

	gvk := obj.GroupVersionKind()
	switch {
	case gvk.Group == "" && gvk.Kind == "Service":
		sanitizeService(obj, ownedPorts)
	case gvk.Group == "" && gvk.Kind == "Pod":
		unstructured.RemoveNestedField(u, "spec", "nodeName")
	case gvk.Group == "" && gvk.Kind == "PersistentVolumeClaim":
		notes = append(notes, sanitizePVC(obj)...)
	case gvk.Group == "batch" && gvk.Kind == "Job":
		sanitizeJob(u, "spec")
	case gvk.Group == "" && gvk.Kind == "ServiceAccount":
		sanitizeServiceAccount(obj)
	case gvk.Group == "" && gvk.Kind == "Secret":
		if t, _, _ := unstructured.NestedString(u, "type"); t == "kubernetes.io/service-account-token" {
			// green's token controller fills these in for green's own CA and keys.
			for _, k := range []string{"token", "ca.crt", "namespace"} {
				unstructured.RemoveNestedField(u, "data", k)
			}
		}
	case gvk.Group == "rbac.authorization.k8s.io" && gvk.Kind == "ClusterRole":
		if _, ok := u["aggregationRule"]; ok {
			// green's aggregation controller fills the rules.
			unstructured.RemoveNestedField(u, "rules")
		}
	case gvk.Group == "" && gvk.Kind == "Namespace":
		unstructured.RemoveNestedField(u, "spec", "finalizers")
		if spec, ok := u["spec"].(map[string]any); ok && len(spec) == 0 {
			delete(u, "spec")
		}
	}
	return notes
}

func setOrDropAnnotations(obj *unstructured.Unstructured, ann map[string]string) {
	if len(ann) == 0 {
		unstructured.RemoveNestedField(obj.Object, "metadata", "annotations")
		return
	}
	obj.SetAnnotations(ann)
}

// sanitizeService drops allocated cluster IPs and the node ports blue allocated; a node
// port the user asked for is kept: recorded by kubectl apply's annotation, or owned in
// managedFields by any field manager (create, update, server-side apply, Helm), since the
// apiserver's own allocation is owned by none. owned comes from kube.ChosenNodePorts.
func sanitizeService(obj *unstructured.Unstructured, owned map[string]bool) {
	u := obj.Object
	if ip, _, _ := unstructured.NestedString(u, "spec", "clusterIP"); ip != "None" {
		unstructured.RemoveNestedField(u, "spec", "clusterIP")
		unstructured.RemoveNestedField(u, "spec", "clusterIPs")
	}
	if p, _, _ := unstructured.NestedString(u, "spec", "ipFamilyPolicy"); p == "" || p == "SingleStack" {
		unstructured.RemoveNestedField(u, "spec", "ipFamilies")
		unstructured.RemoveNestedField(u, "spec", "ipFamilyPolicy")
	}
	wanted := owned
	ports, _, _ := unstructured.NestedSlice(u, "spec", "ports")
	for i, p := range ports {
		m, ok := p.(map[string]any)
		if !ok {
			continue
		}
		if np, ok := m["nodePort"]; ok && !wanted[fmt.Sprint(np)] {
			delete(m, "nodePort")
		}
		ports[i] = m
	}
	if ports != nil {
		_ = unstructured.SetNestedSlice(u, ports, "spec", "ports")
	}
	if hc, ok, _ := unstructured.NestedFieldNoCopy(u, "spec", "healthCheckNodePort"); ok && !wanted[fmt.Sprint(hc)] {
		unstructured.RemoveNestedField(u, "spec", "healthCheckNodePort")
	}
}

func sanitizePVC(obj *unstructured.Unstructured) []string {
	vol, _, _ := unstructured.NestedString(obj.Object, "spec", "volumeName")
	if vol == "" {
		return []string{"volume contents are not copied: green provisions a new, empty volume"}
	}
	unstructured.RemoveNestedField(obj.Object, "spec", "volumeName")
	return []string{fmt.Sprintf("was bound to PersistentVolume %s on blue; volume contents are not copied: green provisions a new, empty volume (restore the data from a backup)", vol)}
}

// sanitizeJob drops the selector and labels the Job controller generated (at path...spec).
func sanitizeJob(u map[string]any, path ...string) {
	if manual, _, _ := unstructured.NestedBool(u, append(path, "manualSelector")...); manual {
		return
	}
	unstructured.RemoveNestedField(u, append(path, "selector")...)
	labels, _, _ := unstructured.NestedStringMap(u, append(path, "template", "metadata", "labels")...)
	if len(labels) == 0 {
		return
	}
	for _, l := range jobControllerLabels {
		delete(labels, l)
	}
	if len(labels) == 0 {
		unstructured.RemoveNestedField(u, append(path, "template", "metadata", "labels")...)
		return
	}
	_ = unstructured.SetNestedStringMap(u, labels, append(path, "template", "metadata", "labels")...)
}

// sanitizeServiceAccount drops references to auto-generated token Secrets.
func sanitizeServiceAccount(obj *unstructured.Unstructured) {
	secrets, _, _ := unstructured.NestedSlice(obj.Object, "secrets")
	var keep []any
	for _, s := range secrets {
		m, ok := s.(map[string]any)
		if ok && strings.HasPrefix(fmt.Sprint(m["name"]), obj.GetName()+"-token-") {
			continue
		}
		keep = append(keep, s)
	}
	if len(keep) == 0 {
		unstructured.RemoveNestedField(obj.Object, "secrets")
		return
	}
	_ = unstructured.SetNestedSlice(obj.Object, keep, "secrets")
}

// pruneNulls removes null-valued fields (older apiservers serialize empty timestamps in
// pod templates as creationTimestamp: null); applying null would only mean "unset".
func pruneNulls(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
				continue
			}
			pruneNulls(e)
		}
	case []any:
		for _, e := range t {
			pruneNulls(e)
		}
	}
}
