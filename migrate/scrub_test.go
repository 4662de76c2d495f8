package migrate

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// hostile are Secret values that slipped through substring masking: short, with
// newlines, quotes and <>& (a PEM key), and their escaped forms.
var hostile = []string{
	"x9",
	"p\"q'r<s>&t",
	"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
	"line1 with <b>&amp;\nline2 \"quoted\"",
}

func hostileSecret(t *testing.T) *unstructured.Unstructured {
	data := map[string]any{}
	for i, v := range hostile {
		data["k"+strconv.Itoa(i)] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "s", "namespace": "p"}, "data": data, "stringData": map[string]any{"extra": "a&b"}}}
}

// leaks reports the forms of a value found in text (short values as whole tokens).
func leaks(text, v string) []string {
	var found []string
	j, _ := json.Marshal(v)
	y, _ := yaml.Marshal(map[string]string{"k": v})
	forms := map[string]string{"raw": v, "base64": base64.StdEncoding.EncodeToString([]byte(v)), "json": string(j[1 : len(j)-1]),
		"quoted": strconv.Quote(v)[1 : len(strconv.Quote(v))-1], "yaml": strings.TrimSpace(strings.TrimPrefix(string(y), "k:"))}
	for name, f := range forms {
		if len(f) < 4 {
			for _, tok := range strings.FieldsFunc(text, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') }) {
				if tok == f {
					found = append(found, name)
				}
			}
			continue
		}
		if strings.Contains(text, f) {
			found = append(found, name)
		}
	}
	return found
}

func TestScrubRemovesEveryEncodingOfHostileValues(t *testing.T) {
	t.Parallel()
	secret := hostileSecret(t)
	for _, v := range append(hostile, "a&b") {
		j, _ := json.Marshal(v)
		y, _ := yaml.Marshal(map[string]string{"value": v})
		msgs := []string{
			"admission webhook denied the request: value " + v + " is not allowed",
			`{"message":"invalid: ` + string(j[1:len(j)-1]) + `"}`,
			"Invalid value: " + strconv.Quote(v),
			"data: " + base64.StdEncoding.EncodeToString([]byte(v)),
			"spec:\n" + string(y),
		}
		for _, m := range msgs {
			got := Scrub(m, secret)
			if l := leaks(got, v); len(l) > 0 {
				t.Errorf("value %q leaks (%v) through Scrub:\n in: %s\nout: %s", v, l, m, got)
			}
		}
	}
}

func TestMaskSecretHidesHostileValuesInEveryFormat(t *testing.T) {
	t.Parallel()
	s := hostileSecret(t)
	s.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"k0":"eDk="}}`})
	masked := MaskSecret(s)
	j, _ := json.Marshal(masked.Object)
	y, _ := yaml.Marshal(masked.Object)
	for _, out := range []string{string(j), string(y)} {
		for _, v := range hostile {
			if l := leaks(out, v); len(l) > 0 {
				t.Errorf("value %q leaks (%v) through MaskSecret:\n%s", v, l, out)
			}
		}
	}
}
