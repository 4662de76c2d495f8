package convert

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/phoenix-upgrade/phoenix/kube"
)

func obj(apiVersion, kind, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	u.SetNamespace("payments")
	return u
}

func TestRegistryConvert(t *testing.T) {
	t.Parallel()
	reg := Default()
	cases := []struct {
		name     string
		in       *unstructured.Unstructured
		target   string
		wantGV   string
		wantSame bool
		wantErr  string
	}{
		{name: "a served object comes back as the same object", in: obj("batch/v1beta1", "CronJob", "c"), target: "v1.24", wantGV: "batch/v1beta1", wantSame: true},
		{name: "a removed version is converted to its successor", in: obj("batch/v1beta1", "CronJob", "c"), target: "v1.25", wantGV: "batch/v1"},
		{name: "a chain stops at the newest version the target serves", in: obj("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "f"), target: "v1.28", wantGV: "flowcontrol.apiserver.k8s.io/v1beta3"},
		{name: "a chain runs to the end when the target serves it", in: obj("extensions/v1beta1", "Ingress", "i"), target: "v1.22", wantGV: "networking.k8s.io/v1"},
		{name: "an unknown kind of a known group counts as served", in: obj("example.com/v1", "Backup", "b"), target: "v1.37", wantGV: "example.com/v1", wantSame: true},
		{name: "a removed kind without successor names what to do", in: obj("policy/v1beta1", "PodSecurityPolicy", "p"), target: "v1.25", wantErr: "Pod Security Admission"},
		{name: "a target older than the successor cannot be reached", in: obj("networking.k8s.io/v1", "Ingress", "i"), target: "v1.18", wantErr: "Ingress payments/i: networking.k8s.io/v1 is not served"},
		{name: "a minor newer than the table is answered as the newest known", in: obj("batch/v1beta1", "CronJob", "c"), target: "v1.45", wantGV: "batch/v1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := reg.Convert(tc.in, ServedBy(kube.MustParseVersion(tc.target)))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := out.GetAPIVersion(); got != tc.wantGV {
				t.Errorf("apiVersion = %s, want %s", got, tc.wantGV)
			}
			if (out == tc.in) != tc.wantSame {
				t.Errorf("returned the input object: %v, want %v", out == tc.in, tc.wantSame)
			}
			if out.GetName() != tc.in.GetName() || out.GetKind() != tc.in.GetKind() {
				t.Errorf("identity changed: %s %s", out.GetKind(), out.GetName())
			}
		})
	}
}

// loop converts a/v1 X to b/v1 X and back, forever.
type loop struct{ from, to string }

func (l loop) Name() string { return l.from + " -> " + l.to }
func (l loop) AppliesTo(gvk schema.GroupVersionKind) bool {
	return gvk.GroupVersion().String() == l.from
}
func (l loop) Convert(o *unstructured.Unstructured) (*unstructured.Unstructured, []Note, error) {
	c := o.DeepCopy()
	c.SetAPIVersion(l.to)
	return c, nil, nil
}

type failing struct{}

func (failing) Name() string                               { return "failing" }
func (failing) AppliesTo(gvk schema.GroupVersionKind) bool { return gvk.Group == "fail.example.com" }
func (failing) Convert(*unstructured.Unstructured) (*unstructured.Unstructured, []Note, error) {
	return nil, nil, errors.New("boom")
}

func TestRegistryStopsOnLoopsAndErrors(t *testing.T) {
	t.Parallel()
	never := func(schema.GroupVersionKind) bool { return false }
	reg := NewRegistry(loop{"a.example.com/v1", "b.example.com/v1"}, loop{"b.example.com/v1", "a.example.com/v1"}, failing{})
	_, _, err := reg.Convert(obj("a.example.com/v1", "X", "x"), never)
	if err == nil || !strings.Contains(err.Error(), "a.example.com/v1 -> b.example.com/v1 -> a.example.com/v1") {
		t.Errorf("loop: error = %v, want the path it took", err)
	}
	_, _, err = reg.Convert(obj("fail.example.com/v1", "X", "x"), never)
	if err == nil || !strings.Contains(err.Error(), "X payments/x: failing: boom") {
		t.Errorf("failing step: error = %v, want object, converter and cause", err)
	}
	_, _, err = reg.Convert(&unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "n"}}}, never)
	if err == nil || !strings.Contains(err.Error(), "no apiVersion or kind") {
		t.Errorf("no kind: error = %v", err)
	}
}

func TestEveryConverterTargetsAServedVersion(t *testing.T) {
	t.Parallel()
	// Each converter's output must be a version some minor serves, or convert further:
	// otherwise the registry would produce objects no cluster accepts.
	reg := Default()
	for _, c := range reg.Converters() {
		s := c.(*step)
		for _, k := range s.kinds {
			to := s.to.WithKind(k)
			if reg.For(to) != nil {
				continue
			}
			span, ok := servedTable[to]
			if !ok || span.off {
				t.Errorf("%s: %s is a dead end (not in the served table, or never served by default)", c.Name(), to)
			}
			if from := s.from.WithKind(k); servedTable[from] == (span) {
				t.Errorf("%s: served table has the same span for %s and %s", c.Name(), from, to)
			}
		}
	}
}

func TestServedBy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		version string
		gvk     schema.GroupVersionKind
		want    bool
	}{
		{"v1.15", schema.GroupVersionKind{Group: "extensions", Version: "v1beta1", Kind: "Deployment"}, true},
		{"v1.16", schema.GroupVersionKind{Group: "extensions", Version: "v1beta1", Kind: "Deployment"}, false},
		{"v1.21", schema.GroupVersionKind{Group: "extensions", Version: "v1beta1", Kind: "Ingress"}, true},
		{"v1.22", schema.GroupVersionKind{Group: "extensions", Version: "v1beta1", Kind: "Ingress"}, false},
		{"v1.18", schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}, false},
		{"v1.19", schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}, true},
		{"v1.24.17", schema.GroupVersionKind{Group: "policy", Version: "v1beta1", Kind: "PodSecurityPolicy"}, true},
		{"v1.25.0", schema.GroupVersionKind{Group: "policy", Version: "v1beta1", Kind: "PodSecurityPolicy"}, false},
		{"v1.25", schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta2", Kind: "HorizontalPodAutoscaler"}, true},
		{"v1.26", schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta2", Kind: "HorizontalPodAutoscaler"}, false},
		{"v1.31", schema.GroupVersionKind{Group: "flowcontrol.apiserver.k8s.io", Version: "v1beta3", Kind: "FlowSchema"}, true},
		{"v1.32", schema.GroupVersionKind{Group: "flowcontrol.apiserver.k8s.io", Version: "v1beta3", Kind: "FlowSchema"}, false},
		{"v1.37", schema.GroupVersionKind{Group: "node.k8s.io", Version: "v1alpha1", Kind: "RuntimeClass"}, false},
		{"v1.14", schema.GroupVersionKind{Group: "node.k8s.io", Version: "v1alpha1", Kind: "RuntimeClass"}, false},
		{"v1.37", schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, true},
		{"v1.37", schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, true},
	}
	for _, tc := range cases {
		if got := ServedBy(kube.MustParseVersion(tc.version))(tc.gvk); got != tc.want {
			t.Errorf("ServedBy(%s)(%s) = %v, want %v", tc.version, tc.gvk, got, tc.want)
		}
	}
}

func TestServedByRefusesKindsOfRemovedAndAlphaBuiltinVersions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		gvk    schema.GroupVersionKind
		target string
		want   bool
	}{
		{schema.GroupVersionKind{Group: "extensions", Version: "v1beta1", Kind: "Job"}, "v1.37", false},
		{schema.GroupVersionKind{Group: "extensions", Version: "v1beta1", Kind: "Job"}, "v1.20", false},
		{schema.GroupVersionKind{Group: "apps", Version: "v1beta2", Kind: "Scale"}, "v1.15", false},
		{schema.GroupVersionKind{Group: "resource.k8s.io", Version: "v1alpha3", Kind: "ResourceClaim"}, "v1.37", false},
		{schema.GroupVersionKind{Group: "extensions", Version: "v1beta1", Kind: "Ingress"}, "v1.20", true},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Foo"}, "v1.37", true},
		{schema.GroupVersionKind{Group: "", Version: "v1", Kind: "ConfigMap"}, "v1.37", true},
		{schema.GroupVersionKind{Group: "example.com", Version: "v1alpha1", Kind: "Widget"}, "v1.37", true},
	} {
		if got := ServedBy(kube.MustParseVersion(tc.target))(tc.gvk); got != tc.want {
			t.Errorf("ServedBy(%s)(%s) = %v, want %v", tc.target, tc.gvk, got, tc.want)
		}
	}
}
