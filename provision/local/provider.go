package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/state"
)

// Name is the provider's name.
const Name = "local"

// Provider runs control planes as local processes.
type Provider struct {
	ws  *state.Workspace
	log *slog.Logger
	// Resolver finds the binaries; New sets one that may download and build.
	Resolver BinaryResolver
	// Images returns the OCI archives imported into every real node (nil: the sandbox
	// and application images phoenix builds, images.Catalog).
	Images func(ctx context.Context) ([]string, error)
}

var _ provision.Provider = (*Provider)(nil)

// New returns the local provider working in ws.
func New(ws *state.Workspace, log *slog.Logger) *Provider {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{ws: ws, log: log, Resolver: BinaryResolver{Download: true, Build: true, Log: log}}
}

// Name implements provision.Provider.
func (p *Provider) Name() string { return Name }

// ports of one local cluster.
type ports struct {
	EtcdClient, EtcdPeer, APIServer, ControllerManager, Scheduler, Kwok int
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("no free loopback port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func procsFile(dir string) string { return filepath.Join(dir, "processes.json") }

// startAttempts bounds how often Create starts over when a process dies during start-up.
const startAttempts = 3

// Create implements provision.Provider: PKI, etcd, kube-apiserver, controller-manager,
// scheduler, kwok and the nodes; on any error everything started is stopped and the
// cluster directory removed. A process that dies during start-up (most often a port
// taken between picking and binding it) makes Create start over with fresh ports.
func (p *Provider) Create(ctx context.Context, spec provision.Spec) (state.Cluster, []byte, error) {
	if err := provision.ValidateSpec(spec); err != nil {
		return state.Cluster{}, nil, err
	}
	if spec.Version.Minor < 24 {
		return state.Cluster{}, nil, fmt.Errorf("the local provider runs Kubernetes v1.24 and later (v1.21-v1.23 cannot be built from the Go module); %s needs --provider kind or kubeadm", spec.Version)
	}
	r := p.Resolver
	r.BinDir = spec.BinDir
	if r.Log == nil {
		r.Log = p.log
	}
	runtime, why, err := ChooseNodeRuntime(spec.NodeRuntime)
	if err != nil {
		return state.Cluster{}, nil, err
	}
	bins, err := r.Resolve(ctx, spec.Version)
	if err != nil {
		return state.Cluster{}, nil, err
	}
	p.log.Info("binaries", "source", bins.Source)
	rn := nodeSetup{runtime: runtime, why: why}
	if runtime == RuntimeContainerd {
		if rn, err = p.prepareRealNodes(ctx, spec, &bins, rn); err != nil {
			return state.Cluster{}, nil, err
		}
	}
	for attempt := 1; ; attempt++ {
		c, kc, err := p.create(ctx, spec, bins, rn)
		var se *startupError
		if err == nil || !errors.As(err, &se) || attempt >= startAttempts || ctx.Err() != nil {
			return c, kc, err
		}
		p.log.Warn("a process died during start-up; starting over with fresh ports", "attempt", attempt, "err", err)
	}
}

func (p *Provider) create(ctx context.Context, spec provision.Spec, bins Binaries, rn nodeSetup) (c state.Cluster, kubeconfig []byte, err error) {

	dir := p.ws.ClusterDir(spec.Name)
	if p.ws.HasCluster(spec.Name) {
		return c, nil, fmt.Errorf("cluster %q already exists", spec.Name)
	}
	_ = os.RemoveAll(dir) // leftovers of a crashed attempt that never got recorded
	var (
		procs   []proc
		procsMu sync.Mutex
		plan    *netPlan
	)
	defer func() {
		if err != nil {
			cleanup := context.WithoutCancel(ctx)
			var serr error
			if plan != nil {
				serr = teardownNodes(cleanup, dir, *plan, procs)
			} else {
				serr = stopAll(cleanup, procs, dir)
			}
			if serr != nil {
				err = errors.Join(err, serr)
			}
			_ = os.RemoveAll(dir)
		}
	}()
	for _, d := range []string{dir, filepath.Join(dir, "pki"), logDir(dir), filepath.Join(dir, "etcd")} {
		if err := ensureDir(d); err != nil {
			return c, nil, err
		}
	}
	pp, err := freePorts(6)
	if err != nil {
		return c, nil, err
	}
	pt := ports{EtcdClient: pp[0], EtcdPeer: pp[1], APIServer: pp[2], ControllerManager: pp[3], Scheduler: pp[4], Kwok: pp[5]}
	server := fmt.Sprintf("https://127.0.0.1:%d", pt.APIServer)

	files, err := writePKI(filepath.Join(dir, "pki"), spec.Name, server)
	if err != nil {
		return c, nil, err
	}
	startIn := func(name, netns, bin string, args []string, marker string) (proc, error) {
		procsMu.Lock()
		defer procsMu.Unlock()
		pr, err := startProcessIn(netns, name, bin, args, filepath.Join(logDir(dir), name+".log"), nil)
		if err != nil {
			return pr, err
		}
		if marker != dir {
			pr.Marker = marker
		}
		procs = append(procs, pr)
		return pr, state.WriteJSONAtomic(procsFile(dir), procs, 0o600)
	}
	start := func(name, bin string, args []string) error {
		_, err := startIn(name, "", bin, args, dir)
		return err
	}
	if rn.runtime == RuntimeContainerd {
		claimed, err := claimSlot(ctx)
		if claimed.Slot > 0 {
			for i := 1; i <= spec.Nodes; i++ {
				claimed.Nodes = append(claimed.Nodes, NodeName(spec.Name, i))
			}
			plan = &claimed
			if werr := state.WriteJSONAtomic(netFile(dir), claimed, 0o600); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			return c, nil, err
		}
	}

	// etcd
	if err := start("etcd", bins.Etcd, etcdArgs(dir, spec.Name, pt)); err != nil {
		return c, nil, err
	}
	if err := waitTCP(ctx, procs[len(procs)-1], dir, pt.EtcdClient, 30*time.Second); err != nil {
		return c, nil, err
	}
	// kube-apiserver
	if err := start("kube-apiserver", bins.Path("kube-apiserver"), apiserverArgs(dir, pt)); err != nil {
		return c, nil, err
	}
	cfg, err := kube.ConfigFromKubeconfig(files.admin, "")
	if err != nil {
		return c, nil, err
	}
	wait := spec.Wait
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	deadline := time.Now().Add(wait)
	if err := waitAPI(ctx, cfg, procs, dir, deadline); err != nil {
		return c, nil, err
	}
	// controller-manager, scheduler, kwok
	if err := start("kube-controller-manager", bins.Path("kube-controller-manager"), controllerManagerArgs(dir, pt)); err != nil {
		return c, nil, err
	}
	if err := start("kube-scheduler", bins.Path("kube-scheduler"), schedulerArgs(dir, pt)); err != nil {
		return c, nil, err
	}
	if plan == nil {
		if err := state.WriteFileAtomic(filepath.Join(dir, "kwok-stages.yaml"), []byte(kwokStages()), 0o644); err != nil {
			return c, nil, err
		}
		if err := start("kwok", bins.Kwok, kwokArgs(dir, pt)); err != nil {
			return c, nil, err
		}
		if err := createNodes(ctx, cfg, spec.Name, spec.Version.String(), spec.Nodes); err != nil {
			return c, nil, err
		}
		if err := waitReady(ctx, cfg, procs, dir, spec.Nodes, deadline); err != nil {
			return c, nil, err
		}
	} else {
		nodes := &realNodes{dir: dir, name: spec.Name, version: spec.Version, bins: bins, pki: files.pki, plan: *plan,
			images: rn.images, ctr: rn.ctr, apiPort: pt.APIServer, start: startIn}
		if err := nodes.startAll(ctx, spec.Nodes); err != nil {
			return c, nil, err
		}
		if err := waitReady(ctx, cfg, procs, dir, spec.Nodes, deadline); err != nil {
			return c, nil, fmt.Errorf("%w%s", err, notReadyDetail(context.WithoutCancel(ctx), cfg, dir, spec.Name, spec.Nodes))
		}
		if err := publishAPIServer(ctx, cfg, *plan, spec.Nodes); err != nil {
			return c, nil, fmt.Errorf("publishing the apiserver to pods: %w", err)
		}
	}
	c = state.Cluster{
		Name: spec.Name, Role: spec.Role, Provider: Name, Version: spec.Version.String(), Managed: true,
		Context: spec.Name, Server: server, Created: time.Now().UTC(),
		Details: map[string]string{
			"binarySource":   bins.Source,
			"dir":            dir,
			"etcdPort":       strconv.Itoa(pt.EtcdClient),
			"apiserverPort":  strconv.Itoa(pt.APIServer),
			"nodes":          strconv.Itoa(spec.Nodes),
			"pids":           pidString(procs),
			"nodeRuntime":    rn.runtime,
			"nodeRuntimeWhy": rn.why,
		},
	}
	if plan != nil {
		c.Details["networkSlot"] = strconv.Itoa(plan.Slot)
		c.Details["nodeNetwork"] = plan.nodeCIDR()
		c.Details["podNetwork"] = plan.clusterCIDR()
	}
	return c, files.admin, nil
}

func loadProcs(dir string) ([]proc, error) {
	var procs []proc
	if err := state.ReadJSON(procsFile(dir), &procs); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	return procs, nil
}

// Delete implements provision.Provider: it stops the cluster's processes (only those
// whose command line still names the cluster directory) and removes its files.
func (p *Provider) Delete(ctx context.Context, c state.Cluster) error {
	dir := p.ws.ClusterDir(c.Name)
	procs, err := loadProcs(dir)
	if err != nil {
		return err
	}
	var plan netPlan
	if err := state.ReadJSON(netFile(dir), &plan); err == nil && plan.Slot > 0 {
		if err := teardownNodes(ctx, dir, plan, procs); err != nil {
			return err
		}
	} else if err := stopAll(ctx, procs, dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

func netFile(dir string) string { return filepath.Join(dir, "network.json") }

// Kubeconfig implements provision.Provider.
func (p *Provider) Kubeconfig(_ context.Context, c state.Cluster) ([]byte, error) {
	return p.ws.Kubeconfig(c.Name)
}

// Status implements provision.Provider: a dead process makes the cluster Unhealthy.
func (p *Provider) Status(ctx context.Context, c state.Cluster) (provision.Status, error) {
	dir := p.ws.ClusterDir(c.Name)
	procs, err := loadProcs(dir)
	if err != nil {
		return provision.Status{Health: provision.Unknown, Reason: err.Error()}, nil
	}
	comps := map[string]string{}
	var dead []string
	for _, pr := range procs {
		if pr.alive(dir) {
			comps[pr.Name] = "running (pid " + strconv.Itoa(pr.Pid) + ")"
		} else {
			comps[pr.Name] = "not running"
			dead = append(dead, pr.Name)
		}
	}
	if len(procs) > 0 && len(dead) == len(procs) {
		return provision.Status{Health: provision.Stopped, Reason: "no process is running", Components: comps, Version: c.Version}, nil
	}
	st, _ := provision.APIStatus(ctx, p.ws, c.Name)
	st.Components = comps
	if len(dead) > 0 {
		st.Health = provision.Unhealthy
		st.Reason = fmt.Sprintf("%v not running (logs in %s)", dead, logDir(dir))
	}
	return st, nil
}

// kubeconfigFor writes a component kubeconfig and returns its bytes.
func kubeconfigFor(path, name, server string, ca, cert, key []byte) ([]byte, error) {
	data, err := clientcmd.Write(*kube.AdminKubeconfig(name, server, ca, cert, key))
	if err != nil {
		return nil, err
	}
	return data, state.WriteFileAtomic(path, data, 0o600)
}
