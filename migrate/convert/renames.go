package convert

import "fmt"

// renameConverters: kinds whose v1beta1 and v1 schemas and defaults are the same, so the
// conversion only changes apiVersion (checked against each group's v1beta1 and v1
// defaults.go in kubernetes pkg/apis and against the v1.24 apiserver by the differential
// test where it serves both).
func renameConverters() []Converter {
	return []Converter{
		rename("rbac.authorization.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"),
		rename("scheduling.k8s.io/v1beta1", "scheduling.k8s.io/v1", "PriorityClass"),
		rename("storage.k8s.io/v1beta1", "storage.k8s.io/v1", "StorageClass", "VolumeAttachment", "CSIDriver", "CSINode", "CSIStorageCapacity", "VolumeAttributesClass"),
		rename("apiregistration.k8s.io/v1beta1", "apiregistration.k8s.io/v1", "APIService"),
		rename("coordination.k8s.io/v1beta1", "coordination.k8s.io/v1", "Lease"),
		rename("events.k8s.io/v1beta1", "events.k8s.io/v1", "Event"),
		// CronJob: same fields and defaults (concurrencyPolicy Allow, history limits 3/1).
		rename("batch/v2alpha1", "batch/v1beta1", "CronJob"),
		rename("batch/v1beta1", "batch/v1", "CronJob"),
		rename("node.k8s.io/v1beta1", "node.k8s.io/v1", "RuntimeClass"),
		rename("flowcontrol.apiserver.k8s.io/v1beta1", "flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "PriorityLevelConfiguration"),
		rename("flowcontrol.apiserver.k8s.io/v1beta2", "flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"),
		rename("flowcontrol.apiserver.k8s.io/v1beta3", "flowcontrol.apiserver.k8s.io/v1", "FlowSchema"),
	}
}

// Default returns a registry with every converter phoenix ships.
func Default() *Registry { return DefaultWith(Choices{}) }

// Choices are the decisions a converter can make beyond what the apiserver's own
// conversion did; the zero value is the apiserver's behaviour (of the last release that
// served both versions). docs/convert.md, "Choices", lists them.
type Choices struct {
	// IngressClass says what becomes of the kubernetes.io/ingress.class annotation when a
	// networking.k8s.io/v1beta1 Ingress without spec.ingressClassName goes to v1.
	IngressClass IngressClassChoice
}

// IngressClassChoice is Choices.IngressClass.
type IngressClassChoice string

const (
	// IngressClassAnnotation keeps the annotation, as the apiserver did (the default).
	IngressClassAnnotation IngressClassChoice = "annotation"
	// IngressClassField moves it into spec.ingressClassName (an IngressClass of that name
	// must exist on the target).
	IngressClassField IngressClassChoice = "field"
)

// ParseIngressClassChoice accepts "annotation" and "field" ("" is annotation).
func ParseIngressClassChoice(s string) (IngressClassChoice, error) {
	switch c := IngressClassChoice(s); c {
	case "", IngressClassAnnotation:
		return IngressClassAnnotation, nil
	case IngressClassField:
		return c, nil
	}
	return "", fmt.Errorf("invalid ingress class choice %q: use annotation (keep it, as the apiserver did) or field (move it into spec.ingressClassName)", s)
}

// DefaultWith returns the registry of every converter phoenix ships, making the choices c.
func DefaultWith(c Choices) *Registry {
	r := NewRegistry()
	r.Register(appsConverters()...)
	r.Register(networkingConverters(c)...)
	r.Register(policyConverters()...)
	r.Register(crdConverters()...)
	r.Register(admissionConverters()...)
	r.Register(autoscalingConverters()...)
	r.Register(renameConverters()...)
	r.Register(miscConverters()...)
	return r
}
