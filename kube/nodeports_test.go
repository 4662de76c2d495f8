package kube

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func TestChosenNodePorts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, svc string
		want      []string
	}{
		{"a port in kubectl's last-applied annotation is chosen", `
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"spec":{"ports":[{"port":80,"nodePort":30080}]}}'
spec: {ports: [{port: 80, nodePort: 30080}, {port: 443, nodePort: 31443}]}`, []string{"30080"}},
		{"a port a field manager owns is chosen, an allocated one is not", `
metadata:
  managedFields:
  - manager: before-first-apply
    operation: Update
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:healthCheckNodePort": {}, "f:ports": {"k:{\"port\":443,\"protocol\":\"UDP\"}": {"f:nodePort": {}}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {"f:port": {}}}}}
spec:
  healthCheckNodePort: 32000
  ports: [{port: 80, nodePort: 30080}, {port: 443, protocol: UDP, nodePort: 31443}]`, []string{"31443", "32000"}},
		{"no owner, no annotation: every port was allocated", `
spec: {ports: [{port: 80, nodePort: 30080}]}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var m map[string]any
			if err := yaml.Unmarshal([]byte(tc.svc), &m); err != nil {
				t.Fatal(err)
			}
			var got []string
			for p := range ChosenNodePorts(&unstructured.Unstructured{Object: m}) {
				got = append(got, p)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("ChosenNodePorts = %v, want %v", got, tc.want)
			}
		})
	}
}
