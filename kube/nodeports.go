package kube

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ChosenNodePorts returns the node ports (and the health-check node port) of a Service,
// as read from the cluster with its managedFields, that a user or tool chose rather than
// the apiserver allocated: recorded in kubectl's last-applied annotation, or owned in
// managedFields by any field manager (create, update, server-side apply, Helm). The
// apiserver's own allocation is owned by none. migrate keeps these on green and drops the
// rest; assess says which are which.
func ChosenNodePorts(obj *unstructured.Unstructured) map[string]bool {
	out := requestedNodePorts(obj)
	for p := range ownedNodePorts(obj) {
		out[p] = true
	}
	return out
}

// NodePorts returns every node port a Service holds (ports and health check), as strings.
func NodePorts(obj *unstructured.Unstructured) []string {
	var out []string
	ports, _, _ := unstructured.NestedSlice(obj.Object, "spec", "ports")
	for _, p := range ports {
		if m, ok := p.(map[string]any); ok && m["nodePort"] != nil {
			out = append(out, fmt.Sprint(m["nodePort"]))
		}
	}
	if hc, ok, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "healthCheckNodePort"); ok && hc != nil {
		out = append(out, fmt.Sprint(hc))
	}
	return out
}

// ownedNodePorts returns the node ports (and the health-check node port) of a Service
// that some field manager owns, read from managedFields: the port entries are keyed by
// {"port":N,"protocol":P}, and the live object says which node port that entry holds.
func ownedNodePorts(obj *unstructured.Unstructured) map[string]bool {
	out := map[string]bool{}
	ports, _, _ := unstructured.NestedSlice(obj.Object, "spec", "ports")
	live := map[string]string{} // "80/TCP" -> node port
	for _, p := range ports {
		m, _ := p.(map[string]any)
		if m == nil || m["nodePort"] == nil {
			continue
		}
		proto, _ := m["protocol"].(string)
		if proto == "" {
			proto = "TCP"
		}
		live[fmt.Sprintf("%v/%s", m["port"], proto)] = fmt.Sprint(m["nodePort"])
	}
	hc, hasHC, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "healthCheckNodePort")
	for _, mf := range obj.GetManagedFields() {
		if mf.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Spec map[string]json.RawMessage `json:"f:spec"`
		}
		if json.Unmarshal(mf.FieldsV1.Raw, &fields) != nil {
			continue
		}
		if _, ok := fields.Spec["f:healthCheckNodePort"]; ok && hasHC {
			out[fmt.Sprint(hc)] = true
		}
		var byKey map[string]map[string]json.RawMessage
		if json.Unmarshal(fields.Spec["f:ports"], &byKey) != nil {
			continue
		}
		for key, f := range byKey {
			if _, ok := f["f:nodePort"]; !ok || !strings.HasPrefix(key, "k:") {
				continue
			}
			var k struct {
				Port     json.Number `json:"port"`
				Protocol string      `json:"protocol"`
			}
			if json.Unmarshal([]byte(strings.TrimPrefix(key, "k:")), &k) != nil {
				continue
			}
			if k.Protocol == "" {
				k.Protocol = "TCP"
			}
			if np, ok := live[k.Port.String()+"/"+k.Protocol]; ok {
				out[np] = true
			}
		}
	}
	return out
}

// requestedNodePorts reads the node ports the user set from kubectl's last-applied annotation.
func requestedNodePorts(obj *unstructured.Unstructured) map[string]bool {
	out := map[string]bool{}
	last := obj.GetAnnotations()["kubectl.kubernetes.io/last-applied-configuration"]
	if last == "" {
		return out
	}
	var applied struct {
		Spec struct {
			Ports []struct {
				NodePort json.Number `json:"nodePort"`
			} `json:"ports"`
			HealthCheckNodePort json.Number `json:"healthCheckNodePort"`
		} `json:"spec"`
	}
	if json.Unmarshal([]byte(last), &applied) != nil {
		return out
	}
	for _, p := range applied.Spec.Ports {
		if p.NodePort != "" {
			out[p.NodePort.String()] = true
		}
	}
	if applied.Spec.HealthCheckNodePort != "" {
		out[applied.Spec.HealthCheckNodePort.String()] = true
	}
	return out
}
