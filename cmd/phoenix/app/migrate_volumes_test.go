package app

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
)

func TestVolumesDefaultFollowsPVCsAndVelero(t *testing.T) {
	env := testenv.StartFresh(t, "v1.37.2", 1)
	cfg := env.RESTConfig()
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	for _, ns := range []string{"withpvc", "nopvc"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "withpvc"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumeClaims("withpvc").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mode, ns string
		wantSkip       string // substring of the skip reason; "" means volumes move
		wantErr        string
	}{
		{"no PVC means none", "", "nopvc", "no PVC", ""},
		{"PVCs without Velero warn that data will not move", "", "withpvc", "DATA WILL NOT MOVE", ""},
		{"explicit none", "none", "withpvc", "--volumes none", ""},
		{"explicit velero is attempted", "velero", "withpvc", "", ""},
		{"bad mode", "rsync", "withpvc", "", "invalid volume mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &volumeFlags{mode: tc.mode, veleroNamespace: "velero"}
			p, err := v.plan(ctx, cfg, cfg, []string{tc.ns}, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantSkip == "" && p.skip != "" {
				t.Errorf("volumes skipped: %s", p.skip)
			}
			if tc.wantSkip != "" && !strings.Contains(p.skip, tc.wantSkip) {
				t.Errorf("skip %q, want %q", p.skip, tc.wantSkip)
			}
		})
	}
	// An explicit --volumes velero without Velero fails before anything is applied.
	v := &volumeFlags{mode: "velero", veleroNamespace: "velero"}
	p, err := v.plan(ctx, cfg, cfg, []string{"withpvc"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.move(ctx); err == nil || !strings.Contains(err.Error(), "nothing was applied on green") {
		t.Errorf("move without Velero: %v", err)
	}
}
