package migrate

import (
	"fmt"
	"net/http"
	"sync"

	"k8s.io/client-go/rest"
)

// ErrWriteRefused is the error a read-only transport returns for a write request.
var ErrWriteRefused = fmt.Errorf("phoenix never writes to the source cluster")

// RequestLog records the requests a read-only transport saw.
type RequestLog struct {
	mu       sync.Mutex
	reads    int
	refused  []string
	writesOK int // always 0: a write never leaves the process
}

// Reads is the number of GET requests that went through.
func (l *RequestLog) Reads() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reads
}

// Refused lists "METHOD path" of every write request that was refused.
func (l *RequestLog) Refused() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.refused...)
}

// Writes is the number of write requests that reached the server: zero by construction,
// counted so tests can assert it.
func (l *RequestLog) Writes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writesOK
}

type readOnlyTransport struct {
	next http.RoundTripper
	log  *RequestLog
}

// RoundTrip passes GET requests (get, list and watch are all GETs on the wire) and HEAD
// and OPTIONS, and refuses everything else without sending it.
func (t *readOnlyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		t.log.mu.Lock()
		t.log.reads++
		t.log.mu.Unlock()
		return t.next.RoundTrip(req)
	}
	t.log.mu.Lock()
	t.log.refused = append(t.log.refused, req.Method+" "+req.URL.Path)
	t.log.mu.Unlock()
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return nil, fmt.Errorf("%s %s refused: %w", req.Method, req.URL.Path, ErrWriteRefused)
}

// ReadOnly returns a copy of cfg whose requests pass a transport that refuses every verb
// but GET/LIST/WATCH, and the log of what it saw.
func ReadOnly(cfg *rest.Config) (*rest.Config, *RequestLog) {
	log := &RequestLog{}
	out := rest.CopyConfig(cfg)
	prev := out.WrapTransport
	out.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if prev != nil {
			rt = prev(rt)
		}
		return &readOnlyTransport{next: rt, log: log}
	}
	return out, log
}
