package migrate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/phoenix-upgrade/phoenix/migrate"
)

func configMap(ns, name string, data map[string]string, immutable bool) *unstructured.Unstructured {
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
	cm.SetNamespace(ns)
	cm.SetName(name)
	_ = unstructured.SetNestedStringMap(cm.Object, data, "data")
	if immutable {
		cm.Object["immutable"] = true
	}
	return cm
}

func namespace(name string) *unstructured.Unstructured {
	n := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}
	n.SetName(name)
	return n
}

func TestMissingNamespaceFailsBeforeWriting(t *testing.T) {
	blue, green := clusters(t)
	root := t.TempDir()
	_, err := migrate.Run(context.Background(), migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(),
		Namespaces: []string{"no-such-namespace"}, JournalRoot: root})
	if err == nil || !strings.Contains(err.Error(), `namespace "no-such-namespace" does not exist on blue`) {
		t.Fatalf("err = %v, want the missing namespace named", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("a journal was written: %v", entries)
	}
}

func TestConflictsAndImmutableFieldsAreReportedAndOverridable(t *testing.T) {
	blue, green := clusters(t)
	const ns = "clash"
	createAll(t, blue.RESTConfig(), []*unstructured.Unstructured{namespace(ns),
		configMap(ns, "owned", map[string]string{"k": "blue"}, false),
		configMap(ns, "frozen", map[string]string{"k": "blue"}, true),
		configMap(ns, "fine", map[string]string{"k": "blue"}, false)})
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(green.Config)
	createAll(t, green.RESTConfig(), []*unstructured.Unstructured{namespace(ns)})
	force := true
	for name, manager := range map[string]string{"owned": "someone-else", "frozen": migrate.FieldManager} {
		// "frozen" as an earlier migration left it, before blue changed an immutable field.
		body, _ := json.Marshal(configMap(ns, name, map[string]string{"k": "green"}, name == "frozen").Object)
		if _, err := dyn.Resource(gvr("", "v1", "configmaps")).Namespace(ns).Patch(ctx, name, types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: manager, Force: &force}); err != nil {
			t.Fatal(err)
		}
	}
	opts := migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: []string{ns}, JournalRoot: t.TempDir()}
	res, err := migrate.Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	byName := outcomes(res)
	if o := byName["ConfigMap owned"]; o.Outcome != migrate.Failed || !strings.Contains(o.Reason, "--force-conflicts") {
		t.Errorf("owned: %+v, want failed with a conflict pointing at --force-conflicts", o)
	}
	if o := byName["ConfigMap frozen"]; o.Outcome != migrate.Failed || !strings.Contains(o.Reason, "--replace") {
		t.Errorf("frozen: %+v, want failed with an immutable clash pointing at --replace", o)
	}
	if o := byName["ConfigMap fine"]; o.Outcome != migrate.Applied {
		t.Errorf("fine: %+v, want applied (a failure must not stop the rest)", o)
	}
	if len(res.Namespaces[ns].Errors) != 2 {
		t.Errorf("errors of %s: %v, want 2", ns, res.Namespaces[ns].Errors)
	}

	opts.ForceConflicts, opts.Replace = true, true
	res, err = migrate.Run(ctx, opts)
	if err != nil || res.Failed() {
		t.Fatalf("with --force-conflicts --replace: %v %s", err, res.Summary())
	}
	for _, name := range []string{"owned", "frozen"} {
		cm := get(t, green.Config, gvr("", "v1", "configmaps"), ns, name)
		if v, _, _ := unstructured.NestedString(cm.Object, "data", "k"); v != "blue" {
			t.Errorf("%s on green holds %q, want blue's value", name, v)
		}
	}
}

func TestWebhookDenialIsReportedPerObjectAndTheRestApplies(t *testing.T) {
	blue, green := clusters(t)
	const ns = "denied"
	createAll(t, blue.RESTConfig(), []*unstructured.Unstructured{namespace(ns),
		configMap(ns, "forbidden-config", map[string]string{"k": "v"}, false),
		configMap(ns, "allowed-config", map[string]string{"k": "v"}, false)})
	url, caPEM := denyingWebhook(t)
	hook := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
		"metadata": map[string]any{"name": "deny-forbidden"},
		"webhooks": []any{map[string]any{
			"name":                    "deny.phoenix.test",
			"clientConfig":            map[string]any{"url": url, "caBundle": caPEM},
			"rules":                   []any{map[string]any{"apiGroups": []any{""}, "apiVersions": []any{"v1"}, "operations": []any{"CREATE", "UPDATE"}, "resources": []any{"configmaps"}}},
			"namespaceSelector":       map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": ns}},
			"failurePolicy":           "Fail",
			"sideEffects":             "None",
			"admissionReviewVersions": []any{"v1"},
		}},
	}}
	createAll(t, green.RESTConfig(), []*unstructured.Unstructured{hook})
	t.Cleanup(func() {
		_ = dynamic.NewForConfigOrDie(green.Config).Resource(gvr("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")).
			Delete(context.Background(), "deny-forbidden", metav1.DeleteOptions{})
	})
	res, err := migrate.Run(context.Background(), migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: []string{ns}, JournalRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	byName := outcomes(res)
	if o := byName["ConfigMap forbidden-config"]; o.Outcome != migrate.Failed || !strings.Contains(o.Reason, "admission webhook") || !strings.Contains(o.Reason, "names starting with forbidden") {
		t.Errorf("forbidden-config: %+v, want failed naming the webhook and its reason", o)
	}
	if o := byName["ConfigMap allowed-config"]; o.Outcome != migrate.Applied {
		t.Errorf("allowed-config: %+v, want applied", o)
	}
	if !res.Failed() {
		t.Errorf("the result must count the failure (exit non-zero)")
	}
}

func TestServerDryRunValidatesWithoutPersisting(t *testing.T) {
	blue, green := clusters(t)
	const ns = "dryrun"
	createAll(t, blue.RESTConfig(), []*unstructured.Unstructured{namespace(ns), configMap(ns, "c", map[string]string{"k": "v"}, false)})
	createAll(t, green.RESTConfig(), []*unstructured.Unstructured{namespace(ns)})
	root := t.TempDir()
	res, err := migrate.Run(context.Background(), migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(),
		Namespaces: []string{ns}, JournalRoot: root, DryRun: migrate.DryRunServer})
	if err != nil || res.Failed() {
		t.Fatalf("server dry run: %v %s", err, res.Summary())
	}
	if o := outcomes(res)["ConfigMap c"]; o.Outcome != migrate.Planned || !strings.Contains(o.Reason, "validated") {
		t.Errorf("ConfigMap c: %+v, want planned and validated by green", o)
	}
	_, err = dynamic.NewForConfigOrDie(green.Config).Resource(gvr("", "v1", "configmaps")).Namespace(ns).Get(context.Background(), "c", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("a server dry run persisted the ConfigMap (err %v)", err)
	}
	if _, err := migrate.LatestID(root); err == nil {
		t.Errorf("a dry run became the latest migration")
	}
	if _, err := os.Stat(filepath.Join(res.ArtifactsDir, "plan.txt")); err != nil {
		t.Errorf("a dry run must still write the plan: %v", err)
	}
}

// denyingWebhook serves, over TLS on loopback, a validating webhook that denies objects
// whose name starts with "forbidden". It returns the URL and the CA bundle.
func denyingWebhook(t *testing.T) (string, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, _ := x509.MarshalECPrivateKey(key)
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review struct {
			Request struct {
				UID  string `json:"uid"`
				Name string `json:"name"`
			} `json:"request"`
		}
		_ = json.NewDecoder(r.Body).Decode(&review)
		allowed := !strings.HasPrefix(review.Request.Name, "forbidden")
		resp := map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": map[string]any{
			"uid": review.Request.UID, "allowed": allowed,
			"status": map[string]any{"code": 403, "message": "names starting with forbidden are not allowed here"},
		}}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String() + "/validate", certPEM
}
