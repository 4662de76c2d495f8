package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The network of a cluster with real nodes. Each cluster takes a slot s (1..99), which
// names everything it creates on the host, so that two clusters (blue and green) and
// their leftovers never collide:
//
//	bridge   phxbr<s>            10.250.<s>.1/24 in the host namespace
//	node i   netns phx<s>-n<i>   eth0 10.250.<s>.<10+i>/24, veth phx<s>n<i> on the bridge
//	pods     10.<100+s>.<i>.0/24 on node i (CNI bridge cni0 inside the node)
//	run dir  /run/phoenix/<s>    sockets (containerd, the apiserver relay)
//
// Nodes have no default route and the host does not forward: pods reach each other, the
// nodes and the host's bridge address, and nothing else.
const (
	maxSlot     = 99
	runRoot     = "/run/phoenix"
	netnsDir    = "/run/netns"
	nodeNetBase = "10.250"
)

// netPlan is the network of one cluster's real nodes, as recorded in its directory
// (network.json) so that delete can undo it even after a failed create.
type netPlan struct {
	Slot  int      `json:"slot"`
	Nodes []string `json:"nodes"` // Kubernetes node names, node i at index i-1
}

func (n netPlan) bridge() string       { return "phxbr" + strconv.Itoa(n.Slot) }
func (n netPlan) bridgeIP() string     { return fmt.Sprintf("%s.%d.1", nodeNetBase, n.Slot) }
func (n netPlan) netns(i int) string   { return fmt.Sprintf("phx%d-n%d", n.Slot, i) }
func (n netPlan) veth(i int) string    { return fmt.Sprintf("phx%dn%d", n.Slot, i) }
func (n netPlan) nodeIP(i int) string  { return fmt.Sprintf("%s.%d.%d", nodeNetBase, n.Slot, 10+i) }
func (n netPlan) podCIDR(i int) string { return fmt.Sprintf("10.%d.%d.0/24", 100+n.Slot, i) }
func (n netPlan) clusterCIDR() string  { return fmt.Sprintf("10.%d.0.0/16", 100+n.Slot) }
func (n netPlan) nodeCIDR() string     { return fmt.Sprintf("%s.%d.0/24", nodeNetBase, n.Slot) }
func (n netPlan) runDir() string       { return filepath.Join(runRoot, strconv.Itoa(n.Slot)) }
func (n netPlan) nodeRunDir(i int) string {
	return filepath.Join(n.runDir(), "n"+strconv.Itoa(i))
}
func (n netPlan) netnsPath(i int) string { return filepath.Join(netnsDir, n.netns(i)) }

// relaySocket is the unix socket the host relays to the apiserver's loopback port; each
// node's relay listens on the node's port 6443 and connects to it.
func (n netPlan) relaySocket() string { return filepath.Join(n.runDir(), "apiserver.sock") }

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func inNetns(ctx context.Context, ns string, args ...string) error {
	return ipCmd(ctx, append([]string{"-n", ns}, args...)...)
}

func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// claimSlot creates the cluster's bridge in the first free slot: creating the link is the
// claim, so two provisions running at once never share a slot.
func claimSlot(ctx context.Context) (netPlan, error) {
	for s := 1; s <= maxSlot; s++ {
		n := netPlan{Slot: s}
		if linkExists(n.bridge()) || exists(n.runDir()) || exists(filepath.Join(netnsDir, n.netns(1))) {
			continue
		}
		if err := ipCmd(ctx, "link", "add", n.bridge(), "type", "bridge"); err != nil {
			if linkExists(n.bridge()) {
				continue // taken by a concurrent provision
			}
			return netPlan{}, err
		}
		if err := os.MkdirAll(n.runDir(), 0o700); err != nil {
			return n, err
		}
		for _, args := range [][]string{
			{"addr", "add", n.bridgeIP() + "/24", "dev", n.bridge()},
			{"link", "set", n.bridge(), "up"},
		} {
			if err := ipCmd(ctx, args...); err != nil {
				return n, err
			}
		}
		return n, nil
	}
	return netPlan{}, fmt.Errorf("no free network slot: phxbr1..phxbr%d all exist; delete clusters you no longer need (phoenix delete cluster NAME)", maxSlot)
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// addNode creates node i's network namespace, its veth on the bridge and its address.
func (n netPlan) addNode(ctx context.Context, i int) error {
	ns := n.netns(i)
	if exists(n.netnsPath(i)) {
		return fmt.Errorf("network namespace %s exists already (a leftover?): remove it with `ip netns delete %s`", ns, ns)
	}
	if err := ipCmd(ctx, "netns", "add", ns); err != nil {
		return err
	}
	steps := [][]string{
		{"link", "add", n.veth(i), "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", n.veth(i), "master", n.bridge(), "up"},
	}
	for _, args := range steps {
		if err := ipCmd(ctx, args...); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", n.nodeIP(i) + "/24", "dev", "eth0"},
		{"link", "set", "eth0", "up"},
	} {
		if err := inNetns(ctx, ns, args...); err != nil {
			return err
		}
	}
	// Forwarding between the node's pods, its eth0 and the other nodes: per namespace.
	return sysctlIn(ns, "net.ipv4.ip_forward", "1")
}

// routeNodes makes every node reach every other node's pods, and the host reach them all
// (the apiserver calls webhooks and aggregated APIs at pod addresses).
func (n netPlan) routeNodes(ctx context.Context, count int) error {
	for i := 1; i <= count; i++ {
		for j := 1; j <= count; j++ {
			if i == j {
				continue
			}
			if err := inNetns(ctx, n.netns(i), "route", "replace", n.podCIDR(j), "via", n.nodeIP(j)); err != nil {
				return err
			}
		}
		if err := ipCmd(ctx, "route", "replace", n.podCIDR(i), "via", n.nodeIP(i), "dev", n.bridge()); err != nil {
			return err
		}
	}
	return nil
}

// sysctlIn writes a per-namespace sysctl (key as sysctl names it, net.ipv4.ip_forward) of
// network namespace ns.
func sysctlIn(ns, key, value string) error {
	out, err := exec.Command("nsenter", "--net="+filepath.Join(netnsDir, ns), "--", "sysctl", "-w", key+"="+value).CombinedOutput()
	if err != nil {
		return fmt.Errorf("setting %s=%s in %s: %w: %s", key, value, ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// teardown removes what the plan created: host routes, veths, namespaces, the bridge and
// the run directory. It goes on past errors and joins them; what is already gone is fine.
func (n netPlan) teardown(ctx context.Context) error {
	var errs []error
	for i := range n.Nodes {
		i++
		_ = ipCmd(ctx, "route", "del", n.podCIDR(i)) // gone with the bridge anyway
		if linkExists(n.veth(i)) {
			if err := ipCmd(ctx, "link", "del", n.veth(i)); err != nil && linkExists(n.veth(i)) {
				errs = append(errs, err)
			}
		}
		if exists(n.netnsPath(i)) {
			if err := ipCmd(ctx, "netns", "delete", n.netns(i)); err != nil && exists(n.netnsPath(i)) {
				errs = append(errs, err)
			}
		}
	}
	if linkExists(n.bridge()) {
		if err := ipCmd(ctx, "link", "del", n.bridge()); err != nil && linkExists(n.bridge()) {
			errs = append(errs, err)
		}
	}
	if err := unmountUnder(n.runDir()); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(n.runDir()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	// Deepest first: a longer path can only be below a shorter one, not above it.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder unmounts everything mounted at or below dir (volumes, overlay root
// filesystems, shm and network-namespace mounts a killed node left behind).
func unmountUnder(dir string) error {
	var errs []error
	for attempt := 0; attempt < 3; attempt++ {
		mps, err := mountsUnder(dir)
		if err != nil || len(mps) == 0 {
			return err
		}
		errs = errs[:0]
		for _, mp := range mps {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if mps, _ := mountsUnder(dir); len(mps) > 0 {
		return fmt.Errorf("still mounted below %s: %s (%w)", dir, strings.Join(mps, ", "), errors.Join(errs...))
	}
	return nil
}
