package inplace

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/kube"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func testInventory(pm string, cps, workers int) Inventory {
	inv := Inventory{Name: "prod"}
	for i := 1; i <= cps; i++ {
		inv.Hosts = append(inv.Hosts, Host{Name: "cp-" + string(rune('0'+i)), Address: "10.0.0." + string(rune('0'+i)) + ":22", Role: RoleControlPlane, User: "ops", PackageManager: pm})
	}
	for i := 1; i <= workers; i++ {
		inv.Hosts = append(inv.Hosts, Host{Name: "worker-" + string(rune('0'+i)), Address: "10.0.1." + string(rune('0'+i)) + ":22", Role: RoleWorker, User: "ops", PackageManager: pm})
	}
	return inv
}

func render(t *testing.T, from, to string, inv Inventory, opts RunbookOptions) string {
	t.Helper()
	plan, err := PlanFor(kube.MustParseVersion(from), kube.MustParseVersion(to), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := BuildRunbook(plan, inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rb.Render(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./inplace -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("runbook differs from %s (rerun with -update and review the diff):\n%s", path, got)
	}
}

// The dry-run runbook of a 1.27 -> 1.28 upgrade is reviewed as a golden file, and it must
// carry seed 000's procedure, in seed 000's order.
func TestDryRunRunbookFollowsSeed000(t *testing.T) {
	got := render(t, "v1.27.16", "v1.28.15", testInventory(PackageManagerApt, 2, 2), RunbookOptions{})
	golden(t, "runbook-1.27-1.28-apt.golden", got)

	// Seed 000, sections 三 to 六: repository, kubeadm (unhold/install/hold), version,
	// plan, apply; other control planes `kubeadm upgrade node`; drain, kubelet+kubectl,
	// daemon-reload, restart, uncordon; then the workers.
	seed := []string{
		"[cp-1] printf '%s\\n' 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.28/deb/ /' | tee /etc/apt/sources.list.d/kubernetes.list",
		"[cp-1] apt-get update",
		"[cp-1] apt-cache madison kubeadm",
		"[cp-1] apt-mark unhold kubeadm",
		"[cp-1] DEBIAN_FRONTEND=noninteractive apt-get install -y kubeadm=1.28.15-1.1",
		"[cp-1] apt-mark hold kubeadm",
		"[cp-1] kubeadm version",
		"[cp-1] kubeadm upgrade plan",
		"[cp-1] kubeadm upgrade apply v1.28.15",
		"[cp-2] kubeadm upgrade node",
		"kubectl drain cp-1 --ignore-daemonsets",
		"[cp-1] apt-mark unhold kubelet kubectl",
		"[cp-1] DEBIAN_FRONTEND=noninteractive apt-get install -y kubelet=1.28.15-1.1 kubectl=1.28.15-1.1",
		"[cp-1] apt-mark hold kubelet kubectl",
		"[cp-1] systemctl daemon-reload",
		"[cp-1] systemctl restart kubelet",
		"kubectl uncordon cp-1",
		"kubectl drain cp-2 --ignore-daemonsets",
		"kubectl uncordon cp-2",
		"[worker-1] kubeadm upgrade node",
		"kubectl drain worker-1 --ignore-daemonsets",
		"[worker-1] systemctl restart kubelet",
		"kubectl uncordon worker-1",
		"kubectl drain worker-2 --ignore-daemonsets",
		"kubectl uncordon worker-2",
	}
	rest := got
	for _, s := range seed {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Fatalf("seed 000 step %q missing from the runbook, or out of order", s)
		}
		rest = rest[i+len(s):]
	}
}

func TestDryRunRunbookYum(t *testing.T) {
	got := render(t, "v1.27.16", "v1.28.15", testInventory(PackageManagerYum, 1, 1), RunbookOptions{})
	golden(t, "runbook-1.27-1.28-yum.golden", got)
	for _, want := range []string{
		"yum install -y kubeadm-1.28.15-150500.1.1 --disableexcludes=kubernetes",
		"yum install -y kubelet-1.28.15-150500.1.1 kubectl-1.28.15-150500.1.1 --disableexcludes=kubernetes",
		"baseurl=https://pkgs.k8s.io/core:/stable:/v1.28/rpm/",
		"exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("yum runbook lacks %q", want)
		}
	}
	if strings.Contains(got, "apt-") {
		t.Errorf("yum runbook uses apt")
	}
}

// Workers in a batch are drained together, upgraded, then uncordoned together.
func TestWorkersGoInBatchesOfMaxUnavailable(t *testing.T) {
	plan, err := PlanFor(kube.MustParseVersion("v1.27.16"), kube.MustParseVersion("v1.28.15"), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := BuildRunbook(plan, testInventory(PackageManagerApt, 1, 3), RunbookOptions{MaxUnavailable: 2})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range rb.Steps() {
		if s.Kind == KindDrain || s.Kind == KindUncordon {
			order = append(order, string(s.Kind)+" "+s.Node)
		}
	}
	want := "drain cp-1,uncordon cp-1,drain worker-1,drain worker-2,uncordon worker-1,uncordon worker-2,drain worker-3,uncordon worker-3"
	if got := strings.Join(order, ","); got != want {
		t.Errorf("drain order\n got %s\nwant %s", got, want)
	}
}

// Across minors the control plane hops one minor at a time, its kubelets with it; worker
// kubelets stay behind within the skew policy and jump once (seed 003).
func TestWorkerKubeletsJumpOnceAcrossHops(t *testing.T) {
	plan, err := PlanFor(kube.MustParseVersion("v1.26.15"), kube.MustParseVersion("v1.28.15"), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := BuildRunbook(plan, testInventory(PackageManagerApt, 1, 1), RunbookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var applies, workerUpgrades []string
	for _, s := range rb.Steps() {
		if strings.HasPrefix(s.Command, "kubeadm upgrade apply") {
			applies = append(applies, s.Command)
		}
		if s.Host == "worker-1" && s.Command == "kubeadm upgrade node" {
			workerUpgrades = append(workerUpgrades, s.Phase)
		}
	}
	if strings.Join(applies, ";") != "kubeadm upgrade apply v1.27.16 --yes;kubeadm upgrade apply v1.28.15 --yes --force" {
		t.Errorf("applies = %v", applies)
	}
	if len(workerUpgrades) != 1 || !strings.HasPrefix(workerUpgrades[0], "hop2/") {
		t.Errorf("worker upgraded in %v, want once in hop2", workerUpgrades)
	}
}

func TestPlanRejectsBadVersions(t *testing.T) {
	v := kube.MustParseVersion
	for _, tc := range []struct {
		name     string
		from, to kube.Version
		via      []kube.Version
		want     string
	}{
		{"a downgrade is refused", v("v1.28.15"), v("v1.27.16"), nil, "downgrade"},
		{"the same version is refused", v("v1.28.15"), v("v1.28.15"), nil, "nothing to upgrade"},
		{"a target without patch is refused", v("v1.27.16"), v("v1.28"), nil, "no patch"},
		{"a --via that is not a hop is refused", v("v1.26.15"), v("v1.28.15"), []kube.Version{v("v1.25.16")}, "not an intermediate hop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PlanFor(tc.from, tc.to, false, tc.via)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// A hop to a still-supported minor needs --via to name its patch.
	plan, err := PlanFor(v("v1.35.2"), v("v1.37.2"), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildRunbook(plan, testInventory(PackageManagerApt, 1, 0), RunbookOptions{}); err == nil || !strings.Contains(err.Error(), "--via v1.36.N") {
		t.Fatalf("err = %v, want a request for --via", err)
	}
	plan, err = PlanFor(v("v1.35.2"), v("v1.37.2"), false, []kube.Version{v("v1.36.4")})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Hops[0].To != v("v1.36.4") || plan.Hops[1].From != v("v1.36.4") {
		t.Fatalf("via not applied: %+v", plan.Hops)
	}
}

// The seed pitfalls the runbook carries when asked: kube-controller-manager stopped around
// the hop (seed 001), kubeadm's log level raised (seed 001), the runtime upgraded while the
// node is drained and its kubelet stopped (seed 002).
func TestRunbookSeedOptions(t *testing.T) {
	got := render(t, "v1.27.16", "v1.28.15", testInventory(PackageManagerApt, 2, 1), RunbookOptions{
		StopControllerManager: true, LogLevel: 5, RuntimeUpgrade: "apt-get install -y containerd.io=1.7.27-1", RuntimeService: "containerd"})
	aside := "test ! -e /etc/kubernetes/manifests/kube-controller-manager.yaml || mv /etc/kubernetes/manifests/kube-controller-manager.yaml /etc/kubernetes/phoenix-kube-controller-manager.yaml"
	back := "test ! -e /etc/kubernetes/phoenix-kube-controller-manager.yaml || mv /etc/kubernetes/phoenix-kube-controller-manager.yaml /etc/kubernetes/manifests/kube-controller-manager.yaml"
	order := []string{
		"== hop1/controller-manager/stop", "[cp-2] " + aside,
		"[cp-1] kubeadm upgrade plan v1.28.15 -v=5",
		"[cp-1] kubeadm upgrade apply v1.28.15 --yes -v=5", "[cp-1] " + aside,
		"[cp-2] " + back, "[cp-2] kubeadm upgrade node -v=5", "[cp-2] " + aside,
		"kubectl drain cp-1", "[cp-1] systemctl stop kubelet", "[cp-1] apt-get install -y containerd.io=1.7.27-1",
		"[cp-1] systemctl restart containerd", "[cp-1] crictl info", "[cp-1] apt-mark unhold kubelet kubectl",
		"[worker-1] kubeadm upgrade node -v=5", "kubectl drain worker-1", "[worker-1] systemctl stop kubelet",
		"[worker-1] apt-get install -y containerd.io=1.7.27-1", "[worker-1] systemctl restart containerd", "[worker-1] apt-mark unhold kubelet kubectl",
		"kubectl uncordon worker-1",
		"== hop1/controller-manager/start", "[cp-1] " + back, "[cp-2] " + back,
		"== hop1/post-checks",
	}
	rest := got
	for _, s := range order {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Fatalf("%q missing from the runbook, or out of order:\n%s", s, got)
		}
		rest = rest[i+len(s):]
	}
	plain := render(t, "v1.27.16", "v1.28.15", testInventory(PackageManagerApt, 2, 1), RunbookOptions{})
	for _, s := range []string{"controller-manager", "-v=", "crictl info", "systemctl stop kubelet"} {
		if strings.Contains(plain, s) {
			t.Errorf("the default runbook has %q", s)
		}
	}
}
