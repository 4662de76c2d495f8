package inplace_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/inplace/inplacetest"
)

func TestCtrlCSendsSIGINTFirstAndReportsTheHostsState(t *testing.T) {
	lab := inplacetest.NewLab(t)
	h := lab.AddUnforcedHost("plain-1")
	inv := lab.Inventory("lab", nil)
	var host inplace.Host
	for _, x := range inv.Hosts {
		if x.Name == h.Name {
			host = x
		}
	}
	c, err := inplace.Dial(context.Background(), host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Grace = 3 * time.Second
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(lab.SSHDLog(h.Name))
		}
	})

	t.Run("a command that handles SIGINT ends by itself", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(500 * time.Millisecond); cancel() }()
		res, err := c.Run(ctx, `trap 'echo cleaned-up-after-SIGINT; exit 7' INT; echo started; while :; do sleep 0.1; done`, nil)
		if err == nil {
			t.Fatal("an interrupted command succeeded")
		}
		if !strings.Contains(string(res.Stdout), "cleaned-up-after-SIGINT") {
			t.Errorf("the command never saw SIGINT (it was killed outright?): stdout %q, err %v", res.Stdout, err)
		}
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "sent SIGINT") || !strings.Contains(err.Error(), "exit 7") {
			t.Errorf("error does not report the SIGINT and how the command ended: %v", err)
		}
	})
	t.Run("a command that ignores SIGINT is killed after the grace period, and the error says the host may be mid-step", func(t *testing.T) {
		c.Grace = time.Second
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(500 * time.Millisecond); cancel() }()
		_, err := c.Run(ctx, `trap '' INT; while :; do sleep 0.1; done`, nil)
		if err == nil || !strings.Contains(err.Error(), "killed (SIGKILL)") || !strings.Contains(err.Error(), "may be in the middle of this step") {
			t.Errorf("got %v", err)
		}
	})
}
