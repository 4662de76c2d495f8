package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/gateway"
	"github.com/phoenix-upgrade/phoenix/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const k8sVersion = "v1.37.2"

// installHTTPRouteCRD creates the standard-channel HTTPRoute CRD shipped in the
// gateway-api module and waits until it is Established.
func installHTTPRouteCRD(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("locating the gateway-api module: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard", "gateway.networking.k8s.io_httproutes.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(&crd.Object); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	ctx := context.Background()
	if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("creating the HTTPRoute CRD: %v", err)
	}
	for i := 0; ; i++ {
		got, err := crds.Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		if i > 300 {
			t.Fatalf("the HTTPRoute CRD never became Established: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

func route(name string, backends ...string) *gwapiv1.HTTPRoute {
	var refs []gwapiv1.HTTPBackendRef
	for _, b := range backends {
		refs = append(refs, gwapiv1.HTTPBackendRef{BackendRef: gwapiv1.BackendRef{
			BackendObjectReference: gwapiv1.BackendObjectReference{Name: gwapiv1.ObjectName(b), Port: ptr(gwapiv1.PortNumber(80))},
		}})
	}
	return &gwapiv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: gwapiv1.HTTPRouteSpec{
			CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: []gwapiv1.ParentReference{{Name: "edge"}}},
			Hostnames:       []gwapiv1.Hostname{"shop.example.test"},
			Rules:           []gwapiv1.HTTPRouteRule{{BackendRefs: refs}},
		},
	}
}

func TestHTTPRouteWeightsOnARealAPIServer(t *testing.T) {
	env := testenv.Start(t, k8sVersion)
	cfg := env.RESTConfig()
	dyn := dynamic.NewForConfigOrDie(cfg)
	installHTTPRouteCRD(t, dyn)
	ctx := context.Background()
	_, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	gw := gwclient.NewForConfigOrDie(cfg)
	for _, rt := range []*gwapiv1.HTTPRoute{route("shop", "shop-blue", "shop-green"), route("blue-only", "shop-blue")} {
		if _, err := gw.GatewayV1().HTTPRoutes("shop").Create(ctx, rt, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating HTTPRoute %s: %v", rt.Name, err)
		}
	}
	gcfg := cutover.GatewayConfig{Cluster: env.Name, Namespace: "shop", Route: "shop", BlueBackend: "shop-blue", GreenBackend: "shop-green"}
	r, err := gateway.New(gcfg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Both refs without weight: the API's default of 1 each.
	if w, err := r.Weights(ctx); err != nil || w != (cutover.Weights{Blue: 50, Green: 50}) {
		t.Fatalf("initial weights %v %v", w, err)
	}
	for _, green := range []int{10, 50, 100, 0} {
		if err := r.SetWeights(ctx, 100-green, green); err != nil {
			t.Fatal(err)
		}
		if w, err := r.Weights(ctx); err != nil || w.Green != green {
			t.Fatalf("after setting green %d: %v %v", green, w, err)
		}
	}
	stored, err := gw.GatewayV1().HTTPRoutes("shop").Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if refs := stored.Spec.Rules[0].BackendRefs; *refs[0].Weight != 100 || *refs[1].Weight != 0 {
		t.Errorf("stored weights %d/%d, want 100/0", *refs[0].Weight, *refs[1].Weight)
	}

	for _, tc := range []struct {
		name  string
		route string
		w     cutover.Weights
		want  string
	}{
		{"route missing", "nope", cutover.Weights{Blue: 90, Green: 10}, "not found"},
		{"no rule with both backends", "blue-only", cutover.Weights{Blue: 90, Green: 10}, "no rule with both backendRefs"},
		{"weights out of range", "shop", cutover.Weights{Blue: -5, Green: 105}, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := gcfg
			c.Route = tc.route
			rr, _ := gateway.New(c, cfg)
			err := rr.SetWeights(ctx, tc.w.Blue, tc.w.Green)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if tc.route == "shop" && !errors.Is(err, cutover.ErrOutOfRange) {
				t.Errorf("does not wrap ErrOutOfRange: %v", err)
			}
			if w, _ := r.Weights(ctx); w != cutover.AllBlue {
				t.Errorf("weights changed to %v", w)
			}
		})
	}
}
