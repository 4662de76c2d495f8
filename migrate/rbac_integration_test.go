package migrate_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/phoenix-upgrade/phoenix/migrate"
)

// Issue 13, item 5: an aggregated ClusterRole arrives with its aggregationRule and its
// member roles (green's controller then fills its rules), and a ClusterRoleBinding whose
// subject is a service account named as a User moves with the namespace.
func TestAggregatedClusterRolesArriveWithTheirMembers(t *testing.T) {
	blue, green := clusters(t)
	const ns = "rbac-agg"
	createAll(t, blue.RESTConfig(), yamlObjects(t, `
apiVersion: v1
kind: Namespace
metadata: {name: `+ns+`}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: `+ns+`}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: `+ns+`-monitoring}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {`+ns+`/aggregate-to-monitoring: "true"}}]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: `+ns+`-pod-reader
  labels: {`+ns+`/aggregate-to-monitoring: "true"}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: monitoring, namespace: `+ns+`}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: `+ns+`-monitoring}
subjects: [{kind: ServiceAccount, name: app, namespace: `+ns+`}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: `+ns+`-node-reader}
rules: [{apiGroups: [""], resources: [nodes], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: `+ns+`-node-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: `+ns+`-node-reader}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: "system:serviceaccount:`+ns+`:app"}]`))
	res, err := migrate.Run(context.Background(), migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: []string{ns}, JournalRoot: t.TempDir()})
	if err != nil || res.Failed() {
		t.Fatalf("migrate: %v %s", err, res.Summary())
	}
	crs := gvr("rbac.authorization.k8s.io", "v1", "clusterroles")
	agg := get(t, green.Config, crs, "", ns+"-monitoring")
	if sels, _, _ := unstructured.NestedSlice(agg.Object, "aggregationRule", "clusterRoleSelectors"); len(sels) != 1 {
		t.Errorf("the aggregated ClusterRole arrived without its aggregationRule: %v", agg.Object)
	}
	get(t, green.Config, crs, "", ns+"-pod-reader")
	waitFor(t, time.Minute, "green's aggregation controller to fill "+ns+"-monitoring from its member", func() bool {
		agg := get(t, green.Config, crs, "", ns+"-monitoring")
		rules, _, _ := unstructured.NestedSlice(agg.Object, "rules")
		return len(rules) == 1
	})
	get(t, green.Config, gvr("rbac.authorization.k8s.io", "v1", "clusterrolebindings"), "", ns+"-node-reader")
	get(t, green.Config, crs, "", ns+"-node-reader")
}
