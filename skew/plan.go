package skew

import (
	"fmt"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// Hop is one step of an in-place kubeadm upgrade.
type Hop struct {
	// From and To are the control-plane versions before and after the hop. To carries the
	// requested patch on the last hop; on earlier hops it is LatestPatch of its minor (the
	// final patch of a minor out of support, else Patch -1: resolve the newest patch of that
	// minor against the package repository).
	From, To kube.Version
	// ControlPlane is true when the control plane is upgraded in this hop (always, in plans
	// PlanInPlace makes).
	ControlPlane bool
	// Kubelets is true when the worker kubelets are upgraded to To at the end of this hop.
	// Control-plane nodes' kubelets follow every hop (kubeadm upgrades them with the
	// control plane, as seeds 000 and 003 do); the skew rules bind the workers.
	Kubelets bool
	// KubeletFrom is the kubelet version before this hop.
	KubeletFrom kube.Version
	// Force is true when kubeadm's own preflight (KubeadmKubeletSkew) rejects the kubelet
	// lag at this hop although the upstream skew policy allows it: `kubeadm upgrade apply`
	// needs --force (-f), as in seed 003.
	Force bool
}

// Plan is the in-place path from one release to another.
type Plan struct {
	From, To kube.Version
	Hops     []Hop
	// Notes explain the plan's choices (kubelet jumps, --force) in sentences.
	Notes []string
}

// Options changes how PlanInPlace schedules the kubelets.
type Options struct {
	// KubeletsEveryHop upgrades the kubelets at every hop instead of letting them stay
	// behind within the skew policy.
	KubeletsEveryHop bool
}

// PlanInPlace plans an in-place kubeadm upgrade from from to to: the control plane moves
// one minor per hop (kubeadm does not skip minors); the kubelets stay at their version as
// long as the skew the next control-plane version allows (MaxKubeletSkew) permits, then
// jump to the control-plane version of the hop where they must, and at the last hop.
// Kubelets start at from. A patch upgrade inside one minor is a single hop.
//
// Errors: a version outside 1.14..1.37, a target older than or equal to the source.
func PlanInPlace(from, to kube.Version, opts Options) (Plan, error) {
	if err := Known(from); err != nil {
		return Plan{}, fmt.Errorf("source: %w", err)
	}
	if err := Known(to); err != nil {
		return Plan{}, fmt.Errorf("target: %w", err)
	}
	switch c := to.Compare(from); {
	case c < 0:
		return Plan{}, fmt.Errorf("target %s is older than the source %s: Kubernetes does not support downgrades; restore from a backup instead", to, from)
	case c == 0:
		return Plan{}, fmt.Errorf("source and target are both %s: nothing to upgrade", from)
	}
	p := Plan{From: from, To: to}
	if from.Minor == to.Minor {
		p.Hops = []Hop{{From: from, To: to, ControlPlane: true, Kubelets: true, KubeletFrom: from}}
		p.Notes = append(p.Notes, fmt.Sprintf("patch upgrade inside %s: one hop, control plane then kubelets", from.MinorString()))
		return p, nil
	}
	kubelet := from
	cp := from
	for minor := from.Minor + 1; minor <= to.Minor; minor++ {
		next := LatestPatch(minor)
		if minor == to.Minor {
			next = to
		}
		h := Hop{From: cp, To: next, ControlPlane: true, KubeletFrom: kubelet}
		if lag := minor - kubelet.Minor; lag > KubeadmKubeletSkew(next) {
			h.Force = true
			p.Notes = append(p.Notes, fmt.Sprintf(
				"hop to %s: kubelets at %s are %d minors behind; kubeadm %s's preflight accepts %d, so `kubeadm upgrade apply` needs --force (the upstream skew policy allows %d)",
				next.MinorString(), kubelet.MinorString(), lag, next.MinorString(), KubeadmKubeletSkew(next), MaxKubeletSkew(next)))
		}
		switch {
		case minor == to.Minor:
			h.Kubelets = true
			if minor-kubelet.Minor > 1 {
				p.Notes = append(p.Notes, fmt.Sprintf("kubelets jump %s -> %s at the last hop (drain each node: kubelet state is not kept across versions, and containers may restart, kubernetes#63814)",
					kubelet.MinorString(), next.MinorString()))
			}
		case opts.KubeletsEveryHop:
			h.Kubelets = true
		default:
			following := kube.Version{Major: 1, Minor: minor + 1, Patch: -1}
			if following.Minor-kubelet.Minor > MaxKubeletSkew(following) {
				h.Kubelets = true
				p.Notes = append(p.Notes, fmt.Sprintf("kubelets jump %s -> %s at the hop to %s: %s allows kubelets %d minors behind",
					kubelet.MinorString(), next.MinorString(), next.MinorString(), following.MinorString(), MaxKubeletSkew(following)))
			}
		}
		if h.Kubelets {
			kubelet = next
		}
		p.Hops = append(p.Hops, h)
		cp = next
	}
	if n := len(p.KubeletJumps()); n > 1 && !opts.KubeletsEveryHop {
		p.Notes = append(p.Notes, fmt.Sprintf(
			"the kubelets move %d times to stay within the skew policy; a single jump at the end (as seed 003 did from 1.14 to 1.21) runs kubelets outside the supported skew and is not planned", n))
	}
	return p, nil
}

// KubeletJumps returns the hops at which the kubelets are upgraded.
func (p Plan) KubeletJumps() []Hop {
	var out []Hop
	for _, h := range p.Hops {
		if h.Kubelets {
			out = append(out, h)
		}
	}
	return out
}
