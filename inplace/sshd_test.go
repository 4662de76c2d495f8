package inplace_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/inplace/inplacetest"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
)

// These tests run real sshd servers on loopback; the hosts' package manager, kubeadm,
// systemctl and etcdctl are recording stand-ins (see package inplacetest).

var roles = map[string]string{"cp-1": inplace.RoleControlPlane}

func newLab(t *testing.T) *inplacetest.Lab {
	lab := inplacetest.NewLab(t, "cp-1", "worker-1", "worker-2")
	lab.SetAvailable("1.28.15-1.1", "1.27.16-1.1", "1.26.15-1.1")
	return lab
}

func options(t *testing.T, lab *inplacetest.Lab, ws *state.Workspace) inplace.Options {
	return inplace.Options{
		Workspace:        ws,
		Inventory:        lab.Inventory("lab", roles),
		To:               kube.MustParseVersion("v1.28.15"),
		KubeletsEveryHop: true,
		Cluster:          &inplacetest.Cluster{Lab: lab, Version: kube.MustParseVersion("v1.26.15")},
		DialTimeout:      10 * time.Second,
	}
}

func workspace(t *testing.T) *state.Workspace {
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// documented writes down the procedure of seeds 000 and 003 for one hop of a cluster with
// control plane cp-1 and workers worker-1, worker-2, as the stand-ins record it.
func documented(hop int, from, to string) []string {
	minor := to[:strings.LastIndex(to, ".")]
	pkg := strings.TrimPrefix(to, "v") + "-1.1"
	snap := fmt.Sprintf("/var/lib/phoenix/etcd-snapshot-hop%d-%s.db", hop, from)
	hosts := []string{"cp-1", "worker-1", "worker-2"}
	var out []string
	add := func(lines ...string) { out = append(out, lines...) }
	add("cluster: preflight")
	for _, h := range hosts {
		add(h + ": swapon --show --noheadings")
	}
	add("cp-1: mkdir -p /var/lib/phoenix",
		"cp-1: etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key snapshot save "+snap,
		"cp-1: cat "+snap)
	for _, h := range hosts {
		add(h+": tee /etc/apt/sources.list.d/kubernetes.list",
			h+":   | deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/"+minor+"/deb/ /",
			h+": apt-get update", h+": apt-cache madison kubeadm")
	}
	kubeadm := func(h string) {
		add(h+": apt-mark unhold kubeadm", h+": apt-get install -y kubeadm="+pkg, h+": apt-mark hold kubeadm")
	}
	kubelet := func(h string) {
		add("cluster: drain "+h,
			h+": apt-mark unhold kubelet kubectl", h+": apt-get install -y kubelet="+pkg+" kubectl="+pkg, h+": apt-mark hold kubelet kubectl",
			h+": systemctl daemon-reload", h+": systemctl restart kubelet",
			"cluster: uncordon "+h, "cluster: wait-ready "+h+" "+to)
	}
	kubeadm("cp-1")
	add("cp-1: kubeadm version -o short", "cp-1: kubeadm upgrade plan "+to, "cp-1: kubeadm upgrade apply "+to+" --yes")
	kubelet("cp-1")
	for _, w := range hosts[1:] {
		kubeadm(w)
		add(w + ": kubeadm upgrade node")
		kubelet(w)
	}
	add("cluster: post-checks " + to)
	return out
}

func diff(got, want []string) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("first difference at line %d:\n got %q\nwant %q", i+1, g, w)
		}
	}
	return ""
}

// Two hops (1.26 -> 1.27 -> 1.28) on a 3-node cluster run the documented procedure, in
// order, on the right hosts.
func TestUpgradeRunsTheDocumentedProcedureOverSSH(t *testing.T) {
	lab := newLab(t)
	ws := workspace(t)
	res, err := inplace.Upgrade(context.Background(), options(t, lab, ws))
	if err != nil {
		t.Fatal(err)
	}
	want := append(documented(1, "v1.26.15", "v1.27.16"), documented(2, "v1.27.16", "v1.28.15")...)
	if d := diff(lab.Recorded(), want); d != "" {
		t.Fatalf("recorded sequence differs from the documented procedure: %s", d)
	}
	if res.Ran != len(res.Runbook.Steps()) || res.Skipped != 0 {
		t.Errorf("ran %d, skipped %d of %d", res.Ran, res.Skipped, len(res.Runbook.Steps()))
	}
	snap, err := os.ReadFile(filepath.Join(filepath.Dir(res.Journal), "etcd-snapshot-hop1-v1.26.15.db"))
	if err != nil || !strings.Contains(string(snap), "stand-in contents of /var/lib/phoenix/etcd-snapshot-hop1-v1.26.15.db") {
		t.Errorf("etcd snapshot not copied off the node: %q %v", snap, err)
	}
	j, err := inplace.LoadJournal(res.Journal)
	if err != nil || !j.Finished || j.Failed() != nil {
		t.Fatalf("journal: %+v %v", j, err)
	}
}

// A failure at a random stand-in invocation stops the run with the step, its output and
// a recovery hint; --resume then ends with the same recorded sequence as a run that never
// failed.
func TestResumeAfterAFailureEndsLikeAnUninterruptedRun(t *testing.T) {
	lab := newLab(t)
	if _, err := inplace.Upgrade(context.Background(), options(t, lab, workspace(t))); err != nil {
		t.Fatal(err)
	}
	clean := lab.Recorded()
	total := lab.Invocations()

	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for round := 0; round < 1; round++ {
		n := 1 + rng.IntN(total)
		t.Logf("round %d: injecting a failure at stand-in invocation %d of %d (seed %d)", round, n, total, seed)
		lab.ResetLog()
		lab.FailAt(n)
		ws := workspace(t)
		o := options(t, lab, ws)
		_, err := inplace.Upgrade(context.Background(), o)
		var se *inplace.StepError
		if !errors.As(err, &se) {
			t.Fatalf("want a StepError, got %v", err)
		}
		if !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "recovery:") || !strings.Contains(err.Error(), "--resume") {
			t.Errorf("error lacks output or recovery: %v", err)
		}
		if _, err := inplace.Upgrade(context.Background(), o); err == nil || !strings.Contains(err.Error(), "--resume") {
			t.Fatalf("a second run without --resume should refuse: %v", err)
		}
		o.Resume, o.To = true, kube.Version{}
		o.Cluster = &inplacetest.Cluster{Lab: lab, Version: kube.MustParseVersion("v1.27.16")} // mid-upgrade
		res, err := inplace.Upgrade(context.Background(), o)
		if err != nil {
			t.Fatalf("resume: %v", err)
		}
		if res.Skipped == 0 && n > 1 {
			t.Errorf("resume skipped nothing")
		}
		if d := diff(lab.Recorded(), clean); d != "" {
			t.Fatalf("resumed run differs from the uninterrupted one: %s", d)
		}
	}
}

// A host whose key changed is refused with the new key's fingerprint, and nothing runs.
func TestChangedHostKeyIsRefused(t *testing.T) {
	lab := newLab(t)
	lab.ReplaceHostKey("worker-1")
	_, err := inplace.Upgrade(context.Background(), options(t, lab, workspace(t)))
	var hk *inplace.HostKeyError
	if !errors.As(err, &hk) || !hk.Changed || hk.Host != "worker-1" {
		t.Fatalf("want a changed-host-key error for worker-1, got %v", err)
	}
	if !strings.HasPrefix(hk.Fingerprint, "SHA256:") || !strings.Contains(err.Error(), hk.Fingerprint) {
		t.Errorf("error does not show the fingerprint: %v", err)
	}
	if got := lab.Recorded(); len(got) != 0 {
		t.Errorf("commands ran although a host key was wrong: %v", got)
	}
}

func TestBadHostsStopBeforeAnythingRuns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, lab *inplacetest.Lab, o *inplace.Options)
		check  func(t *testing.T, err error)
	}{
		{"an unknown host key is refused with its fingerprint",
			func(t *testing.T, lab *inplacetest.Lab, o *inplace.Options) {
				data, _ := os.ReadFile(lab.KnownHosts)
				var keep []string
				for _, l := range strings.Split(string(data), "\n") {
					if l != "" && !strings.Contains(l, o.Inventory.Hosts[2].Address[len("127.0.0.1:"):]) {
						keep = append(keep, l)
					}
				}
				os.WriteFile(lab.KnownHosts, []byte(strings.Join(keep, "\n")+"\n"), 0o600)
			},
			func(t *testing.T, err error) {
				var hk *inplace.HostKeyError
				if !errors.As(err, &hk) || hk.Changed || !strings.Contains(err.Error(), "unknown host key SHA256:") {
					t.Fatalf("got %v", err)
				}
			}},
		{"a host that does not answer is named",
			func(t *testing.T, lab *inplacetest.Lab, o *inplace.Options) {
				o.Inventory.Hosts[1].Address = "127.0.0.1:1"
			},
			func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "worker-1 (127.0.0.1:1) does not answer") {
					t.Fatalf("got %v", err)
				}
			}},
		{"a wrong key is refused by the host",
			func(t *testing.T, lab *inplacetest.Lab, o *inplace.Options) {
				other := inplacetest.NewLab(t)
				o.Inventory.Hosts[0].Key = other.KeyPath
			},
			func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "handshake") {
					t.Fatalf("got %v", err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := newLab(t)
			o := options(t, lab, workspace(t))
			tc.break_(t, lab, &o)
			_, err := inplace.Upgrade(context.Background(), o)
			tc.check(t, err)
			if got := lab.Recorded(); len(got) != 0 {
				t.Errorf("commands ran: %v", got)
			}
		})
	}
}

// A package version the repository lacks stops the hop before any package changes.
func TestMissingPackageVersionStopsBeforeInstalling(t *testing.T) {
	lab := newLab(t)
	lab.SetAvailable("1.27.16-1.1", "1.28.14-1.1")
	o := options(t, lab, workspace(t))
	o.From = kube.MustParseVersion("v1.27.16")
	o.Cluster = &inplacetest.Cluster{Lab: lab, Version: o.From}
	_, err := inplace.Upgrade(context.Background(), o)
	var se *inplace.StepError
	if !errors.As(err, &se) || se.Step.Kind != inplace.KindExpectContains || !strings.Contains(err.Error(), "1.28.15-1.1 is not in the package repository") {
		t.Fatalf("got %v", err)
	}
	for _, l := range lab.Recorded() {
		if strings.Contains(l, "apt-get install") || strings.Contains(l, "apt-mark") {
			t.Errorf("packages changed before the version was found: %s", l)
		}
	}
}

// The SSH executor kills a command that outlives its timeout.
func TestCommandTimeout(t *testing.T) {
	lab := newLab(t)
	inv := lab.Inventory("lab", roles)
	c, err := inplace.Dial(context.Background(), inv.Hosts[0], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	block, unblock := io.Pipe()
	defer unblock.Close()
	_, err = c.Run(ctx, "read line", block)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("got %v", err)
	}
	res, err := c.Run(context.Background(), "kubeadm token create --print-join-command", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Output(), "0123456789abcdef") || !strings.Contains(string(res.Stdout), "0123456789abcdef") {
		t.Errorf("Output() must redact the join token: %q", res.Output())
	}
	_ = ssh.FingerprintSHA256
}
