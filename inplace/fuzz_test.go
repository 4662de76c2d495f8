package inplace_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/inplace/inplacetest"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
)

// FuzzArgv: whatever the words, the shell sees exactly them, and no operator.
func FuzzArgv(f *testing.F) {
	for _, s := range []string{"", "plain", "a b", "it's", "$(reboot)", "`id`", "a;b", "a|b", "a&&b", "x\ny", "'", "\\", "\"q\"", "*", "~root", "#c", "{a,b}", "-rf", "a=b"} {
		f.Add(s, "kubeadm=1.28.15-"+s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.IndexByte(a+b, 0) >= 0 {
			return // no NUL travels in an SSH exec request
		}
		cmd := inplace.Argv("cmd", a, b)
		words, ops, err := inplacetest.Lex(cmd)
		if err != nil {
			t.Fatalf("Argv(%q, %q) = %s: %v", a, b, cmd, err)
		}
		if len(ops) != 0 || !slices.Equal(words, []string{"cmd", a, b}) {
			t.Fatalf("Argv(%q, %q) = %s: the shell sees words %q and operators %q", a, b, cmd, words, ops)
		}
		// The sudo wrapper keeps the command one word.
		wrapped := inplace.Argv("sudo", "-n", "sh", "-c", cmd)
		if words, ops, err := inplacetest.Lex(wrapped); err != nil || len(ops) != 0 || !slices.Equal(words, []string{"sudo", "-n", "sh", "-c", cmd}) {
			t.Fatalf("sudo wrapper %s: words %q ops %q err %v", wrapped, words, ops, err)
		}
	})
}

// FuzzInventory: an inventory that parses builds only commands in which every value is
// quoted: no metacharacter reaches a shell unquoted, the operators are the builder's own,
// the package revision stays inside its word, and the inventory name stays inside the
// workspace.
func FuzzInventory(f *testing.F) {
	seeds := []string{
		"name: prod\nuser: ops\nkey: id\nknownHosts: kh\nhosts:\n- {name: cp-1, address: 10.0.0.1, role: control-plane}\n- {name: w-1, address: \"10.0.0.2:2222\", role: worker, packageManager: yum}\n",
		"name: ../../x\nuser: ops\nkey: id\nknownHosts: kh\nhosts:\n- {name: cp-1, address: 10.0.0.1, role: control-plane}\n",
		"user: ops\nkey: id\nknownHosts: kh\nhosts:\n- {name: 'cp-1; reboot', address: 10.0.0.1, role: control-plane}\n",
		"user: ops\nkey: id\nknownHosts: kh\nhosts:\n- {name: cp-1, node: '$(id)', address: 10.0.0.1, role: control-plane}\n",
		"user: 'root`id`'\nkey: id\nknownHosts: kh\nhosts:\n- {name: cp-1, address: 'h;x:22', role: control-plane}\n",
		"user: ops\nkey: id\nknownHosts: kh\nhosts:\n- {name: cp-1, address: 10.0.0.1, role: control-plane, node: cp-1.example.com}\n",
	}
	for _, s := range seeds {
		for _, rev := range []string{"", "1.1", "150500.1.1", "1.1; reboot", "1 $(id)", "1.1'"} {
			f.Add([]byte(s), rev)
		}
	}
	dir := f.TempDir()
	for _, n := range []string{"id", "kh"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	ws, err := state.Open(filepath.Join(dir, "ws"))
	if err != nil {
		f.Fatal(err)
	}
	plan, err := inplace.PlanFor(kube.MustParseVersion("v1.27.16"), kube.MustParseVersion("v1.28.15"), true, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, rev string) {
		inv, err := inplace.ParseInventory(data, dir, "fuzz")
		if err != nil {
			return // refused: nothing runs
		}
		for _, h := range inv.Hosts {
			if inplace.ValidateHostName(h.Name) != nil || inplace.ValidateNodeName(h.NodeName()) != nil || inplace.ValidateUser(h.User) != nil {
				t.Fatalf("inventory accepted a bad host: %+v", h)
			}
		}
		jp := inplace.JournalPath(ws, inv.Name)
		if rel, err := filepath.Rel(ws.Path("upgrades"), jp); err != nil || strings.HasPrefix(rel, "..") || strings.Count(rel, string(filepath.Separator)) != 1 {
			t.Fatalf("inventory name %q puts the journal at %s, outside %s", inv.Name, jp, ws.Path("upgrades"))
		}
		rb, err := inplace.BuildRunbook(plan, inv, inplace.RunbookOptions{Revision: rev})
		if err != nil {
			if inplace.ValidateRevision(rev) == nil {
				t.Fatalf("runbook refused a valid revision %q: %v", rev, err)
			}
			return
		}
		if inplace.ValidateRevision(rev) != nil {
			t.Fatalf("runbook built with the invalid revision %q", rev)
		}
		for _, s := range rb.Steps() {
			if !s.Kind.Remote() {
				continue
			}
			words, ops, err := inplacetest.Lex(s.Command)
			if err != nil {
				t.Fatalf("step %s: %v", s.ID, err)
			}
			if len(ops) > 1 || len(ops) == 1 && ops[0] != "|" {
				t.Fatalf("step %s: operators %q in %s", s.ID, ops, s.Command)
			}
			if rev != "" && strings.Contains(s.Command, "install") {
				found := false
				for _, w := range words {
					found = found || strings.HasSuffix(w, "-"+rev)
				}
				if !found {
					t.Fatalf("step %s: revision %q is not one word of %q", s.ID, rev, words)
				}
			}
		}
	})
}
