package migrate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// TestReadOnlyRefusesEveryWrite sends every verb through a dynamic client built on the
// read-only config; the server counts what reaches it.
func TestReadOnlyRefusesEveryWrite(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") == "true" {
			w.WriteHeader(200)
			return
		}
		_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"ConfigMapList","metadata":{},"items":[]}`))
	}))
	t.Cleanup(srv.Close)

	cfg, log := ReadOnly(&rest.Config{Host: srv.URL})
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ri := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("payments")
	ctx := context.Background()
	cm := &unstructured.Unstructured{}
	cm.SetAPIVersion("v1")
	cm.SetKind("ConfigMap")
	cm.SetName("x")

	if _, err := ri.List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list must pass: %v", err)
	}
	if w, err := ri.Watch(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("watch must pass: %v", err)
	} else {
		w.Stop()
	}
	writes := map[string]func() error{
		"create": func() error { _, err := ri.Create(ctx, cm, metav1.CreateOptions{}); return err },
		"update": func() error { _, err := ri.Update(ctx, cm, metav1.UpdateOptions{}); return err },
		"patch": func() error {
			_, err := ri.Patch(ctx, "x", types.ApplyPatchType, []byte(`{}`), metav1.PatchOptions{FieldManager: "t"})
			return err
		},
		"delete":            func() error { return ri.Delete(ctx, "x", metav1.DeleteOptions{}) },
		"delete collection": func() error { return ri.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}) },
	}
	for name, call := range writes {
		if err := call(); !errors.Is(err, ErrWriteRefused) {
			t.Errorf("%s: err = %v, want ErrWriteRefused", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for m, n := range seen {
		if m != http.MethodGet {
			t.Errorf("server received %d %s requests, want none", n, m)
		}
	}
	if seen[http.MethodGet] != 2 || log.Reads() != 2 {
		t.Errorf("GETs: server %d, log %d; want 2 each", seen[http.MethodGet], log.Reads())
	}
	if got := len(log.Refused()); got != len(writes) {
		t.Errorf("log refused %d writes, want %d: %v", got, len(writes), log.Refused())
	}
	if log.Writes() != 0 {
		t.Errorf("log counts %d writes", log.Writes())
	}
}
