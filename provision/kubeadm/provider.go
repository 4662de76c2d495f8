package kubeadm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/state"
)

// Name is the provider's name.
const Name = "kubeadm"

// Defaults.
const (
	DefaultPodSubnet   = "10.244.0.0/16"
	DefaultCNIManifest = "https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml"
	configPath         = "/etc/kubernetes/phoenix-kubeadm.yaml"
	adminConf          = "/etc/kubernetes/admin.conf"
)

// removeConfig removes the kubeadm configuration, which holds the certificate key.
var removeConfig = inplace.Argv("rm", "-f", configPath)

// Options configure the provider.
type Options struct {
	// Inventory is the path of the inventory file (the --inventory flag).
	Inventory string
	// CNIManifest is applied after init (default flannel, which wants DefaultPodSubnet).
	CNIManifest string
	PodSubnet   string
	// ControlPlaneEndpoint is host:port of the API for every node (a load balancer for
	// several control planes); default the first control plane's host:6443.
	ControlPlaneEndpoint string
	// Revision overrides the package revision (see inplace.Packages).
	Revision    string
	DialTimeout time.Duration
	// WaitReady waits until nodes are Ready; nil polls the API with the fetched kubeconfig.
	WaitReady func(ctx context.Context, kubeconfig []byte, nodes []string, timeout time.Duration) error
}

// Provider builds clusters with kubeadm over SSH.
type Provider struct {
	ws   *state.Workspace
	log  *slog.Logger
	opts Options
}

var (
	_ provision.Provider      = (*Provider)(nil)
	_ provision.DeletePlanner = (*Provider)(nil)
)

// New returns the kubeadm provider working in ws.
func New(ws *state.Workspace, log *slog.Logger, opts Options) *Provider {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.CNIManifest == "" {
		opts.CNIManifest = DefaultCNIManifest
	}
	if opts.PodSubnet == "" {
		opts.PodSubnet = DefaultPodSubnet
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 15 * time.Second
	}
	if opts.WaitReady == nil {
		opts.WaitReady = waitNodesReady
	}
	return &Provider{ws: ws, log: log, opts: opts}
}

// Name implements provision.Provider.
func (p *Provider) Name() string { return Name }

// Available implements provision.Availability: the provider needs an inventory.
func (p *Provider) Available(context.Context) error {
	if p.opts.Inventory == "" {
		return errors.New("no --inventory given")
	}
	return nil
}

type hostConn struct {
	h inplace.Host
	c *inplace.Conn
}

func (p *Provider) dial(ctx context.Context, inv inplace.Inventory) ([]hostConn, func(), error) {
	var out []hostConn
	var errs []error
	for _, h := range inv.Hosts {
		c, err := inplace.Dial(ctx, h, p.opts.DialTimeout)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, hostConn{h, c})
	}
	closeAll := func() {
		for _, hc := range out {
			_ = hc.c.Close()
		}
	}
	if len(errs) > 0 {
		closeAll()
		return nil, nil, fmt.Errorf("nothing was changed: %w", errors.Join(errs...))
	}
	return out, closeAll, nil
}

func (p *Provider) run(ctx context.Context, hc hostConn, cmd string, stdin io.Reader) (inplace.CmdResult, error) {
	p.log.Info("run", "host", hc.h.Name, "command", inplace.Redact(cmd))
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	return hc.c.Run(ctx, cmd, stdin)
}

// Create implements provision.Provider. spec.Nodes is ignored: the inventory lists the
// machines.
func (p *Provider) Create(ctx context.Context, spec provision.Spec) (state.Cluster, []byte, error) {
	if p.opts.Inventory == "" {
		return state.Cluster{}, nil, errors.New("--provider kubeadm needs --inventory: the YAML list of the machines (see docs/upgrade.md)")
	}
	if err := p.opts.validate(); err != nil {
		return state.Cluster{}, nil, err
	}
	inv, err := inplace.LoadInventory(p.opts.Inventory)
	if err != nil {
		return state.Cluster{}, nil, err
	}
	conns, closeAll, err := p.dial(ctx, inv)
	if err != nil {
		return state.Cluster{}, nil, err
	}
	defer closeAll()
	if err := p.preflight(ctx, conns); err != nil {
		return state.Cluster{}, nil, fmt.Errorf("preflight (nothing was changed): %w", err)
	}
	kubeconfig, err := p.build(ctx, spec, inv, conns)
	if err != nil {
		// Leave nothing running behind: reset what kubeadm set up. Packages stay installed.
		var rerrs []error
		for _, hc := range conns {
			if hc.h.Role == inplace.RoleControlPlane {
				_, _ = p.run(context.WithoutCancel(ctx), hc, removeConfig, nil)
			}
		}
		for i := len(conns) - 1; i >= 0; i-- {
			if _, rerr := p.run(context.WithoutCancel(ctx), conns[i], "kubeadm reset -f", nil); rerr != nil {
				rerrs = append(rerrs, rerr)
			}
		}
		return state.Cluster{}, nil, errors.Join(fmt.Errorf("creating the cluster failed, `kubeadm reset -f` ran on every host (the packages stay installed): %w", err), errors.Join(rerrs...))
	}
	abs, _ := filepath.Abs(p.opts.Inventory)
	c := state.Cluster{Name: spec.Name, Role: spec.Role, Provider: Name, Version: spec.Version.String(), Managed: true,
		Created: time.Now().UTC(), Details: map[string]string{"inventory": abs, "controlPlane": inv.ControlPlanes()[0].Name, "hosts": hostList(inv)}}
	if cfg, err := kube.ConfigFromKubeconfig(kubeconfig, ""); err == nil {
		c.Server = cfg.Host
	}
	return c, kubeconfig, nil
}

// preflight checks every host before anything changes: swap off, container runtime
// answering, the package manager known, required ports free.
func (p *Provider) preflight(ctx context.Context, conns []hostConn) error {
	var errs []error
	for _, hc := range conns {
		pm := "apt-get"
		if hc.h.PackageManager == inplace.PackageManagerYum {
			pm = "yum"
		}
		ports := "sport = :10250"
		if hc.h.Role == inplace.RoleControlPlane {
			ports = "sport = :6443 or sport = :2379 or sport = :2380 or sport = :10250 or sport = :10257 or sport = :10259"
		}
		checks := []struct {
			cmd, what string
			empty     bool
		}{
			{"swapon --show --noheadings", "swap is on: the kubelet needs it off (swapoff -a, and remove it from /etc/fstab)", true},
			{"crictl info", "the container runtime does not answer on its CRI socket (install and start containerd or CRI-O)", false},
			{inplace.Argv("command", "-v", pm), pm + " not found: set packageManager in the inventory (apt or yum)", false},
			{inplace.Argv("ss", "-Htln", "( "+ports+" )"), "ports Kubernetes needs are taken", true},
		}
		for _, ch := range checks {
			res, err := p.run(ctx, hc, ch.cmd, nil)
			if err != nil {
				errs = append(errs, fmt.Errorf("host %s: %s: %w", hc.h.Name, ch.what, err))
				continue
			}
			if ch.empty && strings.TrimSpace(string(res.Stdout)) != "" {
				errs = append(errs, fmt.Errorf("host %s: %s:\n%s", hc.h.Name, ch.what, res.Output()))
			}
		}
	}
	return errors.Join(errs...)
}

func (p *Provider) build(ctx context.Context, spec provision.Spec, inv inplace.Inventory, conns []hostConn) ([]byte, error) {
	v := spec.Version
	for _, hc := range conns {
		pk := inplace.Packages{Manager: hc.h.PackageManager, Revision: p.opts.Revision}
		res, err := p.run(ctx, hc, pk.SetRepository(v), nil)
		if err == nil {
			_, err = p.run(ctx, hc, pk.Refresh(), nil)
		}
		if err == nil {
			res, err = p.run(ctx, hc, pk.ListVersions(), nil)
			if err == nil && !strings.Contains(string(res.Stdout), pk.PackageVersion(v)) {
				err = fmt.Errorf("host %s: %s is not in the %s package repository", hc.h.Name, pk.PackageVersion(v), v.MinorString())
			}
		}
		for _, cmd := range pk.Install(v, "kubelet", "kubeadm", "kubectl") {
			if err != nil {
				break
			}
			_, err = p.run(ctx, hc, cmd, nil)
		}
		if err == nil {
			_, err = p.run(ctx, hc, "systemctl enable --now kubelet", nil)
		}
		if err != nil {
			return nil, err
		}
	}
	first := conns[0]
	for _, hc := range conns {
		if hc.h.Role == inplace.RoleControlPlane {
			first = hc
			break
		}
	}
	certKey, err := newCertificateKey()
	if err != nil {
		return nil, err
	}
	endpoint := p.opts.ControlPlaneEndpoint
	if endpoint == "" {
		endpoint = defaultEndpoint(first.h.Address)
	}
	cfg, err := kubeadmConfig(v, first.h.NodeName(), endpoint, p.opts.PodSubnet, certKey)
	if err != nil {
		return nil, err
	}
	steps := []struct {
		cmd   string
		stdin string
	}{
		{inplace.Argv("mkdir", "-p", "/etc/kubernetes"), ""},
		// The file holds the certificate key: an old copy (another mode) is removed, and
		// the new one is created 0600 under umask 077.
		{removeConfig + " && umask 077 && " + inplace.Argv("tee", configPath) + " >/dev/null", cfg},
		{inplace.Argv("kubeadm", "init", "--config", configPath, "--upload-certs"), ""},
		{inplace.Argv("kubectl", "--kubeconfig", adminConf, "apply", "-f", p.opts.CNIManifest), ""},
	}
	for _, s := range steps {
		var in io.Reader
		if s.stdin != "" {
			in = strings.NewReader(s.stdin)
		}
		if _, err := p.run(ctx, first, s.cmd, in); err != nil {
			return nil, err
		}
	}
	res, err := p.run(ctx, first, "kubeadm token create --print-join-command", nil)
	if err != nil {
		return nil, err
	}
	line := joinCommand(string(res.Stdout))
	if line == "" {
		return nil, fmt.Errorf("host %s: `kubeadm token create --print-join-command` printed no join command:\n%s", first.h.Name, res.Output())
	}
	join, err := joinArgv(line)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", first.h.Name, err)
	}
	var nodes []string
	for _, hc := range conns {
		nodes = append(nodes, hc.h.NodeName())
		if hc.h.Name == first.h.Name {
			continue
		}
		argv := append(append([]string{}, join...), "--node-name", hc.h.NodeName())
		if hc.h.Role == inplace.RoleControlPlane {
			argv = append(argv, "--control-plane", "--certificate-key", certKey)
		}
		if _, err := p.run(ctx, hc, inplace.Argv(argv...), nil); err != nil {
			return nil, err
		}
	}
	// Every control plane has joined: the certificate key has no further use.
	if _, err := p.run(ctx, first, removeConfig, nil); err != nil {
		return nil, err
	}
	res, err = p.run(ctx, first, inplace.Argv("cat", adminConf), nil)
	if err != nil {
		return nil, err
	}
	kubeconfig := res.Stdout
	wait := spec.Wait
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	if err := p.opts.WaitReady(ctx, kubeconfig, nodes, wait); err != nil {
		return nil, err
	}
	return kubeconfig, nil
}

// joinCommand finds the `kubeadm join ...` line in the output of
// `kubeadm token create --print-join-command`.
func joinCommand(out string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "kubeadm join ") {
			return l
		}
	}
	return ""
}

func waitNodesReady(ctx context.Context, kubeconfig []byte, nodes []string, timeout time.Duration) error {
	cfg, err := kube.ConfigFromKubeconfig(kubeconfig, "")
	if err != nil {
		return fmt.Errorf("the fetched admin.conf: %w", err)
	}
	c, err := kube.NewClients(cfg)
	if err != nil {
		return err
	}
	var missing []string
	err = wait.PollUntilContextTimeout(ctx, 3*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		list, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			missing = []string{err.Error()}
			return false, nil
		}
		ready := map[string]bool{}
		for _, n := range list.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == "Ready" && cond.Status == "True" {
					ready[n.Name] = true
				}
			}
		}
		missing = missing[:0]
		for _, n := range nodes {
			if !ready[n] {
				missing = append(missing, n)
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("nodes not Ready within %s: %s (check the CNI pods: kubectl -n kube-system get pods)", timeout, strings.Join(missing, ", "))
	}
	return nil
}

func (p *Provider) inventoryOf(c state.Cluster) (inplace.Inventory, error) {
	path := c.Details["inventory"]
	if path == "" {
		path = p.opts.Inventory
	}
	if path == "" {
		return inplace.Inventory{}, fmt.Errorf("cluster %s has no inventory recorded: pass --inventory", c.Name)
	}
	inv, err := inplace.LoadInventory(path)
	if err != nil {
		return inv, err
	}
	// The inventory file may have changed since the cluster was made: never reset hosts
	// that were not the cluster's.
	if want := c.Details["hosts"]; want != "" && want != hostList(inv) {
		return inv, fmt.Errorf("inventory %s now lists %s, but cluster %s was made on %s: nothing was reset; restore the inventory, or reset the hosts by hand", path, hostList(inv), c.Name, want)
	}
	return inv, nil
}

// hostList names every host with its address and role, in inventory order.
func hostList(inv inplace.Inventory) string {
	var parts []string
	for _, h := range inv.Hosts {
		parts = append(parts, fmt.Sprintf("%s (%s, %s)", h.Name, h.Address, h.Role))
	}
	return strings.Join(parts, ", ")
}

// DeletePlan implements provision.DeletePlanner: the hosts Delete resets.
func (p *Provider) DeletePlan(_ context.Context, c state.Cluster) ([]string, error) {
	inv, err := p.inventoryOf(c)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, h := range inv.Hosts {
		out = append(out, fmt.Sprintf("%s (%s, %s)", h.Name, h.Address, h.Role))
	}
	return out, nil
}

// Delete implements provision.Provider: `kubeadm reset -f` on every host, workers first.
func (p *Provider) Delete(ctx context.Context, c state.Cluster) error {
	inv, err := p.inventoryOf(c)
	if err != nil {
		return err
	}
	conns, closeAll, err := p.dial(ctx, inv)
	if err != nil {
		return err
	}
	defer closeAll()
	var errs []error
	for i := len(conns) - 1; i >= 0; i-- {
		if _, err := p.run(ctx, conns[i], "kubeadm reset -f", nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Kubeconfig implements provision.Provider.
func (p *Provider) Kubeconfig(ctx context.Context, c state.Cluster) ([]byte, error) {
	return p.ws.Kubeconfig(c.Name)
}

// Status implements provision.Provider.
func (p *Provider) Status(ctx context.Context, c state.Cluster) (provision.Status, error) {
	data, err := p.ws.Kubeconfig(c.Name)
	if err != nil {
		return provision.Status{Health: provision.Unknown, Reason: err.Error()}, nil
	}
	cfg, err := kube.ConfigFromKubeconfig(data, "")
	if err != nil {
		return provision.Status{Health: provision.Unknown, Reason: err.Error()}, nil
	}
	cfg.Timeout = 10 * time.Second
	cl, err := kube.NewClients(cfg)
	if err != nil {
		return provision.Status{Health: provision.Unknown, Reason: err.Error()}, nil
	}
	if _, err := cl.Discovery.RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return provision.Status{Health: provision.Unhealthy, Reason: err.Error()}, nil
	}
	info, err := cl.Discovery.ServerVersion()
	if err != nil {
		return provision.Status{Health: provision.Unhealthy, Reason: err.Error()}, nil
	}
	return provision.Status{Health: provision.Healthy, Version: info.GitVersion}, nil
}
