package verify

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	_ = ln.Close()

	tests := []struct {
		name string
		url  string
		want bool
	}{
		{"a 200 passes", srv.URL + "/healthz", true},
		{"a 500 fails", srv.URL + "/broken", false},
		{"nothing listening fails", closed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := probe(context.Background(), Options{}, []string{tt.url})
			if len(got) != 1 || got[0].Passed != tt.want || got[0].Message == "" {
				t.Errorf("probe(%s) = %+v, want passed=%v with a message", tt.url, got, tt.want)
			}
		})
	}
}
