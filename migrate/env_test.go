package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	blueVersion  = "v1.24.17"
	greenVersion = "v1.37.2"
)

// clusters starts (or reuses) the shared blue and green clusters.
func clusters(t *testing.T) (blue, green *testenv.Env) {
	t.Helper()
	testenv.Preflight(t, blueVersion)
	testenv.Preflight(t, greenVersion)
	return testenv.Start(t, blueVersion), testenv.Start(t, greenVersion)
}

// writeCounter is a transport, outside phoenix, that counts every request that would
// change blue: the proof that migrate never writes there.
type writeCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    int
	seen []string
}

func (w *writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.mu.Lock()
		w.n++
		w.seen = append(w.seen, r.Method+" "+r.URL.Path)
		w.mu.Unlock()
	}
	return w.next.RoundTrip(r)
}

func (w *writeCounter) writes() (int, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n, append([]string(nil), w.seen...)
}

// countingConfig returns a copy of cfg whose requests a writeCounter sees.
func countingConfig(cfg *rest.Config) (*rest.Config, *writeCounter) {
	wc := &writeCounter{}
	out := rest.CopyConfig(cfg)
	out.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { wc.next = rt; return wc }
	return out, wc
}

// createFixture creates testdata/blue-fixture.yaml on blue with NAMESPACE replaced,
// through the API versions written in it. Cluster-scoped objects that already exist
// (shared by several namespaces) are left alone.
func createFixture(t *testing.T, cfg *rest.Config, ns string, extraConfigMaps int) {
	t.Helper()
	data, err := os.ReadFile("testdata/blue-fixture.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("NAMESPACE"), []byte(ns))
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		o := &unstructured.Unstructured{}
		if err := dec.Decode(&o.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if len(o.Object) > 0 {
			objs = append(objs, o)
		}
	}
	for i := range extraConfigMaps {
		cm := &unstructured.Unstructured{}
		cm.SetAPIVersion("v1")
		cm.SetKind("ConfigMap")
		cm.SetNamespace(ns)
		cm.SetName(fmt.Sprintf("bulk-%03d", i))
		_ = unstructured.SetNestedStringMap(cm.Object, map[string]string{"i": strconv.Itoa(i)}, "data")
		objs = append(objs, cm)
	}
	createAll(t, cfg, objs)
}

func waitABit() { time.Sleep(500 * time.Millisecond) }

func memCache(d discovery.DiscoveryInterface) discovery.CachedDiscoveryInterface {
	return memory.NewMemCacheClient(d)
}

func createAll(t *testing.T, cfg *rest.Config, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	for _, o := range objs {
		var err error
		for attempt := 0; attempt < 60; attempt++ {
			var m *restMapping
			m, err = mapping(cfg, o.GroupVersionKind())
			if err == nil {
				ri := dyn.Resource(m.gvr)
				var r dynamic.ResourceInterface = ri
				if m.namespaced {
					r = ri.Namespace(o.GetNamespace())
				}
				_, err = r.Create(ctx, o, metav1.CreateOptions{})
				if apierrors.IsAlreadyExists(err) {
					err = nil
				}
			}
			if err == nil {
				break
			}
			waitABit() // a CRD just created is not served yet
			resetMapping(cfg)
		}
		if err != nil {
			t.Fatalf("creating %s %s on blue: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

type restMapping struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

var (
	mapMu   sync.Mutex
	mappers = map[string]*restmapper.DeferredDiscoveryRESTMapper{}
)

func mapping(cfg *rest.Config, gvk schema.GroupVersionKind) (*restMapping, error) {
	mapMu.Lock()
	m := mappers[cfg.Host]
	if m == nil {
		disc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
		m = restmapper.NewDeferredDiscoveryRESTMapper(memCache(disc))
		mappers[cfg.Host] = m
	}
	mapMu.Unlock()
	rm, err := m.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	return &restMapping{gvr: rm.Resource, namespaced: rm.Scope.Name() == "namespace"}, nil
}

func resetMapping(cfg *rest.Config) {
	mapMu.Lock()
	defer mapMu.Unlock()
	if m := mappers[cfg.Host]; m != nil {
		m.Reset()
	}
}
