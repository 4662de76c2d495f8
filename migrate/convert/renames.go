package convert

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
func Default() *Registry {
	r := NewRegistry()
	r.Register(appsConverters()...)
	r.Register(networkingConverters()...)
	r.Register(policyConverters()...)
	r.Register(crdConverters()...)
	r.Register(admissionConverters()...)
	r.Register(autoscalingConverters()...)
	r.Register(renameConverters()...)
	r.Register(miscConverters()...)
	return r
}
