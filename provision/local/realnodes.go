package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/state"
)

// NodeRuntimes are the values of --node-runtime.
var NodeRuntimes = []string{RuntimeContainerd, RuntimeKwok}

// Node runtimes of the local provider.
const (
	// RuntimeContainerd gives every node a network namespace with its own containerd,
	// kubelet and kube-proxy: pods really run.
	RuntimeContainerd = "containerd"
	// RuntimeKwok simulates nodes with kwok: pods go Running without a container (scale
	// tests, machines where containerd cannot run).
	RuntimeKwok = "kwok"
)

// prerequisite is a program real nodes need and the Debian package that has it.
type prerequisite struct{ program, pkg string }

var realNodePrograms = []prerequisite{
	{"containerd", "containerd"}, {"ctr", "containerd"}, {"runc", "runc"},
	{"socat", "socat"}, {"iptables", "iptables"}, {"nsenter", "util-linux"}, {"ip", "iproute2"}, {"sysctl", "procps"},
}

var cniPlugins = []string{"bridge", "host-local", "loopback", "portmap"}

// realNodesMissing says what keeps real nodes from running here, with what to install.
func realNodesMissing() []string {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces, mounts and cgroups need it)")
	}
	pkgs := map[string][]string{}
	for _, p := range realNodePrograms {
		if _, err := lookPath(p.program); err != nil {
			pkgs[p.pkg] = append(pkgs[p.pkg], p.program)
		}
	}
	for _, plug := range cniPlugins {
		if !isExec(filepath.Join(cniBinDir(), plug)) {
			pkgs["containernetworking-plugins"] = append(pkgs["containernetworking-plugins"], "CNI plugin "+plug)
		}
	}
	var names []string
	for pkg := range pkgs {
		names = append(names, pkg)
	}
	sort.Strings(names)
	for _, pkg := range names {
		missing = append(missing, fmt.Sprintf("%s (Debian: apt-get install %s)", strings.Join(pkgs[pkg], ", "), pkg))
	}
	return missing
}

// sbinDirs are searched after PATH, and added to the PATH of every process phoenix starts:
// the system directories a non-root PATH may lack (ip, iptables, runc live in sbin).
var sbinDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// lookPath finds a program on PATH or in the sbin directories a non-root PATH lacks.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		if p := filepath.Join(d, name); isExec(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// ChooseNodeRuntime resolves --node-runtime: "" picks containerd where it can run and
// kwok otherwise, and says why; an explicit containerd that cannot run is an error that
// names what to install.
func ChooseNodeRuntime(requested string) (runtime, why string, err error) {
	switch requested {
	case RuntimeKwok:
		return RuntimeKwok, "as asked (--node-runtime kwok): nodes are simulated, no container runs", nil
	case RuntimeContainerd:
		if m := realNodesMissing(); len(m) > 0 {
			return "", "", fmt.Errorf("--node-runtime containerd needs: %s; or use --node-runtime kwok (simulated nodes)", strings.Join(m, "; "))
		}
		return RuntimeContainerd, "as asked (--node-runtime containerd)", nil
	case "":
		if m := realNodesMissing(); len(m) > 0 {
			return RuntimeKwok, "because real nodes cannot run here (missing " + strings.Join(m, "; ") + "): nodes are simulated by kwok, no container runs", nil
		}
		return RuntimeContainerd, "because containerd, runc and the CNI plugins were found and phoenix runs as root", nil
	default:
		return "", "", fmt.Errorf("unknown --node-runtime %q: use containerd or kwok", requested)
	}
}

// realNodes starts one cluster's real nodes.
type realNodes struct {
	dir     string // cluster directory
	name    string // cluster name
	version kube.Version
	bins    Binaries
	pki     *pki
	plan    netPlan
	images  []string // OCI archives imported into every node
	ctr     string
	apiPort int
	// start starts and records a process in a node's network namespace ("" = the host's);
	// marker is what its command line must keep naming for phoenix to signal it.
	start func(name, netns, bin string, args []string, marker string) (proc, error)
}

func (r *realNodes) files(i int) nodeFiles {
	name := NodeName(r.name, i)
	d := filepath.Join(r.dir, "nodes", name)
	run := r.plan.nodeRunDir(i)
	return nodeFiles{
		Dir: d, RunDir: run, Containerd: filepath.Join(d, "containerd.toml"), Socket: filepath.Join(run, "containerd.sock"),
		CNIConfDir: filepath.Join(d, "cni", "net.d"), IPAMDir: filepath.Join(d, "cni", "ipam"),
		Kubelet: filepath.Join(d, "kubelet.yaml"), KubeletKC: filepath.Join(d, "kubelet.kubeconfig"),
		KubeletRoot: filepath.Join(run, "kubelet"), KubeProxy: filepath.Join(d, "kube-proxy.yaml"),
		KubeProxyKC: filepath.Join(d, "kube-proxy.kubeconfig"),
		ServingCert: filepath.Join(d, "kubelet-serving.crt"), ServingKey: filepath.Join(d, "kubelet-serving.key"),
		CNINetwork: fmt.Sprintf("phx%dn%d", r.plan.Slot, i),
		NodeIP:     r.plan.nodeIP(i), PodCIDR: r.plan.podCIDR(i), ClusterCIDR: r.plan.clusterCIDR(),
		NodeCIDRRange: r.plan.nodeCIDR(), NodeName: name,
	}
}

// nodeServer is where a node's kubelet and kube-proxy find the apiserver: the relay on
// the node's own port 6443 (the apiserver listens on the host's loopback only).
const nodeServer = "https://127.0.0.1:6443"

// startAll brings up every node at once: namespace, relay, containerd, images, kubelet,
// kube-proxy; then the routes between them.
func (r *realNodes) startAll(ctx context.Context, count int) error {
	relayHost, err := lookPath("socat")
	if err != nil {
		return err
	}
	if _, err := r.start("apiserver-relay", "", relayHost, []string{
		"UNIX-LISTEN:" + r.plan.relaySocket() + ",fork,mode=600",
		"TCP:127.0.0.1:" + strconv.Itoa(r.apiPort),
	}, r.plan.runDir()); err != nil {
		return err
	}
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := 1; i <= count; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := r.startNode(ctx, i); err != nil {
				errs[i-1] = fmt.Errorf("node %s: %w", NodeName(r.name, i), err)
			}
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return r.plan.routeNodes(ctx, count)
}

func (r *realNodes) startNode(ctx context.Context, i int) error {
	f := r.files(i)
	for _, d := range []string{f.Dir, f.RunDir, f.CNIConfDir, f.IPAMDir, f.KubeletRoot} {
		if err := ensureDir(d); err != nil {
			return err
		}
	}
	if err := r.plan.addNode(ctx, i); err != nil {
		return err
	}
	if err := r.writeNodeFiles(f); err != nil {
		return err
	}
	ns := r.plan.netns(i)
	socat, _ := lookPath("socat")
	if _, err := r.start(f.NodeName+"-apiserver-relay", ns, socat, []string{
		"TCP-LISTEN:6443,fork,reuseaddr", "UNIX-CONNECT:" + r.plan.relaySocket(),
	}, r.plan.runDir()); err != nil {
		return err
	}
	containerd, _ := lookPath("containerd")
	cd, err := r.start(f.NodeName+"-containerd", ns, containerd, []string{"--config", f.Containerd}, r.dir)
	if err != nil {
		return err
	}
	if err := r.waitContainerd(ctx, cd, f); err != nil {
		return err
	}
	for _, img := range r.images {
		if err := importImage(ctx, r.ctr, f.Socket, img); err != nil {
			return err
		}
	}
	if _, err := r.start(f.NodeName+"-kubelet", ns, r.bins.Path("kubelet"), kubeletArgs(f, r.version), r.dir); err != nil {
		return err
	}
	_, err = r.start(f.NodeName+"-kube-proxy", ns, r.bins.Path("kube-proxy"), []string{"--config=" + f.KubeProxy, "--v=1"}, r.dir)
	return err
}

func (r *realNodes) writeNodeFiles(f nodeFiles) error {
	caFile := r.pki.path("ca.crt")
	// The kubelet's client identity (the Node authorizer's system:node:NAME), its serving
	// certificate (the apiserver checks it against the cluster CA), and kube-proxy's.
	cert, key, err := r.pki.issue(certSpec{file: "kubelet-" + f.NodeName, cn: "system:node:" + f.NodeName, orgs: []string{"system:nodes"}, client: true})
	if err != nil {
		return err
	}
	if _, err := kubeconfigFor(f.KubeletKC, r.name, nodeServer, r.pki.caPEM, cert, key); err != nil {
		return err
	}
	scert, skey, err := r.pki.issue(certSpec{file: "kubelet-serving-" + f.NodeName, cn: f.NodeName, server: true,
		dns: []string{f.NodeName}, ips: []net.IP{net.ParseIP(f.NodeIP)}})
	if err != nil {
		return err
	}
	pcert, pkey, err := r.pki.issue(certSpec{file: "kube-proxy-" + f.NodeName, cn: "system:kube-proxy", client: true})
	if err != nil {
		return err
	}
	if _, err := kubeconfigFor(f.KubeProxyKC, r.name, nodeServer, r.pki.caPEM, pcert, pkey); err != nil {
		return err
	}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.ServingCert, scert, 0o644},
		{f.ServingKey, skey, 0o600},
		{f.Containerd, []byte(containerdConfig(f)), 0o644},
		{filepath.Join(f.CNIConfDir, "10-phoenix.conflist"), []byte(cniConfig(f)), 0o644},
		{f.Kubelet, []byte(kubeletConfig(f, caFile, r.version)), 0o644},
		{f.KubeProxy, []byte(kubeProxyConfig(f)), 0o644},
	} {
		if err := state.WriteFileAtomic(w.path, w.data, w.mode); err != nil {
			return err
		}
	}
	return nil
}

func (r *realNodes) waitContainerd(ctx context.Context, pr proc, f nodeFiles) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if out, err := exec.CommandContext(ctx, r.ctr, "--address", f.Socket, "version").CombinedOutput(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("containerd did not answer on %s within 30s: %s; log %s:\n%s", f.Socket, strings.TrimSpace(string(out)), pr.Log, tail(pr.Log, 8))
		}
		if err := died(pr, r.dir); err != nil {
			return err
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// importImage imports one OCI archive into a node's containerd (namespace k8s.io, the
// CRI's), unpacked for the overlayfs snapshotter the kubelet's pods use.
func importImage(ctx context.Context, ctr, socket, archive string) error {
	out, err := exec.CommandContext(ctx, ctr, "--address", socket, "-n", "k8s.io", "images", "import",
		"--snapshotter", "overlayfs", "--digests", archive).CombinedOutput()
	if err != nil {
		return fmt.Errorf("importing image %s into the node's containerd: %w: %s", archive, err, lastLines(string(out), 5))
	}
	return nil
}

// publishAPIServer points the kubernetes Service at the nodes' relays, so that pods reach
// the apiserver at 10.96.0.1:443 (the apiserver itself listens on the host's loopback
// and, with --endpoint-reconciler-type=none, publishes no endpoints of its own).
func publishAPIServer(ctx context.Context, cfg *rest.Config, plan netPlan, count int) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var eps []discoveryv1.Endpoint
	for i := 1; i <= count; i++ {
		ready := true
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{plan.nodeIP(i)}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	name, port, proto := "https", int32(6443), corev1.ProtocolTCP
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{
			discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "phoenix.dev"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	_, err = cs.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{})
	return err
}

// notReadyDetail tells, for nodes that never went Ready, the last lines of their kubelet.
func notReadyDetail(ctx context.Context, cfg *rest.Config, dir, cluster string, count int) string {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for i := 1; i <= count; i++ {
		name := NodeName(cluster, i)
		nd, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		ready := false
		if err == nil {
			for _, c := range nd.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready = true
				} else if c.Type == corev1.NodeReady {
					fmt.Fprintf(&b, "\nnode %s: %s: %s", name, c.Reason, c.Message)
				}
			}
		} else {
			fmt.Fprintf(&b, "\nnode %s did not register", name)
		}
		if !ready {
			log := filepath.Join(logDir(dir), name+"-kubelet.log")
			fmt.Fprintf(&b, "\nlast lines of %s:\n%s", log, tail(log, 10))
		}
	}
	return b.String()
}

// teardownNodes removes everything real nodes leave when their processes are gone or
// about to go: the kubelet and kube-proxy first (nothing restarts a pod), then the
// containerd shims with every container process below them, then mounts, the network,
// the containers' cgroups and the CNI plugins' cache files.
//
// The kubelet (cgroupsPerQOS off, which cgroup v1 without systemd needs) gives pods no
// cgroup parent, so containerd puts each container at /k8s.io/<id>: the ids come from
// the nodes' own state directories, never from a search of the host.
func teardownNodes(ctx context.Context, dir string, plan netPlan, procs []proc) error {
	var errs []error
	for _, pr := range procs {
		if strings.HasSuffix(pr.Name, "-kubelet") || strings.HasSuffix(pr.Name, "-kube-proxy") {
			if err := pr.stop(ctx, pr.marker(dir), pr.grace()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	var ids []string
	for i := range plan.Nodes {
		ids = append(ids, taskIDs(plan.nodeRunDir(i+1))...)
	}
	// containerd shims name their node's socket (-address /run/phoenix/<slot>/n<i>/...);
	// the containers are their descendants.
	if err := killTrees(pidsMentioning(plan.runDir())); err != nil {
		errs = append(errs, err)
	}
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].stop(ctx, procs[i].marker(dir), procs[i].grace()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := killTrees(pidsMentioning(plan.runDir())); err != nil {
		errs = append(errs, err)
	}
	if err := unmountUnder(filepath.Join(dir, "nodes")); err != nil {
		errs = append(errs, err)
	}
	if err := plan.teardown(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, id := range ids {
		if err := removeCgroup("/k8s.io/" + id); err != nil {
			errs = append(errs, err)
		}
		cache, _ := filepath.Glob("/var/lib/cni/results/*-" + id + "-*")
		for _, c := range cache {
			_ = os.Remove(c)
		}
	}
	// containerd's default parent: removed when empty (another containerd may use it).
	for _, d := range cgroupDirs("/k8s.io") {
		_ = syscall.Rmdir(d)
	}
	return errors.Join(errs...)
}

// taskIDs are the containers and sandboxes a node's containerd ran (its task bundles).
func taskIDs(nodeRunDir string) []string {
	entries, _ := os.ReadDir(filepath.Join(nodeRunDir, "state", "io.containerd.runtime.v2.task", "k8s.io"))
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// killTrees SIGKILLs the processes roots and all their descendants at once (a shim's
// containers would otherwise be re-parented and live on), and waits until they are gone.
func killTrees(roots []int) error {
	if len(roots) == 0 {
		return nil
	}
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.ppid > 0 {
			children[st.ppid] = append(children[st.ppid], pid)
		}
	}
	var all []int
	seen := map[int]bool{}
	queue := append([]int(nil), roots...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] || p == os.Getpid() {
			continue
		}
		seen[p] = true
		all = append(all, p)
		queue = append(queue, children[p]...)
	}
	for _, p := range all {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	for attempt := 0; attempt < 50; attempt++ {
		alive := 0
		for _, p := range all {
			if processExists(p) {
				alive++
			}
		}
		if alive == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("processes of the nodes' containers did not die: %v", all)
}

// processExists is false for a pid that is gone or a zombie.
func processExists(pid int) bool {
	st, ok := readStat(pid)
	return ok && st.state != "Z"
}

// cgroupDirs are the directories of one cgroup path in every mounted hierarchy.
func cgroupDirs(path string) []string {
	var out []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, r := range roots {
		if d := filepath.Join(r, path); isDir(d) {
			out = append(out, d)
		}
	}
	return out
}

func isDir(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }

// removeCgroup removes the (empty) cgroup tree path from every hierarchy, deepest first.
func removeCgroup(path string) error {
	var errs []error
	for _, d := range cgroupDirs(path) {
		var dirs []string
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

func pidsMentioning(marker string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && namesDir(cmdline, marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// nodeSetup is what Create decided about the nodes before starting anything.
type nodeSetup struct {
	runtime, why string
	images       []string // OCI archives for real nodes
	ctr          string
}

// prepareRealNodes makes sure the node binaries and images exist before anything starts:
// kubelet and kube-proxy come from the same per-version cache and build as the control
// plane.
func (p *Provider) prepareRealNodes(ctx context.Context, spec provision.Spec, bins *Binaries, rn nodeSetup) (nodeSetup, error) {
	need := []string{"kubelet", "kube-proxy"}
	if !hasAllOf(bins.Dir, need) {
		if spec.BinDir != "" || !p.Resolver.Build {
			return rn, fmt.Errorf("real nodes need kubelet and kube-proxy %s in %s: add them there, run `hack/build-k8s.sh %s`, or use --node-runtime kwok", spec.Version, bins.Dir, spec.Version)
		}
		if err := BuildFromModule(ctx, spec.Version, VersionCacheDir(spec.Version), p.log); err != nil {
			return rn, fmt.Errorf("building the node binaries of %s: %w", spec.Version, err)
		}
		bins.Dir = VersionCacheDir(spec.Version)
	}
	ctr, err := lookPath("ctr")
	if err != nil {
		return rn, errors.New("ctr not found (Debian: apt-get install containerd)")
	}
	rn.ctr = ctr
	images := p.Images
	if images == nil {
		images = func(ctx context.Context) ([]string, error) { return buildCatalog(ctx, p.log) }
	}
	if rn.images, err = images(ctx); err != nil {
		return rn, fmt.Errorf("building the node images: %w", err)
	}
	return rn, nil
}

var _ provision.ImageLoader = (*Provider)(nil)

// LoadImages implements provision.ImageLoader: every archive goes into every real node's
// containerd (the CRI's namespace), unpacked, so pods can use it with imagePullPolicy
// IfNotPresent or Never.
func (p *Provider) LoadImages(ctx context.Context, c state.Cluster, archives []string) ([]string, error) {
	dir := p.ws.ClusterDir(c.Name)
	var plan netPlan
	if err := state.ReadJSON(netFile(dir), &plan); err != nil || plan.Slot == 0 {
		return nil, fmt.Errorf("cluster %s has kwok nodes, which run no container: provision it with --node-runtime containerd to load images", c.Name)
	}
	for _, a := range archives {
		if st, err := os.Stat(a); err != nil || st.IsDir() {
			return nil, fmt.Errorf("image archive %s: not a readable file (want an OCI or docker-archive tar, e.g. from `docker save` or `images.Build`)", a)
		}
	}
	ctr, err := lookPath("ctr")
	if err != nil {
		return nil, errors.New("ctr not found (Debian: apt-get install containerd)")
	}
	var nodes []string
	for i, node := range plan.Nodes {
		socket := filepath.Join(plan.nodeRunDir(i+1), "containerd.sock")
		for _, a := range archives {
			if err := importImage(ctx, ctr, socket, a); err != nil {
				return nodes, fmt.Errorf("node %s: %w", node, err)
			}
		}
		nodes = append(nodes, node)
	}
	return nodes, nil
}
