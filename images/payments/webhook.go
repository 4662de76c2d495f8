package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

// runWebhook serves a validating admission webhook that allows every request, on TLS
// at :$PORT (default 8443), POST /validate, and GET /healthz. The serving certificate and
// key are read from $TLS_CERT_FILE and $TLS_KEY_FILE (default /tls/tls.crt and
// /tls/tls.key, a kubernetes.io/tls Secret mounted at /tls). $START_DELAY_SECONDS
// (default 0) makes it listen only after that long: a backend that starts slowly.
func runWebhook(logger *log.Logger, pod string, stop <-chan os.Signal) error {
	port := envOr("PORT", "8443")
	delay, err := strconv.Atoi(envOr("START_DELAY_SECONDS", "0"))
	if err != nil || delay < 0 {
		return fmt.Errorf("START_DELAY_SECONDS=%q is not a whole number of seconds", os.Getenv("START_DELAY_SECONDS"))
	}
	cert, key := envOr("TLS_CERT_FILE", "/tls/tls.crt"), envOr("TLS_KEY_FILE", "/tls/tls.key")
	logger.Printf("payments-webhook starting in %ds pod=%s", delay, pod)
	select {
	case <-time.After(time.Duration(delay) * time.Second):
	case sig := <-stop:
		logger.Printf("payments-webhook got %v before it started", sig)
		return nil
	}
	srv := &http.Server{Addr: ":" + port, Handler: newWebhookHandler(logger), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServeTLS(cert, key) }()
	logger.Printf("payments-webhook listening on :%s pod=%s", port, pod)
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-stop:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// admissionReview is the part of an admission.k8s.io/v1 AdmissionReview the webhook reads
// and writes.
type admissionReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID string `json:"uid"`
	} `json:"request,omitempty"`
	Response *admissionResponse `json:"response,omitempty"`
}

type admissionResponse struct {
	UID     string `json:"uid"`
	Allowed bool   `json:"allowed"`
}

// newWebhookHandler answers AdmissionReviews at POST /validate with "allowed".
func newWebhookHandler(logger *log.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("POST /validate", func(w http.ResponseWriter, r *http.Request) {
		var rev admissionReview
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&rev); err != nil || rev.Request == nil {
			http.Error(w, "not an AdmissionReview with a request", http.StatusBadRequest)
			return
		}
		logger.Printf("payments-webhook allowed %s", rev.Request.UID)
		out := admissionReview{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Response: &admissionResponse{UID: rev.Request.UID, Allowed: true}}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	return mux
}
