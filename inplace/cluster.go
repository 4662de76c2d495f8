package inplace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// Cluster is what the runbook's cluster steps need from the Kubernetes API.
type Cluster interface {
	// ServerVersion is the apiserver's version.
	ServerVersion(ctx context.Context) (kube.Version, error)
	// Preflight checks the API answers and every node is Ready; it returns warnings
	// (PodDisruptionBudgets that would block a drain) that do not stop the upgrade.
	Preflight(ctx context.Context) (warnings []string, err error)
	// Drain cordons node and evicts its pods (DaemonSet pods stay), honouring PDBs,
	// within timeout.
	Drain(ctx context.Context, node string, timeout time.Duration) error
	// Uncordon makes node schedulable again.
	Uncordon(ctx context.Context, node string) error
	// WaitReady waits until node is Ready and its kubelet reports version.
	WaitReady(ctx context.Context, node string, version kube.Version, timeout time.Duration) error
	// PostChecks runs the checks seed 003 lists after each hop.
	PostChecks(ctx context.Context, version kube.Version) (warnings []string, err error)
}

// KubeCluster is Cluster over client-go.
type KubeCluster struct {
	Client kubernetes.Interface
	// DeleteEmptyDirData lets drain evict pods with emptyDir volumes.
	DeleteEmptyDirData bool
	// Poll is the interval of waits (default 2s).
	Poll time.Duration
	Log  *slog.Logger
}

var _ Cluster = (*KubeCluster)(nil)

func (k *KubeCluster) poll() time.Duration {
	if k.Poll > 0 {
		return k.Poll
	}
	return 2 * time.Second
}

func (k *KubeCluster) log() *slog.Logger {
	if k.Log != nil {
		return k.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// ServerVersion implements Cluster.
func (k *KubeCluster) ServerVersion(ctx context.Context) (kube.Version, error) {
	info, err := k.Client.Discovery().ServerVersion()
	if err != nil {
		return kube.Version{}, fmt.Errorf("asking the cluster for its version (or pass --from): %w", err)
	}
	return kube.ParseVersion(info.GitVersion)
}

// Preflight implements Cluster.
func (k *KubeCluster) Preflight(ctx context.Context) ([]string, error) {
	if _, err := k.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return nil, fmt.Errorf("the control plane is not healthy (/readyz): %w", err)
	}
	nodes, err := k.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var notReady []string
	for _, n := range nodes.Items {
		if !nodeReady(&n) {
			notReady = append(notReady, n.Name)
		}
	}
	if len(notReady) > 0 {
		return nil, fmt.Errorf("nodes not Ready: %s: fix them before upgrading (kubeadm upgrade refuses too)", strings.Join(notReady, ", "))
	}
	warns, err := k.blockingPDBs(ctx)
	if err != nil {
		return nil, err
	}
	aa, err := k.hardAntiAffinity(ctx, nodes.Items)
	return append(warns, aa...), err
}

// hardAntiAffinity reports workloads whose pods must each run on a different node
// (required podAntiAffinity on kubernetes.io/hostname) with as many replicas as there are
// schedulable nodes: draining any node leaves one of their pods Pending (seed 002: keep a
// spare node).
func (k *KubeCluster) hardAntiAffinity(ctx context.Context, nodes []corev1.Node) ([]string, error) {
	schedulable := 0
	for _, n := range nodes {
		if !n.Spec.Unschedulable {
			schedulable++
		}
	}
	type workload struct {
		kind, ns, name string
		replicas       int32
		spec           corev1.PodSpec
	}
	var ws []workload
	deps, err := k.Client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Deployments: %w", err)
	}
	for _, d := range deps.Items {
		ws = append(ws, workload{"Deployment", d.Namespace, d.Name, ptrOr(d.Spec.Replicas, 1), d.Spec.Template.Spec})
	}
	sts, err := k.Client.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing StatefulSets: %w", err)
	}
	for _, s := range sts.Items {
		ws = append(ws, workload{"StatefulSet", s.Namespace, s.Name, ptrOr(s.Spec.Replicas, 1), s.Spec.Template.Spec})
	}
	var warns []string
	for _, w := range ws {
		a := w.spec.Affinity
		if a == nil || a.PodAntiAffinity == nil || w.replicas < int32(schedulable) {
			continue
		}
		for _, t := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if t.TopologyKey == corev1.LabelHostname {
				warns = append(warns, fmt.Sprintf("%s %s/%s runs %d replicas with required pod anti-affinity on %s and the cluster has %d schedulable nodes: "+
					"while a node is drained one of its pods stays Pending (add a spare node, or lower the replicas for the upgrade; seed 002)", w.kind, w.ns, w.name, w.replicas, corev1.LabelHostname, schedulable))
				break
			}
		}
	}
	return warns, nil
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// blockingPDBs reports PDBs that allow no disruption while they cover running pods.
func (k *KubeCluster) blockingPDBs(ctx context.Context) ([]string, error) {
	pdbs, err := k.Client.PolicyV1().PodDisruptionBudgets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing PodDisruptionBudgets: %w", err)
	}
	var warns []string
	for _, p := range pdbs.Items {
		if p.Status.DisruptionsAllowed > 0 {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		pods, err := k.Client.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil || len(pods.Items) == 0 {
			continue
		}
		warns = append(warns, fmt.Sprintf("PodDisruptionBudget %s/%s allows no disruption now (%d pods): draining a node with its pods will wait until it does", p.Namespace, p.Name, len(pods.Items)))
	}
	return warns, nil
}

// Drain implements Cluster with k8s.io/kubectl/pkg/drain: DaemonSet pods are left,
// pods with emptyDir data only evicted when DeleteEmptyDirData, evictions that a PDB
// refuses (429) retried until timeout.
func (k *KubeCluster) Drain(ctx context.Context, node string, timeout time.Duration) error {
	var out strings.Builder
	h := &drain.Helper{
		Ctx:                  ctx,
		Client:               k.Client,
		GracePeriodSeconds:   -1,
		IgnoreAllDaemonSets:  true,
		DeleteEmptyDirData:   k.DeleteEmptyDirData,
		Timeout:              timeout,
		EvictErrorRetryDelay: k.poll(),
		Out:                  &out,
		ErrOut:               &out,
		OnPodDeletionOrEvictionFinished: func(pod *corev1.Pod, _ bool, err error) {
			if err == nil {
				k.log().Info("evicted", "pod", pod.Namespace+"/"+pod.Name, "node", node)
			}
		},
	}
	n, err := k.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("drain %s: %w", node, err)
	}
	if err := drain.RunCordonOrUncordon(h, n, true); err != nil {
		return fmt.Errorf("cordoning %s: %w", node, err)
	}
	if err := drain.RunNodeDrain(h, node); err != nil {
		msg := strings.TrimSpace(out.String())
		if strings.Contains(err.Error(), "emptyDir") || strings.Contains(err.Error(), "local storage") {
			return fmt.Errorf("draining %s: %w (pods with emptyDir data lose it when evicted: pass --delete-emptydir-data to allow)", node, err)
		}
		return fmt.Errorf("draining %s: %w\n%s", node, err, tail(msg, 10))
	}
	return nil
}

// Uncordon implements Cluster.
func (k *KubeCluster) Uncordon(ctx context.Context, node string) error {
	n, err := k.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("uncordon %s: %w", node, err)
	}
	return drain.RunCordonOrUncordon(&drain.Helper{Ctx: ctx, Client: k.Client}, n, false)
}

// WaitReady implements Cluster.
func (k *KubeCluster) WaitReady(ctx context.Context, node string, version kube.Version, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, k.poll(), timeout, true, func(ctx context.Context) (bool, error) {
		n, err := k.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		got, err := kube.ParseVersion(n.Status.NodeInfo.KubeletVersion)
		if err != nil || got.Compare(version) != 0 {
			last = fmt.Sprintf("kubelet reports %q", n.Status.NodeInfo.KubeletVersion)
			return false, nil
		}
		if !nodeReady(n) {
			last = "not Ready"
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("node %s did not become Ready at %s within %s (last: %s)", node, version, timeout, last)
	}
	return nil
}

// PostChecks implements Cluster: control-plane pods Running, CoreDNS available,
// kube-proxy and the CNI DaemonSets rolled out, kube-proxy at version, and a ConfigMap
// created, updated and deleted through the admission chain (broken webhooks show here).
func (k *KubeCluster) PostChecks(ctx context.Context, version kube.Version) ([]string, error) {
	var errs []error
	var warns []string
	pods, err := k.Client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"tier": "control-plane"}.String()})
	if err != nil {
		return nil, fmt.Errorf("listing control-plane pods: %w", err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			errs = append(errs, fmt.Errorf("control-plane pod %s is %s", p.Name, p.Status.Phase))
		}
	}
	if d, err := k.Client.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{}); err == nil {
		if d.Status.AvailableReplicas < 1 || d.Status.UpdatedReplicas < d.Status.Replicas {
			errs = append(errs, fmt.Errorf("CoreDNS has %d/%d available replicas (seed 003: a LimitRange or a missing `ready` plugin keeps new CoreDNS pods from starting)", d.Status.AvailableReplicas, d.Status.Replicas))
		}
	} else if apierrors.IsNotFound(err) {
		warns = append(warns, "no CoreDNS deployment in kube-system: cluster DNS not checked")
	} else {
		errs = append(errs, fmt.Errorf("reading CoreDNS: %w", err))
	}
	dss, err := k.Client.AppsV1().DaemonSets("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing DaemonSets: %w", err)
	}
	for _, ds := range dss.Items {
		if ds.Status.NumberAvailable < ds.Status.DesiredNumberScheduled || ds.Status.UpdatedNumberScheduled < ds.Status.DesiredNumberScheduled {
			errs = append(errs, fmt.Errorf("DaemonSet kube-system/%s has %d/%d available, %d updated", ds.Name, ds.Status.NumberAvailable, ds.Status.DesiredNumberScheduled, ds.Status.UpdatedNumberScheduled))
		}
		if ds.Name == "kube-proxy" {
			for _, c := range ds.Spec.Template.Spec.Containers {
				if !strings.HasSuffix(c.Image, ":"+version.String()) {
					errs = append(errs, fmt.Errorf("kube-proxy runs image %s, expected tag %s", c.Image, version))
				}
			}
		}
	}
	if err := k.crud(ctx); err != nil {
		errs = append(errs, err)
	}
	return warns, errors.Join(errs...)
}

func (k *KubeCluster) crud(ctx context.Context) error {
	cms := k.Client.CoreV1().ConfigMaps(metav1.NamespaceDefault)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "phoenix-upgrade-check-"}, Data: map[string]string{"check": "create"}}
	got, err := cms.Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("API create through admission failed (a broken webhook? seed 003: legacy CN certificates): %w", err)
	}
	defer func() { _ = cms.Delete(context.WithoutCancel(ctx), got.Name, metav1.DeleteOptions{}) }()
	got.Data["check"] = "update"
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("API update through admission failed: %w", err)
	}
	if err := cms.Delete(ctx, got.Name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("API delete through admission failed: %w", err)
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
