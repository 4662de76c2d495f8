package local_test

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/provision/local"
	"github.com/phoenix-upgrade/phoenix/state"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestADeadControlPlaneProcessShowsAsUnhealthy(t *testing.T) {
	env := testenv.StartFresh(t, "v1.37.2", 1)
	p := local.New(env.Workspace, nil)
	ctx := context.Background()
	st, err := p.Status(ctx, env.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	if st.Health != provision.Healthy || st.Version != "v1.37.2" {
		t.Fatalf("fresh cluster status %+v, want Healthy v1.37.2", st)
	}
	var procs []struct {
		Name string `json:"name"`
		Pid  int    `json:"pid"`
	}
	if err := state.ReadJSON(env.Workspace.ClusterDir(env.Name)+"/processes.json", &procs); err != nil {
		t.Fatal(err)
	}
	killed := false
	for _, pr := range procs {
		if pr.Name == "kube-scheduler" {
			if err := syscall.Kill(pr.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	if !killed {
		t.Fatalf("no kube-scheduler in %+v", procs)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err = p.Status(ctx, env.Cluster)
		if err != nil {
			t.Fatal(err)
		}
		if st.Health == provision.Unhealthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after killing the scheduler: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(st.Reason, "kube-scheduler") {
		t.Errorf("reason %q does not name kube-scheduler", st.Reason)
	}
	if st.Components["kube-apiserver"] == "not running" {
		t.Errorf("apiserver reported dead: %v", st.Components)
	}
}

func TestLogsAndPKIStayInTheClusterDirectory(t *testing.T) {
	env := testenv.StartFresh(t, "v1.37.2", 1)
	dir := env.Workspace.ClusterDir(env.Name)
	for _, f := range []string{"logs/kube-apiserver.log", "logs/etcd.log", "logs/kwok.log", "pki/ca.crt", "pki/sa.key", "kubeconfig"} {
		if _, err := os.Stat(dir + "/" + f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{"pki/ca.key", "pki/sa.key", "pki/admin.key", "kubeconfig"} {
		st, err := os.Stat(dir + "/" + f)
		if err == nil && st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o, want 0600", f, st.Mode().Perm())
		}
	}
}
