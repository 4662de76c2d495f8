package assess

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// assess says what migrate does with node ports: those a field manager set are kept, the
// ones the source apiserver allocated are not.
func TestNodePortPlanNamesKeptAndReallocatedPorts(t *testing.T) {
	t.Parallel()
	const svc = `
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: payments
  managedFields:
  - manager: helm
    operation: Update
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {"f:nodePort": {}}, "k:{\"port\":443,\"protocol\":\"TCP\"}": {"f:port": {}}}}}
spec:
  type: NodePort
  ports:
  - {port: 80, protocol: TCP, nodePort: 30080}
  - {port: 443, protocol: TCP, nodePort: 31443}`
	var m map[string]any
	if err := yaml.Unmarshal([]byte(svc), &m); err != nil {
		t.Fatal(err)
	}
	got := nodePortPlan(&unstructured.Unstructured{Object: m})
	for _, want := range []string{"kept on the target (set by a field manager): 30080;", "allocated anew (the source apiserver chose them): 31443"} {
		if !strings.Contains(got, want) {
			t.Errorf("nodePortPlan = %q, want it to contain %q", got, want)
		}
	}
}
