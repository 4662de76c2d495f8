package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	worker := flag.Bool("worker", os.Getenv("MODE") == "worker", "run the background worker instead of the HTTP API")
	once := flag.Bool("once", false, "with -worker: log one line and exit")
	get := flag.String("get", "", "fetch this URL, print the body and exit (a client for kubectl exec: the image has no shell)")
	inCluster := flag.Bool("in-cluster", false, "with -get: authenticate with the pod's service account token and trust its CA (for the apiserver)")
	webhook := flag.Bool("webhook", false, "serve an admission webhook that allows everything, on TLS (see runWebhook)")
	flag.Parse()
	if *get != "" {
		if err := fetch(os.Stdout, *get, *inCluster); err != nil {
			fmt.Fprintf(os.Stderr, "payments -get: %v\n", err)
			os.Exit(1)
		}
		return
	}
	logger := log.New(os.Stdout, "", 0)
	node, pod := envOr("NODE_NAME", "unknown"), podName()

	stop := make(chan os.Signal, 2)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	var err error
	switch {
	case *webhook:
		err = runWebhook(logger, pod, stop)
	case *worker:
		err = runWorker(logger, node, pod, *once, stop)
	default:
		err = runAPI(logger, node, pod, stop)
	}
	if err != nil {
		logger.Printf("payments: %v", err)
		os.Exit(1)
	}
}

func runWorker(logger *log.Logger, node, pod string, once bool, stop <-chan os.Signal) error {
	if once {
		logger.Printf("payments-settle settled batch node=%s pod=%s", node, pod)
		return nil
	}
	logger.Printf("payments-worker started node=%s pod=%s", node, pod)
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-tick.C:
			logger.Printf("payments-worker processed batch %d node=%s pod=%s", n, node, pod)
		case sig := <-stop:
			logger.Printf("payments-worker stopping on %v", sig)
			return nil
		}
	}
}

func runAPI(logger *log.Logger, node, pod string, stop <-chan os.Signal) error {
	port := envOr("PORT", "8080")
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("PORT=%q is not a port number: set it to 1-65535", port)
	}
	drain, err := strconv.Atoi(envOr("DRAIN_SECONDS", "5"))
	if err != nil || drain < 0 {
		return fmt.Errorf("DRAIN_SECONDS=%q is not a whole number of seconds", os.Getenv("DRAIN_SECONDS"))
	}

	var draining atomic.Bool
	srv := &http.Server{Addr: ":" + port, Handler: newHandler(node, pod, &draining), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", srv.Addr, err)
	}
	logger.Printf("payments-api listening on :%s node=%s pod=%s", port, node, pod)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case sig := <-stop:
		logger.Printf("payments-api got %v: failing /healthz for %ds, then shutting down", sig, drain)
	}
	draining.Store(true)
	srv.SetKeepAlivesEnabled(false) // let clients reconnect to endpoints that stay
	select {
	case <-time.After(time.Duration(drain) * time.Second):
	case <-stop: // a second signal skips the rest of the drain
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	logger.Printf("payments-api stopped")
	return nil
}

// newHandler serves GET / and GET /healthz; /healthz fails with 503 once draining is set.
func newHandler(node, pod string, draining *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Served-By", node)
		fmt.Fprintf(w, "payments-api %s %s\n", node, pod)
	})
	return mux
}

// serviceAccountDir is where the kubelet mounts a pod's service account credentials.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// fetch GETs url and copies a 200 answer's body to w; inCluster adds the pod's service
// account token and trusts the cluster CA, as an in-cluster client does.
func fetch(w io.Writer, url string, inCluster bool) error {
	client := &http.Client{Timeout: 10 * time.Second}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if inCluster {
		token, err := os.ReadFile(serviceAccountDir + "/token")
		if err != nil {
			return err
		}
		ca, err := os.ReadFile(serviceAccountDir + "/ca.crt")
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return fmt.Errorf("no certificate in %s/ca.crt", serviceAccountDir)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// podName is $POD_NAME, else the hostname (which is the pod's name in a pod).
func podName() string {
	if v := os.Getenv("POD_NAME"); v != "" {
		return v
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "unknown"
}
