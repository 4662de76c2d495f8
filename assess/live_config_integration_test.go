package assess

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

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/kube"
)

// cnOnlyCert makes a self-signed serving certificate that names its host only in the
// Common Name, as webhook certificates made before Go 1.15 often did.
func cnOnlyCert(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// The kube-system configuration, webhook, monitoring and blue-green checks read a real
// apiserver. They do not depend on the cluster's own version, so the source version is
// given explicitly (as --from-version does) to place a 1.14 cluster's configuration on the
// 1.14 -> 1.21 hops.
func TestScanClusterConfiguration(t *testing.T) {
	env := testenv.Start(t, "v1.37.2")
	ctx := context.Background()
	clients, err := kube.NewClients(env.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	cs := clients.Kube
	mustCreate := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{})
	mustCreate(err)
	cms := map[string]map[string]string{
		"kubeadm-config": {"ClusterConfiguration": "apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    feature-gates: VolumeSubpathEnvExpansion=true\n    insecure-port: \"8080\"\n"},
		"kube-proxy":     {"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nfeatureGates:\n  SupportIPVSProxyMode: true\n"},
		"coredns":        {"Corefile": ".:53 {\n    errors\n    health\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n    forward . /etc/resolv.conf\n    cache 30\n}\n"},
	}
	for name, data := range cms {
		_, err := cs.CoreV1().ConfigMaps("kube-system").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}, metav1.CreateOptions{})
		mustCreate(err)
	}
	_, err = cs.CoreV1().LimitRanges("kube-system").Create(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "floor"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Min: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = cs.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "prometheus-rules"},
		Data: map[string]string{"rules.yaml": "expr: sum(rate(container_cpu_usage_seconds_total{container_name!=\"POD\"}[5m]))\ntargets: ['10.0.0.1:10251']\n"}}, metav1.CreateOptions{})
	mustCreate(err)
	fail, none := admissionv1.Fail, admissionv1.SideEffectClassNone
	_, err = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-policy"},
		Webhooks: []admissionv1.ValidatingWebhook{{Name: "deploy.shop.example", FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			ClientConfig: admissionv1.WebhookClientConfig{CABundle: cnOnlyCert(t, "policy.shop.svc"), Service: &admissionv1.ServiceReference{Namespace: "shop", Name: "policy"}},
			Rules: []admissionv1.RuleWithOperations{{Operations: []admissionv1.OperationType{admissionv1.Create},
				Rule: admissionv1.Rule{APIGroups: []string{"example.com"}, APIVersions: []string{"v1"}, Resources: []string{"widgets"}}}}}},
	}, metav1.CreateOptions{})
	mustCreate(err)
	user := int64(1000)
	labels := map[string]string{"app": "cart"}
	_, err = cs.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "cart"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsUser: &user},
				Containers: []corev1.Container{{Name: "cart", Image: "registry.example/cart:1"}}}}}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = cs.CoreV1().Services("shop").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "cart"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = cs.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "cart-data"},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: "local",
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data/cart"}},
			ClaimRef:               &corev1.ObjectReference{Namespace: "shop", Name: "cart-data"}}}, metav1.CreateOptions{})
	mustCreate(err)

	from := kubeVersion(t, "v1.14.5")
	inPlace, err := Assess(ctx, Options{To: kubeVersion(t, "v1.21.14"), From: &from, Path: InPlace, Clients: clients, Namespaces: []string{"shop"}})
	if err != nil {
		t.Fatalf("Assess in-place: %v", err)
	}
	for _, w := range []wantFinding{
		{Blocker, "feature-gates", "VolumeSubpathEnvExpansion in kube-apiserver", "v1.19", "v1.19.16"},
		{Blocker, "feature-gates", "SupportIPVSProxyMode in kube-proxy", "v1.20", "v1.20.15"},
		{Blocker, "kubeadm-config", "kube-apiserver --insecure-port", "v1.20", "v1.20.15"},
		{Blocker, "coredns-corefile", "CoreDNS Corefile", "v1.16", "v1.16.15"},
		{Action, "limitrange-kube-system", "LimitRange kube-system/floor", "v1.15", "v1.15.12"},
		{Blocker, "webhook-certificates", "ValidatingWebhookConfiguration shop-policy webhook deploy.shop.example", "v1.19", "v1.19.16"},
		{Action, "metrics-queries", "ConfigMap shop/prometheus-rules", "v1.16", "v1.16.15"},
		{Action, "insecure-ports", "ConfigMap shop/prometheus-rules", "v1.19", "v1.19.16"},
		{Action, "bound-sa-token", "Deployment shop/cart", "v1.21", "v1.21.14"},
		{Info, "webhook-failure-policy", "shop-policy", "", ""},
	} {
		if !findFinding(inPlace, w) {
			t.Errorf("in-place: missing %+v; got:\n%s", w, dumpFindings(inPlace))
		}
	}

	from = kubeVersion(t, "v1.24.17")
	bg, err := Assess(ctx, Options{To: kubeVersion(t, "v1.37.2"), From: &from, Clients: clients, Namespaces: []string{"shop"}})
	if err != nil {
		t.Fatalf("Assess blue-green: %v", err)
	}
	for _, w := range []wantFinding{
		{Action, "service-addresses", "Service shop/cart", "", ""},
		{Action, "persistent-volumes", "PersistentVolume cart-data", "", ""},
	} {
		if !findFinding(bg, w) {
			t.Errorf("blue-green: missing %+v; got:\n%s", w, dumpFindings(bg))
		}
	}
	for _, f := range bg.Findings {
		if f.Check == "coredns-corefile" || f.Check == "webhook-certificates" || strings.Contains(f.Object, "VolumeSubpathEnvExpansion") {
			t.Errorf("blue-green from v1.24 reports a pitfall of an earlier release: %+v", f)
		}
	}
}
