package cutover

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/phoenix-upgrade/phoenix/state"
)

// crashedAtFinalDelta writes the journal a cutover killed in its final delta leaves:
// traffic at green 100%, a final delta begun for ns, nothing recorded about blue.
func crashedAtFinalDelta(t *testing.T, ws *state.Workspace, ns string) {
	t.Helper()
	if _, err := updateState(ws, func(*State) (*State, error) {
		return &State{Phase: PhaseRunning, Weights: Weights{0, 100}, Namespaces: []string{ns},
			FinalDelta: &FinalDeltaRecord{Time: time.Now(), Namespaces: []string{ns}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func rollbackOn(ws *state.Workspace, r Router, blue kubernetes.Interface) RollbackOptions {
	return RollbackOptions{Workspace: ws, Router: r, ResumeBlue: ResumeScaledFunc(blue),
		WaitBlueReady: WaitReadyFunc(blue, 100*time.Millisecond), ReadyTimeout: 2 * time.Minute}
}

func TestRollbackRestoresBlueFromItsAnnotationsWhenTheJournalMissedTheScaleDownAndWaitsUntilReady(t *testing.T) {
	blue, _ := clusterPair(t)
	ctx := context.Background()
	ns := namespace(t, "rb", blue)
	deployment(t, blue, ns, "api", 2, "")
	deployment(t, blue, ns, "worker", 1, "")
	if err := WaitReady(ctx, blue, []string{ns}, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The crash of issue 12: blue scaled to zero, the process killed before journaling it.
	if _, err := ScaleDown(ctx, blue, ScaleOptions{Cluster: "blue", Namespaces: []string{ns}}); err != nil {
		t.Fatal(err)
	}
	ws := newWS(t, true, true)
	crashedAtFinalDelta(t, ws, ns)

	r := &memRouter{w: Weights{0, 100}}
	var mu sync.Mutex
	var atSwitch []string
	r.onSet = func(w Weights) {
		why, err := notReady(ctx, blue, []string{ns})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			why = err.Error()
		}
		atSwitch = append(atSwitch, w.String()+": "+why)
	}
	res, err := Rollback(ctx, rollbackOn(ws, r, blue))
	if err != nil {
		t.Fatal(err)
	}
	wantReplicas(t, blue, "Deployment", ns, "api", 2, "")
	wantReplicas(t, blue, "Deployment", ns, "worker", 1, "")
	if len(atSwitch) != 1 || atSwitch[0] != "blue 100% / green 0%: " {
		t.Errorf("router changes with blue's readiness at that moment: %q; want one, to blue 100%%, with blue ready", atSwitch)
	}
	if res.Weights != AllBlue || !strings.Contains(res.Reason, "blue ready after") {
		t.Errorf("result %+v: want blue 100%% and how long blue took", res)
	}
	st, _ := LoadState(ws)
	if st.Phase != PhaseRolledBack || st.blueStopped() || st.Pending != nil {
		t.Errorf("journal phase %s, blue stopped %v, pending %+v", st.Phase, st.blueStopped(), st.Pending)
	}
}

func TestARollbackThatCannotMakeBlueReadyKeepsTrafficWhereItServes(t *testing.T) {
	blue, _ := clusterPair(t)
	ctx := context.Background()
	ns := namespace(t, "stuck", blue)
	one := int32(1)
	l := map[string]string{"app": "stuck"}
	spec := podSpec("")
	spec.NodeSelector = map[string]string{"phoenix.dev/no-such-node": "true"} // never scheduled
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "stuck", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: l},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: spec}}}
	if _, err := blue.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ws := newWS(t, true, true)
	crashedAtFinalDelta(t, ws, ns)
	r := &memRouter{w: Weights{0, 100}}
	o := rollbackOn(ws, r, blue)
	o.ReadyTimeout = 3 * time.Second

	_, err := Rollback(ctx, o)
	if !errors.Is(err, ErrBlueNotReady) || !strings.Contains(err.Error(), "stuck: 0 of 1 replicas ready") || !strings.Contains(err.Error(), "traffic stays at blue 0% / green 100%") {
		t.Fatalf("rollback = %v; want ErrBlueNotReady naming the workload and where traffic stays", err)
	}
	if len(r.sets) != 0 {
		t.Errorf("router changed to %v although blue is not ready", r.sets)
	}
	st, _ := LoadState(ws)
	if st.Phase != PhaseRollingBack {
		t.Errorf("journal phase %s, want %s", st.Phase, PhaseRollingBack)
	}
	// A cutover may not start over an unfinished rollback.
	co := opts(ws, r, &scriptGate{})
	if _, err := Run(ctx, co); err == nil || !strings.Contains(err.Error(), "has not finished") {
		t.Errorf("cutover during an unfinished rollback = %v", err)
	}
	// --force moves traffic anyway, and still says blue is not ready.
	o.Force = true
	if _, err := Rollback(ctx, o); !errors.Is(err, ErrBlueNotReady) || !strings.Contains(err.Error(), "traffic is back at blue 100%") {
		t.Errorf("forced rollback = %v", err)
	}
	if got, _ := r.Weights(ctx); got != AllBlue {
		t.Errorf("router at %v after a forced rollback", got)
	}
	if st, _ := LoadState(ws); st.Phase != PhaseRolledBack {
		t.Errorf("journal phase %s after a forced rollback", st.Phase)
	}
}
