package benchmigrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// kinds is the mix, per 20 objects.
var kinds = []string{"cm", "cm", "cm", "cm", "cm", "cm", "cm", "cm", "secret", "secret", "secret",
	"svc", "svc", "sa", "deploy", "deploy", "cronjob-v1beta1", "role", "rolebinding", "pdb-v1beta1"}

func object(ns string, i int) (*unstructured.Unstructured, schema.GroupVersionResource) {
	name := fmt.Sprintf("obj-%05d", i)
	meta := map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"bench": "yes", "app": name}}
	pod := map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx:1.25", "env": []any{map[string]any{"name": "I", "value": fmt.Sprint(i)}}}}}
	var o map[string]any
	var gvr schema.GroupVersionResource
	switch kinds[i%len(kinds)] {
	case "cm":
		o = map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"config.yaml": strings.Repeat("key: value\n", 20), "i": fmt.Sprint(i)}}
		gvr = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	case "secret":
		o = map[string]any{"apiVersion": "v1", "kind": "Secret", "stringData": map[string]any{"password": fmt.Sprintf("secret-%d", i)}}
		gvr = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	case "svc":
		o = map[string]any{"apiVersion": "v1", "kind": "Service", "spec": map[string]any{"selector": map[string]any{"app": name}, "ports": []any{map[string]any{"port": 80}}}}
		gvr = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	case "sa":
		o = map[string]any{"apiVersion": "v1", "kind": "ServiceAccount"}
		gvr = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	case "deploy":
		o = map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "spec": map[string]any{"replicas": 0,
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": name}}, "spec": pod}}}
		gvr = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	case "cronjob-v1beta1":
		pod["restartPolicy"] = "OnFailure"
		o = map[string]any{"apiVersion": "batch/v1beta1", "kind": "CronJob", "spec": map[string]any{"schedule": "0 1 * * *",
			"jobTemplate": map[string]any{"spec": map[string]any{"template": map[string]any{"spec": pod}}}}}
		gvr = schema.GroupVersionResource{Group: "batch", Version: "v1beta1", Resource: "cronjobs"}
	case "role":
		o = map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"configmaps"}, "verbs": []any{"get"}}}}
		gvr = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
	case "rolebinding":
		o = map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "default", "namespace": ns}}}
		gvr = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
	case "pdb-v1beta1":
		o = map[string]any{"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "spec": map[string]any{"minAvailable": 1, "selector": map[string]any{"matchLabels": map[string]any{"app": name}}}}
		gvr = schema.GroupVersionResource{Group: "policy", Version: "v1beta1", Resource: "poddisruptionbudgets"}
	}
	o["metadata"] = meta
	return &unstructured.Unstructured{Object: o}, gvr
}

// seed creates the namespace and n objects on blue, 64 at a time.
func seed(t *testing.T, cfg *rest.Config, ns string, n int) {
	t.Helper()
	cfg = kube.Throttle(rest.CopyConfig(cfg), 0, 0)
	cfg.WarningHandler = rest.NoWarnings{}
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	parallel(t, n, 64, func(i int) error {
		o, gvr := object(ns, i)
		_, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, o, metav1.CreateOptions{})
		return err
	})
}

func parallel(t *testing.T, n, workers int, fn func(i int) error) {
	t.Helper()
	ch := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		ch <- i
	}
	close(ch)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

type row struct {
	round   int // 0: outside the rounds
	name    string
	objects int
	elapsed time.Duration
	rssMB   float64
	note    string
}

func (r row) rate() float64 { return float64(r.objects) / r.elapsed.Seconds() }

// run runs a command and returns its wall time and peak RSS.
func run(t *testing.T, stdout io.Writer, name string, args ...string) (time.Duration, float64) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &errOut
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(errOut.String()))
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rss := 0.0
	if ru != nil {
		rss = float64(ru.Maxrss) / 1024
	}
	return elapsed, rss
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

func countYAML(t *testing.T, dir string) int { return len(loadYAML(t, dir)) }

func loadYAML(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		o := &unstructured.Unstructured{}
		if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(&o.Object); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		out = append(out, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawSSA is the ceiling: workers concurrent server-side applies over conns HTTP/2
// connections (one client each, round robin), no client throttling, the objects already
// decoded and encoded in memory.
func rawSSA(t *testing.T, cfg *rest.Config, objs []*unstructured.Unstructured, workers, conns int) row {
	t.Helper()
	cfg = kube.Throttle(rest.CopyConfig(cfg), 0, 0)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	dyns := make([]dynamic.Interface, conns)
	for c := range dyns {
		cc := rest.CopyConfig(cfg)
		if conns > 1 { // a config with its own Dial gets a transport (a connection) of its own
			cc.Dial = (&net.Dialer{Timeout: 30 * time.Second}).DialContext
		}
		dyns[c] = dynamic.NewForConfigOrDie(cc)
	}
	type target struct {
		ri   dynamic.ResourceInterface
		body []byte
		name string
	}
	var ns []target
	var rest []target
	for i, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatal(err)
		}
		dyn := dyns[i%conns]
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if o.GetNamespace() != "" {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		body, _ := json.Marshal(o.Object)
		tg := target{ri, body, o.GetName()}
		if gvk.Kind == "Namespace" {
			ns = append(ns, tg)
		} else {
			rest = append(rest, tg)
		}
	}
	ctx := context.Background()
	apply := func(tg target) error {
		_, err := tg.ri.Patch(ctx, tg.name, types.ApplyPatchType, tg.body, metav1.PatchOptions{FieldManager: "raw"})
		return err
	}
	start := time.Now()
	for _, tg := range ns {
		if err := apply(tg); err != nil {
			t.Fatal(err)
		}
	}
	parallel(t, len(rest), workers, func(i int) error { return apply(rest[i]) })
	return row{name: fmt.Sprintf("raw concurrent SSA (ceiling), %d workers, %d connection(s)", workers, conns), objects: len(objs), elapsed: time.Since(start),
		note: "unthrottled, pre-decoded, in the test process"}
}
