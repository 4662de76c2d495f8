package migrate

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
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

// secretValues returns every value of a Secret (data decoded, stringData as given) in
// every form it may take in a message: raw, base64, JSON-escaped (with and without HTML
// escaping of <>&), Go-quoted, YAML single-quoted, and each line of a multi-line value.
// Forms of at least 4 bytes are replaced wherever they occur; shorter ones are returned
// apart (short) and replaced only as whole tokens, so that masking "ab" does not mangle
// every word holding those letters.
func secretValues(obj *unstructured.Unstructured) (long, short []string) {
	if obj == nil || !IsSecret(obj) {
		return nil, nil
	}
	seen := map[string]bool{}
	add := func(v string) {
		if v == "" || seen[v] {
			return
		}
		seen[v] = true
		if len(v) >= 4 {
			long = append(long, v)
		} else {
			short = append(short, v)
		}
	}
	forms := func(v string) {
		add(v)
		add(base64.StdEncoding.EncodeToString([]byte(v)))
		if j, err := json.Marshal(v); err == nil {
			add(string(j[1 : len(j)-1]))
		}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if enc.Encode(v) == nil {
			j := strings.TrimSpace(b.String())
			add(j[1 : len(j)-1])
		}
		q := strconv.Quote(v)
		add(q[1 : len(q)-1])
		add(strings.ReplaceAll(v, "'", "''"))
		if strings.Contains(v, "\n") {
			for _, l := range strings.Split(v, "\n") {
				if l = strings.TrimSpace(l); len(l) >= 8 {
					add(l)
				}
			}
		}
	}
	if m, ok := obj.Object["data"].(map[string]any); ok {
		for _, v := range m {
			s := fmt.Sprint(v)
			add(s)
			if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
				forms(string(dec))
			}
		}
	}
	if m, ok := obj.Object["stringData"].(map[string]any); ok {
		for _, v := range m {
			forms(fmt.Sprint(v))
		}
	}
	// Longest first, so a value containing another is masked whole.
	sort.Slice(long, func(i, j int) bool { return len(long[i]) > len(long[j]) })
	return long, short
}

// Scrub removes every value of the Secret obj, in each of its encodings, from text (an
// error message, a webhook's denial reason, a diff line). For other objects it returns
// text unchanged.
func Scrub(text string, obj *unstructured.Unstructured) string {
	long, short := secretValues(obj)
	for _, v := range long {
		text = strings.ReplaceAll(text, v, Masked)
	}
	for _, v := range short {
		re := regexp.MustCompile(`(^|[^A-Za-z0-9])` + regexp.QuoteMeta(v) + `($|[^A-Za-z0-9])`)
		for re.MatchString(text) {
			text = re.ReplaceAllString(text, "${1}"+Masked+"${2}")
		}
	}
	return text
}
