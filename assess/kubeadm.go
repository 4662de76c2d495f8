package assess

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// extraArgs returns a component's extraArgs from a kubeadm ClusterConfiguration, as a map in
// every API version (v1beta4 writes a list of name/value pairs).
func extraArgs(cfg map[string]any, component string) map[string]string {
	out := map[string]string{}
	raw, ok, _ := unstructured.NestedFieldNoCopy(cfg, component, "extraArgs")
	if !ok {
		return out
	}
	switch v := raw.(type) {
	case map[string]any:
		for k, val := range v {
			out[k] = fmt.Sprint(val)
		}
	case []any:
		for _, item := range v {
			m, _ := item.(map[string]any)
			if n, ok := m["name"].(string); ok {
				out[n] = fmt.Sprint(m["value"])
			}
		}
	}
	return out
}

// clusterConfigFindings checks a kubeadm ClusterConfiguration: its API version, feature gates
// and flags of the control-plane components.
func (c *checker) clusterConfigFindings(cfg map[string]any, where string) []Finding {
	var out []Finding
	apiVersion, _ := cfg["apiVersion"].(string)
	if k, ok := c.kb.LookupKubeadmAPI(apiVersion); ok && k.RemovedIn != "" && c.w.applies(k.RemovedIn) {
		out = append(out, c.w.place(Finding{Severity: Action, Check: "kubeadm-config", Object: "ClusterConfiguration " + apiVersion, Where: where,
			Version: k.RemovedIn, Source: k.Source,
			Message: fmt.Sprintf("kubeadm stops reading %s in %s", apiVersion, k.RemovedIn),
			Action:  fmt.Sprintf("convert configuration files with `kubeadm config migrate` (of a kubeadm that reads both %s and %s) before the hop to %s", apiVersion, k.Successor, k.RemovedIn)}))
	}
	if gates, ok, _ := unstructured.NestedMap(cfg, "featureGates"); ok {
		out = append(out, c.kubeadmGateFindings(gates, where)...)
	}
	components := []struct{ key, name string }{
		{"apiServer", "kube-apiserver"}, {"controllerManager", "kube-controller-manager"}, {"scheduler", "kube-scheduler"},
	}
	for _, comp := range components {
		args := extraArgs(cfg, comp.key)
		if g, ok := args["feature-gates"]; ok {
			out = append(out, c.gateFindings(parseGateList(g), comp.name+" (kubeadm ClusterConfiguration)", where)...)
		}
		names := make([]string, 0, len(args))
		for n := range args {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, c.flagFindings(comp.name, "--"+n, args[n], where, "kubeadm ClusterConfiguration extraArgs")...)
		}
	}
	return out
}

// flagFindings reports a component flag the knowledge base lists as removed or neutered;
// setIn says where the flag is set (kubeadm extraArgs, the kubelet's flags file, ...).
func (c *checker) flagFindings(component, flag, value, where, setIn string) []Finding {
	check := "kubeadm-config"
	if !strings.HasPrefix(setIn, "kubeadm") {
		check = "component-flags"
	}
	var out []Finding
	for _, f := range c.kb.Flags {
		if f.Component != component || f.Flag != flag || !c.w.applies(f.Since) {
			continue
		}
		// --port=0 / --insecure-port=0 only turn insecure serving off: harmless until removal.
		if f.Effect == "no-op" && value == "0" {
			continue
		}
		sev, msg := Blocker, fmt.Sprintf("%s %s is removed in %s; %s refuses to start with it", component, flag, f.Since, component)
		if f.Effect == "no-op" {
			sev, msg = Action, fmt.Sprintf("%s %s=%s stops having any effect in %s", component, flag, value, f.Since)
		}
		if flag == "--insecure-port" || flag == "--insecure-bind-address" {
			if p, ok := c.kb.Pitfall("insecure-apiserver-port"); ok && f.Effect == "no-op" {
				sev = p.Severity
			}
		}
		out = append(out, c.place(Finding{Severity: sev, Check: check, Object: component + " " + flag, Where: where,
			Version: f.Since, Source: f.Source, Message: msg,
			Action: fmt.Sprintf("remove %s from %s's arguments (%s)%s", flag, component, setIn, replacement(f))}))
	}
	return out
}

func replacement(f Flag) string {
	if f.Replacement == "" {
		return ""
	}
	return "; instead: " + f.Replacement
}
