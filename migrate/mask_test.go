package migrate

import (
	"encoding/base64"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestMaskSecretHidesEveryValue(t *testing.T) {
	t.Parallel()
	secret := obj(t, `
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: payments
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"aHVudGVyMjI="}}'
data: {password: aHVudGVyMjI=, user: YWRtaW4=}
stringData: {token: s3cr3t-token}`)
	masked := MaskSecret(secret)
	out, err := yaml.Marshal(masked.Object)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"aHVudGVyMjI=", "YWRtaW4=", "s3cr3t-token", "hunter22"} {
		if strings.Contains(string(out), v) {
			t.Errorf("masked Secret still shows %q:\n%s", v, out)
		}
	}
	for _, k := range []string{"password", "user", "token"} {
		if !strings.Contains(string(out), k+": '***'") {
			t.Errorf("masked Secret lost key %q:\n%s", k, out)
		}
	}
	if secret.Object["data"].(map[string]any)["password"] != "aHVudGVyMjI=" {
		t.Errorf("MaskSecret modified its input")
	}
	cm := obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: visible}")
	if MaskSecret(cm).Object["data"].(map[string]any)["k"] != "visible" {
		t.Errorf("a ConfigMap must not be masked")
	}
}

func TestScrubRemovesSecretValuesFromMessages(t *testing.T) {
	t.Parallel()
	secret := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {password: "+
		base64.StdEncoding.EncodeToString([]byte("hunter22"))+", short: "+base64.StdEncoding.EncodeToString([]byte("ab"))+"}")
	tests := []struct{ name, in, want string }{
		{"a decoded value in a webhook denial", `admission webhook "x" denied: password hunter22 is weak`, `admission webhook "x" denied: password *** is weak`},
		{"a base64 value in a validation error", `Invalid value: "aHVudGVyMjI="`, `Invalid value: "***"`},
		{"a message without values is kept", `namespace not found`, `namespace not found`},
		{"values under 4 bytes are masked as whole tokens, so words holding them survive", `about ab`, `about ***`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Scrub(tt.in, secret); got != tt.want {
				t.Errorf("Scrub = %q, want %q", got, tt.want)
			}
		})
	}
	cm := obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: hunter22}")
	if got := Scrub("hunter22", cm); got != "hunter22" {
		t.Errorf("Scrub of a ConfigMap changed the text to %q", got)
	}
}
