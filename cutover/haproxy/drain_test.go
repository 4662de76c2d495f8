package haproxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy/haproxytest"
	"github.com/phoenix-upgrade/phoenix/state"
)

// A final delta through real HAProxy: the data moves only once blue is at 0% and the
// request blue was still serving has been answered.
func TestFinalDeltaWaitsForBluesInFlightRequestAfterTheSwitch(t *testing.T) {
	haproxytest.Binary(t)
	release := make(chan struct{})
	var blueDone atomic.Bool
	blue := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
			blueDone.Store(true)
		}
		fmt.Fprint(w, "blue")
	}))
	t.Cleanup(blue.Close)
	green := namedServer(t, "green")
	in := haproxytest.Start(t, "app",
		haproxytest.Server{Name: "blue", Addr: blue.Listener.Addr().String(), Weight: 100},
		haproxytest.Server{Name: "green", Addr: green.Listener.Addr().String(), Weight: 0})
	cfg := cutover.HAProxyConfig{Socket: in.Socket, Backend: "app", BlueServer: "blue", GreenServer: "green"}
	r, err := haproxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// One request held on blue.
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(in.URL + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	waitUntil(t, "blue serving the held request", func() bool { n, err := r.BlueInFlight(ctx); return err == nil && n == 1 })

	dir := t.TempDir()
	ws, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := state.WriteJSONAtomic(ws.Path("migrations", "m", "journal.json"), map[string]any{}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := state.WriteJSONAtomic(cutover.VerifyPath(ws), cutover.VerifyRecord{Passed: true, Time: time.Now()}, 0o600); err != nil {
		t.Fatal(err)
	}
	// Release the held request only once the router sends everything to green.
	go func() {
		for {
			if w, err := r.Weights(ctx); err == nil && w.Green == 100 {
				time.Sleep(200 * time.Millisecond) // the drain is polling meanwhile
				close(release)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var atMove []string
	g := cutover.DefaultGates()
	g.GateInterval = cutover.Duration(10 * time.Millisecond)
	res, err := cutover.Run(ctx, cutover.Options{Workspace: ws, Router: r, NoGates: true,
		RouterConfig: cutover.RouterConfig{Kind: cutover.RouterHAProxy, HAProxy: &cfg},
		Plan:         cutover.Plan{Steps: []int{100}, Interval: cutover.Duration(10 * time.Millisecond), Gates: g, DrainTimeout: cutover.Duration(time.Minute)},
		FinalDelta: func(ctx context.Context, switchTraffic func(context.Context) error) error {
			if err := switchTraffic(ctx); err != nil {
				return err
			}
			n, err := r.BlueInFlight(ctx)
			atMove = append(atMove, fmt.Sprintf("blue in flight %d, %v, held request answered %v", n, err, blueDone.Load()))
			return nil
		}})
	if err != nil || res.Outcome != cutover.OutcomeCompleted {
		t.Fatalf("cutover = %+v, %v", res, err)
	}
	if len(atMove) != 1 || atMove[0] != "blue in flight 0, <nil>, held request answered true" {
		t.Errorf("when the data moved: %q; want blue drained", atMove)
	}
	if b := <-got; b != "blue" {
		t.Errorf("the held request got %q, want blue's answer", b)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
