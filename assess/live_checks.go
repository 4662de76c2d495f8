package assess

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/kube"
)

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// helmReleases decodes the newest record of every Helm v3 release in scope and checks the
// manifests inside. An unreadable record is reported and skipped.
func (s *liveScan) helmReleases(ctx context.Context, _ map[schema.GroupVersionResource]bool) error {
	nss := s.namespaces
	if len(nss) == 0 {
		nss = []string{metav1.NamespaceAll}
	}
	type rec struct {
		ns, name, secret string
		version          int
		data             []byte
	}
	latest := map[string]rec{}
	for _, ns := range nss {
		opts := metav1.ListOptions{LabelSelector: "owner=helm", Limit: 200}
		for {
			l, err := s.clients.Kube.CoreV1().Secrets(ns).List(ctx, opts)
			if err != nil {
				return fmt.Errorf("listing Helm release secrets: %w", err)
			}
			for _, sec := range l.Items {
				if sec.Type != "helm.sh/release.v1" {
					continue
				}
				v, _ := strconv.Atoi(sec.Labels["version"])
				key := sec.Namespace + "/" + sec.Labels["name"]
				if cur, ok := latest[key]; !ok || v > cur.version {
					latest[key] = rec{ns: sec.Namespace, name: sec.Labels["name"], secret: sec.Name, version: v, data: sec.Data["release"]}
				}
			}
			if opts.Continue = l.Continue; opts.Continue == "" {
				break
			}
		}
	}
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	hc := *s.checker
	hc.live = true
	for _, k := range keys {
		r := latest[k]
		where := fmt.Sprintf("helm release %s/%s v%d", r.ns, r.name, r.version)
		rel, err := decodeHelmRelease(r.data)
		if err != nil {
			s.fail("%s (secret %s): %v; skipped", where, r.secret, err)
			continue
		}
		fs, ps := hc.checkManifestData([]byte(rel.Manifest), where)
		for i := range fs {
			if fs[i].Check == "api-removed" {
				fs[i].Action += "; then let Helm forget the old version in its release record (`helm mapkubeapis " + r.name + " --namespace " + r.ns + "`), or its next upgrade fails"
			}
		}
		s.add(fs...)
		s.problems = append(s.problems, ps...)
	}
	return nil
}

// podSecurityPolicies reports every PodSecurityPolicy: the API is removed in v1.25 with no successor.
func (s *liveScan) podSecurityPolicies(ctx context.Context, served map[schema.GroupVersionResource]bool) error {
	p, ok := s.kb.Pitfall("psp-removal")
	if !ok || !s.w.applies(p.Since) {
		return nil
	}
	for _, gvr := range []schema.GroupVersionResource{
		{Group: "policy", Version: "v1beta1", Resource: "podsecuritypolicies"},
		{Group: "extensions", Version: "v1beta1", Resource: "podsecuritypolicies"},
	} {
		if !served[gvr] {
			continue
		}
		return s.list(ctx, gvr, false, metav1.ListOptions{}, func(u *unstructured.Unstructured) {
			s.add(s.w.place(Finding{Severity: p.Severity, Check: p.Check, Object: gvr.GroupVersion().String() + " PodSecurityPolicy " + u.GetName(), Where: "live",
				Version: p.Since, Source: p.Source, Message: "PodSecurityPolicy is removed in " + p.Since + " with no successor API", Action: p.Action}))
		})
	}
	return nil
}

// kubeSystemConfig reads kubeadm's ClusterConfiguration, the kube-proxy and kubelet
// configuration and the CoreDNS Corefile from kube-system.
func (s *liveScan) kubeSystemConfig(ctx context.Context, _ map[schema.GroupVersionResource]bool) error {
	cms, err := s.clients.Kube.CoreV1().ConfigMaps("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return fmt.Errorf("reading kube-system ConfigMaps: %w (kubeadm, kube-proxy, kubelet and CoreDNS checks skipped)", err)
		}
		return fmt.Errorf("reading kube-system ConfigMaps: %w", err)
	}
	if !s.inScope("kube-system") && s.path == InPlace {
		// The generic scan reports it when kube-system is in scope.
		lrs, err := s.clients.Kube.CoreV1().LimitRanges("kube-system").List(ctx, metav1.ListOptions{})
		if err != nil {
			s.fail("listing LimitRanges in kube-system: %v", err)
		} else if p, ok := s.kb.Pitfall("limitrange-kube-system"); ok && s.w.applies(p.Since) {
			for _, lr := range lrs.Items {
				s.add(s.w.place(Finding{Severity: p.Severity, Check: p.Check, Object: "LimitRange kube-system/" + lr.Name, Where: "live", Version: p.Since, Source: p.Source,
					Message: "a LimitRange in kube-system can keep the CoreDNS and kube-proxy pods each hop recreates from being created", Action: p.Action}))
			}
		}
	}
	for _, cm := range cms.Items {
		where := "configmap kube-system/" + cm.Name
		doc := func(key string) map[string]any {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(cm.Data[key]), &m); err != nil {
				s.fail("%s: %s does not parse: %v", where, key, err)
			}
			return m
		}
		switch {
		case cm.Name == "kubeadm-config" && cm.Data["ClusterConfiguration"] != "":
			s.add(s.clusterConfigFindings(doc("ClusterConfiguration"), where)...)
		case cm.Name == "kube-proxy" && cm.Data["config.conf"] != "":
			gates, _, _ := unstructured.NestedMap(doc("config.conf"), "featureGates")
			s.add(s.gateFindings(gates, "kube-proxy", where)...)
		case (cm.Name == "kubelet-config" || strings.HasPrefix(cm.Name, "kubelet-config-")) && cm.Data["kubelet"] != "":
			gates, _, _ := unstructured.NestedMap(doc("kubelet"), "featureGates")
			s.add(s.gateFindings(gates, "kubelet", where)...)
		case cm.Name == "coredns" && cm.Data["Corefile"] != "":
			s.add(s.corefileFindings(cm.Data["Corefile"], where)...)
		}
	}
	return nil
}

var readyPluginRE = regexp.MustCompile(`(?m)^\s*ready(\s|$)`)

func (s *liveScan) corefileFindings(corefile, where string) []Finding {
	p, ok := s.kb.Pitfall("coredns-ready-plugin")
	if !ok || s.path != InPlace || !s.w.applies(p.Since) || readyPluginRE.MatchString(corefile) {
		return nil
	}
	return []Finding{s.w.place(Finding{Severity: p.Severity, Check: p.Check, Object: "CoreDNS Corefile", Where: where, Version: p.Since, Source: p.Source,
		Message: "the Corefile has no `ready` plugin: CoreDNS 1.6 pods will run but never become Ready", Action: p.Action})}
}

var (
	cadvisorLabelRE = regexp.MustCompile(`container_[a-z_]+\{[^}]*\b(container_name|pod_name)\s*[=!~]`)
	insecurePortRE  = regexp.MustCompile(`(:|"port":|"targetPort":|port:)\s*"?(10251|10252)\b`)
)

// metricsFindings looks for monitoring configuration that a release breaks.
func (s *liveScan) metricsFindings(u *unstructured.Unstructured) []Finding {
	var text string
	if u.GetKind() == "ConfigMap" {
		data, _, _ := unstructured.NestedStringMap(u.Object, "data")
		var b strings.Builder
		for _, v := range data {
			b.WriteString(v + "\n")
		}
		text = b.String()
	} else {
		js, _ := json.Marshal(u.Object["spec"])
		text = string(js)
	}
	obj := u.GetKind() + " " + objectName(u)
	var out []Finding
	hit := func(id, msg string) {
		if p, ok := s.kb.Pitfall(id); ok && s.w.applies(p.Since) {
			out = append(out, s.w.place(Finding{Severity: p.Severity, Check: p.Check, Object: obj, Where: "live", Version: p.Since, Source: p.Source, Message: msg, Action: p.Action}))
		}
	}
	if cadvisorLabelRE.MatchString(text) {
		hit("metrics-label-renames", "queries cAdvisor metrics by container_name or pod_name, labels that are gone")
	}
	if strings.Contains(text, "metrics/resource/v1alpha1") {
		hit("kubelet-metrics-resource-v1alpha1", "scrapes the kubelet's /metrics/resource/v1alpha1, which is gone")
	}
	if insecurePortRE.MatchString(text) {
		hit("insecure-ports-scheduler-controller-manager", "targets port 10251 or 10252, the scheduler's and controller-manager's insecure ports")
	}
	return out
}

// webhooks checks admission webhooks and APIServices: serving certificates without SANs,
// and webhooks that fail closed.
func (s *liveScan) webhooks(ctx context.Context, served map[schema.GroupVersionResource]bool) error {
	p, havePitfall := s.kb.Pitfall("webhook-cert-cn-only")
	checkBundle := func(obj, where, bundle string) {
		if !havePitfall || !s.w.applies(p.Since) || bundle == "" {
			return
		}
		pemData, err := base64.StdEncoding.DecodeString(bundle)
		if err != nil {
			s.fail("%s: caBundle is not base64: %v", obj, err)
			return
		}
		for _, c := range parseCerts(pemData) {
			if len(c.DNSNames) > 0 || len(c.IPAddresses) > 0 || (c.IsCA && !strings.Contains(c.Subject.CommonName, ".")) {
				continue
			}
			s.add(s.w.place(Finding{Severity: p.Severity, Check: p.Check, Object: obj, Where: where, Version: p.Since, Source: p.Source,
				Message: fmt.Sprintf("certificate %q in caBundle names its host only in the Common Name (no subjectAltName); Go 1.15+ in kube-apiserver rejects it", c.Subject.CommonName),
				Action:  p.Action}))
		}
	}
	for _, kind := range []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"} {
		gvr := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: kind}
		if !served[gvr] {
			gvr.Version = "v1beta1"
			if !served[gvr] {
				continue
			}
		}
		err := s.list(ctx, gvr, false, metav1.ListOptions{}, func(u *unstructured.Unstructured) {
			hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
			for _, h := range hooks {
				hm, _ := h.(map[string]any)
				name, _ := hm["name"].(string)
				obj := fmt.Sprintf("%s %s webhook %s", u.GetKind(), u.GetName(), name)
				bundle, _, _ := unstructured.NestedString(hm, "clientConfig", "caBundle")
				checkBundle(obj, "live", bundle)
				fp, _ := hm["failurePolicy"].(string)
				svc, hasSvc, _ := unstructured.NestedString(hm, "clientConfig", "service", "name")
				if fp == "Fail" && hasSvc {
					ns, _, _ := unstructured.NestedString(hm, "clientConfig", "service", "namespace")
					s.add(Finding{Severity: Info, Check: "webhook-failure-policy", Object: obj, Where: "live",
						Message: fmt.Sprintf("fails closed (failurePolicy Fail) and is served by %s/%s in the cluster: while that backend is down, writes it matches are refused", ns, svc),
						Action:  "keep its backend running through node drains (replicas, PodDisruptionBudget) or exclude kube-system from it; on a new cluster, create it after its backend is ready (phoenix migrate does)"})
				}
			}
		})
		if err != nil {
			return fmt.Errorf("listing %s: %w", kind, err)
		}
	}
	gvr := schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	if served[gvr] {
		return s.list(ctx, gvr, false, metav1.ListOptions{}, func(u *unstructured.Unstructured) {
			bundle, _, _ := unstructured.NestedString(u.Object, "spec", "caBundle")
			checkBundle("APIService "+u.GetName(), "live", bundle)
		})
	}
	return nil
}

func parseCerts(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

// nodes checks every node: Docker Engine through dockershim, and through the apiserver's
// node proxy the kubelet's configuration (/configz: feature gates, failCgroupV1, swap) and
// metrics (kubelet_cgroup_version, kubelet_cri_losing_support), and the container runtime's
// version. A node whose kubelet does not answer is reported and skipped.
func (s *liveScan) nodes(ctx context.Context, _ map[schema.GroupVersionResource]bool) error {
	nodes, err := s.clients.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	for i := range nodes.Items {
		s.node(ctx, &nodes.Items[i])
	}
	return nil
}

func (s *liveScan) node(ctx context.Context, n *corev1.Node) {
	obj := "Node " + n.Name
	rt := n.Status.NodeInfo.ContainerRuntimeVersion
	if p, ok := s.kb.Pitfall("dockershim-removal"); ok && s.path == InPlace && s.w.applies(p.Since) && strings.HasPrefix(rt, "docker://") {
		s.add(s.w.place(Finding{Severity: p.Severity, Check: p.Check, Object: obj, Where: "live", Version: p.Since, Source: p.Source,
			Message: "runs " + rt + " through dockershim, which the kubelet drops in " + p.Since, Action: p.Action}))
	}
	nc := *s.checker
	_, cp := n.Labels["node-role.kubernetes.io/control-plane"]
	if _, master := n.Labels["node-role.kubernetes.io/master"]; master {
		cp = true
	}
	nc.worker = !cp
	nc.facts = &nodeFacts{}
	// The node's settings bite from its kubelet's release on (it may lag the control plane;
	// it is never newer than the source).
	kubelet, kerr := kube.ParseVersion(n.Status.NodeInfo.KubeletVersion)
	if kerr == nil && nc.w.From != nil && kubelet.Minor < nc.w.From.Minor {
		nc.w.From = &kubelet
	} else if nc.w.From != nil {
		kubelet = *nc.w.From
	}
	proxy := func(path string) ([]byte, error) {
		return s.clients.Kube.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", n.Name, "proxy", path).DoRaw(ctx)
	}
	if data, err := proxy("configz"); err != nil {
		s.fail("node %s: reading the kubelet's configuration (/api/v1/nodes/%s/proxy/configz): %v", n.Name, n.Name, err)
	} else {
		var cz struct {
			KubeletConfig map[string]any `json:"kubeletconfig"`
		}
		if err := json.Unmarshal(data, &cz); err != nil {
			s.fail("node %s: configz does not parse: %v", n.Name, err)
		} else {
			if p, ok := s.kb.Pitfall("cgroup-v1"); ok && kerr == nil && kubelet.Less(kube.MustParseVersion(p.Since)) {
				nc.facts.defaulted = true
			}
			if s.path == InPlace {
				s.add(nc.kubeletConfigFindings(cz.KubeletConfig, "kubelet", "live node "+n.Name+" (configz)", nil)...)
			} else if v, ok, _ := unstructured.NestedBool(cz.KubeletConfig, "failCgroupV1"); ok {
				nc.facts.failCgroupV1 = &v
			}
		}
	}
	if data, err := proxy("metrics"); err != nil {
		s.fail("node %s: reading the kubelet's metrics: %v", n.Name, err)
	} else {
		nc.facts.cgroup, nc.facts.losingSupport = kubeletMetrics(data)
	}
	where := "live node " + n.Name
	s.add(nc.cgroupFindings(obj, where+" (metrics, configz)")...)
	s.add(nc.runtimeFindings(obj, where+" (status.nodeInfo)", rt)...)
}

var losingSupportRE = regexp.MustCompile(`^kubelet_cri_losing_support\{[^}]*version="([^"]+)"[^}]*\}\s+([0-9.e+]+)`)

// kubeletMetrics reads kubelet_cgroup_version (v1.31 on) and kubelet_cri_losing_support
// (v1.34 on) from the kubelet's /metrics.
func kubeletMetrics(data []byte) (cgroup int, losingSupport string) {
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "kubelet_cgroup_version "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				cgroup = int(f)
			}
		}
		if m := losingSupportRE.FindStringSubmatch(line); m != nil && m[2] != "0" {
			losingSupport = m[1]
		}
	}
	return cgroup, losingSupport
}
