package kubeadm_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/provision/kubeadm"
)

func TestInjectedValuesAreRefusedAndNothingRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(inv *inplace.Inventory, o *kubeadm.Options)
		want string
	}{
		{"a host name with a shell command", func(inv *inplace.Inventory, _ *kubeadm.Options) {
			inv.Hosts[2].Name = "worker-1; touch /tmp/pwned"
		}, "not an RFC 1123 label"},
		{"a node name with a command substitution", func(inv *inplace.Inventory, _ *kubeadm.Options) {
			inv.Hosts[1].Node = "cp-2$(reboot)"
		}, "not an RFC 1123 subdomain"},
		{"a package revision with a second command", func(_ *inplace.Inventory, o *kubeadm.Options) {
			o.Revision = "1.1; reboot"
		}, "package revision"},
		{"a pod subnet that is no CIDR", func(_ *inplace.Inventory, o *kubeadm.Options) {
			o.PodSubnet = "10.244.0.0/16\nextraArgs: {}"
		}, "not a CIDR"},
		{"an inventory name outside the workspace", func(inv *inplace.Inventory, _ *kubeadm.Options) {
			inv.Name = "../../x"
		}, "inventory name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab, path, ws := setup(t)
			inv, err := inplace.LoadInventory(path)
			if err != nil {
				t.Fatal(err)
			}
			o := kubeadm.Options{Inventory: path, WaitReady: func(context.Context, []byte, []string, time.Duration) error { return nil }}
			tc.edit(&inv, &o)
			data, err := yaml.Marshal(inv)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err = kubeadm.New(ws, nil, o).Create(context.Background(), provision.Spec{Name: "green", Version: kube.MustParseVersion("v1.37.2"), Nodes: 1})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got := lab.Recorded(); len(got) != 0 {
				t.Errorf("commands ran: %v", got)
			}
		})
	}
}
