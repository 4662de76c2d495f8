package assess

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/phoenix-upgrade/phoenix/kube"
)

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// liveScan is one pass over a running cluster.
type liveScan struct {
	*checker
	clients    *kube.Clients
	namespaces []string // empty: all
	findings   []Finding
	problems   []string
}

func (s *liveScan) add(fs ...Finding) { s.findings = append(s.findings, fs...) }
func (s *liveScan) fail(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

func (s *liveScan) inScope(ns string) bool {
	if ns == "" || len(s.namespaces) == 0 {
		return true
	}
	for _, n := range s.namespaces {
		if n == ns {
			return true
		}
	}
	return false
}

// serverVersion asks the cluster its version: gitVersion, else major.minor (a build
// without version stamping reports v0.0.0-master).
func serverVersion(c *kube.Clients) (kube.Version, error) {
	info, err := c.Discovery.ServerVersion()
	if err != nil {
		return kube.Version{}, fmt.Errorf("cluster unreachable: %w (check the kubeconfig, context and network)", err)
	}
	if v, err := kube.ParseVersion(info.GitVersion); err == nil {
		return v, nil
	}
	if v, err := kube.ParseVersion(info.Major + "." + strings.TrimSuffix(info.Minor, "+")); err == nil {
		return v, nil
	}
	return kube.Version{}, fmt.Errorf("cluster reports version %q, which is not a Kubernetes release: give the source version with --from-version", info.GitVersion)
}

// run scans every listable resource, then the cluster-wide checks.
func (s *liveScan) run(ctx context.Context) error {
	lists, err := s.clients.Discovery.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return fmt.Errorf("discovering the cluster's resources: %w", err)
	} else if err != nil {
		s.fail("discovery: %v", err)
	}
	served := map[schema.GroupVersionResource]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !hasVerb(r.Verbs, "list") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			served[gvr] = true
			if skipResource(gvr) {
				continue
			}
			if err := s.scanResource(ctx, gvr, r.Namespaced); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.fail("listing %s: %v", gvr.String(), err)
			}
		}
	}
	for _, step := range []func(context.Context, map[schema.GroupVersionResource]bool) error{
		s.helmReleases, s.podSecurityPolicies, s.kubeSystemConfig, s.webhooks, s.nodes,
	} {
		if err := step(ctx, served); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.fail("%v", err)
		}
	}
	return nil
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// skipResource leaves out resources whose objects no one writes by hand, or that are read
// by a dedicated check (Secrets: only Helm's, by helmReleases).
func skipResource(gvr schema.GroupVersionResource) bool {
	switch gvr.Resource {
	case "podsecuritypolicies", "events", "endpoints", "endpointslices", "leases", "componentstatuses", "secrets", "tokenreviews",
		"subjectaccessreviews", "selfsubjectaccessreviews", "localsubjectaccessreviews", "selfsubjectrulesreviews":
		return true
	}
	return false
}

func (s *liveScan) list(ctx context.Context, gvr schema.GroupVersionResource, namespaced bool, opts metav1.ListOptions, each func(*unstructured.Unstructured)) error {
	nss := []string{metav1.NamespaceAll}
	if namespaced && len(s.namespaces) > 0 {
		nss = s.namespaces
	}
	for _, ns := range nss {
		opts := opts
		for {
			var l *unstructured.UnstructuredList
			var err error
			if namespaced {
				l, err = s.clients.Dynamic.Resource(gvr).Namespace(ns).List(ctx, opts)
			} else {
				l, err = s.clients.Dynamic.Resource(gvr).List(ctx, opts)
			}
			if err != nil {
				return err
			}
			for i := range l.Items {
				each(&l.Items[i])
			}
			if opts.Continue = l.GetContinue(); opts.Continue == "" {
				break
			}
		}
	}
	return nil
}

// scanResource checks every object of one resource: how its writers wrote it, and what it says.
func (s *liveScan) scanResource(ctx context.Context, gvr schema.GroupVersionResource, namespaced bool) error {
	return s.list(ctx, gvr, namespaced, metav1.ListOptions{Limit: 500}, func(u *unstructured.Unstructured) {
		if apiserverMaintained(u) {
			return
		}
		name := objectName(u)
		seen := map[string]bool{}
		if la, ok := u.GetAnnotations()[lastApplied]; ok {
			var applied struct {
				APIVersion string `json:"apiVersion"`
			}
			if err := jsonUnmarshal([]byte(la), &applied); err == nil && applied.APIVersion != "" {
				seen[applied.APIVersion] = true
				if f, ok := s.apiVersionFinding(applied.APIVersion, u.GetKind(), name, "live", "last applied through"); ok {
					s.add(f)
				}
			}
		}
		for _, mf := range u.GetManagedFields() {
			if mf.APIVersion == "" || seen[mf.APIVersion] {
				continue
			}
			seen[mf.APIVersion] = true
			if f, ok := s.apiVersionFinding(mf.APIVersion, u.GetKind(), name, "live", "written by "+mf.Manager+" through"); ok {
				s.add(f)
			}
		}
		s.add(s.contentFindings(u, "live")...)
		s.add(s.liveObjectFindings(u)...)
	})
}

// liveObjectFindings are checks that only make sense for objects in a running cluster.
func (s *liveScan) liveObjectFindings(u *unstructured.Unstructured) []Finding {
	var out []Finding
	obj := u.GetKind() + " " + objectName(u)
	switch u.GetKind() {
	case "Service":
		if s.path != BlueGreen {
			break
		}
		typ, _, _ := unstructured.NestedString(u.Object, "spec", "type")
		switch typ {
		case "LoadBalancer":
			var addrs []string
			ing, _, _ := unstructured.NestedSlice(u.Object, "status", "loadBalancer", "ingress")
			for _, i := range ing {
				m, _ := i.(map[string]any)
				for _, k := range []string{"ip", "hostname"} {
					if v, ok := m[k].(string); ok {
						addrs = append(addrs, v)
					}
				}
			}
			out = append(out, Finding{Severity: Action, Check: "service-addresses", Object: obj, Where: "live",
				Message: fmt.Sprintf("LoadBalancer address %s belongs to the source cluster; the target gets a new one", dashList(addrs)),
				Action:  "point DNS or clients at the target's address during cutover, or pin the address (loadBalancerIP or the provider's annotation) if the provider can move it"})
		case "NodePort":
			out = append(out, Finding{Severity: Info, Check: "service-addresses", Object: obj, Where: "live",
				Message: "NodePort Service: clients reach it through the source cluster's node addresses; " + nodePortPlan(u),
				Action:  "update load balancers or clients that target node IPs; a node port a field manager set (kubectl, Helm, server-side apply) is kept, one the source apiserver allocated gets a new number on the target (set it explicitly on the source to keep it)"})
		}
	case "PersistentVolume":
		if s.path != BlueGreen {
			break
		}
		claim, _, _ := unstructured.NestedString(u.Object, "spec", "claimRef", "name")
		claimNS, _, _ := unstructured.NestedString(u.Object, "spec", "claimRef", "namespace")
		if claim != "" && !s.inScope(claimNS) {
			break
		}
		sc, _, _ := unstructured.NestedString(u.Object, "spec", "storageClassName")
		out = append(out, Finding{Severity: Action, Check: "persistent-volumes", Object: obj, Where: "live",
			Message: fmt.Sprintf("holds data of claim %s/%s (storage class %s) on the source cluster's storage", claimNS, claim, dashList([]string{sc})),
			Action:  "move the data: snapshot and restore on the target, or re-bind the same backing volume there (static PV with a Retain policy) after the source stops writing"})
	case "LimitRange":
		if u.GetNamespace() != "kube-system" || s.path != InPlace {
			break
		}
		if p, ok := s.kb.Pitfall("limitrange-kube-system"); ok && s.w.applies(p.Since) {
			out = append(out, s.w.place(Finding{Severity: p.Severity, Check: p.Check, Object: obj, Where: "live", Version: p.Since, Source: p.Source,
				Message: "a LimitRange in kube-system can keep the CoreDNS and kube-proxy pods each hop recreates from being created", Action: p.Action}))
		}
	case "ConfigMap", "PrometheusRule", "ServiceMonitor", "PodMonitor":
		out = append(out, s.metricsFindings(u)...)
	}
	return out
}

// nodePortPlan says which of a Service's node ports phoenix migrate keeps (chosen by a
// field manager, kube.ChosenNodePorts) and which the target allocates anew.
func nodePortPlan(u *unstructured.Unstructured) string {
	chosen := kube.ChosenNodePorts(u)
	var kept, fresh []string
	for _, p := range kube.NodePorts(u) {
		if chosen[p] {
			kept = append(kept, p)
		} else {
			fresh = append(fresh, p)
		}
	}
	list := func(ps []string) string {
		if len(ps) == 0 {
			return "none"
		}
		return strings.Join(ps, ", ")
	}
	return fmt.Sprintf("node ports kept on the target (set by a field manager): %s; allocated anew (the source apiserver chose them): %s", list(kept), list(fresh))
}

func dashList(s []string) string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return "(none yet)"
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// apfAutoUpdate marks the FlowSchemas and PriorityLevelConfigurations the apiserver keeps
// up to date itself (its mandatory and suggested configuration): every apiserver writes
// them in the versions it serves, so they never need migrating or fixing.
const apfAutoUpdate = "apf.kubernetes.io/autoupdate-spec"

// apiserverMaintained reports objects the apiserver writes and rewrites on its own.
func apiserverMaintained(u *unstructured.Unstructured) bool {
	return u.GetAnnotations()[apfAutoUpdate] == "true"
}
