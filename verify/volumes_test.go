package verify

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/phoenix-upgrade/phoenix/volumes"
)

func claim(ns, name, class, volume string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: volume}, Status: corev1.PersistentVolumeClaimStatus{Phase: phase}}
	if class != "" {
		c.Spec.StorageClassName = &class
	}
	return c
}

func node(name string, kwok bool) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if kwok {
		n.Annotations = map[string]string{kwokNodeAnnotation: "fake"}
	}
	return n
}

func class(name string, mode storagev1.VolumeBindingMode) *storagev1.StorageClass {
	return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: "ebs.csi.aws.com", VolumeBindingMode: &mode}
}

func record(claims ...string) *volumes.Result {
	return &volumes.Result{Mode: volumes.ModeCSI, Migration: "m1", Namespaces: []string{"payments"}, Backup: "phoenix-b", Restore: "phoenix-r",
		BackupPhase: "Completed", RestorePhase: "Completed", Claims: len(claims), ClaimNames: claims,
		Items: 2, ItemsBackedUp: 2, ItemsRestored: 2, Volumes: 1, BytesDone: 100, BytesTotal: 100}
}

// The fake clientset is honest here: volume parity only reads claims, nodes and classes;
// binding itself (the apiserver's and controllers' work) is not under test.
func TestVolumeParity(t *testing.T) {
	t.Parallel()
	real := node("n1", false)
	tests := []struct {
		name    string
		rec     func(*volumes.Result)
		objs    []runtime.Object
		ns      []string
		failed  []string // "check object-substring" of the checks that must fail
		passed  []string // checks that must pass
		warning string   // a warning that must be there
		none    bool     // no checks at all
	}{
		{name: "a completed move with a bound claim passes", objs: []runtime.Object{real, claim("payments", "data", "fast", "pv1", corev1.ClaimBound)},
			passed: []string{"volume-restore", "volume-items", "volume-bytes", "volume-claim payments/data"}},
		{name: "a restore that did not complete fails", rec: func(r *volumes.Result) { r.RestorePhase = "PartiallyFailed"; r.Errors = []string{"payments: boom"} },
			objs: []runtime.Object{real, claim("payments", "data", "fast", "pv1", corev1.ClaimBound)}, failed: []string{"volume-restore", "volume-errors"}},
		{name: "fewer items restored than backed up fails", rec: func(r *volumes.Result) { r.ItemsRestored = 1 },
			objs: []runtime.Object{real, claim("payments", "data", "fast", "pv1", corev1.ClaimBound)}, failed: []string{"volume-items"}},
		{name: "volume data not transferred in full fails", rec: func(r *volumes.Result) { r.BytesDone = 40 },
			objs: []runtime.Object{real, claim("payments", "data", "fast", "pv1", corev1.ClaimBound)}, failed: []string{"volume-bytes"}},
		{name: "no byte counts skip the bytes check", rec: func(r *volumes.Result) { r.BytesDone, r.BytesTotal = 0, 0 },
			objs: []runtime.Object{real, claim("payments", "data", "fast", "pv1", corev1.ClaimBound)}, passed: []string{"volume-restore"}},
		{name: "a claim missing on green fails", objs: []runtime.Object{real}, failed: []string{"volume-claim payments/data"}},
		{name: "a claim Pending on kwok nodes is a warning", objs: []runtime.Object{node("k1", true), claim("payments", "data", "fast", "", corev1.ClaimPending)},
			passed: []string{"volume-claim payments/data"}, warning: "kwok"},
		{name: "a claim Pending with an immediate provisioner fails", objs: []runtime.Object{real, class("fast", storagev1.VolumeBindingImmediate), claim("payments", "data", "fast", "", corev1.ClaimPending)},
			failed: []string{"volume-claim payments/data"}},
		{name: "a claim Pending for its first consumer is a warning", objs: []runtime.Object{real, class("fast", storagev1.VolumeBindingWaitForFirstConsumer), claim("payments", "data", "fast", "", corev1.ClaimPending)},
			passed: []string{"volume-claim payments/data"}, warning: "WaitForFirstConsumer"},
		{name: "a claim Pending on a missing StorageClass fails", objs: []runtime.Object{real, claim("payments", "data", "fast", "", corev1.ClaimPending)},
			failed: []string{"volume-claim payments/data"}},
		{name: "a Lost claim fails", objs: []runtime.Object{real, claim("payments", "data", "fast", "pv1", corev1.ClaimLost)}, failed: []string{"volume-claim payments/data"}},
		{name: "a record of other namespaces adds nothing", ns: []string{"shop"}, objs: []runtime.Object{real}, none: true},
		{name: "a move of no claims adds nothing", rec: func(r *volumes.Result) { r.Claims, r.ClaimNames = 0, nil }, objs: []runtime.Object{real}, none: true},
		{name: "a record of another migration warns", rec: func(r *volumes.Result) { r.Migration = "m0" },
			objs: []runtime.Object{real, claim("payments", "data", "fast", "pv1", corev1.ClaimBound)}, passed: []string{"volume-restore"}, warning: "belongs to migration m0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := record("payments/data")
			if tt.rec != nil {
				tt.rec(rec)
			}
			ns := tt.ns
			if ns == nil {
				ns = []string{"payments"}
			}
			checks, warns := volumeParity(context.Background(), fake.NewClientset(tt.objs...), rec, ns, "m1")
			if tt.none {
				if len(checks)+len(warns) > 0 {
					t.Fatalf("want no checks, got %+v %v", checks, warns)
				}
				return
			}
			find := func(want string) *Check {
				kind, obj, _ := strings.Cut(want, " ")
				for i, c := range checks {
					if c.Check == kind && strings.Contains(c.Object, obj) {
						return &checks[i]
					}
				}
				t.Fatalf("no %q check in %+v", want, checks)
				return nil
			}
			for _, w := range tt.failed {
				if c := find(w); c.Passed {
					t.Errorf("%s passed, want failed: %s", w, c.Message)
				}
			}
			for _, w := range tt.passed {
				if c := find(w); !c.Passed {
					t.Errorf("%s failed, want passed: %s", w, c.Message)
				}
			}
			if len(tt.failed) == 0 {
				for _, c := range checks {
					if !c.Passed {
						t.Errorf("unexpected failed check %s %s: %s", c.Check, c.Object, c.Message)
					}
				}
			}
			if tt.warning != "" && !strings.Contains(strings.Join(warns, "\n"), tt.warning) {
				t.Errorf("warnings %q lack %q", warns, tt.warning)
			}
		})
	}
}
