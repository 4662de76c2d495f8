package local

import (
	"os"
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

func TestProcessIdentityNamesTheExactDirectory(t *testing.T) {
	cmd := func(args ...string) []byte { return []byte(strings.Join(args, "\x00") + "\x00") }
	for _, c := range []struct {
		name    string
		cmdline []byte
		dir     string
		want    bool
	}{
		{"a path below the directory", cmd("etcd", "--data-dir=/ws/clusters/green/etcd"), "/ws/clusters/green", true},
		{"the directory itself", cmd("x", "/ws/clusters/green"), "/ws/clusters/green", true},
		{"another cluster whose name extends it", cmd("etcd", "--data-dir=/ws/clusters/green2/etcd"), "/ws/clusters/green", false},
		{"a relay socket of slot 1", cmd("socat", "UNIX-LISTEN:/run/phoenix/1/apiserver.sock,fork"), "/run/phoenix/1", true},
		{"a shim of slot 10 is not slot 1's", cmd("containerd-shim-runc-v2", "-address", "/run/phoenix/10/n1/containerd.sock"), "/run/phoenix/1", false},
		{"a later mention after a near miss", cmd("x", "/run/phoenix/10:/run/phoenix/1/n1"), "/run/phoenix/1", true},
	} {
		if got := namesDir(c.cmdline, c.dir); got != c.want {
			t.Errorf("%s: namesDir = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestStartTimeIsReadAfterTheCommandName(t *testing.T) {
	stat := []byte("1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 200")
	if got, ok := parseStat(stat); !ok || got != (procStat{state: "S", ppid: 1, start: 987654}) {
		t.Errorf("parsed %+v (%v), want state S, parent 1, start 987654", got, ok)
	}
	if startTime(os.Getpid()) == 0 {
		t.Error("no start time for this process")
	}
}

func TestChildProcessesGetNoneOfPhoenixsEnvironment(t *testing.T) {
	t.Setenv("PHOENIX_TEST_SECRET", "s3cr3t")
	env := childEnv()
	if len(env) != 1 || !strings.HasPrefix(env[0], "PATH=") || !strings.Contains(env[0], "/usr/sbin") {
		t.Errorf("child environment %v, want only a PATH with /usr/sbin", env)
	}
}
