// Command build-k8s fills phoenix's binary cache for the Kubernetes versions given as
// arguments: kube-apiserver, kube-controller-manager and kube-scheduler built from the
// k8s.io/kubernetes Go module, and kwok. It runs the same code as the local provider
// (provision/local.EnsureCached), so the recipe lives in one place.
//
//	go run ./hack/build-k8s v1.24.17 v1.37.2
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision/local"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./hack/build-k8s vX.Y.Z [vX.Y.Z ...]")
		os.Exit(2)
	}
	for _, arg := range os.Args[1:] {
		v, err := kube.ParseExactVersion(arg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		start := time.Now()
		dir, built, err := local.EnsureCached(ctx, v, log)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kubernetes %s: %v\n", v, err)
			os.Exit(1)
		}
		if built {
			fmt.Printf("kubernetes %s: built into %s in %s\n", v, dir, time.Since(start).Round(time.Second))
		} else {
			fmt.Printf("kubernetes %s: cached in %s\n", v, dir)
		}
	}
}
