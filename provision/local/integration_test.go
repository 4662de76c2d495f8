package local_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

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

// TestEtcdAndTheAPIServerRefuseStrangersAndSecretsAreEncrypted: etcd serves only TLS to
// clients with a certificate of its own CA, the apiserver refuses anonymous requests, and
// a Secret's value is not in etcd's data files.
func TestEtcdAndTheAPIServerRefuseStrangersAndSecretsAreEncrypted(t *testing.T) {
	env := testenv.StartFresh(t, "v1.37.2", 1)
	dir := env.Workspace.ClusterDir(env.Name)
	etcdAddr := "127.0.0.1:" + env.Cluster.Details["etcdPort"]

	// Plain HTTP, as an unauthenticated etcdctl would speak it.
	if resp, err := (&http.Client{Timeout: 3 * time.Second}).Get("http://" + etcdAddr + "/version"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("etcd answered plain HTTP: %s", resp.Status)
		}
	}
	// TLS without a client certificate.
	caPEM, err := os.ReadFile(filepath.Join(dir, "pki", "etcd", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	noCert := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := noCert.Get("https://" + etcdAddr + "/v3/kv/range"); err == nil {
		resp.Body.Close()
		t.Errorf("etcd accepted a TLS client without a certificate: %s", resp.Status)
	}
	// A certificate of the cluster CA (not etcd's) must not open etcd either.
	admin, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki", "admin.crt"), filepath.Join(dir, "pki", "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	clusterCert := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{admin}}}}
	if resp, err := clusterCert.Post("https://"+etcdAddr+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"Lw=="}`)); err == nil {
		resp.Body.Close()
		t.Errorf("etcd accepted the cluster CA's admin certificate: %s", resp.Status)
	}

	// Anonymous apiserver request (the server verified against the cluster CA).
	clusterCA, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	clusterPool := x509.NewCertPool()
	clusterPool.AppendCertsFromPEM(clusterCA)
	anonymous := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: clusterPool}}}
	for _, path := range []string{"/api/v1/namespaces", "/version"} {
		resp, err := anonymous.Get(env.Config.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s: %s, want 401 Unauthorized", path, resp.Status)
		}
	}

	// A Secret's value is stored encrypted.
	value := "phoenix-etcd-plaintext-canary-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cs := kubernetes.NewForConfigOrDie(env.RESTConfig())
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "canary", Namespace: "default"}, StringData: map[string]string{"v": value}}
	if _, err := cs.CoreV1().Secrets("default").Create(context.Background(), sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Secrets("default").Get(context.Background(), "canary", metav1.GetOptions{})
	if err != nil || string(got.Data["v"]) != value {
		t.Fatalf("reading the Secret back: %v %q", err, got.Data["v"])
	}
	found := false
	_ = filepath.WalkDir(filepath.Join(dir, "etcd"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, []byte(value)) {
				found = true
				t.Errorf("the Secret's value is in plain text in %s", p)
			}
		}
		return nil
	})
	// The check above must be able to fail: the Secret's name is stored in plain text.
	nameSeen := false
	_ = filepath.WalkDir(filepath.Join(dir, "etcd"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, []byte("/registry/secrets/default/canary")) {
				nameSeen = true
			}
		}
		return nil
	})
	if !nameSeen && !found {
		t.Errorf("the Secret's key is not in etcd's files either: the search looks in the wrong place")
	}
	if st, err := os.Stat(filepath.Join(dir, "pki", "encryption.yaml")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("encryption config: %v, mode %v, want 0600", err, st.Mode().Perm())
	}
}
