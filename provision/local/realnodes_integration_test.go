package local_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/phoenix-upgrade/phoenix/images"
	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/provision/local"
	"github.com/phoenix-upgrade/phoenix/state"
)

// TestRealNodesRunPodsThatServeAndDeleteLeavesNothing provisions blue's and green's
// versions with two real nodes each, runs the payments image in a Deployment behind a
// NodePort Service, reaches it from the host through every node, reads its logs, execs
// into it (reaching the Service's ClusterIP from inside a pod) and port-forwards to it
// with the real kubectl, then deletes the cluster and counts what is left on the host.
func TestRealNodesRunPodsThatServeAndDeleteLeavesNothing(t *testing.T) {
	for _, version := range []string{"v1.24.17", "v1.37.2"} {
		t.Run(version, func(t *testing.T) {
			v := testenv.Preflight(t, version)
			testenv.PreflightRealNodes(t, v)
			before := hostFootprint(t)
			ws, err := state.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			p := local.New(ws, nil)
			p.Resolver.Download, p.Resolver.Build = false, false
			name := "real" + strings.ReplaceAll(strings.TrimPrefix(version, "v1."), ".", "-")
			ctx := context.Background()
			c, kc, err := p.Create(ctx, provision.Spec{Name: name, Version: v, Role: "test", Nodes: 2, Wait: 3 * time.Minute, NodeRuntime: local.RuntimeContainerd})
			if err != nil {
				t.Fatalf("provision with real nodes: %v", err)
			}
			deleted := false
			t.Cleanup(func() {
				if !deleted {
					_ = p.Delete(context.Background(), c)
				}
			})
			if err := ws.SaveCluster(c, kc); err != nil {
				t.Fatal(err)
			}
			if c.Details["nodeRuntime"] != local.RuntimeContainerd {
				t.Errorf("cluster records node runtime %q, want containerd", c.Details["nodeRuntime"])
			}
			cfg, err := kube.ConfigFromKubeconfig(kc, "")
			if err != nil {
				t.Fatal(err)
			}
			cs := kubernetes.NewForConfigOrDie(cfg)
			nodeIPs := readyNodeIPs(t, cs, 2, v.String())
			nodePort := deployPayments(t, cs)
			// The count must see a running cluster, or its "nothing left" means nothing.
			during := hostFootprint(t)
			for _, k := range []string{"network namespaces", "links", "routes", "containerd shims", "processes naming /run/phoenix", "mounts", "cgroups", "run directories"} {
				if during[k] == before[k] {
					t.Errorf("with the cluster running, %s is what it was before: %s", k, during[k])
				}
			}
			served := map[string]bool{}
			// kube-proxy programs the second endpoint a moment after the Deployment reports
			// it available: keep asking (a new connection each time) for up to 30 s.
			requests := 0
			for deadline := time.Now().Add(30 * time.Second); len(served) < 2 && time.Now().Before(deadline); requests++ {
				body := get(t, fmt.Sprintf("http://%s:%d/", nodeIPs[requests%len(nodeIPs)], nodePort))
				if !strings.HasPrefix(body, "payments-api ") {
					t.Fatalf("NodePort answered %q", body)
				}
				served[strings.Fields(body)[2]] = true
				time.Sleep(50 * time.Millisecond)
			}
			if len(served) < 2 {
				t.Errorf("%d requests through the NodePort in 30 s reached pods %v, want both replicas", requests, served)
			}

			kubectl := filepath.Join(local.VersionCacheDir(v), "kubectl")
			kcPath := ws.KubeconfigPath(name)
			run := func(args ...string) string {
				t.Helper()
				out, err := exec.Command(kubectl, append([]string{"--kubeconfig", kcPath, "-n", "default"}, args...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			if logs := run("logs", "deployment/payments-api"); !strings.Contains(logs, "payments-api listening on :8080") {
				t.Errorf("kubectl logs: %q", logs)
			}
			svc, err := cs.CoreV1().Services("default").Get(ctx, "payments-api", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if out := run("exec", "deployment/payments-api", "--", "/payments", "-get", "http://"+svc.Spec.ClusterIP+"/"); !strings.HasPrefix(out, "payments-api ") {
				t.Errorf("kubectl exec, GET of the ClusterIP from inside a pod: %q", out)
			}
			// Pods reach the apiserver through the kubernetes Service (the nodes' relays).
			if out := run("exec", "deployment/payments-api", "--", "/payments", "-in-cluster", "-get", "https://10.96.0.1/version"); !strings.Contains(out, `"gitVersion": "`+version+`"`) {
				t.Errorf("kubectl exec, GET of the apiserver's /version from inside a pod: %q", out)
			}
			portForward(t, kubectl, kcPath)
			loadAndRun(t, p, c, cs)

			if err := p.Delete(ctx, c); err != nil {
				t.Fatalf("delete: %v", err)
			}
			deleted = true
			after := hostFootprint(t)
			for _, k := range sortedKeys(before) {
				if before[k] != after[k] {
					t.Errorf("after delete, %s: %s (before: %s)", k, after[k], before[k])
				}
			}
			if left := mentioning(ws.Root); len(left) > 0 {
				t.Errorf("processes left that name the workspace: %v", left)
			}
		})
	}
}

// loadAndRun builds an image phoenix does not ship, loads it into the nodes like `kind load
// image-archive`, and runs it to completion in a pod.
func loadAndRun(t *testing.T, p *local.Provider, c state.Cluster, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	img, err := images.Build(ctx, images.Spec{Ref: "registry.example.com/test/loaded:1", Package: images.Payments.Package,
		Binary: "/payments", Entrypoint: []string{"/payments", "-worker", "-once"}}, images.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := p.LoadImages(ctx, c, []string{img.Path})
	if err != nil || len(nodes) != 2 {
		t.Fatalf("loading an image archive: %v (nodes %v)", err, nodes)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "loaded"}, Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{Name: "once", Image: img.Ref, ImagePullPolicy: corev1.PullNever}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := cs.CoreV1().Pods("default").Get(ctx, "loaded", metav1.GetOptions{})
		if err == nil && got.Status.Phase == corev1.PodSucceeded {
			return
		}
		if time.Now().After(deadline) || (err == nil && got.Status.Phase == corev1.PodFailed) {
			t.Fatalf("pod of the loaded image did not succeed: %v %+v", err, got.Status)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// testWriter sends a logger's lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func readyNodeIPs(t *testing.T, cs kubernetes.Interface, want int, version string) []string {
	t.Helper()
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, n := range nodes.Items {
		if n.Status.NodeInfo.KubeletVersion != version {
			t.Errorf("node %s runs kubelet %s, want %s", n.Name, n.Status.NodeInfo.KubeletVersion, version)
		}
		if !strings.HasPrefix(n.Status.NodeInfo.ContainerRuntimeVersion, "containerd://") {
			t.Errorf("node %s runtime %q, want containerd", n.Name, n.Status.NodeInfo.ContainerRuntimeVersion)
		}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ips = append(ips, a.Address)
			}
		}
	}
	if len(ips) != want {
		t.Fatalf("nodes have internal IPs %v, want %d", ips, want)
	}
	return ips
}

// deployPayments runs two replicas of the payments image and returns the NodePort.
func deployPayments(t *testing.T, cs kubernetes.Interface) int32 {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "payments-api"}
	two := int32(2)
	fromField := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-api"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					// One replica per node, so the NodePort has to cross nodes.
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
						WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}},
					Containers: []corev1.Container{{
						Name: "api", Image: "registry.example.com/payments/api:4.2.1", ImagePullPolicy: corev1.PullNever,
						Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
						Env:   []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: fromField("spec.nodeName")}, {Name: "POD_NAME", ValueFrom: fromField("metadata.name")}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
							PeriodSeconds: 1},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}},
					}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-api"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: labels,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	created, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "payments-api", metav1.GetOptions{})
		if err == nil && d.Status.AvailableReplicas == 2 {
			break
		}
		if time.Now().After(deadline) {
			pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			var states []string
			for _, p := range pods.Items {
				states = append(states, fmt.Sprintf("%s on %s: %s %v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.ContainerStatuses))
			}
			t.Fatalf("payments-api not available in 2m: %+v\npods: %s", d.Status, strings.Join(states, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	return created.Spec.Ports[0].NodePort
}

func get(t *testing.T, url string) string {
	t.Helper()
	// A new connection each time: kube-proxy balances connections, not requests.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var last error
	for i := 0; i < 20; i++ {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("%s: %s", resp.Status, body)
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// portForward checks `kubectl port-forward` to a pod of the Deployment: a GET on the
// forwarded loopback port reaches the pod.
func portForward(t *testing.T, kubectl, kubeconfig string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "-n", "default", "port-forward", "--address", "127.0.0.1", "deployment/payments-api", ":8080")
	var out bytes.Buffer
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	// "Forwarding from 127.0.0.1:PORT -> 8080"
	line := make([]byte, 256)
	n, _ := io.ReadAtLeast(stdout, line, 20)
	var port int
	if _, err := fmt.Sscanf(string(line[:n]), "Forwarding from 127.0.0.1:%d", &port); err != nil {
		t.Fatalf("kubectl port-forward printed %q (stderr %q)", line[:n], out.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if body := get(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port)); strings.TrimSpace(body) != "ok" {
		t.Errorf("GET through kubectl port-forward: %q", body)
	}
}

// hostFootprint counts what clusters of real nodes put on the host: phoenix's processes
// and containerd shims, mounts below /run/phoenix and /run/netns, network namespaces,
// phoenix's links, routes, the host's iptables rules, containers' cgroups and the CNI
// plugins' cache. Real-node tests hold testenv's real-node lock, so no other test changes
// these while one counts.
func hostFootprint(t *testing.T) map[string]string {
	t.Helper()
	lines := func(name string, keep func(string) bool, args ...string) string {
		out, err := exec.Command(name, args...).Output()
		if err != nil {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		var ls []string
		for _, l := range strings.Split(string(out), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") && keep(l) {
				ls = append(ls, l)
			}
		}
		return fmt.Sprintf("%d %s", len(ls), short(ls))
	}
	all := func(string) bool { return true }
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var mounts []string
	for _, l := range strings.Split(strings.TrimSpace(string(mountinfo)), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (strings.HasPrefix(f[4], "/run/phoenix") || strings.HasPrefix(f[4], "/run/netns") || strings.HasPrefix(f[4], "/var/run/netns")) {
			mounts = append(mounts, f[4])
		}
	}
	glob := func(p string) string { m, _ := filepath.Glob(p); return fmt.Sprint(m) }
	// iptables-save prints packet counters in chain lines: drop them.
	rules := func(l string) bool { return !strings.HasPrefix(l, ":") }
	return map[string]string{
		"processes naming /run/phoenix": fmt.Sprint(mentioning("/run/phoenix/")),
		"containerd shims":              fmt.Sprint(mentioning("containerd-shim")),
		"mounts":                        fmt.Sprintf("%d %s", len(mounts), short(mounts)),
		"network namespaces":            glob("/run/netns/*"),
		"links":                         lines("ip", func(l string) bool { return strings.Contains(l, "phx") }, "-o", "link", "show"),
		"routes":                        lines("ip", all, "route", "show"),
		"iptables rules":                lines("iptables-save", rules),
		"cgroups":                       glob("/sys/fs/cgroup/*/k8s.io") + glob("/sys/fs/cgroup/*/k8s.io/*/"),
		"CNI result cache":              glob("/var/lib/cni/results/*"),
		"run directories":               glob("/run/phoenix/*"),
	}
}

func short(lines []string) string {
	sort.Strings(lines)
	s := strings.Join(lines, " | ")
	if len(s) > 2000 {
		s = s[:2000] + "..."
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// mentioning lists processes (pid and command) whose command line contains s.
func mentioning(s string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	self := fmt.Sprint(os.Getpid())
	for _, e := range entries {
		if e.Name() == self || e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmd, []byte(s)) {
			out = append(out, e.Name()+":"+strings.ReplaceAll(string(bytes.TrimRight(cmd, "\x00")), "\x00", " "))
		}
	}
	return out
}

// TestRealNodesThatFailToStartLeaveNothing gives the nodes an image archive containerd
// cannot import: provision must fail saying so, and leave the host as it found it.
func TestRealNodesThatFailToStartLeaveNothing(t *testing.T) {
	v := testenv.Preflight(t, "v1.37.2")
	testenv.PreflightRealNodes(t, v)
	before := hostFootprint(t)
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.tar")
	if err := os.WriteFile(broken, []byte("not an OCI archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := local.New(ws, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	p.Resolver.Download, p.Resolver.Build = false, false
	p.Images = func(context.Context) ([]string, error) { return []string{broken}, nil }
	_, _, err = p.Create(context.Background(), provision.Spec{Name: "broken", Version: v, Role: "test", Nodes: 2, Wait: time.Minute, NodeRuntime: local.RuntimeContainerd})
	if err == nil || !strings.Contains(err.Error(), "importing image "+broken) {
		t.Fatalf("provision with an unimportable image: %v, want an import error naming the archive", err)
	}
	after := hostFootprint(t)
	for _, k := range sortedKeys(before) {
		if before[k] != after[k] {
			t.Errorf("after the failed provision, %s: %s (before: %s)", k, after[k], before[k])
		}
	}
	if left := mentioning(ws.Root); len(left) > 0 {
		t.Errorf("processes left that name the workspace: %v", left)
	}
	if _, err := os.Stat(ws.ClusterDir("broken")); !os.IsNotExist(err) {
		t.Errorf("cluster directory left after the failed provision: %v", err)
	}
}
