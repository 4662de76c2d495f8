package migrate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/migrate"
)

// yamlObjects parses a multi-document YAML into objects.
func yamlObjects(t *testing.T, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range strings.Split(docs, "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("%v in:\n%s", err, d)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out
}

// webhookCert returns a CA bundle and a serving certificate and key (PEM) for host.
func webhookCert(t *testing.T, host string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "webhook-ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// validatingHook is a fail-closed webhook on pod creation in ns (except the backend's own
// pods), served by Service ns/webhook.
func validatingHook(ns string, caPEM []byte) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
		"metadata": map[string]any{"name": ns + "-policy"},
		"webhooks": []any{map[string]any{
			"name":                    "pods." + ns + ".phoenix.test",
			"clientConfig":            map[string]any{"service": map[string]any{"namespace": ns, "name": "webhook", "path": "/validate", "port": int64(443)}, "caBundle": caPEM},
			"rules":                   []any{map[string]any{"apiGroups": []any{""}, "apiVersions": []any{"v1"}, "operations": []any{"CREATE"}, "resources": []any{"pods"}}},
			"namespaceSelector":       map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": ns}},
			"objectSelector":          map[string]any{"matchExpressions": []any{map[string]any{"key": "app", "operator": "NotIn", "values": []any{"webhook"}}}},
			"failurePolicy":           "Fail",
			"sideEffects":             "None",
			"timeoutSeconds":          int64(5),
			"admissionReviewVersions": []any{"v1"},
		}},
	}}
}

var gvrVWC = gvr("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")

// A webhook whose backend never becomes ready is applied with a loud warning by default,
// and held back (failed, to resume later) with HoldWebhooks; the rest is applied either way.
func TestWebhookWithAnUnreadyBackendIsWarnedOrHeldBack(t *testing.T) {
	blue, green := clusters(t)
	for _, hold := range []bool{false, true} {
		ns := "hook-unready"
		if hold {
			ns = "hook-held"
		}
		caPEM, _, _ := webhookCert(t, "webhook."+ns+".svc")
		objs := yamlObjects(t, `
apiVersion: v1
kind: Namespace
metadata: {name: `+ns+`}
---
apiVersion: v1
kind: Service
metadata: {name: webhook, namespace: `+ns+`}
spec:
  selector: {app: nothing-runs-this}
  ports: [{port: 443, targetPort: 8443}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: `+ns+`}
data: {k: v}`)
		createAll(t, blue.RESTConfig(), append(objs, validatingHook(ns, caPEM)))
		t.Cleanup(func() {
			_ = dynamic.NewForConfigOrDie(green.Config).Resource(gvrVWC).Delete(context.Background(), ns+"-policy", metav1.DeleteOptions{})
		})
		res, err := migrate.Run(context.Background(), migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: []string{ns},
			JournalRoot: t.TempDir(), WebhookTimeout: 2 * time.Second, HoldWebhooks: hold, Progress: logProgress(t)})
		if err != nil {
			t.Fatal(err)
		}
		byName := outcomes(res)
		if o := byName["ConfigMap settings"]; o.Outcome != migrate.Applied {
			t.Errorf("hold=%v: ConfigMap settings %+v, want applied", hold, o)
		}
		hook := byName["ValidatingWebhookConfiguration "+ns+"-policy"]
		_, getErr := dynamic.NewForConfigOrDie(green.Config).Resource(gvrVWC).Get(context.Background(), ns+"-policy", metav1.GetOptions{})
		if hold {
			if hook.Outcome != migrate.Failed || !strings.Contains(hook.Reason, "held back") || !strings.Contains(hook.Reason, ns+"/webhook") {
				t.Errorf("held webhook: %+v, want failed, held back, naming its Service", hook)
			}
			if !apierrors.IsNotFound(getErr) {
				t.Errorf("a held-back webhook is on green (get: %v)", getErr)
			}
			continue
		}
		if hook.Outcome != migrate.Applied || !strings.Contains(strings.Join(hook.Notes, "\n"), "WARNING: applied although its backend Service "+ns+"/webhook had no ready endpoints") {
			t.Errorf("unready webhook: %+v, want applied with a warning naming its Service", hook)
		}
		if getErr != nil {
			t.Errorf("the webhook must be on green by default: %v", getErr)
		}
		if !strings.Contains(strings.Join(res.Namespaces[""].Warnings, "\n"), "WARNING: applied although") {
			t.Errorf("the warning must reach the result's messages: %+v", res.Namespaces[""])
		}
	}
}

// The acceptance test of issue 13, item 1, on real nodes: a fail-closed webhook whose
// backend starts slowly on green lands only once the backend serves, so the workloads
// migrated with it get their pods, and the webhook works on green afterwards.
func TestSlowWebhookBackendDoesNotBlockTheWorkloadsOnRealNodes(t *testing.T) {
	testenv.Preflight(t, blueVersion)
	blue := testenv.Start(t, blueVersion)
	green := testenv.StartReal(t, greenVersion, 1)
	const ns = "hook-slow"
	caPEM, certPEM, keyPEM := webhookCert(t, "webhook."+ns+".svc")
	tlsSecret := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
		"metadata":   map[string]any{"name": "webhook-tls", "namespace": ns},
		"stringData": map[string]any{"tls.crt": string(certPEM), "tls.key": string(keyPEM)}}}
	objs := yamlObjects(t, `
apiVersion: v1
kind: Namespace
metadata: {name: `+ns+`}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: webhook, namespace: `+ns+`}
spec:
  selector: {matchLabels: {app: webhook}}
  template:
    metadata: {labels: {app: webhook}}
    spec:
      containers:
      - name: webhook
        image: registry.example.com/payments/api:4.2.1
        args: [-webhook]
        env: [{name: START_DELAY_SECONDS, value: "20"}]
        ports: [{containerPort: 8443}]
        readinessProbe: {httpGet: {path: /healthz, port: 8443, scheme: HTTPS}, periodSeconds: 1}
        volumeMounts: [{name: tls, mountPath: /tls, readOnly: true}]
      volumes: [{name: tls, secret: {secretName: webhook-tls}}]
---
apiVersion: v1
kind: Service
metadata: {name: webhook, namespace: `+ns+`}
spec:
  selector: {app: webhook}
  ports: [{port: 443, targetPort: 8443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: `+ns+`}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: registry.example.com/payments/api:4.2.1
        ports: [{containerPort: 8080}]`)
	objs = append(objs[:1], append([]*unstructured.Unstructured{tlsSecret}, objs[1:]...)...)
	createAll(t, blue.RESTConfig(), append(objs, validatingHook(ns, caPEM)))
	ctx := context.Background()
	res, err := migrate.Run(ctx, migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: []string{ns},
		JournalRoot: t.TempDir(), WebhookTimeout: 3 * time.Minute, Progress: logProgress(t)})
	if err != nil || res.Failed() {
		t.Fatalf("migrate: %v %s %+v", err, res.Summary(), res.Namespaces)
	}
	gdyn := dynamic.NewForConfigOrDie(green.Config)
	// When migrate applied the webhook, its backend was serving.
	slices, err := gdyn.Resource(gvr("discovery.k8s.io", "v1", "endpointslices")).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=webhook"})
	if err != nil {
		t.Fatal(err)
	}
	readyEndpoint := false
	for _, s := range slices.Items {
		eps, _, _ := unstructured.NestedSlice(s.Object, "endpoints")
		for _, e := range eps {
			if r, found, _ := unstructured.NestedBool(e.(map[string]any), "conditions", "ready"); !found || r {
				readyEndpoint = true
			}
		}
	}
	if !readyEndpoint {
		t.Errorf("migrate returned, having applied the fail-closed webhook, before its backend had a ready endpoint on green")
	}
	hook := outcomes(res)["ValidatingWebhookConfiguration "+ns+"-policy"]
	if !strings.Contains(strings.Join(hook.Notes, "\n"), "applied once its backend Service "+ns+"/webhook had ready endpoints") {
		t.Errorf("the webhook's outcome must report the wait: %+v", hook)
	}
	// The workload migrated with the webhook runs.
	waitFor(t, 3*time.Minute, "Deployment api to be available on green", func() bool {
		d, err := gdyn.Resource(gvr("apps", "v1", "deployments")).Namespace(ns).Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			return false
		}
		n, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas")
		return n >= 1
	})
	events, err := gdyn.Resource(gvr("", "v1", "events")).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if reason, _, _ := unstructured.NestedString(e.Object, "reason"); reason == "FailedCreate" {
			msg, _, _ := unstructured.NestedString(e.Object, "message")
			t.Errorf("the webhook blocked a pod of the migrated workloads on green: %s", msg)
		}
	}
	// And the webhook is live on green: a new pod there goes through it.
	pod := yamlObjects(t, `
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: `+ns+`, labels: {app: probe}}
spec:
  containers: [{name: c, image: registry.example.com/payments/api:4.2.1}]`)[0]
	if _, err := gdyn.Resource(gvr("", "v1", "pods")).Namespace(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("creating a pod through the migrated webhook on green: %v", err)
	}
}
