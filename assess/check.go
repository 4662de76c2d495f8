package assess

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// checker matches objects against the knowledge base inside one window.
type checker struct {
	kb   *KnowledgeBase
	w    Window
	path Path
	// live: objects come from a running cluster (their manifests may be stale).
	live bool
	// worker: the settings checked are a worker node's (they bite when its kubelet moves,
	// which in-place may be later than the control plane).
	worker bool
	// facts collects what the checks of one node learn (nil outside a node's checks).
	facts *nodeFacts
}

func objectName(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return ns + "/" + u.GetName()
	}
	return u.GetName()
}

// apiVersionFinding reports an object written through apiVersion (as a manifest says, or as
// the live object's last writer used).
func (c *checker) apiVersionFinding(apiVersion, kind, name, where, how string) (Finding, bool) {
	a, ok := c.kb.LookupAPI(apiVersion, kind)
	if !ok {
		return Finding{}, false
	}
	obj := fmt.Sprintf("%s %s %s", apiVersion, kind, name)
	action := "rewrite it as " + a.Successor
	if a.SuccessorSince != "" {
		action += " (served since " + a.SuccessorSince + ")"
	}
	if a.Successor == "" {
		action = a.Notes
	} else if a.Notes != "" {
		action += "; mind: " + a.Notes
	}
	if c.live {
		action += "; update the manifest, chart or controller that writes it"
		if c.path == BlueGreen {
			action += " (phoenix migrate converts the object itself)"
		}
	}
	f := Finding{Check: "api-removed", Object: obj, Where: where, Version: a.RemovedIn, Source: a.Source, Action: action}
	removed := kube.MustParseVersion(a.RemovedIn)
	switch {
	case c.w.From != nil && c.w.From.Minor >= removed.Minor:
		if !c.live {
			return Finding{}, false
		}
		f.Severity = Info
		f.Message = fmt.Sprintf("%s %s: %s is already not served by the source (removed in %s); whatever last wrote it that way will fail", how, obj, apiVersion, a.RemovedIn)
	case c.w.applies(a.RemovedIn):
		f.Severity = Blocker
		f.Message = fmt.Sprintf("%s %s: %s is removed in %s", how, obj, apiVersion, a.RemovedIn)
		if a.Successor != "" {
			f.Message += ", successor " + a.Successor
		} else {
			f.Message += ", no successor"
		}
	case a.DeprecatedIn != "" && !c.w.To.Less(kube.MustParseVersion(a.DeprecatedIn)):
		f.Severity = Info
		f.Message = fmt.Sprintf("%s %s: %s is deprecated since %s and removed in %s (after the target)", how, obj, apiVersion, a.DeprecatedIn, a.RemovedIn)
	default:
		return Finding{}, false
	}
	return c.w.place(f), true
}

// podSpec returns the pod spec of a workload object (or a Pod), if it has one.
func podSpec(u *unstructured.Unstructured) (map[string]any, bool) {
	var path []string
	switch u.GetKind() {
	case "Pod":
		if len(u.GetOwnerReferences()) > 0 {
			return nil, false // its controller's template is checked instead
		}
		path = []string{"spec"}
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		if u.GetKind() == "ReplicaSet" && len(u.GetOwnerReferences()) > 0 {
			return nil, false
		}
		if u.GetKind() == "Job" && len(u.GetOwnerReferences()) > 0 {
			return nil, false
		}
		path = []string{"spec", "template", "spec"}
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return nil, false
	}
	spec, ok, _ := unstructured.NestedMap(u.Object, path...)
	return spec, ok
}

// contentFindings checks what an object says (not how it was written): pod templates,
// kubeadm and component configuration documents.
func (c *checker) contentFindings(u *unstructured.Unstructured, where string) []Finding {
	var out []Finding
	if spec, ok := podSpec(u); ok {
		out = append(out, c.podSpecFindings(u, spec, where)...)
	}
	switch u.GetKind() {
	case "ClusterConfiguration":
		out = append(out, c.clusterConfigFindings(u.Object, where)...)
	case "KubeProxyConfiguration":
		gates, _, _ := unstructured.NestedMap(u.Object, "featureGates")
		out = append(out, c.gateFindings(gates, u.GetKind(), where)...)
	case "KubeletConfiguration":
		out = append(out, c.kubeletConfigFindings(u.Object, u.GetKind(), where, nil)...)
	}
	if u.GetKind() == "Pod" {
		// Static pods' manifests on disk, and their mirror pods in a live cluster.
		out = append(out, c.staticPodFindings(u.Object, where)...)
	}
	if f, ok := c.configAPIFinding(u.GetAPIVersion(), u.GetKind(), where); ok {
		out = append(out, f)
	}
	return out
}

func (c *checker) podSpecFindings(u *unstructured.Unstructured, spec map[string]any, where string) []Finding {
	var out []Finding
	obj := fmt.Sprintf("%s %s", u.GetKind(), objectName(u))
	if p, ok := c.kb.Pitfall("bound-sa-token-nonroot"); ok && c.w.applies(p.Since) && readsTokenAsNonRoot(spec) {
		out = append(out, c.w.place(Finding{Severity: p.Severity, Check: p.Check, Object: obj, Where: where, Version: p.Since, Source: p.Source,
			Message: "runs as a non-root user without fsGroup and mounts the service-account token, which becomes a projected volume it may not be able to read",
			Action:  p.Action}))
	}
	if p, ok := c.kb.Pitfall("dockershim-removal"); ok && c.path == InPlace && c.w.applies(p.Since) && mountsDockerSocket(spec) {
		out = append(out, c.w.place(Finding{Severity: Action, Check: p.Check, Object: obj, Where: where, Version: p.Since, Source: p.Source,
			Message: "mounts the Docker socket, which is gone once nodes leave Docker Engine",
			Action:  "rebuild it against the CRI runtime's socket or the Kubernetes API"}))
	}
	return out
}

func readsTokenAsNonRoot(spec map[string]any) bool {
	if v, ok, _ := unstructured.NestedBool(spec, "automountServiceAccountToken"); ok && !v {
		return false
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(spec, "securityContext", "fsGroup"); ok {
		return false
	}
	podUser, podSet := intField(spec, "securityContext", "runAsUser")
	containers, _, _ := unstructured.NestedSlice(spec, "containers")
	for _, ci := range containers {
		cm, _ := ci.(map[string]any)
		u, set := intField(cm, "securityContext", "runAsUser")
		if !set {
			u, set = podUser, podSet
		}
		if set && u != 0 {
			return true
		}
	}
	return false
}

func mountsDockerSocket(spec map[string]any) bool {
	vols, _, _ := unstructured.NestedSlice(spec, "volumes")
	for _, v := range vols {
		vm, _ := v.(map[string]any)
		p, _, _ := unstructured.NestedString(vm, "hostPath", "path")
		if strings.HasSuffix(p, "docker.sock") {
			return true
		}
	}
	return false
}

// parseGateList parses "A=true,B=false" into a map.
func parseGateList(s string) map[string]any {
	out := map[string]any{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k != "" {
			out[k] = v
		}
	}
	return out
}

// gateFindings reports feature gates that a release on the way refuses: gates it no longer
// knows (at their removal), and gates set against the default they are locked to (at the
// lock, which comes first). component names where they are set.
func (c *checker) gateFindings(gates map[string]any, component, where string) []Finding {
	return c.gateFindingsIn(gates, component, where, c.kb.LookupGate)
}

// kubeadmGateFindings reports kubeadm's own feature gates (ClusterConfiguration featureGates).
func (c *checker) kubeadmGateFindings(gates map[string]any, where string) []Finding {
	return c.gateFindingsIn(gates, "kubeadm (ClusterConfiguration featureGates)", where, c.kb.LookupKubeadmGate)
}

func (c *checker) gateFindingsIn(gates map[string]any, component, where string, lookup func(string) (FeatureGate, bool)) []Finding {
	names := make([]string, 0, len(gates))
	for n := range gates {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Finding
	for _, n := range names {
		g, known := lookup(n)
		if val, ok := gateValue(gates[n]); known && ok && g.LockedIn != "" && val != g.Default && c.w.applies(g.LockedIn) &&
			(g.RemovedIn == "" || !versionLess(g.RemovedIn, g.LockedIn)) {
			out = append(out, c.place(Finding{Severity: Blocker, Check: "feature-gates", Object: fmt.Sprintf("feature gate %s=%t in %s", n, val, component), Where: where,
				Version: g.LockedIn, Source: g.Source,
				Message: fmt.Sprintf("feature gate %s is locked to %t from %s (%s); setting it to %t stops the component", n, g.Default, g.LockedIn, g.Stage, val),
				Action:  fmt.Sprintf("remove %s from %s's feature gates (or set it to %t) before the upgrade reaches %s%s", n, component, g.Default, g.LockedIn, removedAfter(g))}))
			continue
		}
		version, source, extra := "", "", ""
		if known {
			version, source = g.RemovedIn, g.Source
		}
		// A seed pitfall about the gate at (or before) its removal release wins: it says what broke.
		if p, ok := c.kb.Pitfall("removed-gate-" + kebab(n)); ok && (version == "" || !versionLess(version, p.Since)) {
			version, source, extra = p.Since, p.Source, " ("+p.Title+")"
		}
		if version == "" || !c.w.applies(version) {
			continue
		}
		out = append(out, c.place(Finding{Severity: Blocker, Check: "feature-gates", Object: fmt.Sprintf("feature gate %s in %s", n, component), Where: where,
			Version: version, Source: source,
			Message: fmt.Sprintf("feature gate %s is not recognised from %s; the component refuses to start%s", n, version, extra),
			Action:  fmt.Sprintf("remove %s from %s's feature gates before the upgrade reaches %s", n, component, version)}))
	}
	return out
}

func removedAfter(g FeatureGate) string {
	if g.RemovedIn == "" {
		return ""
	}
	return "; the gate is removed in " + g.RemovedIn
}

// gateValue reads a gate's value as YAML (bool) or a flag ("true"/"false") gives it.
func gateValue(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// place fills in the hop of a finding: the control-plane hop, or for a worker node's own
// settings the hop at which its kubelet moves.
func (c *checker) place(f Finding) Finding {
	if c.worker {
		return c.w.placeKubelet(f)
	}
	return c.w.place(f)
}

func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// intField reads a number from an object decoded from JSON/YAML (float64) or from the API
// machinery (int64).
func intField(obj map[string]any, path ...string) (int64, bool) {
	v, ok, _ := unstructured.NestedFieldNoCopy(obj, path...)
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}
