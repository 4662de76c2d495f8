package assess

import (
	"context"
	"testing"
)

// A copy of two nodes' files (testdata/nodes): every setting that stops a component on the
// way from v1.22 to v1.37 is reported at the hop that reaches it: the control plane's at its
// hop, the worker's when the worker's kubelet moves.
func TestScanNodeFilesOfflineInPlace(t *testing.T) {
	t.Parallel()
	from := kubeVersion(t, "v1.22.17")
	r, err := Assess(context.Background(), Options{To: kubeVersion(t, "v1.37.2"), From: &from, Path: InPlace, ManifestDir: "testdata/nodes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []wantFinding{
		// a removed gate (kubelet configuration, worker: its kubelet moves at the hop to v1.26)
		{Blocker, "feature-gates", "feature gate DynamicKubeletConfig in KubeletConfiguration", "v1.26", "v1.26.15"},
		// a locked gate set against its default
		{Blocker, "feature-gates", "feature gate CPUManager=false in KubeletConfiguration", "v1.26", "v1.26.15"},
		// removed kubelet flags: the worker's at its kubelet's hops, the control plane's at its own
		{Blocker, "component-flags", "kubelet --network-plugin", "v1.24", "v1.24.17"},
		{Blocker, "component-flags", "kubelet --container-runtime", "v1.27", "v1.29.15"},
		{Blocker, "component-flags", "kubelet --pod-infra-container-image", "v1.35", "v1.35"},
		// a removed gate on a static pod's command line
		{Blocker, "feature-gates", "feature gate TTLAfterFinished in kube-apiserver (static pod)", "v1.25", "v1.25.16"},
		// removed configuration API versions
		{Blocker, "config-api", "audit.k8s.io/v1beta1 Policy", "v1.24", "v1.24.17"},
		{Blocker, "config-api", "kubescheduler.config.k8s.io/v1beta2 KubeSchedulerConfiguration", "v1.28", "v1.28.15"},
		// a cgroup v1 host whose kubelet configuration does not set failCgroupV1: false
		{Blocker, "node-cgroup", "Node worker-1", "v1.35", "v1.35"},
	} {
		if !findFinding(r, w) {
			t.Errorf("missing %+v; got:\n%s", w, dumpFindings(r))
		}
	}
	for _, f := range r.Findings {
		switch {
		case f.Object == "Node cp-1":
			t.Errorf("cp-1 runs cgroup v2 but is reported: %+v", f)
		case f.Check == "feature-gates" && f.Object == "feature gate GracefulNodeShutdown in KubeletConfiguration":
			t.Errorf("a gate still known to v1.37 is reported: %+v", f)
		case f.Check == "config-api" && f.Object == "kubelet.config.k8s.io/v1beta1 KubeletConfiguration":
			t.Errorf("a configuration version v1.37 still reads is reported: %+v", f)
		}
	}
	for _, e := range r.Errors {
		t.Errorf("unexpected error: %s", e)
	}
}

// Blue-green, only the target reads the files: the same node copies from v1.33 report what
// v1.37 refuses, and nothing removed before the source.
func TestScanNodeFilesOfflineBlueGreen(t *testing.T) {
	t.Parallel()
	from := kubeVersion(t, "v1.33.0")
	r, err := Assess(context.Background(), Options{To: kubeVersion(t, "v1.37.2"), From: &from, ManifestDir: "testdata/nodes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []wantFinding{
		{Blocker, "component-flags", "kubelet --pod-infra-container-image", "v1.35", ""},
		{Action, "node-cgroup", "Node worker-1", "v1.35", ""},
		{Blocker, "config-api", "audit.k8s.io/v1beta1 Policy", "v1.24", ""},
	} {
		if !findFinding(r, w) {
			t.Errorf("missing %+v; got:\n%s", w, dumpFindings(r))
		}
	}
	if findFinding(r, wantFinding{Blocker, "component-flags", "kubelet --network-plugin", "v1.24", ""}) {
		t.Errorf("a flag removed before the source is reported")
	}
}

func TestCgroupVersionFromMounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, mounts string
		want         int
	}{
		{"unified", "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n", 2},
		{"legacy", "tmpfs /sys/fs/cgroup tmpfs ro 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n", 1},
		{"hybrid is v1 to the kubelet", "tmpfs /sys/fs/cgroup tmpfs ro 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n", 1},
		{"nothing", "proc /proc proc rw 0 0\n", 0},
	} {
		if got := cgroupVersion([]byte(tc.mounts)); got != tc.want {
			t.Errorf("%s: cgroupVersion = %d, want %d", tc.name, got, tc.want)
		}
	}
}
