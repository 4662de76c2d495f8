package inplace

import (
	"fmt"
	"io"
	"strings"
)

// Render writes the runbook as text: every step on every host, in order, as a person
// would type it. Secrets are redacted.
func (r Runbook) Render(w io.Writer) error {
	var b strings.Builder
	p := r.Plan
	fmt.Fprintf(&b, "# phoenix upgrade runbook: %s -> %s, %d hop(s)\n", p.From, p.To, len(p.Hops))
	for i, h := range p.Hops {
		what := "control plane"
		if h.Kubelets {
			what += " and kubelets"
		} else {
			what += "; worker kubelets stay at " + h.KubeletFrom.String()
		}
		force := ""
		if h.Force {
			force = ", apply with --force"
		}
		fmt.Fprintf(&b, "#   hop %d: %s -> %s (%s%s)\n", i+1, h.From, h.To, what, force)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "#   note: %s\n", n)
	}
	b.WriteString("# Remote commands run as root (through `sudo -n sh -c` unless the host's user is root).\n")
	n := 0
	for _, ph := range r.Phases {
		fmt.Fprintf(&b, "\n== %s\n", ph.Name)
		for _, s := range ph.Steps {
			n++
			fmt.Fprintf(&b, "%3d  %s\n", n, describe(s))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func describe(s Step) string {
	switch s.Kind {
	case KindRun:
		return fmt.Sprintf("[%s] %s", s.Host, Redact(s.Command))
	case KindExpectEmpty:
		return fmt.Sprintf("[%s] %s   # must print nothing", s.Host, s.Command)
	case KindExpectContains:
		return fmt.Sprintf("[%s] %s   # must list %s", s.Host, s.Command, s.Want)
	case KindFetch:
		return fmt.Sprintf("[%s] %s   # copied off the node to <workspace>/upgrades/<name>/%s", s.Host, s.Command, s.Local)
	case KindClusterPreflight:
		return fmt.Sprintf("[cluster] check: API healthy, every node Ready, control-plane pods Running; report PodDisruptionBudgets that would block a drain (cluster at %s)", s.Version)
	case KindDrain:
		return fmt.Sprintf("[cluster] kubectl drain %s --ignore-daemonsets   # honours PodDisruptionBudgets, timeout %s", s.Node, s.Timeout)
	case KindUncordon:
		return fmt.Sprintf("[cluster] kubectl uncordon %s", s.Node)
	case KindWaitReady:
		return fmt.Sprintf("[cluster] wait until node %s is Ready with kubelet %s (timeout %s)", s.Node, s.Version, s.Timeout)
	case KindPostChecks:
		return fmt.Sprintf("[cluster] check at %s: control-plane pods, CoreDNS, kube-proxy, CNI DaemonSets, API create/update/delete through admission webhooks", s.Version)
	}
	return fmt.Sprintf("[%s] %s %s", firstNonEmpty(s.Host, s.Node, "cluster"), s.Kind, s.Command)
}
