package convert

import "fmt"

// admissionConverters: admissionregistration.k8s.io/v1beta1 Mutating- and
// ValidatingWebhookConfiguration -> v1 (removed in 1.22). v1 changed four defaults and
// forbids two sideEffects values; the converter writes the v1beta1 behaviour explicitly.
// Defaults read from kubernetes pkg/apis/admissionregistration/{v1beta1,v1}/defaults.go.
func admissionConverters() []Converter {
	return []Converter{
		rewrite("admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1", webhooksToV1,
			"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"),
		// Off by default as v1beta1; same schema as v1 (1.30).
		rename("admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1",
			"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"),
	}
}

func webhooksToV1(o *object) error {
	return forEachMap(o.Object, "webhooks", func(i int, w map[string]any) error {
		name, _ := w["name"].(string)
		field := func(f string) string { return fmt.Sprintf("webhooks[%d](%s).%s", i, name, f) }
		if _, ok := w["failurePolicy"]; !ok {
			w["failurePolicy"] = "Ignore"
			o.defaulted(field("failurePolicy"), "was unset: v1beta1 defaults to Ignore (requests pass when the webhook is down), v1 to Fail; wrote Ignore")
		}
		if _, ok := w["matchPolicy"]; !ok {
			w["matchPolicy"] = "Exact"
			o.defaulted(field("matchPolicy"), "was unset: v1beta1 defaults to Exact, v1 to Equivalent (also called for the same resource through other API versions); wrote Exact")
		}
		if _, ok := w["timeoutSeconds"]; !ok {
			w["timeoutSeconds"] = int64(30)
			o.defaulted(field("timeoutSeconds"), "was unset: v1beta1 defaults to 30s, v1 to 10s; wrote 30")
		}
		if v, ok := w["admissionReviewVersions"]; !ok || len(stringsOf(v)) == 0 {
			w["admissionReviewVersions"] = anyStrings("v1beta1")
			o.defaulted(field("admissionReviewVersions"), "was unset: v1beta1 defaults to [v1beta1], v1 requires the field; wrote [v1beta1] (add v1 once the webhook understands admission.k8s.io/v1)")
		}
		switch se, _ := w["sideEffects"].(string); se {
		case "None", "NoneOnDryRun":
		case "":
			w["sideEffects"] = "None"
			o.lossy(field("sideEffects"), "was unset (v1beta1 default Unknown: dry-run requests are rejected) and v1 requires None or NoneOnDryRun; wrote None, so dry-run requests now reach the webhook: make sure it has no side effects, or that it honours dryRun and set NoneOnDryRun")
		default:
			w["sideEffects"] = "None"
			o.lossy(field("sideEffects"), "was %s, which v1 does not allow (only None or NoneOnDryRun); wrote None, so dry-run requests now reach the webhook: make sure it has no side effects, or that it honours dryRun and set NoneOnDryRun", se)
		}
		return nil
	})
}
