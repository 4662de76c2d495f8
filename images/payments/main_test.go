package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestHandlerAnswersPerPathAndDrainState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		path       string
		draining   bool
		wantStatus int
		wantBody   string
		wantServed string
	}{
		{name: "root names the node and pod", path: "/", wantStatus: 200, wantBody: "payments-api node-a pod-1\n", wantServed: "node-a"},
		{name: "root still serves while draining", path: "/", draining: true, wantStatus: 200, wantBody: "payments-api node-a pod-1\n", wantServed: "node-a"},
		{name: "healthz is ok while serving", path: "/healthz", wantStatus: 200, wantBody: "ok\n"},
		{name: "healthz fails while draining", path: "/healthz", draining: true, wantStatus: 503, wantBody: "draining\n"},
		{name: "other paths are not found", path: "/other", wantStatus: 404, wantBody: "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var draining atomic.Bool
			draining.Store(tt.draining)
			rec := httptest.NewRecorder()
			newHandler("node-a", "pod-1", &draining).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
			if got := rec.Header().Get("X-Served-By"); got != tt.wantServed {
				t.Errorf("X-Served-By = %q, want %q", got, tt.wantServed)
			}
		})
	}
}

func TestWebhookAllowsAdmissionReviewsWithTheirUID(t *testing.T) {
	t.Parallel()
	h := newWebhookHandler(log.New(io.Discard, "", 0))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1"}}`)))
	if want := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u-1","allowed":true}}` + "\n"; rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("POST /validate = %d %q, want 200 %q", rec.Code, rec.Body.String(), want)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", strings.NewReader(`{}`)))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("POST /validate without a request = %d, want 400", rec.Code)
	}
}
