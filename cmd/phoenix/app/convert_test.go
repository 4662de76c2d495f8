package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestConvertCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ingress := write("ingress.yaml", `apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
  - http:
      paths:
      - path: /
        backend: {serviceName: web, servicePort: 80}
`)
	psp := write("psp.yaml", "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: old}\nspec: {}\n")
	values := write("values.yaml", "replicas: 2\n")
	broken := write("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\n# second document\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken}\ndata: k: v\n")
	classed := write("classed.yaml", "apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata:\n  name: web\n  annotations: {kubernetes.io/ingress.class: nginx}\nspec:\n  backend: {serviceName: web, servicePort: 80}\n")
	job := write("job.yaml", "apiVersion: extensions/v1beta1\nkind: Job\nmetadata: {name: old}\nspec: {}\n")
	alpha := write("claim.yaml", "apiVersion: resource.k8s.io/v1alpha2\nkind: ResourceClaim\nmetadata: {name: gpu}\nspec: {}\n")

	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string
		wantErrOut []string
	}{
		{name: "converts to stdout and reports defaults on stderr", args: []string{"convert", "-f", ingress, "-f", values, "--to", "v1.37"},
			wantOut:    []string{"apiVersion: networking.k8s.io/v1", "pathType: ImplementationSpecific", "number: 80"},
			wantErrOut: []string{"FILE", "default", "spec.rules[*].http.paths[*].pathType", values + "#1", "skipped", "Converted 1 object(s) for v1.37"}},
		{name: "json output", args: []string{"convert", "-f", ingress, "--to", "v1.22", "-o", "json"},
			wantOut: []string{`"apiVersion": "networking.k8s.io/v1"`}},
		{name: "an object without successor exits with findings", args: []string{"convert", "-f", psp, "--to", "v1.25"},
			wantCode: ExitFindings, wantErrOut: []string{"error", "Pod Security Admission", "1 not converted"}},
		{name: "the same object converts fine for a target that still serves it", args: []string{"convert", "-f", psp, "--to", "v1.24"},
			wantOut: []string{"kind: PodSecurityPolicy"}},
		{name: "a malformed document is an error naming the file and line", args: []string{"convert", "-f", broken, "--to", "v1.37"},
			wantCode: ExitError, wantOut: []string{"name: fine"}, wantErrOut: []string{broken + ":9", "line 9: malformed document"}},
		{name: "a removed group/version no converter knows is an error", args: []string{"convert", "-f", job, "--to", "v1.37"},
			wantCode: ExitFindings, wantErrOut: []string{"extensions/v1beta1 is not served by the target and phoenix has no converter for it", "1 not converted"}},
		{name: "an alpha version of a Kubernetes group is not served", args: []string{"convert", "-f", alpha, "--to", "v1.37"},
			wantCode: ExitFindings, wantErrOut: []string{"resource.k8s.io/v1alpha2 is not served by the target", "1 not converted"}},
		{name: "the ingress class annotation is kept by default, as the apiserver did", args: []string{"convert", "-f", classed, "--to", "v1.37"},
			wantOut: []string{"kubernetes.io/ingress.class: nginx"}, wantErrOut: []string{"as the apiserver's conversion does"}},
		{name: "--ingress-class=field moves the annotation into spec.ingressClassName", args: []string{"convert", "-f", classed, "--to", "v1.37", "--ingress-class", "field"},
			wantOut: []string{"ingressClassName: nginx"}},
		{name: "an unknown --ingress-class is a usage error", args: []string{"convert", "-f", classed, "--to", "v1.37", "--ingress-class", "both"}, wantCode: ExitUsage},
		{name: "--to is required", args: []string{"convert", "-f", ingress}, wantCode: ExitUsage},
		{name: "-f is required", args: []string{"convert", "--to", "v1.37"}, wantCode: ExitUsage},
		{name: "a bad version is a usage error", args: []string{"convert", "-f", ingress, "--to", "one"}, wantCode: ExitUsage},
		{name: "an unknown output format is a usage error", args: []string{"convert", "-f", ingress, "--to", "v1.37", "-o", "table"}, wantCode: ExitUsage},
		{name: "in-place and output-dir exclude each other", args: []string{"convert", "-f", ingress, "--to", "v1.37", "--in-place", "--output-dir", dir}, wantCode: ExitUsage},
		{name: "a missing file fails", args: []string{"convert", "-f", filepath.Join(dir, "nope.yaml"), "--to", "v1.37"}, wantCode: ExitError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := Run(context.Background(), tc.args, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
			code := ExitOK
			if err != nil {
				code = ExitError
				var ec *ExitCodeError
				if errors.As(err, &ec) {
					code = ec.Code
				}
			}
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d (err %v)\nstderr:\n%s", code, tc.wantCode, err, errOut.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.wantErrOut {
				if !strings.Contains(errOut.String()+errString(err), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
