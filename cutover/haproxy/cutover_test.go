package haproxy_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy/haproxytest"
	"github.com/phoenix-upgrade/phoenix/state"
)

// loadGen sends requests through haproxy from several workers and counts, per phase,
// which server answered. A request counts for the phase in force when it started;
// phase "" (between steps) is not counted.
type loadGen struct {
	url    string
	phase  atomic.Value // string
	mu     sync.Mutex
	counts map[string]map[string]int
	failed []string
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startLoad(t *testing.T, url string, workers int) *loadGen {
	l := &loadGen{url: url, counts: map[string]map[string]int{}, stop: make(chan struct{})}
	l.phase.Store("")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	for i := 0; i < workers; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				phase := l.phase.Load().(string)
				resp, err := client.Get(url)
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				l.mu.Lock()
				switch {
				case err != nil:
					l.failed = append(l.failed, err.Error())
				case resp.StatusCode != 200:
					l.failed = append(l.failed, resp.Status)
				}
				if err == nil && phase != "" {
					if l.counts[phase] == nil {
						l.counts[phase] = map[string]int{}
					}
					l.counts[phase][string(body)]++
				}
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.close)
	return l
}

func (l *loadGen) close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// collect switches to phase and returns once n requests were counted in it.
func (l *loadGen) collect(phase string, n int) {
	l.phase.Store(phase)
	for {
		l.mu.Lock()
		c := l.counts[phase]["blue"] + l.counts[phase]["green"] + l.counts[phase][""]
		l.mu.Unlock()
		if c >= n {
			l.phase.Store("")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *loadGen) greenShare(phase string) (float64, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.counts[phase]
	total := 0
	for _, n := range c {
		total += n
	}
	return float64(c["green"]) * 100 / float64(total), total
}

func workspace(t *testing.T) *state.Workspace {
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	must(t, state.WriteJSONAtomic(ws.Path("migrations", "payments", "journal.json"), map[string]string{"ns": "payments"}, 0o600))
	must(t, state.WriteJSONAtomic(cutover.VerifyPath(ws), cutover.VerifyRecord{Passed: true, Time: time.Now()}, 0o600))
	return ws
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func plan(steps ...int) cutover.Plan {
	g := cutover.DefaultGates()
	g.GateInterval = cutover.Duration(20 * time.Millisecond)
	g.MinRequests = 5
	g.InconclusiveLimit = 100
	return cutover.Plan{Steps: steps, Interval: cutover.Duration(100 * time.Millisecond), Gates: g}
}

const perStep = 2000

// Acceptance: a full cutover 10 -> 50 -> 100 and a rollback under load through a real
// haproxy, with no failed request and each step's split within 3 points of its weight.
func TestCutoverUnderLoadThenRollback(t *testing.T) {
	in, r := startPair(t)
	ws := workspace(t)
	load := startLoad(t, in.URL, 8)
	cfg := cutover.RouterConfig{Kind: cutover.RouterHAProxy, HAProxy: &cutover.HAProxyConfig{Socket: in.Socket, Backend: "app", BlueServer: "blue", GreenServer: "green", StateFile: in.StateFile}}
	gate := &haproxy.ErrorRateGate{Router: r, Server: "green", MaxRate: 0.01, MinRequests: 5}
	res, err := cutover.Run(context.Background(), cutover.Options{
		Workspace: ws, Router: r, RouterConfig: cfg, Plan: plan(10, 50, 100), Gates: []cutover.Gate{gate},
		Notify: func(n cutover.Notice) {
			if n.Kind == "step-set" {
				load.collect(fmt.Sprint(n.Step), perStep)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != cutover.OutcomeCompleted {
		t.Fatalf("cutover: %+v", res)
	}
	res, err = cutover.Rollback(context.Background(), cutover.RollbackOptions{Workspace: ws, Router: r})
	if err != nil || res.Weights != cutover.AllBlue {
		t.Fatalf("rollback: %+v %v", res, err)
	}
	load.collect("rollback", perStep)
	load.close()

	if len(load.failed) > 0 {
		t.Errorf("%d requests failed, e.g. %v", len(load.failed), load.failed[0])
	}
	for _, tc := range []struct {
		phase string
		want  float64
	}{{"10", 10}, {"50", 50}, {"100", 100}, {"rollback", 0}} {
		got, total := load.greenShare(tc.phase)
		t.Logf("phase %s: green %.1f%% of %d requests", tc.phase, got, total)
		if total < perStep || math.Abs(got-tc.want) > 3 {
			t.Errorf("phase %s: green served %.1f%% of %d requests, want %.0f%% ± 3", tc.phase, got, total, tc.want)
		}
	}
	st, err := cutover.LoadState(ws)
	must(t, err)
	if st.Phase != cutover.PhaseRolledBack || st.Router.HAProxy.Socket != in.Socket {
		t.Errorf("journal: phase %s router %+v", st.Phase, st.Router.HAProxy)
	}
}

// Acceptance: green starts answering 500 at the 50% step; the gates roll back to blue.
func TestFailingGreenRollsBackAutomatically(t *testing.T) {
	haproxytest.Binary(t)
	var failing atomic.Bool
	blue := namedServer(t, "blue")
	green := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			http.Error(w, "boom", 500)
			return
		}
		fmt.Fprint(w, "green")
	}))
	t.Cleanup(green.Close)
	in := haproxytest.Start(t, "app",
		haproxytest.Server{Name: "blue", Addr: blue.Listener.Addr().String(), Weight: 100},
		haproxytest.Server{Name: "green", Addr: green.Listener.Addr().String(), Weight: 0})
	r, err := haproxy.New(cutover.HAProxyConfig{Socket: in.Socket, Backend: "app"})
	must(t, err)
	ws := workspace(t)
	load := startLoad(t, in.URL, 4)
	gates := []cutover.Gate{
		&haproxy.ErrorRateGate{Router: r, Server: "green", MaxRate: 0.01, MinRequests: 5},
		&cutover.HTTPProbe{URL: green.URL, Requests: 5, SuccessRate: 0.95},
	}
	var noticed []string
	res, err := cutover.Run(context.Background(), cutover.Options{
		Workspace: ws, Router: r, Plan: plan(10, 50, 100), Gates: gates,
		RouterConfig: cutover.RouterConfig{Kind: cutover.RouterHAProxy, HAProxy: &cutover.HAProxyConfig{Socket: in.Socket, Backend: "app", BlueServer: "blue", GreenServer: "green"}},
		Notify: func(n cutover.Notice) {
			noticed = append(noticed, fmt.Sprintf("%s %d", n.Kind, n.Step))
			if n.Kind == "step-set" && n.Step == 50 {
				failing.Store(true)
				load.collect("failing", 200)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != cutover.OutcomeRolledBack || !strings.Contains(res.Reason, "at step 50%") {
		t.Fatalf("result %+v (notices %v)", res, noticed)
	}
	if w, err := r.Weights(context.Background()); err != nil || w != cutover.AllBlue {
		t.Fatalf("router at %v %v, want blue 100", w, err)
	}
	load.mu.Lock()
	load.failed = nil
	load.mu.Unlock()
	load.collect("after", 500)
	load.close()
	if got, total := load.greenShare("after"); got != 0 || len(load.failed) != 0 {
		t.Errorf("after the rollback green served %.1f%% of %d requests, %d failed", got, total, len(load.failed))
	}
	t.Logf("reason: %s", res.Reason)
}
