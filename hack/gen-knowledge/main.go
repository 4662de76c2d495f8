// Command gen-knowledge extracts upgrade knowledge from the Kubernetes source of the last
// patch of every minor release from v1.15 on and writes it to assess/data/generated.json
// (embedded by package assess) and the gate counts per release into docs/assess.md.
//
// It downloads k8s.io/kubernetes and the staging modules that hold feature gates, flags and
// configuration APIs (k8s.io/apiserver, component-base, ... at v0.Y.Z) through the Go module
// proxy into the ordinary module cache; modules already there are not downloaded again. The
// source is read with go/parser: feature-gate maps, the pflag calls of the components' option
// packages, configuration API version packages, kubeapiserver's storage and default
// enablement, kubeadm's constants.
//
//	go run ./hack/gen-knowledge            # make gen-knowledge
//	go run ./hack/gen-knowledge -versions v1.24.17,v1.37.2 -out /tmp/g.json -docs ""
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen-knowledge:", err)
		os.Exit(1)
	}
}

func run() error {
	from := flag.Int("from", 15, "first minor release (1.N) to read")
	versions := flag.String("versions", "", "comma-separated k8s.io/kubernetes versions to read instead of the newest patch of every minor")
	out := flag.String("out", "assess/data/generated.json", "where to write the extracted data")
	docs := flag.String("docs", "docs/assess.md", "markdown file whose generated gate-count section is rewritten (empty: none)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	start := time.Now()

	var vs []semver
	if *versions != "" {
		for _, v := range strings.Split(*versions, ",") {
			s, ok := parseSemver(strings.TrimSpace(v))
			if !ok || s.major != 1 {
				return fmt.Errorf("-versions: %q is not a k8s.io/kubernetes release version", v)
			}
			vs = append(vs, s)
		}
	} else {
		var err error
		if vs, err = latestPatches(ctx, log, *from); err != nil {
			return fmt.Errorf("finding the releases: %w", err)
		}
	}
	log.Info("releases", "versions", fmt.Sprint(vs))
	rels, err := fetchReleases(ctx, log, vs)
	if err != nil {
		return fmt.Errorf("downloading: %w", err)
	}
	log.Info("modules ready", "took", time.Since(start).Round(time.Second))
	g := extract(rels)
	if err := writeJSON(*out, g); err != nil {
		return err
	}
	if *docs != "" {
		if err := writeDocs(*docs, g); err != nil {
			return err
		}
	}
	log.Info("done", "gates", len(g.FeatureGates), "kubeadmGates", len(g.KubeadmFeatureGates), "flags", len(g.Flags),
		"configAPIs", len(g.ConfigAPIs), "servedAPIs", len(g.ServedAPIs), "took", time.Since(start).Round(time.Second))
	return nil
}
