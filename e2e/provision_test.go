package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/phoenix-upgrade/phoenix/cmd/phoenix/app"
	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
)

// phoenix runs the phoenix command in process with a workspace and returns its output.
func phoenix(t *testing.T, ws string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := app.Run(context.Background(), append([]string{"--workspace", ws}, args...),
		genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), err
}

func TestProvisionBlueAndGreenSideBySide(t *testing.T) {
	testenv.Preflight(t, "v1.24.17")
	testenv.Preflight(t, "v1.37.2")
	ws := t.TempDir()
	clusters := []struct{ name, version, role string }{
		{"blue", "v1.24.17", "blue"},
		{"green", "v1.37.2", "green"},
	}
	t.Cleanup(func() {
		for _, c := range clusters {
			_, _, _ = phoenix(t, ws, "delete", "cluster", c.name)
		}
	})

	var wg sync.WaitGroup
	errs := make([]error, len(clusters))
	for i, c := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, stderr, err := phoenix(t, ws, "provision", "--provider", "local", "--name", c.name, "--role", c.role, "--version", c.version, "--nodes", "3", "--node-runtime", "kwok")
			if err != nil {
				errs[i] = fmt.Errorf("provision %s: %v\n%s%s", c.name, err, out, stderr)
			} else if !strings.Contains(out, "Node runtime: kwok, as asked") {
				errs[i] = fmt.Errorf("provision %s does not say which node runtime it used and why:\n%s", c.name, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	w, err := state.Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for _, c := range clusters {
		rec, err := w.Cluster(c.name)
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, rec.Details["apiserverPort"], rec.Details["etcdPort"])
		st, err := os.Stat(w.KubeconfigPath(c.name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s kubeconfig mode %o, want 0600", c.name, st.Mode().Perm())
		}
		cfg, err := kube.ClusterConfig(w, c.name)
		if err != nil {
			t.Fatal(err)
		}
		cs := kubernetes.NewForConfigOrDie(cfg)
		sv, err := cs.Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if sv.GitVersion != c.version {
			t.Errorf("%s: server version %s, want %s", c.name, sv.GitVersion, c.version)
		}
		nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := readyNodes(nodes.Items); got != 3 {
			t.Errorf("%s: %d Ready nodes, want 3", c.name, got)
		}
		waitDeploymentAvailable(t, cs, c.name)
	}

	out, _, err := phoenix(t, ws, "clusters", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Name   string `json:"name"`
		Status struct {
			Health  string `json:"health"`
			Version string `json:"version"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("clusters -o json: %v\n%s", err, out)
	}
	if len(rows) != 2 {
		t.Fatalf("clusters lists %d clusters, want 2:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r.Status.Health != "Healthy" {
			t.Errorf("cluster %s health %s, want Healthy", r.Name, r.Status.Health)
		}
	}

	for _, c := range clusters {
		if _, stderr, err := phoenix(t, ws, "delete", "cluster", c.name); err != nil {
			t.Fatalf("delete %s: %v %s", c.name, err, stderr)
		}
	}
	if left := processesMentioning(ws); len(left) > 0 {
		t.Errorf("processes left after delete: %v", left)
	}
	for _, p := range ports {
		if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second); err == nil {
			conn.Close()
			t.Errorf("port %s still listening after delete", p)
		}
	}
	if _, err := os.Stat(filepath.Join(ws, "clusters", "blue")); !os.IsNotExist(err) {
		t.Errorf("blue's directory is still in the workspace")
	}
}

func readyNodes(nodes []corev1.Node) int {
	n := 0
	for _, nd := range nodes {
		for _, c := range nd.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n
}

func waitDeploymentAvailable(t *testing.T, cs kubernetes.Interface, cluster string) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("%s: creating deployment: %v", cluster, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err == nil && got.Status.AvailableReplicas == 3 {
			for _, c := range got.Status.Conditions {
				if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: deployment web not Available: %+v (err %v)", cluster, got.Status, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// processesMentioning lists live (non-zombie) processes whose command line names dir.
func processesMentioning(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
		if err != nil {
			continue
		}
		if bytes.Contains(cmdline, []byte(dir)) {
			out = append(out, pid+": "+strings.ReplaceAll(string(cmdline), "\x00", " ")[:min(120, len(cmdline))])
		}
	}
	return out
}
