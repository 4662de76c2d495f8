package migrate

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Pod Security Admission levels, most permissive first.
var psaRank = map[string]int{"privileged": 0, "baseline": 1, "restricted": 2}

// translatePSP turns the PodSecurityPolicies the namespaces' pods may use into Pod
// Security Admission labels on the namespaces, where that is faithful, and reports it
// otherwise. The PSPs themselves are recorded as skipped: green has no such API.
func (d *discoverer) translatePSP(ctx context.Context, inNS map[string]bool) error {
	if d.bIdx.byGR[grPSP] == nil {
		return nil
	}
	psps := map[string]*unstructured.Unstructured{}
	if err := d.eachCluster(ctx, grPSP, func(o *unstructured.Unstructured) { psps[o.GetName()] = o }); err != nil || len(psps) == 0 {
		return err
	}
	// Which PSPs each role grants "use" of.
	roleGrants := map[string][]string{} // "ClusterRole/name" or "Role/ns/name"
	grants := func(key string, o *unstructured.Unstructured) {
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rules {
			m, ok := r.(map[string]any)
			if !ok {
				continue
			}
			groups, _, _ := unstructured.NestedSlice(m, "apiGroups")
			res, _, _ := unstructured.NestedSlice(m, "resources")
			verbs, _, _ := unstructured.NestedSlice(m, "verbs")
			if !(containsString(groups, "policy") || containsString(groups, "extensions") || containsString(groups, "*")) ||
				!(containsString(res, "podsecuritypolicies") || containsString(res, "*")) ||
				!(containsString(verbs, "use") || containsString(verbs, "*")) {
				continue
			}
			names, _, _ := unstructured.NestedStringSlice(m, "resourceNames")
			if len(names) == 0 {
				for n := range psps {
					names = append(names, n)
				}
			}
			roleGrants[key] = append(roleGrants[key], names...)
		}
	}
	if err := d.eachCluster(ctx, grCR, func(o *unstructured.Unstructured) { grants("ClusterRole/"+o.GetName(), o) }); err != nil {
		return err
	}
	for _, it := range d.listed[schemaGR("rbac.authorization.k8s.io", "roles")] {
		grants("Role/"+it.obj.GetNamespace()+"/"+it.obj.GetName(), it.obj)
	}
	usable := map[string]map[string]bool{} // namespace -> PSP names
	bind := func(ns string, b *unstructured.Unstructured) {
		kind, _, _ := unstructured.NestedString(b.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(b.Object, "roleRef", "name")
		key := "ClusterRole/" + name
		if kind == "Role" {
			key = "Role/" + b.GetNamespace() + "/" + name
		}
		for _, p := range roleGrants[key] {
			if usable[ns] == nil {
				usable[ns] = map[string]bool{}
			}
			usable[ns][p] = true
		}
	}
	for _, it := range d.listed[grRB] {
		if it.skip == "" && bindsPods(it.obj, it.obj.GetNamespace()) {
			bind(it.obj.GetNamespace(), it.obj)
		}
	}
	if err := d.eachCluster(ctx, grCRB, func(o *unstructured.Unstructured) {
		for ns := range inNS {
			if bindsPods(o, ns) {
				bind(ns, o)
			}
		}
	}); err != nil {
		return err
	}
	used := map[string]bool{}
	for _, ns := range d.o.Namespaces {
		names := sortedKeys(usable[ns])
		if len(names) == 0 {
			continue
		}
		for _, n := range names {
			used[n] = true
		}
		pods, err := podsOf(d.items, ns)
		if err != nil {
			return err
		}
		d.labelNamespace(ns, decidePodSecurity(names, psps, pods))
	}
	for n, o := range psps {
		if used[n] {
			it := d.add(o, grPSP, true)
			if it != nil {
				it.skip = "PodSecurityPolicy was removed in 1.25 without a successor; translated to Pod Security Admission labels on the namespaces that used it"
			}
		}
	}
	return nil
}

// podSecurityDecision is the Pod Security Admission translation of one namespace.
type podSecurityDecision struct {
	psps []string
	// enforce is the level enforced; warn (and audit) the stricter level warned about, or "".
	enforce, warn string
	note          string
}

// decidePodSecurity translates the PSPs the pods of a namespace may use into the level to
// enforce. The PSPs give a candidate: the most permissive of their levels
// (convert.PSPToPodSecurity), with seLinux RunAsAny counted as harmless when no existing
// pod sets seLinuxOptions. The pods and pod templates that exist decide what can be
// enforced without rejecting them: the enforced level is the candidate, or the highest
// level every one of them passes when that is lower (Kubernetes' own Pod Security checks
// judge them). A PSP that mutated pods (not faithful in general) is enforced all the same
// when every existing pod passes: what Pod Security Admission will not do for new pods is
// reported. warn and audit are set to restricted when less is enforced.
func decidePodSecurity(names []string, psps map[string]*unstructured.Unstructured, pods []podUnderTest) podSecurityDecision {
	noSELinux := !setsSELinux(pods)
	candidate := "restricted"
	var review []string
	for _, n := range names {
		psp := psps[n]
		if rule, _, _ := unstructured.NestedString(psp.Object, "spec", "seLinux", "rule"); noSELinux && rule != "MustRunAs" {
			psp = psp.DeepCopy()
			_ = unstructured.SetNestedField(psp.Object, map[string]any{"rule": "MustRunAs"}, "spec", "seLinux")
			review = append(review, n+": seLinux rule "+dash(rule)+" is harmless here: no pod in the namespace sets seLinuxOptions")
		}
		l, faithful, notes := pspToPodSecurity(psp)
		if !faithful {
			for _, note := range notes {
				review = append(review, n+": "+note)
			}
		}
		if psaRank[l] < psaRank[candidate] {
			candidate = l
		}
	}
	passing, why := highestPassingLevel(pods)
	dec := podSecurityDecision{psps: names, enforce: candidate}
	var parts []string
	parts = append(parts, fmt.Sprintf("PodSecurityPolicies %s translate to %s", strings.Join(names, ", "), candidate))
	if psaRank[passing] < psaRank[candidate] {
		dec.enforce = passing
		parts = append(parts, fmt.Sprintf("enforcing %s would reject pods that exist, so %s is enforced, the highest level all %d pods and pod templates pass (%s)",
			candidate, passing, len(pods), strings.Join(why, "; ")))
	} else {
		parts = append(parts, fmt.Sprintf("all %d pods and pod templates of the namespace pass it, so it is enforced", len(pods)))
	}
	if dec.enforce != "restricted" {
		dec.warn = "restricted"
	}
	dec.note = strings.Join(parts, "; ")
	if len(review) > 0 {
		dec.note += " (review: " + strings.Join(review, "; ") + ")"
	}
	return dec
}

func dash(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

// labelNamespace sets Pod Security Admission labels on a namespace that is moving.
func (d *discoverer) labelNamespace(ns string, dec podSecurityDecision) {
	var nsItem *item
	for _, it := range d.items {
		if it.obj.GetKind() == "Namespace" && it.obj.GetNamespace() == "" && it.obj.GetName() == ns {
			nsItem = it
		}
	}
	if nsItem == nil {
		return
	}
	labels := nsItem.obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	const prefix = "pod-security.kubernetes.io/"
	if _, set := labels[prefix+"enforce"]; set {
		nsItem.notes = append(nsItem.notes, fmt.Sprintf("already has Pod Security Admission labels; PodSecurityPolicies %s not translated", strings.Join(dec.psps, ", ")))
		return
	}
	labels[prefix+"enforce"] = dec.enforce
	if dec.warn != "" {
		labels[prefix+"warn"], labels[prefix+"audit"] = dec.warn, dec.warn
	}
	nsItem.obj.SetLabels(labels)
	msg := fmt.Sprintf("Pod Security Admission enforce=%s", dec.enforce)
	if dec.warn != "" {
		msg += fmt.Sprintf(", warn=audit=%s", dec.warn)
	}
	nsItem.notes = append(nsItem.notes, msg+": "+dec.note)
}

// podCreators are the kube-controller-manager service accounts that create pods (with
// --use-service-account-credentials): PodSecurityPolicy admitted a pod when either its
// service account or the user creating it could use the policy.
var podCreators = map[string]bool{"replicaset-controller": true, "replication-controller": true, "daemon-set-controller": true,
	"statefulset-controller": true, "job-controller": true, "cronjob-controller": true}

// bindsPods reports whether a binding's subjects include the pods of namespace ns or
// their creators: a ServiceAccount there (kind ServiceAccount, or User
// system:serviceaccount:NS:NAME), a group all of them belong to, or the controllers that
// create pods (kube-system's controller service accounts, system:kube-controller-manager).
func bindsPods(obj *unstructured.Unstructured, ns string) bool {
	subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
	for _, s := range subjects {
		m, ok := s.(map[string]any)
		if !ok {
			continue
		}
		switch m["kind"] {
		case "ServiceAccount":
			sns := strField(m, "namespace")
			if sns == "" {
				sns = obj.GetNamespace()
			}
			if sns == ns || (sns == "kube-system" && podCreators[strField(m, "name")]) {
				return true
			}
		case "User":
			name := strField(m, "name")
			if name == "system:kube-controller-manager" {
				return true
			}
			if sns, sa, ok := serviceAccountUser(name); ok && (sns == ns || (sns == "kube-system" && podCreators[sa])) {
				return true
			}
		case "Group":
			switch m["name"] {
			case "system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated", "system:serviceaccounts:kube-system":
				return true
			}
		}
	}
	return false
}

// serviceAccountUser splits a service account's user name, system:serviceaccount:NS:NAME.
func serviceAccountUser(user string) (ns, name string, ok bool) {
	rest, found := strings.CutPrefix(user, "system:serviceaccount:")
	if !found {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	return ns, name, ok && ns != "" && name != ""
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
