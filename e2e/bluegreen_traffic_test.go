package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/timeline"
)

// paymentsNodePort is where payments-api answers on every node of both clusters
// (testdata/payments/app.yaml); HAProxy sends each cluster's share to one of its nodes.
const paymentsNodePort = 30080

// nodeAddr is host:port of payments-api's NodePort on the first node of a cluster: an
// address inside the node's network namespace, reachable from the host.
func nodeAddr(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	nodes, err := kubernetes.NewForConfigOrDie(rest.CopyConfig(cfg)).CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, n := range nodes.Items {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ips = append(ips, a.Address)
			}
		}
	}
	if len(ips) == 0 {
		t.Fatal("no node has an InternalIP")
	}
	sort.Strings(ips)
	return fmt.Sprintf("%s:%d", ips[0], paymentsNodePort)
}

// side tells which cluster served an answer of payments-api ("payments-api NODE POD"):
// node names begin with their cluster's name.
func side(body string) string {
	f := strings.Fields(body)
	if len(f) != 3 || f[0] != "payments-api" {
		return ""
	}
	cluster, _, _ := strings.Cut(f[1], "-node-")
	return cluster
}

// loadGen sends GET requests through HAProxy from a few workers, at a modest pace (the
// machine is shared with four control planes), and counts answers by side and failures.
type loadGen struct {
	url                           string
	requests, failed, blue, green atomic.Uint64
	mu                            sync.Mutex
	failures                      []string
	stop                          chan struct{}
	wg                            sync.WaitGroup
}

func startLoad(t *testing.T, url string, workers int, pause time.Duration) *loadGen {
	l := &loadGen{url: url, stop: make(chan struct{})}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				case <-time.After(pause):
				}
				l.one(client)
			}
		}()
	}
	t.Cleanup(l.close)
	return l
}

func (l *loadGen) one(client *http.Client) {
	resp, err := client.Get(l.url)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	l.requests.Add(1)
	switch {
	case err != nil:
		l.fail(err.Error())
	case resp.StatusCode != http.StatusOK:
		l.fail(fmt.Sprintf("%s: %s", resp.Status, body))
	case side(string(body)) == "green":
		l.green.Add(1)
	case side(string(body)) == "blue":
		l.blue.Add(1)
	default:
		l.fail(fmt.Sprintf("unexpected answer %q", body))
	}
}

func (l *loadGen) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 10 {
		l.failures = append(l.failures, time.Now().Format("15:04:05.000")+" "+msg)
	}
}

func (l *loadGen) close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// counts are the cumulative counters, for the timeline sampler.
func (l *loadGen) counts() timeline.Counts {
	return timeline.Counts{Requests: l.requests.Load(), Failed: l.failed.Load(), Green: l.green.Load(), GreenKnown: true}
}

// answered waits until n more requests were answered and returns how many of them blue
// and green answered.
func (l *loadGen) answered(t *testing.T, n uint64) (blue, green uint64) {
	t.Helper()
	b0, g0 := l.blue.Load(), l.green.Load()
	waitFor(t, time.Minute, fmt.Sprintf("%d requests answered through HAProxy", n), func() (bool, string) {
		return l.blue.Load()+l.green.Load()-b0-g0 >= n, fmt.Sprintf("%d failed so far", l.failed.Load())
	})
	return l.blue.Load() - b0, l.green.Load() - g0
}

func (l *loadGen) failureSamples() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.failures...)
}

const sampleEvery = 200 * time.Millisecond

// sample records the router's weights and the load's rates into rec until the
// returned function is called.
func sample(rec *timeline.Recorder, router cutover.Router, load *loadGen) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &timeline.Sampler{Recorder: rec, Every: sampleEvery, Counts: load.counts,
		Weights: func(ctx context.Context) (int, int, error) {
			w, err := router.Weights(ctx)
			return w.Blue, w.Green, err
		}}
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	return func() { cancel(); <-done }
}

// expectTraffic checks the router's weights, then that the next answered requests
// all come from the side that has 100% (a few in flight during the switch are let by).
func expectTraffic(t *testing.T, router cutover.Router, load *loadGen, want cutover.Weights) {
	t.Helper()
	got, err := router.Weights(context.Background())
	if err != nil || got != want {
		t.Fatalf("HAProxy weights %s (%v), want %s", got, err, want)
	}
	load.answered(t, 8)
	b, g := load.answered(t, 100)
	if (want.Green == 100 && b != 0) || (want.Blue == 100 && g != 0) {
		t.Errorf("at %s blue answered %d and green %d requests", want, b, g)
	}
}

// observedShare is the share of answered requests green answered while the router
// said green had weight percent, and about how many requests that was.
func observedShare(samples []timeline.Sample, weight int) (float64, int) {
	var all, green float64
	for _, s := range samples {
		if s.GreenWeight != weight || math.IsNaN(s.GreenServed) { // nothing answered
			continue
		}
		n := s.RequestRate * (1 - s.ErrorRate) * sampleEvery.Seconds()
		all += n
		green += n * s.GreenServed
	}
	if all == 0 {
		return 0, 0
	}
	return green / all, int(all)
}
