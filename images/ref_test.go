package images

import (
	"strings"
	"testing"
)

func TestRefTagAcceptsOnlyFullTaggedNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref, wantTag, wantErr string
	}{
		{ref: "registry.k8s.io/pause:3.10", wantTag: "3.10"},
		{ref: "registry.example.com/payments/api:4.2.1", wantTag: "4.2.1"},
		{ref: "localhost:5000/app:v1", wantTag: "v1"},
		{ref: "localhost/app:latest", wantTag: "latest"},
		{ref: "payments/api:4.2.1", wantErr: "docker.io/payments/api:4.2.1"},
		{ref: "registry.example.com/app", wantErr: "REGISTRY/PATH:TAG"},
		{ref: "localhost:5000/app", wantErr: "REGISTRY/PATH:TAG"},
		{ref: "registry.example.com/app:", wantErr: "REGISTRY/PATH:TAG"},
		{ref: "pause:3.10", wantErr: "REGISTRY/PATH:TAG"},
		{ref: "registry.example.com/app@sha256:abc", wantErr: "digest"},
		{ref: "registry.example.com/App:1", wantErr: "characters"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			t.Parallel()
			tag, err := refTag(tt.ref)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("refTag(%q) = %q, %v; want an error mentioning %q", tt.ref, tag, err, tt.wantErr)
				}
				return
			}
			if err != nil || tag != tt.wantTag {
				t.Fatalf("refTag(%q) = %q, %v; want %q", tt.ref, tag, err, tt.wantTag)
			}
		})
	}
}

func TestCacheNameIsAFileNameWithTheBinaryHash(t *testing.T) {
	t.Parallel()
	got := cacheName("localhost:5000/payments/api:4.2.1", "0123456789abcdef0123")
	if want := "localhost_5000_payments_api_4.2.1-0123456789ab.tar"; got != want {
		t.Errorf("cacheName = %q, want %q", got, want)
	}
}

func TestCatalogSpecsAreValid(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range All {
		if err := s.validate(); err != nil {
			t.Errorf("%s: %v", s.Ref, err)
		}
		if seen[s.Ref] {
			t.Errorf("%s is in the catalog twice", s.Ref)
		}
		seen[s.Ref] = true
	}
}
