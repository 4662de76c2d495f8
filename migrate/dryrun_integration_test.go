package migrate_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/phoenix-upgrade/phoenix/migrate"
)

// Issue 13, item 4: a server dry run onto a green without the namespace validates every
// object in it (green's rejections are found), persists none, and leaves no namespace.
func TestServerDryRunValidatesObjectsOfNamespacesGreenDoesNotHave(t *testing.T) {
	blue, green := clusters(t)
	const ns = "dryrun-fresh"
	createAll(t, blue.RESTConfig(), yamlObjects(t, `
apiVersion: v1
kind: Namespace
metadata: {name: `+ns+`}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: good, namespace: `+ns+`}
data: {k: v}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: pods, namespace: `+ns+`}
spec: {hard: {pods: "10"}}`))
	res, err := migrate.Run(context.Background(), migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(),
		Namespaces: []string{ns}, JournalRoot: t.TempDir(), DryRun: migrate.DryRunServer})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ConfigMap good", "ResourceQuota pods"} {
		if o := outcomes(res)[name]; o.Outcome != migrate.Planned || o.Reason != "validated by green (server dry run)" {
			t.Errorf("%s: %+v, want validated by green", name, o)
		}
	}
	gdyn := dynamic.NewForConfigOrDie(green.Config)
	if _, err := gdyn.Resource(gvr("", "v1", "configmaps")).Namespace(ns).Get(context.Background(), "good", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the server dry run persisted ConfigMap good (get: %v)", err)
	}
	nsObj, err := gdyn.Resource(gvr("", "v1", "namespaces")).Get(context.Background(), ns, metav1.GetOptions{})
	if err == nil && nsObj.GetDeletionTimestamp() == nil {
		t.Errorf("the server dry run left namespace %s on green", ns)
	}
	if !strings.Contains(strings.Join(outcomes(res)["Namespace "+ns].Notes, "\n"), "created empty on green for the server dry run") {
		t.Errorf("the Namespace's outcome must say it was created for the dry run: %+v", outcomes(res)["Namespace "+ns])
	}
}
