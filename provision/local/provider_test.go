package local

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/state"
)

func TestCreateWithoutBinariesSaysHowToGetThemAndLeavesNothing(t *testing.T) {
	t.Setenv(EnvCache, t.TempDir())
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := New(ws, nil)
	p.Resolver.Download, p.Resolver.Build = false, false
	binDir := t.TempDir()
	// kwok and etcd must not be what fails here: give a fake kwok in --bin-dir.
	if err := os.WriteFile(binDir+"/kwok", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p.Resolver.BinDir = ""
	_, _, err = p.Create(context.Background(), provision.Spec{Name: "green", Version: kube.MustParseVersion("v1.99.0"), Nodes: 1, BinDir: binDir})
	if err == nil {
		t.Fatal("created a cluster without binaries")
	}
	if !strings.Contains(err.Error(), "does not hold") {
		t.Errorf("error %q should say what --bin-dir lacks", err)
	}
	if _, err := os.Stat(ws.ClusterDir("green")); !os.IsNotExist(err) {
		t.Errorf("cluster directory left behind")
	}
}

func TestResolveReportsMissingCacheWithTheBuildCommand(t *testing.T) {
	t.Setenv(EnvCache, t.TempDir())
	if _, err := findEtcd(); err != nil {
		// testenv cannot be imported here (it imports this package): same rule inline.
		if os.Getenv("PHOENIX_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("etcd not installed (apt-get install etcd-server)")
		}
		t.Skip("etcd not installed (apt-get install etcd-server)")
	}
	kwokDir := t.TempDir()
	if err := os.WriteFile(kwokDir+"/kwok", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", kwokDir+":"+os.Getenv("PATH"))
	r := BinaryResolver{}
	_, err := r.Resolve(context.Background(), kube.MustParseVersion("v1.99.0"))
	if err == nil || !strings.Contains(err.Error(), "hack/build-k8s.sh v1.99.0") {
		t.Errorf("error %v should name the build command", err)
	}
}

func TestOldVersionsAreRefusedWithTheReason(t *testing.T) {
	ws, _ := state.Open(t.TempDir())
	_, _, err := New(ws, nil).Create(context.Background(), provision.Spec{Name: "old", Version: kube.MustParseVersion("v1.21.14"), Nodes: 1})
	if err == nil || !strings.Contains(err.Error(), "v1.24 and later") {
		t.Errorf("error %v", err)
	}
}

func TestKwokStagesHoldNodeAndPodStages(t *testing.T) {
	s := kwokStages()
	for _, want := range []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete"} {
		if !strings.Contains(s, "name: "+want) {
			t.Errorf("stage %s missing", want)
		}
	}
}
