package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy/haproxytest"
	"github.com/phoenix-upgrade/phoenix/cutover/timeline"
	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
	"github.com/phoenix-upgrade/phoenix/verify"
)

const (
	blueVersion  = "v1.24.17"
	greenVersion = "v1.37.2"
)

var (
	gvrCronJobs = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}
	// The cluster-scoped objects of the payments app, watched for writes on blue.
	paymentsClusterScoped = map[schema.GroupVersionResource][]string{
		{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}: {"ledgers.payments.example.com"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}:         {"payments-node-reader", "payments-psp-restricted"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}:  {"payments-api-node-reader"},
		{Group: "policy", Version: "v1beta1", Resource: "podsecuritypolicies"}:                {"payments-restricted"},
		{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"}:                  {"payments-ssd"},
		{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}:               {"payments-haproxy"},
		{Version: "v1", Resource: "namespaces"}:                                               {"payments"},
	}
)

// TestBlueGreenUpgradeOfPayments is the scenario a release is judged by: the payments
// app on blue v1.24.17, written through API versions v1.37 no longer serves, HAProxy in
// front; green v1.37.2 provisioned; assess, migrate, verify; a cutover in three steps
// under load, a rollback, a second cutover; clean-up. It asserts that assess finds the
// removals, verify reaches parity, no request fails and blue is not written before the
// cutover. With PHOENIX_DEMO_WORKSPACE set it is the demo (hack/demo.sh).
func TestBlueGreenUpgradeOfPayments(t *testing.T) {
	testenv.PreflightRealNodes(t, testenv.Preflight(t, blueVersion))
	testenv.PreflightRealNodes(t, testenv.Preflight(t, greenVersion))
	haproxytest.Binary(t)
	s := newScenario(t)
	began := time.Now()

	s.say("Provision blue %s and green %s (local provider: real control-plane processes, 2 real nodes each: containerd, kubelet, kube-proxy)", blueVersion, greenVersion)
	ws := provisionBoth(s)
	blueCfg, greenCfg := clusterConfig(t, ws, "blue"), clusterConfig(t, ws, "green")
	blueDyn, greenDyn := dynamic.NewForConfigOrDie(blueCfg), dynamic.NewForConfigOrDie(greenCfg)

	s.say("Deploy payments on blue through the API versions it was written for")
	app, err := os.ReadFile("testdata/payments/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	converted := decodeObjects(t, []byte(s.must(time.Minute, "convert", "-f", "testdata/payments/legacy", "--to", "v1.24")))
	if len(converted) != 1 || converted[0].GetAPIVersion() != "networking.k8s.io/v1" {
		t.Fatalf("phoenix convert of the v1beta1 admin Ingress: got %d objects %v", len(converted), converted)
	}
	createObjects(t, blueCfg, append(decodeObjects(t, app), converted...))
	for _, d := range []string{"payments-api", "payments-worker"} {
		waitFor(t, 2*time.Minute, "blue Deployment "+d+" available", func() (bool, string) {
			ok, detail, _ := deploymentStatus(context.Background(), blueDyn, "payments", d)
			return ok, detail
		})
	}

	// From here until the cutover phoenix may only read blue (assess, migrate, verify).
	before := snapshotBlue(t, blueCfg, "payments", paymentsClusterScoped)

	blueAddr, greenAddr := nodeAddr(t, blueCfg), nodeAddr(t, greenCfg)
	s.say("HAProxy in front of blue's and green's nodes (payments-api's NodePort: %s and %s); load on", blueAddr, greenAddr)
	hap := haproxytest.Start(t, "payments",
		haproxytest.Server{Name: "blue", Addr: blueAddr, Weight: 100},
		haproxytest.Server{Name: "green", Addr: greenAddr, Weight: 0})
	load := startLoad(t, hap.URL, 4, 15*time.Millisecond)
	if b, g := load.answered(t, 50); g != 0 || b < 50 {
		t.Fatalf("before the cutover blue answered %d and green %d of 50 requests", b, g)
	}

	s.say("phoenix assess: what breaks on the way to %s", greenVersion)
	assessStep(s)

	s.say("phoenix migrate: blue -> green, converted, ordered (blue is only read)")
	s.show(s.must(5*time.Minute, "migrate", "--ns", "payments"))

	s.say("phoenix verify: parity blue vs green, readiness on green, a probe through green's ingress")
	s.note("waiting for green's Deployments to become available (their pods start on green's real nodes)")
	for _, d := range []string{"payments-api", "payments-worker"} {
		waitFor(t, 2*time.Minute, "green Deployment "+d+" available", func() (bool, string) {
			ok, detail, _ := deploymentStatus(context.Background(), greenDyn, "payments", d)
			return ok, detail
		})
	}
	greenProbe := "http://" + greenAddr + "/healthz"
	verifyStep(s, ws, greenProbe)
	if w := writesBetween(before, snapshotBlue(t, blueCfg, "payments", paymentsClusterScoped)); len(w) > 0 {
		t.Errorf("blue was written between the app's creation and the cutover:\n  %s", strings.Join(w, "\n  "))
	}
	checkGreen(t, greenDyn)

	rec := timeline.New(fmt.Sprintf("payments: blue %s -> green %s through HAProxy", blueVersion, greenVersion))
	router, err := haproxy.New(cutover.HAProxyConfig{Socket: hap.Socket, Backend: "payments", BlueServer: "blue", GreenServer: "green"})
	if err != nil {
		t.Fatal(err)
	}
	stopSampling := sample(rec, router, load)
	waitFor(t, time.Minute, "a baseline on the timeline", func() (bool, string) { return len(rec.Samples()) >= 4, "" })
	s.mu.Lock()
	s.onLine = func(line string) {
		if step, _, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(step, "Step ") {
			rec.Mark(time.Time{}, strings.ToLower(step))
		}
	}
	s.mu.Unlock()
	steps := []string{"--steps", "10,50,100", "--interval", "2s", "--gate-interval", "500ms", "--min-requests", "3", "--inconclusive-limit", "10",
		"--probe", greenProbe, "--probe-requests", "5"}

	s.say("phoenix cutover: 10%% -> 50%% -> 100%% to green under load, gated")
	rec.Mark(time.Time{}, "cutover")
	s.show(s.must(3*time.Minute, append([]string{"cutover", "--router", "haproxy", "--haproxy-socket", hap.Socket,
		"--haproxy-backend", "payments", "--haproxy-state-file", hap.StateFile}, steps...)...))
	expectTraffic(t, router, load, cutover.Weights{Blue: 0, Green: 100})
	expectScheduledWork(t, blueDyn, greenDyn, "green")

	s.say("phoenix rollback: all traffic back to blue at once")
	rec.Mark(time.Time{}, "rollback")
	s.show(s.must(time.Minute, "rollback", "--reason", "e2e: rehearse the way back"))
	expectTraffic(t, router, load, cutover.AllBlue)
	expectScheduledWork(t, blueDyn, greenDyn, "blue")

	s.say("phoenix cutover again (router and plan from the workspace journal)")
	rec.Mark(time.Time{}, "cutover again")
	s.show(s.must(3*time.Minute, append([]string{"cutover"}, steps...)...))
	expectTraffic(t, router, load, cutover.Weights{Blue: 0, Green: 100})
	expectScheduledWork(t, blueDyn, greenDyn, "green")
	stopSampling()
	load.close()

	s.say("phoenix status")
	s.show(s.must(time.Minute, "status"))
	picture := ws.Path("cutover", "timeline.svg")
	if err := rec.WriteFile(picture); err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, picture)
	s.show(fmt.Sprintf("Timeline of the cutover: %s\n", picture))
	if n := load.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests through HAProxy failed, e.g.:\n  %s", n, load.requests.Load(), strings.Join(load.failureSamples(), "\n  "))
	}
	if share, n := observedShare(rec.Samples(), 50); n == 0 || share < 0.25 || share > 0.75 {
		t.Errorf("at the 50%% step green answered %.0f%% of about %d requests, want about half", share*100, n)
	}
	s.show(fmt.Sprintf("%d requests through HAProxy, %d failed; scenario took %s\n", load.requests.Load(), load.failed.Load(), time.Since(began).Round(time.Second)))

	if s.demo {
		return // hack/demo.sh leaves the clusters running (DEMO_CLEANUP=1 removes them)
	}
	var slots []string
	for _, c := range []string{"blue", "green"} {
		rec, err := ws.Cluster(c)
		if err != nil || rec.Details["networkSlot"] == "" {
			t.Fatalf("cluster %s records no network slot of its real nodes (%v): %v", c, err, rec.Details)
		}
		slots = append(slots, rec.Details["networkSlot"])
	}
	s.say("Clean-up: phoenix delete cluster blue green")
	for _, c := range []string{"blue", "green"} {
		s.must(2*time.Minute, "delete", "cluster", c)
	}
	if left := processesMentioning(s.ws); len(left) > 0 {
		t.Errorf("processes left after delete: %v", left)
	}
	// The nodes' network namespaces, bridges and run directories go with their clusters.
	for _, slot := range slots {
		for _, pattern := range []string{"/run/netns/phx" + slot + "-*", "/run/phoenix/" + slot, "/sys/class/net/phxbr" + slot} {
			if left, _ := filepath.Glob(pattern); len(left) > 0 {
				t.Errorf("left after delete: %v", left)
			}
		}
	}
}

func provisionBoth(s *scenario) *state.Workspace {
	t := s.t
	if !s.demo {
		t.Cleanup(func() {
			for _, c := range []string{"blue", "green"} {
				_, _ = s.phoenix(2*time.Minute, "delete", "cluster", c)
			}
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []struct{ name, version string }{{"blue", blueVersion}, {"green", greenVersion}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := s.phoenix(5*time.Minute, "provision", "--provider", "local", "--name", c.name, "--role", c.name, "--version", c.version, "--nodes", "2", "--node-runtime", "containerd")
			if err != nil {
				errs[i] = fmt.Errorf("provision %s: %v\n%s", c.name, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ws, err := state.Open(s.ws)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func clusterConfig(t *testing.T, ws *state.Workspace, name string) *rest.Config {
	t.Helper()
	cfg, err := kube.ClusterConfig(ws, name)
	if err != nil {
		t.Fatal(err)
	}
	return kube.Throttle(cfg, kube.DefaultQPS, kube.DefaultBurst)
}

// assessStep runs assess as an operator reads it, then as JSON, and checks that every
// removed API version payments uses is found and the exit code matches the blockers.
func assessStep(s *scenario) {
	t := s.t
	args := []string{"assess", "--ns", "payments", "--to", greenVersion}
	out, err := s.phoenix(2*time.Minute, args...)
	s.show(out)
	jsonOut, jerr := s.phoenix(2*time.Minute, append(args, "-o", "json")...)
	var rep struct {
		Findings []struct{ Severity, Check, Object, Message string }
		Errors   []string
	}
	if err := json.Unmarshal([]byte(jsonOut), &rep); err != nil {
		t.Fatalf("assess -o json: %v (%v)\n%s", err, jerr, jsonOut)
	}
	blockers := 0
	for _, f := range rep.Findings {
		if f.Severity == "blocker" {
			blockers++
		}
	}
	want := 0
	if blockers > 0 {
		want = 3
	}
	if exitCode(err) != want || exitCode(jerr) != want {
		t.Errorf("assess exit codes %d (table) and %d (json), want %d for %d blockers: %v", exitCode(err), exitCode(jerr), want, blockers, err)
	}
	for _, removed := range [][2]string{
		{"batch/v1beta1", "CronJob payments/settlement"},
		{"policy/v1beta1", "PodDisruptionBudget payments/payments-api"},
		{"autoscaling/v2beta2", "HorizontalPodAutoscaler payments/payments-api"},
		{"policy/v1beta1", "PodSecurityPolicy payments-restricted"},
	} {
		found := false
		for _, f := range rep.Findings {
			found = found || strings.Contains(f.Object+" "+f.Message, removed[0]) && strings.Contains(f.Object, removed[1])
		}
		if !found {
			t.Errorf("assess did not report %s %s; findings:\n%s", removed[0], removed[1], jsonOut)
		}
	}
}

// verifyStep runs verify until it passes (green's Deployments take a moment to become
// available) and checks the record cutover reads.
func verifyStep(s *scenario, ws *state.Workspace, probe string) {
	t := s.t
	var out string
	var err error
	waitFor(t, 2*time.Minute, "phoenix verify passes", func() (bool, string) {
		out, err = s.phoenix(2*time.Minute, "verify", "--ns", "payments", "--probe", probe)
		if err != nil {
			s.note("not at parity yet (%v): %s", err, firstLines(out, 3))
		}
		return err == nil, fmt.Sprintf("%v\n%s", err, out)
	})
	s.show(out)
	var rep verify.Report
	if err := state.ReadJSON(ws.Path("verify", "latest.json"), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || rep.Compared < 20 || rep.AtParity != rep.Compared {
		t.Errorf("verify record: passed %v, %d of %d objects at parity, want all of at least 20", rep.Passed, rep.AtParity, rep.Compared)
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}

// checkGreen spot-checks what migrate landed: removed versions served by their
// successors, CronJobs suspended until the cutover, the custom resources.
func checkGreen(t *testing.T, green dynamic.Interface) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []struct {
		gvr   schema.GroupVersionResource
		name  string
		field []string
		want  any
	}{
		{gvrCronJobs, "settlement", []string{"spec", "suspend"}, true},
		{schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}, "payments-api", []string{"spec", "maxReplicas"}, int64(6)},
		{schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}, "payments-api", []string{"spec", "minAvailable"}, int64(1)},
		{schema.GroupVersionResource{Group: "payments.example.com", Version: "v1", Resource: "ledgers"}, "eur", []string{"spec", "currency"}, "EUR"},
		{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, "payments-admin", []string{"spec", "ingressClassName"}, "payments-haproxy"},
	} {
		o, err := green.Resource(c.gvr).Namespace("payments").Get(ctx, c.name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("green: %s %s: %v", c.gvr.Resource, c.name, err)
			continue
		}
		if got, _, _ := unstructured.NestedFieldNoCopy(o.Object, c.field...); got != c.want {
			t.Errorf("green: %s %s %s = %v, want %v", c.gvr.Resource, c.name, strings.Join(c.field, "."), got, c.want)
		}
	}
}
