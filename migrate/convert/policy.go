package convert

// pdbV1beta1Label is the label key kubernetes uses in selectors that keep the v1beta1
// meaning of a PodDisruptionBudget selector in policy/v1 (pkg/apis/policy/helper.go).
const pdbV1beta1Label = "pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match"

// policyConverters: policy/v1beta1 PodDisruptionBudget -> policy/v1 (1.25), and
// extensions/v1beta1 PodSecurityPolicy -> policy/v1beta1 (1.16; policy/v1beta1 PSP itself
// was removed in 1.25 without successor, see PSPToPodSecurity).
// Read from kubernetes pkg/apis/policy/v1beta1/conversion.go.
func policyConverters() []Converter {
	return []Converter{
		rewrite("policy/v1beta1", "policy/v1", pdbToV1, "PodDisruptionBudget"),
		rename("extensions/v1beta1", "policy/v1beta1", "PodSecurityPolicy"),
	}
}

// pdbToV1 keeps what the selector selected: an empty selector selected no pods in
// v1beta1 and selects every pod in v1, so it becomes a selector that never matches; the
// selector v1 wrote for "everything" in v1beta1 becomes the empty selector again.
func pdbToV1(o *object) error {
	sel, ok := get(o.Object, "spec.selector")
	if !ok {
		return nil
	}
	selMap, _ := sel.(map[string]any)
	switch {
	case emptyMap(sel):
		set(o.Object, "spec.selector", map[string]any{"matchExpressions": []any{
			map[string]any{"key": pdbV1beta1Label, "operator": "Exists"},
		}})
		o.lossy("spec.selector", "was empty, which selected no pods in policy/v1beta1 but selects every pod in the namespace in policy/v1; wrote a selector that matches no pod (%s Exists) to keep the budget inert, as kubernetes does when it converts: set a real selector, or {} to protect every pod", pdbV1beta1Label)
	case isV1beta1MatchAll(selMap):
		set(o.Object, "spec.selector", map[string]any{})
		o.info("spec.selector", "was the v1beta1 spelling of \"every pod\" (%s DoesNotExist); wrote {}, its policy/v1 spelling", pdbV1beta1Label)
	default:
		stripPDBLabel(selMap)
	}
	return nil
}

func isV1beta1MatchAll(sel map[string]any) bool {
	if sel == nil {
		return false
	}
	if ml, ok := sel["matchLabels"].(map[string]any); ok && len(ml) > 0 {
		return false
	}
	exprs, _ := sel["matchExpressions"].([]any)
	if len(exprs) != 1 {
		return false
	}
	e, _ := exprs[0].(map[string]any)
	vals, _ := e["values"].([]any)
	return e["key"] == pdbV1beta1Label && e["operator"] == "DoesNotExist" && len(vals) == 0
}

// stripPDBLabel removes the reserved key from user selectors, as kubernetes does.
func stripPDBLabel(sel map[string]any) {
	exprs, ok := sel["matchExpressions"].([]any)
	if !ok {
		return
	}
	kept := exprs[:0]
	for _, e := range exprs {
		if em, ok := e.(map[string]any); ok && em["key"] == pdbV1beta1Label {
			continue
		}
		kept = append(kept, e)
	}
	sel["matchExpressions"] = kept
}
