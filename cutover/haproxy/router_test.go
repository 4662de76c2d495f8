package haproxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy/haproxytest"
)

// namedServer answers every request with its name.
func namedServer(t testing.TB, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func startPair(t testing.TB) (*haproxytest.Instance, *haproxy.Router) {
	t.Helper()
	haproxytest.Binary(t)
	blue, green := namedServer(t, "blue"), namedServer(t, "green")
	in := haproxytest.Start(t, "app",
		haproxytest.Server{Name: "blue", Addr: blue.Listener.Addr().String(), Weight: 100},
		haproxytest.Server{Name: "green", Addr: green.Listener.Addr().String(), Weight: 0})
	r, err := haproxy.New(cutover.HAProxyConfig{Socket: in.Socket, Backend: "app", StateFile: in.StateFile})
	if err != nil {
		t.Fatal(err)
	}
	return in, r
}

func get(t testing.TB, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

func TestSetWeightsSplitsTrafficAndSurvivesAReload(t *testing.T) {
	in, r := startPair(t)
	ctx := context.Background()
	if w, err := r.Weights(ctx); err != nil || w != cutover.AllBlue {
		t.Fatalf("initial weights %v %v", w, err)
	}
	if err := r.SetWeights(ctx, 75, 25); err != nil {
		t.Fatal(err)
	}
	if w, err := r.Weights(ctx); err != nil || w != (cutover.Weights{Blue: 75, Green: 25}) {
		t.Fatalf("weights read back %v %v", w, err)
	}
	count := map[string]int{}
	for i := 0; i < 400; i++ {
		count[get(t, http.DefaultClient, in.URL)]++
	}
	if count["green"] < 90 || count["green"] > 110 {
		t.Errorf("green served %d of 400 at 25%%", count["green"])
	}

	in.Reload()
	if w, err := r.Weights(ctx); err != nil || w != (cutover.Weights{Blue: 75, Green: 25}) {
		t.Fatalf("after reload the weights are %v %v; want 75/25 from the server-state-file\n%s", w, err, in.Log())
	}
}

func TestBadInputLeavesWeightsUnchanged(t *testing.T) {
	in, r := startPair(t)
	ctx := context.Background()
	if err := r.SetWeights(ctx, 60, 40); err != nil {
		t.Fatal(err)
	}
	mk := func(cfg cutover.HAProxyConfig) *haproxy.Router {
		rr, err := haproxy.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"unknown backend", func() error {
			return mk(cutover.HAProxyConfig{Socket: in.Socket, Backend: "nope"}).SetWeights(ctx, 100, 0)
		}, `no backend "nope"`},
		{"unknown server", func() error {
			return mk(cutover.HAProxyConfig{Socket: in.Socket, Backend: "app", GreenServer: "teal"}).SetWeights(ctx, 100, 0)
		}, `no server "teal" (it has: blue, green)`},
		{"percent out of range", func() error { return r.SetWeights(ctx, -10, 110) }, "out of range"},
		{"percent not adding up", func() error { return r.SetWeights(ctx, 50, 60) }, "add up to 100"},
		{"raw weight above 256", func() error { return r.SetServerWeights(ctx, 300, 0) }, "0-256"},
		{"socket missing", func() error {
			return mk(cutover.HAProxyConfig{Socket: in.Socket + ".gone", Backend: "app"}).SetWeights(ctx, 100, 0)
		}, "does not exist"},
		{"socket without admin level", func() error {
			return mk(cutover.HAProxyConfig{Socket: in.UserSocket, Backend: "app"}).SetWeights(ctx, 100, 0)
		}, "Permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if w, err := r.Weights(ctx); err != nil || w != (cutover.Weights{Blue: 60, Green: 40}) {
				t.Fatalf("weights now %v %v, want 60/40 unchanged", w, err)
			}
		})
	}
	if err := r.SetServerWeights(ctx, 300, 0); !errors.Is(err, cutover.ErrOutOfRange) {
		t.Errorf("raw weight error does not wrap ErrOutOfRange: %v", err)
	}
}

func TestMaintenanceCountsAsZeroAndGivingTrafficClearsIt(t *testing.T) {
	_, r := startPair(t)
	ctx := context.Background()
	if err := r.SetWeights(ctx, 50, 50); err != nil {
		t.Fatal(err)
	}
	if err := r.SetState(ctx, "green", "maint"); err != nil {
		t.Fatal(err)
	}
	if w, _ := r.Weights(ctx); w != cutover.AllBlue {
		t.Fatalf("green in maintenance should weigh 0, got %v", w)
	}
	if err := r.SetWeights(ctx, 0, 100); err != nil {
		t.Fatal(err)
	}
	if w, _ := r.Weights(ctx); w != (cutover.Weights{Blue: 0, Green: 100}) {
		t.Fatalf("giving green traffic should clear maintenance, got %v", w)
	}
	if err := r.SetState(ctx, "green", "sleep"); err == nil {
		t.Error("state sleep accepted")
	}
}

func TestErrorRateGate(t *testing.T) {
	haproxytest.Binary(t)
	fail := make(chan bool, 1)
	fail <- false
	green := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		f := <-fail
		fail <- f
		if f {
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(green.Close)
	in := haproxytest.Start(t, "app", haproxytest.Server{Name: "green", Addr: green.Listener.Addr().String(), Weight: 100})
	r, err := haproxy.New(cutover.HAProxyConfig{Socket: in.Socket, Backend: "app", BlueServer: "green"})
	if err != nil {
		t.Fatal(err)
	}
	g := &haproxy.ErrorRateGate{Router: r, Server: "green", MaxRate: 0.1, MinRequests: 20}
	ctx := context.Background()
	send := func(n int) {
		for i := 0; i < n; i++ {
			resp, err := http.Get(in.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	steps := []struct {
		requests int
		failing  bool
		want     cutover.Outcome
	}{
		{0, false, cutover.Inconclusive}, // baseline
		{5, false, cutover.Inconclusive}, // too few requests
		{40, false, cutover.Passed},
		{40, true, cutover.Failed},
	}
	for i, s := range steps {
		<-fail
		fail <- s.failing
		send(s.requests)
		if m := g.Measure(ctx); m.Outcome != s.want {
			t.Fatalf("measurement %d: %+v, want %s", i, m, s.want)
		}
	}
}
