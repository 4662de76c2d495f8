package inplace

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/phoenix-upgrade/phoenix/assess"
)

// ReadNodes reads, over SSH, what assess checks on each host of inv: the kubelet's flags
// (kubeadm-flags.env) and configuration file, /proc/mounts (the cgroup version), on control
// planes the static-pod manifests and the files their commands name (audit policy,
// scheduler configuration, ...), and from the first control plane kube-proxy's ConfigMap
// (kubectl with /etc/kubernetes/admin.conf). It changes nothing. A file that is not there
// is left out; one that cannot be read is reported in that node's Errors. Hosts that cannot
// be reached fail the whole read, before any file is read.
func ReadNodes(ctx context.Context, inv Inventory, timeout time.Duration) ([]assess.NodeFiles, error) {
	if err := inv.Validate(); err != nil {
		return nil, err
	}
	conns, err := dialAll(ctx, inv, timeout)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	cps := inv.ControlPlanes()
	var out []assess.NodeFiles
	for _, h := range inv.Hosts {
		c := conns[h.Name]
		n := assess.NodeFiles{Node: h.NodeName(), ControlPlane: h.Role == RoleControlPlane, Files: map[string][]byte{},
			Source: fmt.Sprintf("ssh %s@%s", h.User, h.Address)}
		read := func(p string) []byte {
			data, ok, err := readFile(ctx, c, p)
			if err != nil {
				n.Errors = append(n.Errors, fmt.Sprintf("node %s: %v", n.Node, err))
			}
			if ok {
				n.Files[p] = data
			}
			return data
		}
		for _, p := range []string{assess.KubeletFlagsFile, assess.KubeletConfigFile, assess.MountsFile} {
			read(p)
		}
		if n.ControlPlane {
			for _, m := range assess.StaticPodNames {
				if data := read(path.Join(assess.ManifestsDir, m)); data != nil {
					for _, ref := range assess.ReferencedFiles(data) {
						if _, done := n.Files[ref]; !done {
							read(ref)
						}
					}
				}
			}
		}
		if len(cps) > 0 && h.Name == cps[0].Name {
			cmd := "kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get configmap kube-proxy -o " + ShellQuote(`jsonpath={.data.config\.conf}`)
			res, err := c.Run(ctx, cmd, nil)
			switch {
			case err != nil:
				n.Errors = append(n.Errors, fmt.Sprintf("node %s: kube-proxy's ConfigMap: %v", n.Node, err))
			case len(strings.TrimSpace(string(res.Stdout))) > 0:
				n.Files["configmap kube-system/kube-proxy config.conf"] = res.Stdout
			}
		}
		out = append(out, n)
	}
	return out, nil
}

// readFile cats p on the host; ok is false when the file is not there.
func readFile(ctx context.Context, c *Conn, p string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := c.Run(ctx, "cat "+ShellQuote(p), nil)
	if err != nil {
		var re *RunError
		if errors.As(err, &re) && re.Err == nil && strings.Contains(re.Output, "No such file") {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading %s: %w", p, err)
	}
	return res.Stdout, true, nil
}
