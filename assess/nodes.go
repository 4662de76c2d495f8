package assess

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// NodeFiles are files read from one node: the kubelet's flags file (kubeadm-flags.env,
// /etc/default/kubelet), its configuration file, static-pod manifests and the files they
// name (audit policy, scheduler configuration), kube-proxy's configuration and /proc/mounts.
// The in-place path reads them over SSH (inplace.ReadNodes); offline, a directory holding a
// file named mounts or *.env is taken as one node's copy of them.
type NodeFiles struct {
	// Node is the node's name.
	Node string `json:"node"`
	// ControlPlane: the node runs the control plane, whose kubelet follows every
	// control-plane hop; a worker's settings bite when its kubelet moves.
	ControlPlane bool `json:"controlPlane,omitempty"`
	// Source says how the files were read ("ssh ops@10.0.0.11:22", a directory).
	Source string `json:"source,omitempty"`
	// Files maps a path on the node to its content.
	Files map[string][]byte `json:"-"`
	// Errors are files that could not be read.
	Errors []string `json:"errors,omitempty"`
}

// nodeFacts is what the checks of one node learn as they go.
type nodeFacts struct {
	// cgroup is the host's cgroup version (0: unknown).
	cgroup int
	// failCgroupV1 is the kubelet's setting, nil when not set.
	failCgroupV1 *bool
	// defaulted: failCgroupV1 comes from a running kubelet's configz, where an unset field
	// shows its default, and the kubelet is older than the release that flips the default.
	defaulted bool
	// losingSupport is the release the kubelet says the runtime loses support in.
	losingSupport string
}

// Files phoenix reads on a node, besides the static-pod manifests and what they name.
const (
	KubeletFlagsFile  = "/var/lib/kubelet/kubeadm-flags.env"
	KubeletConfigFile = "/var/lib/kubelet/config.yaml"
	ManifestsDir      = "/etc/kubernetes/manifests"
	MountsFile        = "/proc/mounts"
)

// StaticPodNames are the manifests kubeadm writes on a control-plane node.
var StaticPodNames = []string{"kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml", "etcd.yaml"}

// controlPlaneComponents are the static pods whose command lines phoenix checks.
var controlPlaneComponents = map[string]bool{"kube-apiserver": true, "kube-controller-manager": true, "kube-scheduler": true}

// fileFlags are the flags whose value is a file phoenix reads too.
var fileFlags = map[string]bool{"--audit-policy-file": true, "--config": true, "--admission-control-config-file": true, "--encryption-provider-config": true}

// ReferencedFiles returns the files a static-pod manifest's component reads that phoenix
// checks (audit policy, scheduler configuration, admission and encryption configuration).
func ReferencedFiles(manifest []byte) []string {
	var pod map[string]any
	if err := yamlUnmarshal(manifest, &pod); err != nil {
		return nil
	}
	var out []string
	for _, a := range podArgs(pod) {
		if !controlPlaneComponents[a.component] {
			continue
		}
		if fileFlags[a.flag] && strings.HasPrefix(a.value, "/") {
			out = append(out, a.value)
		}
	}
	sort.Strings(out)
	return out
}

type podArg struct{ component, flag, value string }

// podArgs returns the flags of every container whose command is a control-plane component.
func podArgs(pod map[string]any) []podArg {
	containers, _, _ := unstructured.NestedSlice(pod, "spec", "containers")
	var out []podArg
	for _, ci := range containers {
		cm, _ := ci.(map[string]any)
		cmd, _, _ := unstructured.NestedStringSlice(cm, "command")
		args, _, _ := unstructured.NestedStringSlice(cm, "args")
		all := append(append([]string{}, cmd...), args...)
		if len(all) == 0 {
			continue
		}
		component := path.Base(all[0])
		for _, f := range parseFlags(all[1:]) {
			out = append(out, podArg{component, f[0], f[1]})
		}
	}
	return out
}

// parseFlags splits command-line arguments into flag/value pairs ("--a=b", "--a b", "--a").
func parseFlags(args []string) [][2]string {
	var out [][2]string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, ok := strings.Cut(a, "=")
		if !ok && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value = args[i+1]
			i++
		}
		if !strings.HasPrefix(name, "--") {
			name = "-" + name
		}
		out = append(out, [2]string{name, value})
	}
	return out
}

// envFlags reads the kubelet's flags from an environment file (KUBELET_KUBEADM_ARGS="...",
// KUBELET_EXTRA_ARGS=...).
func envFlags(data []byte) [][2]string {
	var args []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		_, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		args = append(args, strings.Fields(v)...)
	}
	return parseFlags(args)
}

func isEnvFile(name string) bool {
	return strings.HasSuffix(name, ".env") || name == "kubelet"
}

// cgroupVersion reads /proc/mounts: 2 when /sys/fs/cgroup is a cgroup2 mount (what the
// kubelet tests), 1 when cgroup v1 hierarchies are mounted under it, 0 when neither shows.
func cgroupVersion(mounts []byte) int {
	v1 := false
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch {
		case strings.TrimSuffix(f[1], "/") == "/sys/fs/cgroup" && f[2] == "cgroup2":
			return 2
		case strings.HasPrefix(f[1], "/sys/fs/cgroup/") && f[2] == "cgroup":
			v1 = true
		}
	}
	if v1 {
		return 1
	}
	return 0
}

// nodeFilesFindings checks one node's files.
func (c *checker) nodeFilesFindings(n NodeFiles) ([]Finding, []string) {
	nc := *c
	nc.worker = !n.ControlPlane
	nc.facts = &nodeFacts{}
	paths := make([]string, 0, len(n.Files))
	for p := range n.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var findings []Finding
	problems := append([]string{}, n.Errors...)
	mounts := ""
	for _, p := range paths {
		data, where, base := n.Files[p], n.Node+":"+p, path.Base(p)
		switch {
		case base == "mounts":
			nc.facts.cgroup, mounts = cgroupVersion(data), where
		case isEnvFile(base):
			findings = append(findings, nc.kubeletFlagFindings(envFlags(data), where)...)
		default:
			fs, ps := nc.checkManifestData(data, where)
			findings = append(findings, fs...)
			problems = append(problems, ps...)
		}
	}
	if mounts == "" {
		mounts = n.Node
	}
	findings = append(findings, nc.cgroupFindings("Node "+n.Node, mounts)...)
	return findings, problems
}

// kubeletFlagFindings checks the kubelet's command-line flags.
func (c *checker) kubeletFlagFindings(flags [][2]string, where string) []Finding {
	var out []Finding
	for _, f := range flags {
		if f[0] == "--feature-gates" {
			out = append(out, c.gateFindings(parseGateList(f[1]), "kubelet (flags)", where)...)
			continue
		}
		out = append(out, c.flagFindings("kubelet", f[0], f[1], where, "the kubelet's flags in "+path.Base(where))...)
	}
	return out
}

// staticPodFindings checks the command line of a control-plane static pod (a manifest, or
// its mirror pod in a live cluster).
func (c *checker) staticPodFindings(pod map[string]any, where string) []Finding {
	var out []Finding
	cp := *c
	cp.worker = false
	for _, a := range podArgs(pod) {
		if !controlPlaneComponents[a.component] {
			continue
		}
		if a.flag == "--feature-gates" {
			out = append(out, cp.gateFindings(parseGateList(a.value), a.component+" (static pod)", where)...)
			continue
		}
		out = append(out, cp.flagFindings(a.component, a.flag, a.value, where, "its static-pod manifest")...)
	}
	return out
}

// kubeletConfigFindings checks a KubeletConfiguration (a file, a ConfigMap, or a running
// kubelet's configz): its feature gates, failCgroupV1 (recorded for the cgroup check of the
// node) and swap behaviour.
func (c *checker) kubeletConfigFindings(cfg map[string]any, component, where string, facts *nodeFacts) []Finding {
	if facts == nil {
		facts = c.facts
	}
	gates, _, _ := unstructured.NestedMap(cfg, "featureGates")
	out := c.gateFindings(gates, component, where)
	if v, ok, _ := unstructured.NestedBool(cfg, "failCgroupV1"); ok && facts != nil {
		facts.failCgroupV1 = &v
	}
	if sb, _, _ := unstructured.NestedString(cfg, "memorySwap", "swapBehavior"); sb == "UnlimitedSwap" {
		if p, ok := c.kb.Pitfall("swap-unlimited"); ok && c.w.applies(p.Since) {
			out = append(out, c.place(Finding{Severity: p.Severity, Check: p.Check, Object: component + " memorySwap.swapBehavior", Where: where,
				Version: p.Since, Source: p.Source, Message: "memorySwap.swapBehavior UnlimitedSwap is refused from " + p.Since, Action: p.Action}))
		}
	}
	return out
}

// cgroupFindings reports a node on cgroup v1 whose kubelet will refuse it (or may), from
// what c.facts learnt.
func (c *checker) cgroupFindings(object, where string) []Finding {
	p, ok := c.kb.Pitfall("cgroup-v1")
	if !ok || c.facts == nil || !c.w.applies(p.Since) {
		return nil
	}
	f := Finding{Severity: p.Severity, Check: p.Check, Object: object, Where: where, Version: p.Since, Source: p.Source, Action: p.Action}
	explicitOff := c.facts.failCgroupV1 != nil && !*c.facts.failCgroupV1 && !c.facts.defaulted
	switch {
	case c.facts.cgroup == 2:
		return nil
	case c.facts.cgroup == 1 && explicitOff:
		f.Severity = Action
		f.Message = "cgroup v1 host: its kubelet starts on " + p.Since + " and later only because failCgroupV1 is false; cgroup v1 support is deprecated"
	case c.facts.cgroup == 1 && c.facts.defaulted:
		f.Message = fmt.Sprintf("cgroup v1 host; the kubelet reports failCgroupV1 false, which is also its default before %s: unless its configuration file sets failCgroupV1: false, the %s kubelet refuses to start", p.Since, p.Since)
	case c.facts.cgroup == 1:
		f.Message = "cgroup v1 host without failCgroupV1: false in its kubelet configuration: the kubelet refuses to start from " + p.Since
	case explicitOff:
		return nil
	default:
		f.Severity = Action
		f.Message = "the node's cgroup version is not known to phoenix (kubelets report it from v1.31; assess --inventory reads /proc/mounts): a cgroup v1 host stops its kubelet at " + p.Since + " unless failCgroupV1: false"
		f.Action = "check on the node: `stat -fc %T /sys/fs/cgroup` prints cgroup2fs on cgroup v2, tmpfs on v1; then: " + p.Action
	}
	if c.path == BlueGreen && f.Severity == Blocker {
		f.Severity = Action
		f.Message = "if the target's nodes are built like this one: " + f.Message
	}
	return []Finding{c.place(f)}
}

// runtimeFindings reports a container runtime older than what a kubelet on the way needs.
func (c *checker) runtimeFindings(object, where, runtimeVersion string) []Finding {
	name, ver, _ := strings.Cut(runtimeVersion, "://")
	v, parsed := parseSemver(ver)
	var out []Finding
	for _, r := range c.kb.Runtimes {
		if r.Runtime != name || !c.w.applies(r.Since) {
			continue
		}
		below, _ := parseSemver(r.Below)
		old := parsed && semverLess(v, below)
		// The kubelet's own verdict, where it gives one, decides the RuntimeConfig rule.
		if c.facts != nil && c.facts.losingSupport != "" && r.Severity != Blocker {
			old = true
		}
		if !old {
			continue
		}
		f := Finding{Severity: r.Severity, Check: "container-runtime", Object: object, Where: where, Version: r.Since, Source: r.Source,
			Message: fmt.Sprintf("runs %s: %s", runtimeVersion, r.Message), Action: r.Action}
		if c.facts != nil && c.facts.losingSupport != "" && r.Severity != Blocker {
			f.Message += fmt.Sprintf(" (the kubelet reports kubelet_cri_losing_support{version=%q})", c.facts.losingSupport)
		}
		if c.path == BlueGreen && f.Severity == Blocker {
			f.Severity = Action
			f.Message = "if the target's nodes are built like this one: " + f.Message
		}
		out = append(out, c.place(f))
	}
	return out
}

// parseSemver reads "1.6.20", "v1.7.2", "1.6.20~ds1", "2.0.0-rc.1" as major, minor, patch.
func parseSemver(s string) ([3]int, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "~-+ "); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	var out [3]int
	if len(parts) < 2 {
		return out, false
	}
	for i := 0; i < 3 && i < len(parts); i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

func semverLess(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// configComponent names the component that reads a configuration API group.
var configComponent = map[string]string{
	"audit.k8s.io":                      "kube-apiserver (--audit-policy-file)",
	"kubescheduler.config.k8s.io":       "kube-scheduler (--config)",
	"kubelet.config.k8s.io":             "the kubelet",
	"kubeproxy.config.k8s.io":           "kube-proxy",
	"apiserver.config.k8s.io":           "kube-apiserver",
	"apiserver.k8s.io":                  "kube-apiserver",
	"credentialprovider.kubelet.k8s.io": "the kubelet (--image-credential-provider-config)",
}

// configAPIFinding reports a configuration file written in an API version a component on
// the way no longer reads (kubeadm's own versions are kubeadm.yaml's). Blue-green, only the
// target reads it; in place, every hop's release must.
func (c *checker) configAPIFinding(apiVersion, kind, where string) (Finding, bool) {
	group, _, _ := strings.Cut(apiVersion, "/")
	component, ok := configComponent[group]
	if !ok || c.kb.Generated == nil {
		return Finding{}, false
	}
	var spans []GenConfigAPI
	for _, a := range c.kb.Generated.ConfigAPIs {
		if a.APIVersion == apiVersion {
			spans = append(spans, a)
		}
	}
	if len(spans) == 0 {
		return Finding{}, false
	}
	reads := func(minor int) bool {
		for _, s := range spans {
			if kube.MustParseVersion(s.From).Minor <= minor && minor <= kube.MustParseVersion(s.To).Minor {
				return true
			}
		}
		return false
	}
	gone := ""
	if c.w.Plan != nil && c.w.From != nil {
		for m := c.w.From.Minor + 1; m <= c.w.To.Minor; m++ {
			if !reads(m) {
				gone = fmt.Sprintf("v1.%d", m)
				break
			}
		}
	} else if !reads(c.w.To.Minor) {
		for _, s := range spans {
			if s.RemovedIn != "" && kube.MustParseVersion(s.RemovedIn).Minor <= c.w.To.Minor && (gone == "" || versionLess(gone, s.RemovedIn)) {
				gone = s.RemovedIn
			}
		}
	}
	if gone == "" {
		return Finding{}, false
	}
	return c.place(Finding{Severity: Blocker, Check: "config-api", Object: fmt.Sprintf("%s %s", apiVersion, kind), Where: where, Version: gone,
		Source:  c.kb.Generated.source(spans[len(spans)-1].To, "staging/src/"+spans[len(spans)-1].Path),
		Message: fmt.Sprintf("%s does not read %s from %s: it refuses to start with this file", component, apiVersion, gone),
		Action:  fmt.Sprintf("rewrite the file in a version %s reads before the upgrade reaches %s (and keep the old one until then if the source does not read the new version)", component, gone)}), true
}

func yamlUnmarshal(data []byte, v any) error { return yaml.Unmarshal(data, v) }

// isControlPlaneManifest reports a static-pod manifest of a control-plane component.
func isControlPlaneManifest(data []byte) bool {
	var pod map[string]any
	if yamlUnmarshal(data, &pod) != nil {
		return false
	}
	for _, a := range podArgs(pod) {
		if controlPlaneComponents[a.component] {
			return true
		}
	}
	return false
}
