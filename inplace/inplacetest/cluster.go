package inplacetest

import (
	"context"
	"fmt"
	"time"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/kube"
)

// Cluster is a RECORDING STAND-IN for inplace.Cluster: it records each cluster step as
// "cluster: <step> <node> [version]" in the lab's log and reports Version as the
// apiserver's version. The real implementation, inplace.KubeCluster, is tested against a
// real apiserver.
type Cluster struct {
	Lab     *Lab
	Version kube.Version
}

var _ inplace.Cluster = (*Cluster)(nil)

// ServerVersion implements inplace.Cluster.
func (c *Cluster) ServerVersion(context.Context) (kube.Version, error) { return c.Version, nil }

// Preflight implements inplace.Cluster.
func (c *Cluster) Preflight(context.Context) ([]string, error) {
	c.Lab.Record("cluster: preflight")
	return nil, nil
}

// Drain implements inplace.Cluster.
func (c *Cluster) Drain(_ context.Context, node string, _ time.Duration) error {
	c.Lab.Record("cluster: drain " + node)
	return nil
}

// Uncordon implements inplace.Cluster.
func (c *Cluster) Uncordon(_ context.Context, node string) error {
	c.Lab.Record("cluster: uncordon " + node)
	return nil
}

// WaitReady implements inplace.Cluster.
func (c *Cluster) WaitReady(_ context.Context, node string, v kube.Version, _ time.Duration) error {
	c.Lab.Record(fmt.Sprintf("cluster: wait-ready %s %s", node, v))
	return nil
}

// PostChecks implements inplace.Cluster.
func (c *Cluster) PostChecks(_ context.Context, v kube.Version) ([]string, error) {
	c.Lab.Record(fmt.Sprintf("cluster: post-checks %s", v))
	c.Version = v
	return nil, nil
}
