package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/phoenix-upgrade/phoenix/cmd/phoenix/app"
)

// envDemoWorkspace turns the blue-green scenario into the README's demo (hack/demo.sh):
// the workspace is this directory instead of a temporary one, every phoenix report is
// printed to stdout as it comes, and the clusters are left running at the end.
const envDemoWorkspace = "PHOENIX_DEMO_WORKSPACE"

// envArtifacts, when set, receives a copy of the scenario's timeline.svg and reports (CI
// keeps them).
const envArtifacts = "PHOENIX_E2E_ARTIFACTS"

// scenario runs phoenix commands in one workspace and shows what they print.
type scenario struct {
	t    *testing.T
	ws   string
	demo bool
	// onLine, when set, sees every line phoenix prints to stderr (progress).
	mu     sync.Mutex
	onLine func(string)
}

func newScenario(t *testing.T) *scenario {
	s := &scenario{t: t, ws: t.TempDir()}
	if dir := os.Getenv(envDemoWorkspace); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			t.Fatal(err)
		}
		s.ws, s.demo = abs, true
	}
	return s
}

// say prints a step header: on stdout in the demo, in the test log otherwise.
func (s *scenario) say(format string, args ...any) {
	s.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if s.demo {
		fmt.Printf("\n==> %s\n", msg)
		return
	}
	s.t.Logf("==> %s", msg)
}

// show prints a report phoenix wrote.
func (s *scenario) show(text string) {
	s.t.Helper()
	if s.demo {
		fmt.Print(text)
		return
	}
	s.t.Logf("\n%s", text)
}

// phoenix runs one phoenix command in process (as the binary would run it) and returns
// its stdout. Progress lines go to stderr (and to onLine); in the demo they stream.
func (s *scenario) phoenix(timeout time.Duration, args ...string) (string, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	var errOut io.Writer = &lineWriter{fn: func(line string) {
		s.mu.Lock()
		fn := s.onLine
		s.mu.Unlock()
		if fn != nil {
			fn(line)
		}
		if s.demo {
			fmt.Fprintln(os.Stderr, "    "+line)
		} else {
			s.t.Log("    " + line)
		}
	}}
	if s.demo {
		fmt.Printf("$ phoenix %s\n", shellJoin(args))
	}
	err := app.Run(ctx, append([]string{"--workspace", s.ws}, args...),
		genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: errOut})
	return out.String(), err
}

// shellJoin quotes the arguments that need it, for showing a command line.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if a == "" || strings.ContainsAny(a, " \t'\"$&;|<>*?()") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// note prints a short remark under the current step.
func (s *scenario) note(format string, args ...any) {
	s.t.Helper()
	if s.demo {
		fmt.Printf("    %s\n", fmt.Sprintf(format, args...))
		return
	}
	s.t.Logf("    "+format, args...)
}

// must runs phoenix and fails the test when the command fails.
func (s *scenario) must(timeout time.Duration, args ...string) string {
	s.t.Helper()
	out, err := s.phoenix(timeout, args...)
	if err != nil {
		s.t.Fatalf("phoenix %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// exitCode is the code the phoenix binary would exit with for err.
func exitCode(err error) int {
	if err == nil {
		return app.ExitOK
	}
	var ec *app.ExitCodeError
	if errors.As(err, &ec) {
		return ec.Code
	}
	return app.ExitError
}

// lineWriter calls fn for every complete line written to it.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.fn(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// decodeObjects reads multi-document YAML into objects, skipping empty documents.
func decodeObjects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		o := &unstructured.Unstructured{}
		if err := dec.Decode(&o.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatal(err)
		}
		if len(o.Object) > 0 {
			objs = append(objs, o)
		}
	}
}

// fixtureManager is the field manager (user agent) the payments app is created with,
// so blue's managedFields tell it apart from anything phoenix might write.
const fixtureManager = "payments-fixture"

// createObjects creates objs on a cluster through the API versions they name, in order.
// A kind that is not served yet (the custom resources of a CRD just created) is
// retried until it is.
func createObjects(t *testing.T, cfg *rest.Config, objs []*unstructured.Unstructured) {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = fixtureManager
	cfg.WarningHandler = rest.NoWarnings{} // blue's deprecation warnings are what assess reports
	dyn := dynamic.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	ctx := context.Background()
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		deadline := time.Now().Add(time.Minute)
		for {
			err := func() error {
				m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					return err
				}
				var r dynamic.ResourceInterface = dyn.Resource(m.Resource)
				if m.Scope.Name() == "namespace" {
					r = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
				}
				_, err = r.Create(ctx, o, metav1.CreateOptions{})
				return err
			}()
			if err == nil {
				break
			}
			if apierrors.IsAlreadyExists(err) || time.Now().After(deadline) {
				t.Fatalf("creating %s %s %s/%s on blue: %v", o.GetAPIVersion(), o.GetKind(), o.GetNamespace(), o.GetName(), err)
			}
			mapper.Reset()
			time.Sleep(300 * time.Millisecond)
		}
	}
}

// waitFor polls cond until it holds or limit passes (then the test fails with what).
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %s: %s", what, limit, detail)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// available reports whether a Deployment has all its replicas available.
func available(ctx context.Context, dyn dynamic.Interface, ns, name string) (bool, error) {
	ok, _, err := deploymentStatus(ctx, dyn, ns, name)
	return ok, err
}

func deploymentStatus(ctx context.Context, dyn dynamic.Interface, ns, name string) (bool, string, error) {
	d, err := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).
		Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err.Error(), err
	}
	want, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	avail, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas")
	return want > 0 && avail >= want, fmt.Sprintf("%s/%s: %d/%d available", ns, name, avail, want), nil
}

// saveArtifact copies a file to $PHOENIX_E2E_ARTIFACTS when it is set.
func saveArtifact(t *testing.T, path string) {
	dir := os.Getenv(envArtifacts)
	if dir == "" {
		return
	}
	data, err := os.ReadFile(path)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, filepath.Base(path)), data, 0o644)
	}
	if err != nil {
		t.Errorf("saving artifact %s: %v", path, err)
	}
}
