package inplace

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/state"
)

// Roles a host plays.
const (
	RoleControlPlane = "control-plane"
	RoleWorker       = "worker"
)

// Package managers phoenix knows.
const (
	PackageManagerApt = "apt"
	PackageManagerYum = "yum"
)

// Inventory lists the machines of one kubeadm cluster.
type Inventory struct {
	// Name names the cluster (journal directory, workspace record); default "kubeadm".
	Name string `json:"name,omitempty"`
	// PackageManager is the default for hosts that set none: apt or yum (default apt).
	PackageManager string `json:"packageManager,omitempty"`
	// User, Key and KnownHosts are defaults for hosts that set none.
	User       string `json:"user,omitempty"`
	Key        string `json:"key,omitempty"`
	KnownHosts string `json:"knownHosts,omitempty"`
	Hosts      []Host `json:"hosts"`
}

// Host is one machine.
type Host struct {
	// Name is the host's name in phoenix's output and its Kubernetes node name unless Node
	// is set.
	Name string `json:"name"`
	Node string `json:"node,omitempty"`
	// Address is host:port of its SSH server (port 22 when left out).
	Address string `json:"address"`
	Role    string `json:"role"`
	User    string `json:"user,omitempty"`
	// Key is the path of the SSH private key (relative paths are relative to the inventory).
	Key string `json:"key,omitempty"`
	// KnownHosts is the known_hosts file the host key is checked against; checking is
	// never skipped.
	KnownHosts     string `json:"knownHosts,omitempty"`
	PackageManager string `json:"packageManager,omitempty"`
	// Sudo runs commands through `sudo -n`; default true unless User is root.
	Sudo *bool `json:"sudo,omitempty"`
}

// NodeName is the host's Kubernetes node name.
func (h Host) NodeName() string {
	if h.Node != "" {
		return h.Node
	}
	return h.Name
}

// UseSudo reports whether commands run through sudo.
func (h Host) UseSudo() bool {
	if h.Sudo != nil {
		return *h.Sudo
	}
	return h.User != "root"
}

// LoadInventory reads and validates an inventory file; relative key and known_hosts
// paths are taken relative to the file's directory.
func LoadInventory(path string) (Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Inventory{}, fmt.Errorf("reading inventory: %w", err)
	}
	return ParseInventory(data, filepath.Dir(path), path)
}

// ParseInventory parses and validates an inventory; relative paths are taken relative to
// dir, and errors name the inventory as source.
func ParseInventory(data []byte, dir, source string) (Inventory, error) {
	var inv Inventory
	if err := yaml.UnmarshalStrict(data, &inv); err != nil {
		return Inventory{}, fmt.Errorf("inventory %s is not valid (see docs/upgrade.md for the format): %w", source, err)
	}
	inv.resolve(dir)
	if err := inv.Validate(); err != nil {
		return Inventory{}, fmt.Errorf("inventory %s: %w", source, err)
	}
	return inv, nil
}

// resolve fills host defaults and makes paths absolute against dir.
func (inv *Inventory) resolve(dir string) {
	if inv.Name == "" {
		inv.Name = "kubeadm"
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		if len(p) > 1 && p[:2] == "~/" {
			if home, err := os.UserHomeDir(); err == nil {
				return filepath.Join(home, p[2:])
			}
		}
		return filepath.Join(dir, p)
	}
	for i := range inv.Hosts {
		h := &inv.Hosts[i]
		if h.User == "" {
			h.User = inv.User
		}
		if h.Key == "" {
			h.Key = inv.Key
		}
		if h.KnownHosts == "" {
			h.KnownHosts = inv.KnownHosts
		}
		if h.PackageManager == "" {
			h.PackageManager = inv.PackageManager
		}
		if h.PackageManager == "" {
			h.PackageManager = PackageManagerApt
		}
		if h.Address != "" {
			if _, _, err := net.SplitHostPort(h.Address); err != nil {
				h.Address = net.JoinHostPort(h.Address, "22")
			}
		}
		h.Key, h.KnownHosts = abs(h.Key), abs(h.KnownHosts)
	}
}

// Validate reports every problem of the inventory at once.
func (inv Inventory) Validate() error {
	var errs []error
	if len(inv.Hosts) == 0 {
		return errors.New("no hosts: list the cluster's machines under `hosts`")
	}
	// The name becomes a directory of the workspace (upgrades/NAME): a DNS label, so
	// that it cannot name a path outside it.
	if err := state.ValidateName(inv.Name); err != nil {
		errs = append(errs, fmt.Errorf("inventory name: %w", err))
	}
	names := map[string]bool{}
	nodes := map[string]bool{}
	addrs := map[string]string{}
	cps := 0
	for i, h := range inv.Hosts {
		where := fmt.Sprintf("host %d (%s)", i+1, h.Name)
		if h.Name == "" {
			errs = append(errs, fmt.Errorf("host %d: name is required", i+1))
		} else if err := ValidateHostName(h.Name); err != nil {
			errs = append(errs, fmt.Errorf("host %d: %w", i+1, err))
		} else if names[h.Name] {
			errs = append(errs, fmt.Errorf("%s: duplicate name: every host needs its own name", where))
		}
		names[h.Name] = true
		if nodes[h.NodeName()] && h.NodeName() != h.Name {
			errs = append(errs, fmt.Errorf("%s: duplicate node name %s", where, h.NodeName()))
		}
		nodes[h.NodeName()] = true
		if h.Node != "" {
			if err := ValidateNodeName(h.Node); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
		}
		switch h.Role {
		case RoleControlPlane:
			cps++
		case RoleWorker:
		default:
			errs = append(errs, fmt.Errorf("%s: role %q: use control-plane or worker", where, h.Role))
		}
		if h.Address == "" {
			errs = append(errs, fmt.Errorf("%s: address is required (host or host:port)", where))
		} else if err := ValidateAddress(h.Address); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		} else if other, ok := addrs[h.Address]; ok {
			errs = append(errs, fmt.Errorf("%s: address %s is also host %s's", where, h.Address, other))
		} else {
			addrs[h.Address] = h.Name
		}
		if h.User == "" {
			errs = append(errs, fmt.Errorf("%s: user is required (per host or at the top)", where))
		} else if err := ValidateUser(h.User); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if h.Key == "" {
			errs = append(errs, fmt.Errorf("%s: key is required: the path of an SSH private key", where))
		} else if _, err := os.Stat(h.Key); err != nil {
			errs = append(errs, fmt.Errorf("%s: key %s: %w", where, h.Key, err))
		}
		if h.KnownHosts == "" {
			errs = append(errs, fmt.Errorf("%s: knownHosts is required: host keys are always checked (collect them with ssh-keyscan and verify the fingerprints)", where))
		} else if _, err := os.Stat(h.KnownHosts); err != nil {
			errs = append(errs, fmt.Errorf("%s: knownHosts %s: %w", where, h.KnownHosts, err))
		}
		switch h.PackageManager {
		case PackageManagerApt, PackageManagerYum:
		default:
			errs = append(errs, fmt.Errorf("%s: packageManager %q: use apt or yum", where, h.PackageManager))
		}
	}
	if cps == 0 {
		errs = append(errs, errors.New("no control-plane host: at least one host needs role: control-plane (the first one runs `kubeadm upgrade apply`)"))
	}
	return errors.Join(errs...)
}

// ControlPlanes returns the control-plane hosts in inventory order; the first is the one
// that runs `kubeadm init` and `kubeadm upgrade apply`.
func (inv Inventory) ControlPlanes() []Host { return inv.byRole(RoleControlPlane) }

// Workers returns the worker hosts in inventory order.
func (inv Inventory) Workers() []Host { return inv.byRole(RoleWorker) }

func (inv Inventory) byRole(role string) []Host {
	var out []Host
	for _, h := range inv.Hosts {
		if h.Role == role {
			out = append(out, h)
		}
	}
	return out
}

// Host returns the host named name.
func (inv Inventory) Host(name string) (Host, bool) {
	for _, h := range inv.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}
