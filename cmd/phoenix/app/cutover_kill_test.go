package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy/haproxytest"
	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/state"
	"github.com/phoenix-upgrade/phoenix/volumes"
)

// envRunMain makes the test binary run the phoenix command (TestMain); envFakeVelero
// replaces the Velero move of --final-delta by one that stops blue's writers through
// phoenix's own stop and returns a result (there is no Velero server in this test; the
// Velero side is tested in package volumes).
const (
	envRunMain    = "PHOENIX_TEST_RUN_MAIN"
	envFakeVelero = "PHOENIX_TEST_FAKE_VELERO"
)

func runAsPhoenix() {
	if os.Getenv(envFakeVelero) == "1" {
		runFinalDelta = func(ctx context.Context, o volumes.Options, stop volumes.StopWrites) (*volumes.Result, error) {
			start := time.Now()
			if _, err := stop(ctx); err != nil {
				return nil, err
			}
			time.Sleep(300 * time.Millisecond) // the backup and restore, with blue stopped
			return &volumes.Result{Mode: o.Mode, Stage: volumes.StageFinalDelta, Namespaces: o.Namespaces,
				Backup: "phoenix-delta-fake", Restore: "phoenix-delta-fake", Window: time.Since(start)}, nil
		}
	}
	Main()
}

// killWorld is what every kill case shares: blue and green, HAProxy in front of two
// HTTP servers standing for them.
type killWorld struct {
	blue, green     kubernetes.Interface
	blueKC, greenKC []byte
	hap             *haproxytest.Instance
	router          *haproxy.Router
	greenURL        string
}

func newKillWorld(t *testing.T) *killWorld {
	haproxytest.Binary(t)
	b, g := testenv.Start(t, "v1.24.17"), testenv.Start(t, "v1.37.2")
	w := &killWorld{blueKC: b.Kubeconfig, greenKC: g.Kubeconfig}
	var err error
	if w.blue, err = kubernetes.NewForConfig(b.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	if w.green, err = kubernetes.NewForConfig(g.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	bs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprint(rw, "blue") }))
	gs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprint(rw, "green") }))
	t.Cleanup(bs.Close)
	t.Cleanup(gs.Close)
	w.greenURL = gs.URL
	w.hap = haproxytest.Start(t, "shop",
		haproxytest.Server{Name: "blue", Addr: bs.Listener.Addr().String(), Weight: 100},
		haproxytest.Server{Name: "green", Addr: gs.Listener.Addr().String(), Weight: 0})
	if w.router, err = haproxy.New(cutover.HAProxyConfig{Socket: w.hap.Socket, Backend: "shop", BlueServer: "blue", GreenServer: "green"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// prepare makes a namespace on both clusters as migrate leaves it (blue's api and report
// CronJob running, green's copies with a writer mounting a claim and the CronJob
// suspended), and a workspace with both clusters, the migration, a passed verify and a
// velero-csi volume record. Traffic starts at blue 100%.
func (w *killWorld) prepare(t *testing.T, ns string) string {
	t.Helper()
	ctx := context.Background()
	for _, c := range []kubernetes.Interface{w.blue, w.green} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mkDeploy(t, w.blue, ns, "api", 2, "")
	mkDeploy(t, w.green, ns, "api", 2, "")
	mkDeploy(t, w.green, ns, "writer", 1, "data")
	mkCron(t, w.blue, ns, false, "")
	mkCron(t, w.green, ns, true, "false")

	dir := t.TempDir()
	ws, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, role string
		kc         []byte
	}{{"blue", state.RoleBlue, w.blueKC}, {"green", state.RoleGreen, w.greenKC}} {
		if err := ws.SaveCluster(state.Cluster{Name: c.name, Role: c.role, Provider: "external", Created: time.Now()}, c.kc); err != nil {
			t.Fatal(err)
		}
	}
	id := "m-" + ns
	meta := map[string]any{"id": id, "namespaces": []string{ns}, "status": "done"}
	if err := state.WriteJSONAtomic(ws.Path("migrations", id, "migration.json"), meta, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := state.WriteFileAtomic(ws.Path("migrations", "latest"), []byte(id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := state.WriteJSONAtomic(cutover.VerifyPath(ws), cutover.VerifyRecord{Passed: true, Time: time.Now(), Migration: id, Namespaces: []string{ns}}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := volumes.SaveResult(ws, &volumes.Result{Mode: volumes.ModeCSI, Namespaces: []string{ns}, Claims: 1, Migration: id}); err != nil {
		t.Fatal(err)
	}
	if err := w.router.SetWeights(ctx, 100, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "blue's api ready", func() bool { return ready(w.blue, ns, "api") })
	return dir
}

func mkDeploy(t *testing.T, c kubernetes.Interface, ns, name string, replicas int32, claim string) {
	t.Helper()
	l := map[string]string{"app": name}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}, Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}
	if claim != "" {
		spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: l},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: spec}}}
	if _, err := c.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func mkCron(t *testing.T, c kubernetes.Interface, ns string, suspend bool, original string) {
	t.Helper()
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "report", Namespace: ns}, Spec: batchv1.CronJobSpec{
		Schedule: "0 3 * * *", Suspend: &suspend,
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "r", Image: "busybox"}}}}}}}}
	if original != "" {
		cj.Annotations = map[string]string{cutover.AnnotationOriginalSuspend: original}
	}
	if _, err := c.BatchV1().CronJobs(ns).Create(context.Background(), cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func ready(c kubernetes.Interface, ns, name string) bool {
	d, err := c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	return err == nil && d.Spec.Replicas != nil && d.Status.ReadyReplicas == *d.Spec.Replicas && d.Status.ObservedGeneration >= d.Generation
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// phoenix runs the command as a subprocess; kill, when set, is polled with the journal
// and a true answer SIGKILLs the process.
func phoenix(t *testing.T, ws string, kill func(*cutover.State, time.Duration) bool, args ...string) (killed bool, out string, err error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--workspace", ws}, args...)...)
	cmd.Env = append(os.Environ(), envRunMain+"=1", envFakeVelero+"=1")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start := time.Now()
	wsp, _ := state.Open(ws)
	for {
		select {
		case err := <-done:
			return false, buf.String(), err
		case <-time.After(2 * time.Millisecond):
		}
		if kill == nil {
			continue
		}
		st, _ := cutover.LoadState(wsp)
		if kill(st, time.Since(start)) {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return true, buf.String(), nil
		}
	}
}

func lastEvent(st *cutover.State, kind, detail string) bool {
	if st == nil {
		return false
	}
	for _, e := range st.History {
		if e.Kind == kind && strings.Contains(e.Detail+" "+weightsOf(e), detail) {
			return true
		}
	}
	return false
}

func weightsOf(e cutover.Event) string {
	if e.Requested == nil {
		return ""
	}
	return e.Requested.String()
}

// TestKilledCutoverEndsConsistentAfterARerunOrARollback SIGKILLs `phoenix cutover
// --final-delta` at chosen journal states and at random moments, then reruns the cutover
// (and rolls it back) or rolls back at once, and checks that what the router, the
// clusters and the journal say agree.
func TestKilledCutoverEndsConsistentAfterARerunOrARollback(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	w := newKillWorld(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("random kill points from seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 0))
	type point struct {
		name string
		kill func(*cutover.State, time.Duration) bool
	}
	points := []point{
		{"step 50 journaled as begun", func(s *cutover.State, _ time.Duration) bool {
			return lastEvent(s, cutover.EventStepBegin, "green 50%")
		}},
		{"green's claim users stopped", func(s *cutover.State, _ time.Duration) bool {
			return s != nil && s.FinalDelta != nil && len(s.FinalDelta.ScaledGreen) > 0
		}},
		{"traffic switched to green 100%", func(s *cutover.State, _ time.Duration) bool {
			return lastEvent(s, cutover.EventStepBegin, "green 100%")
		}},
		{"blue being stopped", func(s *cutover.State, _ time.Duration) bool {
			return s != nil && s.FinalDelta != nil && s.FinalDelta.BlueStopping
		}},
		{"blue stopped", func(s *cutover.State, _ time.Duration) bool {
			return s != nil && s.FinalDelta != nil && len(s.FinalDelta.ScaledBlue) > 0
		}},
		{"restore journaled", func(s *cutover.State, _ time.Duration) bool {
			return s != nil && s.FinalDelta != nil && s.FinalDelta.Restored
		}},
		{"CronJob swap begun", func(s *cutover.State, _ time.Duration) bool {
			return lastEvent(s, cutover.EventJobsBegin, "")
		}},
	}
	for i := 0; i < 3; i++ {
		d := time.Duration(rnd.IntN(2500)) * time.Millisecond
		points = append(points, point{fmt.Sprintf("random %s", d), func(_ *cutover.State, since time.Duration) bool { return since >= d }})
	}
	args := []string{"cutover", "--router", "haproxy", "--haproxy-socket", w.hap.Socket, "--haproxy-backend", "shop",
		"--steps", "10,50,100", "--interval", "300ms", "--gate-interval", "100ms", "--probe", w.greenURL, "--probe-requests", "2",
		"--min-requests", "1", "--inconclusive-limit", "100", "--final-delta", "--discard-green-writes"}
	for i, p := range points {
		for _, then := range []string{"rerun", "rollback"} {
			t.Run(p.name+", then "+then, func(t *testing.T) {
				ns := fmt.Sprintf("kill-%d-%d-%s", os.Getpid()%10000, i, then)
				ws := w.prepare(t, ns)
				killed, out, err := phoenix(t, ws, p.kill, args...)
				if !killed && !strings.HasPrefix(p.name, "random") {
					t.Fatalf("the cutover ended before the kill point (%v): %s", err, out)
				}
				if !killed {
					t.Logf("the cutover ended before the kill point (%v): %s", err, out)
				}
				if then == "rerun" {
					if _, out, err := phoenix(t, ws, nil, "cutover"); err != nil {
						t.Fatalf("rerun after the kill: %v\n%s", err, out)
					}
					w.consistent(t, ws, ns, true)
					if _, out, err := phoenix(t, ws, nil, "cutover"); err != nil || !strings.Contains(out, "nothing changed") {
						t.Errorf("second rerun: %v\n%s", err, out)
					}
					w.consistent(t, ws, ns, true)
				}
				if _, out, err := phoenix(t, ws, nil, "rollback", "--reason", "after kill"); err != nil {
					t.Fatalf("rollback: %v\n%s", err, out)
				}
				w.consistent(t, ws, ns, false)
			})
		}
	}
}

// TestKilledRollbackEndsConsistentAfterARerun SIGKILLs `phoenix rollback` of a completed
// final-delta cutover once it journaled RollingBack and once blue was ready: a cutover
// refuses to start over it, a second rollback finishes it.
func TestKilledRollbackEndsConsistentAfterARerun(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	w := newKillWorld(t)
	args := []string{"cutover", "--router", "haproxy", "--haproxy-socket", w.hap.Socket, "--haproxy-backend", "shop",
		"--steps", "100", "--interval", "100ms", "--gate-interval", "50ms", "--probe", w.greenURL, "--probe-requests", "2", "--final-delta"}
	for i, p := range []struct {
		name string
		kill func(*cutover.State, time.Duration) bool
	}{
		{"rollback begun", func(s *cutover.State, _ time.Duration) bool { return lastEvent(s, cutover.EventRollbackBegin, "") }},
		{"blue ready", func(s *cutover.State, _ time.Duration) bool {
			return lastEvent(s, cutover.EventBlueReady, "ready after")
		}},
	} {
		t.Run(p.name, func(t *testing.T) {
			ns := fmt.Sprintf("killrb-%d-%d", os.Getpid()%10000, i)
			ws := w.prepare(t, ns)
			if _, out, err := phoenix(t, ws, nil, args...); err != nil {
				t.Fatalf("cutover: %v\n%s", err, out)
			}
			w.consistent(t, ws, ns, true)
			if killed, out, err := phoenix(t, ws, p.kill, "rollback"); !killed {
				t.Fatalf("the rollback ended before the kill point (%v): %s", err, out)
			}
			if _, out, err := phoenix(t, ws, nil, "cutover"); err == nil || !strings.Contains(out, "has not finished") {
				t.Errorf("cutover over an interrupted rollback: %v\n%s", err, out)
			}
			if _, out, err := phoenix(t, ws, nil, "rollback"); err != nil {
				t.Fatalf("rollback rerun: %v\n%s", err, out)
			}
			w.consistent(t, ws, ns, false)
		})
	}
}

// consistent checks one end state: green true is a completed cutover, false a finished
// rollback.
func (w *killWorld) consistent(t *testing.T, dir, ns string, green bool) {
	t.Helper()
	ctx := context.Background()
	ws, _ := state.Open(dir)
	st, err := cutover.LoadState(ws)
	if err != nil || st == nil {
		t.Fatalf("journal: %v", err)
	}
	live, err := w.router.Weights(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if live != st.Weights {
		t.Errorf("router at %s, journal says %s", live, st.Weights)
	}
	if st.Pending != nil {
		t.Errorf("journal still pending %+v", st.Pending)
	}
	api, _ := w.blue.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	writer, _ := w.green.AppsV1().Deployments(ns).Get(ctx, "writer", metav1.GetOptions{})
	blueCron, _ := w.blue.BatchV1().CronJobs(ns).Get(ctx, "report", metav1.GetOptions{})
	greenCron, _ := w.green.BatchV1().CronJobs(ns).Get(ctx, "report", metav1.GetOptions{})
	if *writer.Spec.Replicas != 1 || writer.Annotations[cutover.AnnotationScaledFrom] != "" {
		t.Errorf("green's writer: %d replicas, annotation %q; want its replica back", *writer.Spec.Replicas, writer.Annotations[cutover.AnnotationScaledFrom])
	}
	if green {
		if st.Phase != cutover.PhaseCompleted || live != (cutover.Weights{Blue: 0, Green: 100}) {
			t.Errorf("after the rerun: phase %s, router %s", st.Phase, live)
		}
		// blue's writers stay stopped, and recorded for the rollback
		if *api.Spec.Replicas != 0 || api.Annotations[cutover.AnnotationScaledFrom] != "2" {
			t.Errorf("blue's api: %d replicas, annotation %q; want 0 and 2 recorded", *api.Spec.Replicas, api.Annotations[cutover.AnnotationScaledFrom])
		}
		if st.FinalDelta == nil || !st.FinalDelta.Restored || len(st.FinalDelta.ScaledBlue) == 0 {
			t.Errorf("journal's final delta %+v: want the restore and blue's scaled workloads", st.FinalDelta)
		}
		if !*blueCron.Spec.Suspend || *greenCron.Spec.Suspend {
			t.Errorf("CronJobs: blue suspended %v, green suspended %v; want only green's running", *blueCron.Spec.Suspend, *greenCron.Spec.Suspend)
		}
		logJournalOnFailure(t, st)
		return
	}
	if st.Phase != cutover.PhaseRolledBack || live != cutover.AllBlue {
		t.Errorf("after the rollback: phase %s, router %s", st.Phase, live)
	}
	if *api.Spec.Replicas != 2 || api.Annotations[cutover.AnnotationScaledFrom] != "" || !ready(w.blue, ns, "api") {
		t.Errorf("blue's api: %d replicas (%d ready), annotation %q; want 2 ready", *api.Spec.Replicas, api.Status.ReadyReplicas, api.Annotations[cutover.AnnotationScaledFrom])
	}
	if *blueCron.Spec.Suspend || !*greenCron.Spec.Suspend {
		t.Errorf("CronJobs: blue suspended %v, green suspended %v; want only blue's running", *blueCron.Spec.Suspend, *greenCron.Spec.Suspend)
	}
	if len(st.Workloads) != 0 {
		t.Errorf("journal keeps %d CronJob/Job changes after the rollback", len(st.Workloads))
	}
	logJournalOnFailure(t, st)
}

func logJournalOnFailure(t *testing.T, st *cutover.State) {
	if t.Failed() {
		b, _ := json.MarshalIndent(st, "", "  ")
		t.Logf("journal: %s", b)
	}
}
