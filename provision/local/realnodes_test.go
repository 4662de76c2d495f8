package local

import (
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/kube"
)

func TestChooseNodeRuntimeNamesWhatToInstall(t *testing.T) {
	saved, savedCNI := sbinDirs, cniBinDirs
	t.Cleanup(func() { sbinDirs, cniBinDirs = saved, savedCNI })
	sbinDirs, cniBinDirs = nil, []string{t.TempDir()}
	t.Setenv("PATH", t.TempDir())

	rt, why, err := ChooseNodeRuntime("")
	if err != nil || rt != RuntimeKwok {
		t.Fatalf("default runtime without containerd: %q, %v; want kwok", rt, err)
	}
	for _, want := range []string{"apt-get install containerd", "apt-get install runc", "apt-get install containernetworking-plugins", "apt-get install socat", "kwok"} {
		if !strings.Contains(why, want) {
			t.Errorf("why %q does not say %q", why, want)
		}
	}
	if _, _, err := ChooseNodeRuntime(RuntimeContainerd); err == nil || !strings.Contains(err.Error(), "apt-get install containerd") || !strings.Contains(err.Error(), "--node-runtime kwok") {
		t.Errorf("explicit containerd without it: %v, want an error naming the package and the kwok alternative", err)
	}
	if rt, _, err := ChooseNodeRuntime(RuntimeKwok); err != nil || rt != RuntimeKwok {
		t.Errorf("explicit kwok: %q, %v", rt, err)
	}
	if _, _, err := ChooseNodeRuntime("docker"); err == nil || !strings.Contains(err.Error(), "use containerd or kwok") {
		t.Errorf("unknown runtime: %v", err)
	}
}

func TestNetworkPlanKeepsClustersApart(t *testing.T) {
	a, b := netPlan{Slot: 1}, netPlan{Slot: 2}
	seen := map[string]string{}
	for _, n := range []netPlan{a, b} {
		for i := 1; i <= 3; i++ {
			for what, v := range map[string]string{"netns": n.netns(i), "veth": n.veth(i), "node IP": n.nodeIP(i), "pod CIDR": n.podCIDR(i), "run dir": n.nodeRunDir(i)} {
				if prev, dup := seen[v]; dup {
					t.Errorf("%s %s of slot %d node %d is also %s", what, v, n.Slot, i, prev)
				}
				seen[v] = what
			}
			if len(n.veth(i)) > 15 || len(n.bridge()) > 15 {
				t.Errorf("link name %s or %s longer than the kernel's 15 bytes", n.veth(i), n.bridge())
			}
		}
	}
	if got := (netPlan{Slot: maxSlot}).veth(100); len(got) > 15 {
		t.Errorf("largest veth name %q is longer than 15 bytes", got)
	}
}

func TestKubeletConfigFollowsTheVersion(t *testing.T) {
	f := nodeFiles{Socket: "/run/phoenix/1/n1/containerd.sock", NodeIP: "10.250.1.11"}
	old := kubeletConfig(f, "/ca.crt", mustVersion(t, "v1.24.17"))
	cur := kubeletConfig(f, "/ca.crt", mustVersion(t, "v1.37.2"))
	if strings.Contains(old, "failCgroupV1") || strings.Contains(old, "containerRuntimeEndpoint") {
		t.Errorf("v1.24 kubelet config has fields v1.24 does not know:\n%s", old)
	}
	if !strings.Contains(cur, "failCgroupV1: false") || !strings.Contains(cur, "containerRuntimeEndpoint: unix:///run/phoenix/1/n1/containerd.sock") {
		t.Errorf("v1.37 kubelet config lacks failCgroupV1 or containerRuntimeEndpoint:\n%s", cur)
	}
	if args := strings.Join(kubeletArgs(f, mustVersion(t, "v1.24.17")), " "); !strings.Contains(args, "--container-runtime-endpoint=unix://") {
		t.Errorf("v1.24 kubelet args %s lack --container-runtime-endpoint", args)
	}
}

func mustVersion(t *testing.T, s string) kube.Version {
	t.Helper()
	v, err := kube.ParseExactVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
