// Package testenv starts real local Kubernetes control planes (provision/local) for
// tests: a real kube-apiserver, controller-manager and scheduler on etcd, with kwok nodes.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// then in a test `env := testenv.Start(t, "v1.24.17")` returns a cluster shared by every
// test of the package (started once, stopped when the test binary ends), or
// `testenv.StartFresh(t, version)` a cluster of its own, stopped in t.Cleanup.
//
// When the version's binaries are not in the cache (hack/build-k8s.sh builds them) or
// etcd is missing, tests are skipped — unless PHOENIX_REQUIRE_INTEGRATION=1, which CI
// sets, turns that into a failure. It is for tests only.
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/provision/local"
	"github.com/phoenix-upgrade/phoenix/state"
)

// EnvRequire makes missing binaries a test failure instead of a skip.
const EnvRequire = "PHOENIX_REQUIRE_INTEGRATION"

// Env is one running local cluster.
type Env struct {
	Name       string
	Version    kube.Version
	Config     *rest.Config
	Kubeconfig []byte
	// KubeconfigPath is a file holding Kubeconfig (mode 0600).
	KubeconfigPath string
	Workspace      *state.Workspace
	Cluster        state.Cluster
	provider       *local.Provider
}

// RESTConfig returns a copy of the cluster's config with client throttling raised.
func (e *Env) RESTConfig() *rest.Config {
	return kube.Throttle(rest.CopyConfig(e.Config), kube.DefaultQPS, kube.DefaultBurst)
}

var (
	mu       sync.Mutex
	mainUsed bool
	root     string
	shared   = map[string]*sharedEnv{}
	counter  int
)

type sharedEnv struct {
	once sync.Once
	env  *Env
	err  error
}

// Main runs the package's tests and stops every shared cluster afterwards.
func Main(m *testing.M) {
	mu.Lock()
	mainUsed = true
	mu.Unlock()
	code := m.Run()
	stopShared()
	if root != "" {
		_ = os.RemoveAll(root)
	}
	os.Exit(code)
}

// Required reports whether integration prerequisites must be present (CI).
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// SkipOrFail skips the test, or fails it when PHOENIX_REQUIRE_INTEGRATION=1.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1)", msg, EnvRequire)
	}
	t.Skip(msg)
}

// Preflight skips (or fails) when v's binaries, kwok or etcd are not available.
func Preflight(t testing.TB, version string) kube.Version {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	v, err := kube.ParseExactVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("etcd"); err != nil {
		SkipOrFail(t, "etcd not installed (apt-get install etcd-server)")
	}
	dir := local.VersionCacheDir(v)
	for _, b := range local.ControlPlaneBinaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			SkipOrFail(t, "Kubernetes %s binaries not in %s: run `make test-binaries` (hack/build-k8s.sh %s)", v, dir, v)
		}
	}
	if _, err := os.Stat(filepath.Join(local.CacheDir(), "kwok", local.KwokVersion, "kwok")); err != nil {
		if _, err := exec.LookPath("kwok"); err != nil {
			SkipOrFail(t, "kwok not installed: run `make test-binaries`")
		}
	}
	return v
}

func workspace() (*state.Workspace, error) {
	mu.Lock()
	defer mu.Unlock()
	if root == "" {
		dir, err := os.MkdirTemp("", "phoenix-testenv-")
		if err != nil {
			return nil, err
		}
		root = dir
	}
	return state.Open(root)
}

func start(ctx context.Context, v kube.Version, name string, nodes int, runtime string) (*Env, error) {
	ws, err := workspace()
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := local.New(ws, log)
	p.Resolver.Download, p.Resolver.Build = false, false
	c, kc, err := p.Create(ctx, provision.Spec{Name: name, Version: v, Role: "test", Nodes: nodes, Wait: 3 * time.Minute, NodeRuntime: runtime})
	if err != nil {
		return nil, err
	}
	if err := ws.SaveCluster(c, kc); err != nil {
		_ = p.Delete(context.Background(), c)
		return nil, err
	}
	cfg, err := kube.ConfigFromKubeconfig(kc, "")
	if err != nil {
		_ = p.Delete(context.Background(), c)
		return nil, err
	}
	return &Env{Name: name, Version: v, Config: cfg, Kubeconfig: kc, KubeconfigPath: ws.KubeconfigPath(name),
		Workspace: ws, Cluster: c, provider: p}, nil
}

// Stop tears the cluster down.
func (e *Env) Stop() error {
	return e.provider.Delete(context.Background(), e.Cluster)
}

func clusterName(v kube.Version, prefix string) string {
	mu.Lock()
	defer mu.Unlock()
	counter++
	return fmt.Sprintf("%s-%d-%d-%d", prefix, v.Minor, os.Getpid()%100000, counter)
}

// Start returns the package's shared cluster of version (started on first use, 3 nodes).
func Start(t testing.TB, version string) *Env {
	t.Helper()
	v := Preflight(t, version)
	mu.Lock()
	if !mainUsed {
		mu.Unlock()
		t.Fatal("testenv.Start needs `func TestMain(m *testing.M) { testenv.Main(m) }` in the package, so the shared cluster is stopped")
	}
	s, ok := shared[v.String()]
	if !ok {
		s = &sharedEnv{}
		shared[v.String()] = s
	}
	mu.Unlock()
	s.once.Do(func() {
		s.env, s.err = start(context.Background(), v, clusterName(v, "shared"), 3, local.RuntimeKwok)
	})
	if s.err != nil {
		t.Fatalf("starting local %s control plane: %v", v, s.err)
	}
	return s.env
}

// StartFresh starts a cluster with kwok nodes for this test alone, stopped in t.Cleanup.
func StartFresh(t testing.TB, version string, nodes int) *Env {
	t.Helper()
	return startFresh(t, Preflight(t, version), nodes, local.RuntimeKwok)
}

// StartReal starts a cluster of real nodes (containerd, kubelet and kube-proxy in a
// network namespace each) for this test alone, stopped in t.Cleanup.
func StartReal(t testing.TB, version string, nodes int) *Env {
	t.Helper()
	v := Preflight(t, version)
	PreflightRealNodes(t, v)
	return startFresh(t, v, nodes, local.RuntimeContainerd)
}

// PreflightRealNodes skips (or fails) when real nodes cannot run here. It also takes the
// machine-wide real-node lock for the rest of the test: tests of several packages that run
// real nodes (go test runs packages in parallel) take turns, so that each can count what
// it leaves on the host, and two sets of kubelets do not share two cores.
func PreflightRealNodes(t testing.TB, v kube.Version) {
	t.Helper()
	lockRealNodes(t)
	if _, _, err := local.ChooseNodeRuntime(local.RuntimeContainerd); err != nil {
		SkipOrFail(t, "%v", err)
	}
	dir := local.VersionCacheDir(v)
	for _, b := range local.NodeBinaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			SkipOrFail(t, "Kubernetes %s node binaries not in %s: run `make test-binaries` (hack/build-k8s.sh %s)", v, dir, v)
		}
	}
}

var realNodeLock struct {
	sync.Mutex
	held int
	f    *os.File
}

// lockRealNodes holds an flock on a file in the cache directory until the test ends
// (re-entrant within one test binary).
func lockRealNodes(t testing.TB) {
	t.Helper()
	realNodeLock.Lock()
	defer realNodeLock.Unlock()
	if realNodeLock.held == 0 {
		if err := os.MkdirAll(local.CacheDir(), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(local.CacheDir(), "real-nodes.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			t.Fatal(err)
		}
		realNodeLock.f = f
	}
	realNodeLock.held++
	t.Cleanup(func() {
		realNodeLock.Lock()
		defer realNodeLock.Unlock()
		if realNodeLock.held--; realNodeLock.held == 0 {
			realNodeLock.f.Close() // releases the flock
			realNodeLock.f = nil
		}
	})
}

func startFresh(t testing.TB, v kube.Version, nodes int, runtime string) *Env {
	t.Helper()
	env, err := start(context.Background(), v, clusterName(v, "t"), nodes, runtime)
	if err != nil {
		t.Fatalf("starting local %s control plane: %v", v, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping %s: %v", env.Name, err)
		}
	})
	return env
}

func stopShared() {
	mu.Lock()
	defer mu.Unlock()
	var errs []string
	for _, s := range shared {
		if s.env != nil {
			if err := s.env.Stop(); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(os.Stderr, "testenv: stopping clusters:", strings.Join(errs, "; "))
	}
}
