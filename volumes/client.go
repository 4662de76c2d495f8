package volumes

import (
	"context"
	"fmt"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Velero resources phoenix reads and writes.
var (
	gvrBackup          = velerov1.SchemeGroupVersion.WithResource("backups")
	gvrRestore         = velerov1.SchemeGroupVersion.WithResource("restores")
	gvrLocation        = velerov1.SchemeGroupVersion.WithResource("backupstoragelocations")
	gvrDownload        = velerov1.SchemeGroupVersion.WithResource("downloadrequests")
	gvrPodVolumeBackup = velerov1.SchemeGroupVersion.WithResource("podvolumebackups")
	gvrPodVolumeRestor = velerov1.SchemeGroupVersion.WithResource("podvolumerestores")
	gvrDataUpload      = schema.GroupVersionResource{Group: "velero.io", Version: "v2alpha1", Resource: "datauploads"}
	gvrDataDownload    = schema.GroupVersionResource{Group: "velero.io", Version: "v2alpha1", Resource: "datadownloads"}
)

// cluster is one side of the move: its name in messages and its clients.
type cluster struct {
	name string // "blue" or "green"
	ns   string // Velero's namespace
	dyn  dynamic.Interface
	kube kubernetes.Interface
}

func newCluster(name string, cfg *rest.Config, ns string) (*cluster, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building %s client: %w", name, err)
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building %s client: %w", name, err)
	}
	return &cluster{name: name, ns: ns, dyn: dyn, kube: kc}, nil
}

// get reads a Velero object in Velero's namespace into out (a Velero API type).
func (c *cluster) get(ctx context.Context, gvr schema.GroupVersionResource, name string, out any) error {
	u, err := c.dyn.Resource(gvr).Namespace(c.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out)
}

// list reads Velero objects in Velero's namespace matching selector ("" for all).
func (c *cluster) list(ctx context.Context, gvr schema.GroupVersionResource, selector string) ([]unstructured.Unstructured, error) {
	l, err := c.dyn.Resource(gvr).Namespace(c.ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// create sends obj (a Velero API type with TypeMeta set) and returns the created name.
func (c *cluster) create(ctx context.Context, gvr schema.GroupVersionResource, obj runtime.Object) (string, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return "", err
	}
	u, err := c.dyn.Resource(gvr).Namespace(c.ns).Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return u.GetName(), nil
}

func (c *cluster) delete(ctx context.Context, gvr schema.GroupVersionResource, name string) error {
	return c.dyn.Resource(gvr).Namespace(c.ns).Delete(ctx, name, metav1.DeleteOptions{})
}

func fromUnstructured(u unstructured.Unstructured, out any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out)
}
