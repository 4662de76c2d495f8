package local

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/state"
)

// ServiceCIDR is the service range of local clusters.
const ServiceCIDR = "10.96.0.0/16"

type pkiFiles struct {
	admin []byte // admin kubeconfig (system:masters)
	pki   *pki   // the CA, for the certificates of real nodes
}

// writePKI creates the CA, serving and client certificates, the service-account keys and
// the component kubeconfigs of a cluster.
func writePKI(dir, name, server string) (pkiFiles, error) {
	p, err := newPKI(dir, name)
	if err != nil {
		return pkiFiles{}, err
	}
	if _, _, err := p.issue(certSpec{
		file: "apiserver", cn: "kube-apiserver", server: true,
		dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		ips: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
	}); err != nil {
		return pkiFiles{}, err
	}
	if err := p.serviceAccountKeys(); err != nil {
		return pkiFiles{}, err
	}
	// etcd has a CA of its own, as kubeadm sets it up: a certificate of the cluster CA
	// (a kubelet's, say) must not open etcd.
	if err := writeEtcdPKI(filepath.Join(dir, "etcd"), name); err != nil {
		return pkiFiles{}, err
	}
	if err := writeEncryptionConfig(filepath.Join(dir, "encryption.yaml")); err != nil {
		return pkiFiles{}, err
	}
	// The apiserver's identity towards kubelets (logs, exec, port-forward).
	if _, _, err := p.issue(certSpec{file: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}, client: true}); err != nil {
		return pkiFiles{}, err
	}
	files := pkiFiles{pki: p}
	for _, c := range []struct {
		file, cn string
		orgs     []string
	}{
		{"admin", "phoenix-admin", []string{"system:masters"}},
		{"controller-manager", "system:kube-controller-manager", nil},
		{"scheduler", "system:kube-scheduler", nil},
		{"kwok", "phoenix-kwok", []string{"system:masters"}},
	} {
		cert, key, err := p.issue(certSpec{file: c.file, cn: c.cn, orgs: c.orgs, client: true})
		if err != nil {
			return pkiFiles{}, err
		}
		path := filepath.Join(filepath.Dir(dir), c.file+".kubeconfig")
		if c.file == "admin" {
			path = filepath.Join(filepath.Dir(dir), "kubeconfig")
		}
		data, err := kubeconfigFor(path, name, server, p.caPEM, cert, key)
		if err != nil {
			return pkiFiles{}, err
		}
		if c.file == "admin" {
			files.admin = data
		}
	}
	return files, nil
}

// writeEtcdPKI creates etcd's CA, its serving/peer certificate and the apiserver's etcd
// client certificate under dir (every key 0600).
func writeEtcdPKI(dir, name string) error {
	if err := ensureDir(dir); err != nil {
		return err
	}
	p, err := newPKI(dir, name+"-etcd")
	if err != nil {
		return err
	}
	if _, _, err := p.issue(certSpec{file: "server", cn: name + "-etcd", server: true, client: true,
		dns: []string{"localhost"}, ips: []net.IP{net.ParseIP("127.0.0.1")}}); err != nil {
		return err
	}
	_, _, err = p.issue(certSpec{file: "apiserver-etcd-client", cn: "kube-apiserver-etcd-client", client: true})
	return err
}

// writeEncryptionConfig writes the apiserver's EncryptionConfiguration: Secrets are stored
// encrypted (secretbox, a fresh 32-byte key per cluster), the file is 0600.
func writeEncryptionConfig(path string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - secretbox:
      keys:
      - name: key1
        secret: %s
  - identity: {}
`, base64.StdEncoding.EncodeToString(key))
	return state.WriteFileAtomic(path, []byte(cfg), 0o600)
}

func etcdArgs(dir, name string, pt ports) []string {
	client := "https://127.0.0.1:" + strconv.Itoa(pt.EtcdClient)
	peer := "https://127.0.0.1:" + strconv.Itoa(pt.EtcdPeer)
	etcdPKI := func(f string) string { return filepath.Join(dir, "pki", "etcd", f) }
	return []string{
		"--cert-file=" + etcdPKI("server.crt"),
		"--key-file=" + etcdPKI("server.key"),
		"--client-cert-auth=true",
		"--trusted-ca-file=" + etcdPKI("ca.crt"),
		"--peer-cert-file=" + etcdPKI("server.crt"),
		"--peer-key-file=" + etcdPKI("server.key"),
		"--peer-client-cert-auth=true",
		"--peer-trusted-ca-file=" + etcdPKI("ca.crt"),
		"--name=" + name,
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=" + name + "=" + peer,
		"--initial-cluster-state=new",
		"--quota-backend-bytes=8589934592",
		"--snapshot-count=50000",
		"--log-level=warn",
	}
}

func apiserverArgs(dir string, pt ports) []string {
	pki := func(f string) string { return filepath.Join(dir, "pki", f) }
	return []string{
		"--etcd-servers=https://127.0.0.1:" + strconv.Itoa(pt.EtcdClient),
		"--etcd-cafile=" + pki("etcd/ca.crt"),
		"--etcd-certfile=" + pki("etcd/apiserver-etcd-client.crt"),
		"--etcd-keyfile=" + pki("etcd/apiserver-etcd-client.key"),
		"--encryption-provider-config=" + pki("encryption.yaml"),
		// Health endpoints are read with the admin credentials; nothing is anonymous.
		"--anonymous-auth=false",
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// A loopback address cannot back the kubernetes Service endpoints: local clusters
		// have no in-cluster clients that would use them.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(pt.APIServer),
		"--cert-dir=" + filepath.Join(dir, "pki", "generated"),
		"--tls-cert-file=" + pki("apiserver.crt"),
		"--tls-private-key-file=" + pki("apiserver.key"),
		"--client-ca-file=" + pki("ca.crt"),
		"--service-account-key-file=" + pki("sa.pub"),
		"--service-account-signing-key-file=" + pki("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=" + ServiceCIDR,
		// Node: kubelets get exactly their own node's objects (NodeRestriction).
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--kubelet-client-certificate=" + pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + pki("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority=" + pki("ca.crt"),
		// Nodes have no DNS names: reach kubelets at their InternalIP.
		"--kubelet-preferred-address-types=InternalIP",
		// The apiserver runs on the host, outside every node's kube-proxy: cluster IPs do
		// not route there, pod IPs do (via the nodes' bridge). Admission webhooks and
		// aggregated APIs are reached at their Services' endpoints instead.
		"--enable-aggregator-routing=true",
		"--allow-privileged=true",
		"--profiling=false",
		"--max-requests-inflight=1000",
		"--max-mutating-requests-inflight=500",
		"--v=1",
	}
}

func controllerManagerArgs(dir string, pt ports) []string {
	kc := filepath.Join(dir, "controller-manager.kubeconfig")
	pki := func(f string) string { return filepath.Join(dir, "pki", f) }
	return []string{
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(pt.ControllerManager),
		"--cert-dir=" + filepath.Join(dir, "pki", "generated"),
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + pki("sa.key"),
		"--root-ca-file=" + pki("ca.crt"),
		"--cluster-signing-cert-file=" + pki("ca.crt"),
		"--cluster-signing-key-file=" + pki("ca.key"),
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--allocate-node-cidrs=false",
		"--kube-api-qps=100",
		"--kube-api-burst=200",
		"--v=1",
	}
}

func schedulerArgs(dir string, pt ports) []string {
	kc := filepath.Join(dir, "scheduler.kubeconfig")
	return []string{
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(pt.Scheduler),
		"--cert-dir=" + filepath.Join(dir, "pki", "generated"),
		"--leader-elect=false",
		"--v=1",
	}
}

func kwokArgs(dir string, pt ports) []string {
	return []string{
		"--kubeconfig=" + filepath.Join(dir, "kwok.kubeconfig"),
		"--config=" + filepath.Join(dir, "kwok-stages.yaml"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
		"--node-lease-duration-seconds=40",
		"--cidr=10.244.0.0/16",
		"--node-ip=127.0.0.1",
		"--server-address=127.0.0.1:" + strconv.Itoa(pt.Kwok),
	}
}

// startupError is a process that died while the cluster was starting: a port taken
// between phoenix picking it and the process binding it is the usual cause, so Create
// retries with fresh ports.
type startupError struct{ err error }

func (e *startupError) Error() string { return e.err.Error() }
func (e *startupError) Unwrap() error { return e.err }

// died returns an error with the log tail when a process has exited.
func died(pr proc, dir string) error {
	if pr.alive(dir) {
		return nil
	}
	how := pr.exitState()
	if how == "" {
		how = "exited"
	}
	return &startupError{fmt.Errorf("%s exited during start-up (%s); last lines of %s:\n%s", pr.Name, how, pr.Log, tail(pr.Log, 8))}
}

func waitTCP(ctx context.Context, pr proc, dir string, port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if err := died(pr, dir); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on 127.0.0.1:%d within %s (log: %s)", pr.Name, port, timeout, pr.Log)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case <-time.After(d):
		return nil
	}
}

func checkProcs(procs []proc, dir string) error {
	for _, pr := range procs {
		if err := died(pr, dir); err != nil {
			return err
		}
	}
	return nil
}

// waitAPI waits until /readyz answers ok.
func waitAPI(ctx context.Context, cfg *rest.Config, procs []proc, dir string, deadline time.Time) error {
	c := rest.CopyConfig(cfg)
	c.Timeout = 3 * time.Second
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return err
	}
	var last error
	for {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		last = err
		if err := checkProcs(procs, dir); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready in time (last error: %v); see %s", last, logDir(dir))
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// NodeName is the name of the i-th (1-based) simulated node of a cluster.
func NodeName(cluster string, i int) string { return fmt.Sprintf("%s-node-%d", cluster, i) }

// createNodes registers n kwok-managed nodes.
func createNodes(ctx context.Context, cfg *rest.Config, cluster, version string, n int) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		name := NodeName(cluster, i)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{
					"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
					"type": "kwok", "phoenix.dev/simulated": "true",
				},
			},
			Status: corev1.NodeStatus{
				Capacity: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"),
					corev1.ResourcePods: resource.MustParse("250"),
				},
				Allocatable: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"),
					corev1.ResourcePods: resource.MustParse("250"),
				},
				NodeInfo: corev1.NodeSystemInfo{KubeletVersion: version, OperatingSystem: "linux", Architecture: "amd64"},
			},
		}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
	}
	return nil
}

// waitReady waits until n nodes are Ready and the default ServiceAccount exists (pods
// cannot be admitted before it does).
func waitReady(ctx context.Context, cfg *rest.Config, procs []proc, dir string, n int, deadline time.Time) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for {
		ready, saOK := 0, false
		if nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
			for _, nd := range nodes.Items {
				for _, cond := range nd.Status.Conditions {
					if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
		}
		if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err == nil {
			saOK = true
		}
		if ready >= n && saOK {
			return nil
		}
		if err := checkProcs(procs, dir); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes Ready (default service account present: %v) when the wait ran out; see %s", ready, n, saOK, logDir(dir))
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}
