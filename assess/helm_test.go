package assess

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// encodeHelmRelease writes a release record the way Helm v3 stores it in a Secret's
// data.release: JSON, gzip, base64.
func encodeHelmRelease(t testing.TB, rel any) []byte {
	t.Helper()
	js, err := json.Marshal(rel)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(js); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(base64.StdEncoding.EncodeToString(buf.Bytes()))
}

func TestDecodeHelmRelease(t *testing.T) {
	t.Parallel()
	rel := map[string]any{"name": "web", "namespace": "payments", "version": 3, "manifest": "apiVersion: batch/v1beta1\nkind: CronJob\n"}
	got, err := decodeHelmRelease(encodeHelmRelease(t, rel))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.Name != "web" || got.Version != 3 || !strings.Contains(got.Manifest, "batch/v1beta1") {
		t.Fatalf("decoded %+v", got)
	}
	plain := base64.StdEncoding.EncodeToString([]byte(`{"name":"plain","version":1}`))
	if got, err := decodeHelmRelease([]byte(plain)); err != nil || got.Name != "plain" {
		t.Fatalf("uncompressed record: %+v, %v", got, err)
	}
	for name, data := range map[string]string{
		"not base64": "%%%",
		"not gzip":   base64.StdEncoding.EncodeToString(append([]byte{0x1f, 0x8b, 0x08}, "junk"...)),
		"not JSON":   base64.StdEncoding.EncodeToString([]byte("nope")),
	} {
		if _, err := decodeHelmRelease([]byte(data)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}
