package migrate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/migrate"
	"github.com/phoenix-upgrade/phoenix/verify"
)

// viewOnly returns a config for blue with the built-in "view" ClusterRole only: it may
// read ConfigMaps but not Secrets (nor RBAC, nor cluster-scoped kinds).
func viewOnly(t *testing.T, blue *testenv.Env) *rest.Config {
	t.Helper()
	ctx := context.Background()
	objs := yamlObjects(t, `
apiVersion: v1
kind: ServiceAccount
metadata: {name: phoenix-viewer, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: phoenix-viewer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: phoenix-viewer, namespace: default}]`)
	createAll(t, blue.RESTConfig(), objs)
	cs := kubernetes.NewForConfigOrDie(blue.RESTConfig())
	tok, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, "phoenix-viewer", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &rest.Config{Host: blue.Config.Host, BearerToken: tok.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: blue.Config.CAData}, QPS: 200, Burst: 400}
}

// Issue 13, item 3: what blue does not show is never silently left behind.
func TestUnreadableBlueStopsTheMigrationUnlessAllowedPartialAndFailsVerify(t *testing.T) {
	testenv.Preflight(t, blueVersion)
	_, green := clusters(t)
	blue := testenv.StartFresh(t, blueVersion, 1)
	const ns = "partial"
	createAll(t, blue.RESTConfig(), append(yamlObjects(t, `
apiVersion: v1
kind: Namespace
metadata: {name: `+ns+`}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: `+ns+`}
data: {k: v}`), &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "db", "namespace": ns}, "stringData": map[string]any{"password": "s3cret"}}}))
	viewer := viewOnly(t, blue)
	ctx := context.Background()
	gdyn := dynamic.NewForConfigOrDie(green.Config)
	root := t.TempDir()

	_, err := migrate.Run(ctx, migrate.Options{Blue: viewer, Green: green.RESTConfig(), Namespaces: []string{ns}, JournalRoot: root})
	if err == nil {
		t.Fatalf("a migration that may not list Secrets on blue succeeded")
	}
	for _, want := range []string{"secrets in namespace " + ns, "missing permission: list secrets in API group \"\" (core) in namespace " + ns, "--allow-partial", "nothing was written"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := gdyn.Resource(gvr("", "v1", "namespaces")).Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the stopped migration wrote namespace %s to green (get: %v)", ns, err)
	}
	if _, err := migrate.LatestID(root); err == nil {
		t.Errorf("the stopped migration left a journal behind")
	}

	res, err := migrate.Run(ctx, migrate.Options{Blue: viewer, Green: green.RESTConfig(), Namespaces: []string{ns}, JournalRoot: root, AllowPartial: true})
	if err != nil {
		t.Fatalf("with AllowPartial: %v", err)
	}
	found := false
	for _, u := range res.Unread {
		found = found || (u.Resource == "secrets" && u.Namespace == ns && strings.Contains(u.Missing, "list secrets"))
	}
	if !found {
		t.Errorf("Result.Unread %+v does not list the Secrets left behind", res.Unread)
	}
	if !strings.Contains(strings.Join(res.Namespaces[ns].Warnings, "\n"), "LEFT BEHIND (--allow-partial): secrets in namespace "+ns) {
		t.Errorf("the namespace's warnings do not list what is left behind: %+v", res.Namespaces[ns])
	}
	if _, err := gdyn.Resource(gvr("", "v1", "configmaps")).Namespace(ns).Get(ctx, "settings", metav1.GetOptions{}); err != nil {
		t.Errorf("the partial migration did not move the readable ConfigMap: %v", err)
	}

	rep, err := verify.Run(ctx, verify.Options{Blue: viewer, Green: green.RESTConfig(), JournalRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	failed := false
	for _, c := range rep.Checks {
		failed = failed || (c.Check == "blue-readable" && c.Object == "secrets" && !c.Passed)
	}
	if rep.Passed || !failed {
		t.Errorf("verify passed=%v with Secrets unread on blue; checks: %+v", rep.Passed, rep.Checks)
	}

	// An API group whose discovery fails stops the migration too, even with full rights.
	createAll(t, blue.RESTConfig(), yamlObjects(t, `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.broken.phoenix.test}
spec:
  group: broken.phoenix.test
  version: v1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {namespace: default, name: nothing-serves-this}`))
	waitFor(t, 2*time.Minute, "blue to report the broken API group", func() bool {
		_, _, err := kubernetes.NewForConfigOrDie(blue.Config).Discovery().ServerGroupsAndResources()
		return err != nil
	})
	_, err = migrate.Run(ctx, migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: []string{ns}, JournalRoot: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "broken.phoenix.test/v1") || !strings.Contains(err.Error(), "API discovery failed") {
		t.Errorf("a failed API group discovery on blue: err %v, want a stop naming broken.phoenix.test/v1", err)
	}
}
