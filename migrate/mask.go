package migrate

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Masked replaces a Secret value in anything phoenix shows.
const Masked = "***"

// IsSecret reports whether obj is a core/v1 Secret.
func IsSecret(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret"
}

// MaskSecret returns a copy of obj safe to show: for a Secret every value under data and
// stringData becomes "***" (keys stay), and kubectl's last-applied annotation, which
// repeats the values, is masked whole. Other objects are returned as they are.
func MaskSecret(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj == nil || !IsSecret(obj) {
		return obj
	}
	out := obj.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		m, ok := out.Object[field].(map[string]any)
		if !ok {
			continue
		}
		for k := range m {
			m[k] = Masked
		}
	}
	if ann := out.GetAnnotations(); ann != nil {
		if _, ok := ann["kubectl.kubernetes.io/last-applied-configuration"]; ok {
			ann["kubectl.kubernetes.io/last-applied-configuration"] = Masked
			out.SetAnnotations(ann)
		}
	}
	return out
}

// secretValues returns every value of a Secret in the forms it may appear in text: as
// stored (base64), decoded, and stringData as given. Values shorter than 4 bytes are left
// out: masking them would mangle ordinary words.
func secretValues(obj *unstructured.Unstructured) []string {
	if obj == nil || !IsSecret(obj) {
		return nil
	}
	var vals []string
	add := func(v string) {
		if len(v) >= 4 {
			vals = append(vals, v)
		}
	}
	if m, ok := obj.Object["data"].(map[string]any); ok {
		for _, v := range m {
			s := fmt.Sprint(v)
			add(s)
			if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
				add(string(dec))
			}
		}
	}
	if m, ok := obj.Object["stringData"].(map[string]any); ok {
		for _, v := range m {
			s := fmt.Sprint(v)
			add(s)
			add(base64.StdEncoding.EncodeToString([]byte(s)))
		}
	}
	// Longest first, so a value containing another is masked whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	return vals
}

// Scrub removes every value of the Secret obj from text (an error message, a webhook's
// denial reason, a diff line). For other objects it returns text unchanged.
func Scrub(text string, obj *unstructured.Unstructured) string {
	for _, v := range secretValues(obj) {
		text = strings.ReplaceAll(text, v, Masked)
	}
	return text
}
