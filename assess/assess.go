package assess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// Options says what to assess.
type Options struct {
	// To is the target release. Required.
	To kube.Version
	// From is the source release. For a live cluster it is asked from the cluster when nil;
	// offline, nil means "anything older" (every removal up to To applies).
	From *kube.Version
	// Path is blue-green (default: one jump to a fresh cluster) or in-place (kubeadm hops).
	Path Path
	// Clients reach the live cluster to scan; nil scans manifests only.
	Clients *kube.Clients
	// Namespaces limits the live scan of namespaced objects (empty: all). Cluster-wide
	// configuration (kube-system, webhooks, PSPs, nodes) is always read.
	Namespaces []string
	// ManifestDir is a directory (or file) of manifests and rendered charts to scan offline.
	ManifestDir string
	// Nodes are files read from the nodes themselves (the in-place path reads them over SSH:
	// inplace.ReadNodes): kubelet flags and configuration, static-pod manifests, the files
	// they name, /proc/mounts.
	Nodes []NodeFiles
	// KnowledgeBase to use; nil loads the embedded one.
	KnowledgeBase *KnowledgeBase
	// Log receives progress at debug level; nil discards it.
	Log *slog.Logger
}

// Assess scans what Options name and reports what breaks on the way to the target.
// Partial failures (a resource that cannot be listed, an unreadable Helm release, a file
// that is not a Kubernetes manifest) land in Report.Errors; an error is returned only when
// nothing useful can be reported (bad options, unreachable cluster).
func Assess(ctx context.Context, opts Options) (*Report, error) {
	if opts.Clients == nil && opts.ManifestDir == "" && len(opts.Nodes) == 0 {
		return nil, errors.New("nothing to assess: give a cluster, a manifest directory (-f DIR) or nodes' files")
	}
	if opts.Path == "" {
		opts.Path = BlueGreen
	}
	if opts.Path != BlueGreen && opts.Path != InPlace {
		return nil, fmt.Errorf("unknown upgrade path %q: use %s or %s", opts.Path, BlueGreen, InPlace)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kb := opts.KnowledgeBase
	if kb == nil {
		var err error
		if kb, err = Load(); err != nil {
			return nil, err
		}
	}
	from := opts.From
	if opts.Clients != nil && from == nil {
		v, err := serverVersion(opts.Clients)
		if err != nil {
			return nil, err
		}
		from = &v
	}
	w, err := newWindow(from, opts.To, opts.Path)
	if err != nil {
		return nil, err
	}
	r := &Report{To: opts.To.String(), Path: opts.Path, Findings: []Finding{}}
	if from != nil {
		r.From = from.String()
	}
	if w.Plan != nil {
		for _, h := range w.Plan.Hops {
			kub := "stay at " + h.KubeletFrom.String()
			if h.Kubelets {
				kub = h.KubeletFrom.String() + " -> " + h.To.String()
			}
			r.Hops = append(r.Hops, HopSummary{ControlPlane: h.From.String() + " -> " + h.To.String(), Kubelets: kub, Force: h.Force})
		}
		r.Findings = append(r.Findings, planFindings(kb, w, len(opts.Nodes) > 0)...)
	}
	c := &checker{kb: kb, w: w, path: opts.Path}
	if opts.ManifestDir != "" {
		log.Debug("scanning manifests", "dir", opts.ManifestDir)
		fs, ps, err := c.scanManifests(ctx, opts.ManifestDir)
		if err != nil {
			return nil, err
		}
		r.Sources = append(r.Sources, "manifests "+opts.ManifestDir)
		r.Findings = append(r.Findings, fs...)
		r.Errors = append(r.Errors, ps...)
	}
	for _, n := range opts.Nodes {
		log.Debug("checking node files", "node", n.Node, "files", len(n.Files))
		fs, ps := c.nodeFilesFindings(n)
		r.Sources = append(r.Sources, "node "+n.Node+" ("+n.Source+")")
		r.Findings = append(r.Findings, fs...)
		r.Errors = append(r.Errors, ps...)
	}
	if opts.Clients != nil {
		log.Debug("scanning cluster", "host", opts.Clients.Config.Host, "namespaces", strings.Join(opts.Namespaces, ","))
		lc := *c
		lc.live = true
		s := &liveScan{checker: &lc, clients: opts.Clients, namespaces: opts.Namespaces}
		if err := s.run(ctx); err != nil {
			return nil, err
		}
		scope := "all namespaces"
		if len(opts.Namespaces) > 0 {
			scope = "namespaces " + strings.Join(opts.Namespaces, ",")
		}
		r.Sources = append(r.Sources, "cluster "+opts.Clients.Config.Host+" ("+scope+")")
		r.Findings = append(r.Findings, s.findings...)
		r.Errors = append(r.Errors, s.problems...)
	}
	sortFindings(r.Findings)
	return r, nil
}

// planFindings are the findings that belong to the in-place path itself: the pitfalls the
// knowledge base places in the plan (every hop, or the hop that reaches them), and the
// plan's notes (kubelet jumps, kubeadm --force). nodesRead says phoenix read the nodes' files
// (Options.Nodes): what it then checks itself is not repeated as a reminder.
func planFindings(kb *KnowledgeBase, w Window, nodesRead bool) []Finding {
	var out []Finding
	for _, p := range kb.Pitfalls {
		if p.Plan == "" || p.Plan == PlanAtSince && !w.applies(p.Since) || !pathIncludes(p.Paths, InPlace) {
			continue
		}
		if nodesRead && p.Plan == PlanAtSince && p.Check == "component-flags" {
			continue
		}
		f := Finding{Severity: p.Severity, Check: "in-place-plan", Object: p.Title, Where: "plan", Source: p.Source, Message: p.Detect, Action: p.Action}
		if p.Runbook != "" {
			f.Action += " (phoenix upgrade: " + p.Runbook + ")"
		}
		if p.Severity == Blocker {
			// Without the nodes' files, what phoenix cannot verify it asks the operator to check.
			f.Severity = Action
			f.Message = "phoenix did not read the nodes' files (assess --inventory reads them over SSH), check each node: " + p.Detect
		}
		if p.Plan == PlanAtSince {
			f.Version = p.Since
			f = w.place(f)
		}
		out = append(out, f)
	}
	for _, n := range w.Plan.Notes {
		out = append(out, Finding{Severity: Info, Check: "in-place-plan", Object: "hop plan", Where: "plan", Message: n,
			Action: "follow the hop plan", Source: "https://kubernetes.io/releases/version-skew-policy/"})
	}
	return out
}

func pathIncludes(paths []string, p Path) bool {
	for _, x := range paths {
		if x == string(p) {
			return true
		}
	}
	return false
}
