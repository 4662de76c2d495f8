package inplace

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/skew"
)

// StepKind says how a step is carried out.
type StepKind string

// Step kinds. Remote kinds run a command on a host over SSH; cluster kinds talk to the
// Kubernetes API.
const (
	// KindRun runs Command; a non-zero exit fails the step.
	KindRun StepKind = "run"
	// KindExpectEmpty runs Command and fails when it prints anything (swap still on).
	KindExpectEmpty StepKind = "expect-empty"
	// KindExpectContains runs Command and fails unless its output contains Want (a
	// package version missing from the repository).
	KindExpectContains StepKind = "expect-contains"
	// KindFetch runs Command and saves its stdout to Local (relative to the upgrade's
	// directory in the workspace); the output never reaches the journal.
	KindFetch StepKind = "fetch"

	KindClusterPreflight StepKind = "cluster-preflight"
	KindDrain            StepKind = "drain"
	KindUncordon         StepKind = "uncordon"
	KindWaitReady        StepKind = "wait-ready"
	KindPostChecks       StepKind = "post-checks"
)

// Remote reports whether the step runs on a host over SSH.
func (k StepKind) Remote() bool {
	switch k {
	case KindRun, KindExpectEmpty, KindExpectContains, KindFetch:
		return true
	}
	return false
}

// Step is one action of the runbook.
type Step struct {
	// ID is unique in the runbook and stable across runs: the journal keys on it.
	ID    string   `json:"id"`
	Phase string   `json:"phase"`
	Kind  StepKind `json:"kind"`
	// Host is the inventory host a remote step runs on; Node the node a cluster step
	// acts on.
	Host    string `json:"host,omitempty"`
	Node    string `json:"node,omitempty"`
	Command string `json:"command,omitempty"`
	Want    string `json:"want,omitempty"`
	Local   string `json:"local,omitempty"`
	// Version is the version a node must report (wait-ready) or the cluster runs (checks).
	Version string        `json:"version,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
	// Hint is the recovery advice shown when the step fails.
	Hint string `json:"hint,omitempty"`
}

// Phase is a named group of steps, kubeadm-workflow style.
type Phase struct {
	Name  string `json:"name"`
	Steps []Step `json:"steps"`
}

// Runbook is every step of an upgrade, in order.
type Runbook struct {
	Plan   skew.Plan `json:"plan"`
	Phases []Phase   `json:"phases"`
}

// Steps flattens the phases.
func (r Runbook) Steps() []Step {
	var out []Step
	for _, p := range r.Phases {
		out = append(out, p.Steps...)
	}
	return out
}

// Fingerprint identifies the runbook: a resumed run must have the same one.
func (r Runbook) Fingerprint() string {
	h := sha256.New()
	for _, s := range r.Steps() {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\n", s.ID, s.Kind, s.Host, s.Node, Redact(s.Command), s.Want)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// RunbookOptions tunes the steps.
type RunbookOptions struct {
	// MaxUnavailable is how many workers are drained at once (default 1).
	MaxUnavailable int
	// DeleteEmptyDirData lets drain evict pods with emptyDir volumes (their data is lost).
	DeleteEmptyDirData bool
	// Revision overrides the package revision (see Packages).
	Revision string
	// Timeouts.
	CommandTimeout, ApplyTimeout, DrainTimeout, ReadyTimeout time.Duration
	// EtcdctlFlags are the flags etcdctl needs to reach the local etcd member.
	EtcdctlFlags string
	// StopControllerManager keeps kube-controller-manager stopped from before the first
	// control plane's upgrade until every kubelet of the hop is upgraded (seed 001): its
	// static-pod manifest is moved aside on each control plane and put back at the end.
	StopControllerManager bool
	// LogLevel, when above 0, runs every kubeadm command with -v=LogLevel (seed 001: raise
	// log levels during the upgrade).
	LogLevel int
	// RuntimeUpgrade is a command that upgrades the container runtime; it runs on each node
	// after its drain, with the kubelet stopped, and the runtime is restarted after it
	// (seed 002). Empty: the runtime is left alone.
	RuntimeUpgrade string
	// RuntimeService is the runtime's systemd unit (default containerd).
	RuntimeService string
}

func (o *RunbookOptions) defaults() {
	if o.MaxUnavailable < 1 {
		o.MaxUnavailable = 1
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 10 * time.Minute
	}
	if o.ApplyTimeout <= 0 {
		o.ApplyTimeout = 20 * time.Minute
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 10 * time.Minute
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 10 * time.Minute
	}
	if o.RuntimeService == "" {
		o.RuntimeService = "containerd"
	}
	if o.EtcdctlFlags == "" {
		o.EtcdctlFlags = "--endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key"
	}
}

// Recovery hints from seed 000 ("从故障状态恢复").
const (
	hintKubeadm = "kubeadm upgrade is idempotent: fix the cause and run `phoenix upgrade --resume`, which reruns this step. " +
		"kubeadm rolls back a component that does not start; if it could not, its backups are under /etc/kubernetes/tmp on this host: " +
		"kubeadm-backup-manifests-<date>-<time> (copy back to /etc/kubernetes/manifests) and kubeadm-backup-etcd-<date>-<time> (copy back to /var/lib/etcd). " +
		"`kubeadm upgrade apply --force` at the running version also re-converges a half-upgraded control plane."
	hintPackages = "check the package repository on this host (the version must be listed by the command of the repository phase), then run `phoenix upgrade --resume`."
	hintKubelet  = "look at `journalctl -xeu kubelet` on this host (a removed flag or feature gate stops the new kubelet, see seed 003), fix it, then run `phoenix upgrade --resume`."
	hintDrain    = "a PodDisruptionBudget or a pod that will not leave blocks the drain: see the output, free the budget (scale up, or relax the PDB), then `phoenix upgrade --resume`; the node stays cordoned meanwhile."
	hintChecks   = "the hop finished but the cluster is not healthy: check the named component (CoreDNS, kube-proxy, CNI, webhooks; seed 003 lists the usual causes), then `phoenix upgrade --resume` reruns the checks."
	hintSwap     = "the kubelet needs swap off: run `swapoff -a` and remove swap from /etc/fstab on this host, then `phoenix upgrade --resume`."
	hintCM       = "moving kube-controller-manager's manifest failed: check /etc/kubernetes/manifests and /etc/kubernetes/phoenix-kube-controller-manager.yaml on this host (exactly one of them must exist), then `phoenix upgrade --resume`."
	hintRuntime  = "the container runtime upgrade failed: the node is drained and its kubelet stopped; fix the runtime (journalctl -xeu the runtime's unit, crictl info), then `phoenix upgrade --resume`. " +
		"Restarting containerd can end the node's containers (containerd#7845): the runbook only restarts it on a drained node."
)

const (
	cmManifest = "/etc/kubernetes/manifests/kube-controller-manager.yaml"
	cmAside    = "/etc/kubernetes/phoenix-kube-controller-manager.yaml"
)

// moveCmd moves from to to, and succeeds when it was already moved (a resumed step).
func moveCmd(from, to string) string {
	return fmt.Sprintf("test ! -e %s || mv %s %s", ShellQuote(from), ShellQuote(from), ShellQuote(to))
}

func (b *hopBuilder) stopCM(h Host) {
	b.run(h, "stop-controller-manager", moveCmd(cmManifest, cmAside), hintCM)
}
func (b *hopBuilder) startCM(h Host) {
	b.run(h, "start-controller-manager", moveCmd(cmAside, cmManifest), hintCM)
}

func (b *hopBuilder) kubeadm(args ...string) []string {
	argv := append([]string{"kubeadm"}, args...)
	if b.opts.LogLevel > 0 {
		argv = append(argv, fmt.Sprintf("-v=%d", b.opts.LogLevel))
	}
	return argv
}

// BuildRunbook turns a plan into the ordered steps for inv. Every hop has its To patch
// resolved (see ResolvePlan).
func BuildRunbook(plan skew.Plan, inv Inventory, opts RunbookOptions) (Runbook, error) {
	opts.defaults()
	cps, workers := inv.ControlPlanes(), inv.Workers()
	if len(cps) == 0 {
		return Runbook{}, fmt.Errorf("the inventory has no control-plane host")
	}
	if len(plan.Hops) == 0 {
		return Runbook{}, fmt.Errorf("the plan %s -> %s has no hops", plan.From, plan.To)
	}
	if err := ValidateRevision(opts.Revision); err != nil {
		return Runbook{}, err
	}
	rb := Runbook{Plan: plan}
	for i, hop := range plan.Hops {
		if hop.To.Patch < 0 {
			return Runbook{}, fmt.Errorf("hop %d to %s has no patch release: name it with --via %s.N (the newest patch in the repository: %s)",
				i+1, hop.To.MinorString(), hop.To.MinorString(), Packages{Manager: cps[0].PackageManager}.ListVersions())
		}
		b := hopBuilder{hop: hop, n: i + 1, inv: inv, opts: opts}
		rb.Phases = append(rb.Phases, b.build(cps, workers)...)
	}
	return rb, nil
}

type hopBuilder struct {
	hop  skew.Hop
	n    int
	inv  Inventory
	opts RunbookOptions
	cur  *Phase
	out  []Phase
}

func (b *hopBuilder) phase(name string) {
	b.out = append(b.out, Phase{Name: fmt.Sprintf("hop%d/%s", b.n, name)})
	b.cur = &b.out[len(b.out)-1]
}

func (b *hopBuilder) add(s Step) {
	s.Phase = b.cur.Name
	s.ID = fmt.Sprintf("%s/%s/%s", b.cur.Name, firstNonEmpty(s.Host, s.Node, "cluster"), s.ID)
	if s.Timeout == 0 && s.Kind.Remote() {
		s.Timeout = b.opts.CommandTimeout
	}
	b.cur.Steps = append(b.cur.Steps, s)
}

func (b *hopBuilder) run(h Host, id, cmd, hint string) {
	b.add(Step{ID: id, Kind: KindRun, Host: h.Name, Command: cmd, Hint: hint})
}

func (b *hopBuilder) install(h Host, id string, v kube.Version, names ...string) {
	for i, c := range b.pkgs(h).Install(v, names...) {
		b.run(h, fmt.Sprintf("%s-%d", id, i+1), c, hintPackages)
	}
}

func (b *hopBuilder) pkgs(h Host) Packages {
	return Packages{Manager: h.PackageManager, Revision: b.opts.Revision}
}

func (b *hopBuilder) build(cps, workers []Host) []Phase {
	to := b.hop.To
	upgraded := append([]Host{}, cps...)
	if b.hop.Kubelets {
		upgraded = append(upgraded, workers...)
	}

	b.phase("preflight")
	b.add(Step{ID: "cluster", Kind: KindClusterPreflight, Version: b.hop.From.String(), Hint: "make the cluster healthy first: every node Ready, the control plane answering."})
	for _, h := range upgraded {
		b.add(Step{ID: "swap-off", Kind: KindExpectEmpty, Host: h.Name, Command: "swapon --show --noheadings", Hint: hintSwap})
	}

	first := cps[0]
	b.phase("etcd-snapshot")
	snap := fmt.Sprintf("/var/lib/phoenix/etcd-snapshot-hop%d-%s.db", b.n, b.hop.From)
	b.run(first, "mkdir", Argv("mkdir", "-p", "/var/lib/phoenix"),
		"creating /var/lib/phoenix for the etcd snapshot failed: check the disk and its permissions on this host, then `phoenix upgrade --resume`.")
	etcdctl := slices.Concat([]string{"etcdctl"}, strings.Fields(b.opts.EtcdctlFlags), []string{"snapshot", "save", snap})
	b.run(first, "snapshot-save", "ETCDCTL_API=3 "+Argv(etcdctl...),
		"the etcd snapshot failed: check etcd's health and the etcdctl certificates; do not upgrade without a backup.")
	b.add(Step{ID: "snapshot-copy", Kind: KindFetch, Host: first.Name, Command: Argv("cat", snap),
		Local: fmt.Sprintf("etcd-snapshot-hop%d-%s.db", b.n, b.hop.From), Hint: "copying the snapshot off the node failed: check disk space in the workspace."})

	b.phase("repository")
	for _, h := range upgraded {
		p := b.pkgs(h)
		b.run(h, "set-repository", p.SetRepository(to), hintPackages)
		b.run(h, "refresh", p.Refresh(), hintPackages)
		b.add(Step{ID: "version-available", Kind: KindExpectContains, Host: h.Name, Command: p.ListVersions(), Want: p.PackageVersion(to),
			Hint: fmt.Sprintf("%s is not in the %s repository: check the release exists (https://kubernetes.io/releases/), or pass --package-revision", p.PackageVersion(to), to.MinorString())})
	}

	if b.opts.StopControllerManager && len(cps) > 1 {
		// kubeadm upgrade apply needs the first control plane's manifest; the others stop now.
		b.phase("controller-manager/stop")
		for _, h := range cps[1:] {
			b.stopCM(h)
		}
	}

	b.phase("control-plane/first")
	b.install(first, "kubeadm", to, "kubeadm")
	b.run(first, "kubeadm-version", "kubeadm version -o short", hintPackages)
	b.run(first, "upgrade-plan", Argv(b.kubeadm("upgrade", "plan", to.String())...), hintKubeadm)
	apply := b.kubeadm("upgrade", "apply", to.String(), "--yes")
	if b.hop.Force {
		apply = append(apply, "--force")
	}
	b.add(Step{ID: "upgrade-apply", Kind: KindRun, Host: first.Name, Command: Argv(apply...), Timeout: b.opts.ApplyTimeout, Hint: hintKubeadm})
	if b.opts.StopControllerManager {
		b.stopCM(first)
	}

	if len(cps) > 1 {
		b.phase("control-plane/others")
		for _, h := range cps[1:] {
			b.install(h, "kubeadm", to, "kubeadm")
			if b.opts.StopControllerManager {
				// kubeadm upgrade node rewrites the manifest it finds: it is back only for that step.
				b.startCM(h)
			}
			b.add(Step{ID: "upgrade-node", Kind: KindRun, Host: h.Name, Command: Argv(b.kubeadm("upgrade", "node")...), Timeout: b.opts.ApplyTimeout, Hint: hintKubeadm})
			if b.opts.StopControllerManager {
				b.stopCM(h)
			}
		}
	}

	// Control-plane kubelets follow every control-plane hop (seed 000 and 003); workers
	// move when the plan says so.
	b.phase("kubelets/control-plane")
	for _, h := range cps {
		b.kubelets([]Host{h}, false)
	}
	if b.hop.Kubelets && len(workers) > 0 {
		b.phase("kubelets/workers")
		for i := 0; i < len(workers); i += b.opts.MaxUnavailable {
			b.kubelets(workers[i:min(i+b.opts.MaxUnavailable, len(workers))], true)
		}
	}

	if b.opts.StopControllerManager {
		b.phase("controller-manager/start")
		for _, h := range cps {
			b.startCM(h)
		}
	}

	b.phase("post-checks")
	b.add(Step{ID: "checks", Kind: KindPostChecks, Version: to.String(), Hint: hintChecks})
	return b.out
}

// kubelets upgrades one batch of nodes: (workers: kubeadm and `kubeadm upgrade node`),
// drain, kubelet and kubectl, daemon-reload, restart, uncordon, wait Ready.
func (b *hopBuilder) kubelets(batch []Host, workers bool) {
	to := b.hop.To
	if workers {
		for _, h := range batch {
			b.install(h, "kubeadm", to, "kubeadm")
			b.add(Step{ID: "upgrade-node", Kind: KindRun, Host: h.Name, Command: Argv(b.kubeadm("upgrade", "node")...), Timeout: b.opts.ApplyTimeout, Hint: hintKubeadm})
		}
	}
	for _, h := range batch {
		b.add(Step{ID: "drain", Kind: KindDrain, Node: h.NodeName(), Timeout: b.opts.DrainTimeout, Hint: hintDrain})
	}
	for _, h := range batch {
		if b.opts.RuntimeUpgrade != "" {
			// Seed 002: the runtime is upgraded on the drained node, kubelet stopped.
			b.run(h, "runtime-stop-kubelet", "systemctl stop kubelet", hintRuntime)
			b.run(h, "runtime-upgrade", b.opts.RuntimeUpgrade, hintRuntime)
			b.run(h, "runtime-restart", "systemctl restart "+ShellQuote(b.opts.RuntimeService), hintRuntime)
			b.run(h, "runtime-check", "crictl info", hintRuntime)
		}
		b.install(h, "kubelet-kubectl", to, "kubelet", "kubectl")
		b.run(h, "daemon-reload", "systemctl daemon-reload", hintKubelet)
		b.run(h, "restart-kubelet", "systemctl restart kubelet", hintKubelet)
	}
	for _, h := range batch {
		b.add(Step{ID: "uncordon", Kind: KindUncordon, Node: h.NodeName(), Hint: "uncordon failed: run `kubectl uncordon` by hand or `phoenix upgrade --resume`."})
		b.add(Step{ID: "wait-ready", Kind: KindWaitReady, Node: h.NodeName(), Version: to.String(), Timeout: b.opts.ReadyTimeout, Hint: hintKubelet})
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
