package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

var testConfig = ImageConfig{Architecture: "amd64", OS: "linux", Entrypoint: []string{"/app", "-x"}, Env: []string{"A=b"}, ExposedPorts: []string{"8080/tcp"}}

const testRef = "registry.example.com/team/app:1.2.3"

func writeTestLayout(t *testing.T, binary string, data []byte) ([]byte, Layout) {
	t.Helper()
	var buf bytes.Buffer
	lay, err := WriteLayout(&buf, layerFiles(binary, data), testConfig, testRef)
	if err != nil {
		t.Fatalf("WriteLayout: %v", err)
	}
	return buf.Bytes(), lay
}

// untar returns the regular files of a tar by name, and every header.
func untar(t *testing.T, r io.Reader) (map[string][]byte, map[string]*tar.Header, []string) {
	t.Helper()
	files, headers := map[string][]byte{}, map[string]*tar.Header{}
	var order []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, headers, order
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", hdr.Name, err)
		}
		headers[hdr.Name], order = hdr, append(order, hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			files[hdr.Name] = b
		}
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestWriteLayoutIsDeterministic(t *testing.T) {
	t.Parallel()
	a, layA := writeTestLayout(t, "/app", []byte("binary one"))
	b, layB := writeTestLayout(t, "/app", []byte("binary one"))
	if !bytes.Equal(a, b) || !reflect.DeepEqual(layA, layB) {
		t.Fatalf("two layouts of the same input differ: %v vs %v", layA.Manifest.Digest, layB.Manifest.Digest)
	}
	c, layC := writeTestLayout(t, "/app", []byte("binary two"))
	if bytes.Equal(a, c) || layA.Manifest.Digest == layC.Manifest.Digest || layA.DiffID == layC.DiffID {
		t.Fatalf("layouts of different binaries are the same (manifest %s)", layA.Manifest.Digest)
	}
}

func TestWriteLayoutBlobsMatchTheirDigests(t *testing.T) {
	t.Parallel()
	out, lay := writeTestLayout(t, "/usr/local/bin/app", []byte("the binary"))
	files, _, order := untar(t, bytes.NewReader(out))

	if got := string(files["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", got)
	}
	if order[0] != "oci-layout" || order[1] != "index.json" {
		t.Errorf("tar starts with %v, want oci-layout then index.json", order[:2])
	}
	for name, data := range files {
		if d, ok := strings.CutPrefix(name, "blobs/sha256/"); ok && sha(data) != "sha256:"+d {
			t.Errorf("blob %s has digest %s", name, sha(data))
		}
	}

	var idx index
	mustUnmarshal(t, files["index.json"], &idx)
	if idx.SchemaVersion != 2 || idx.MediaType != MediaTypeIndex || len(idx.Manifests) != 1 {
		t.Fatalf("index.json = %+v, want one manifest in an OCI index", idx)
	}
	m := idx.Manifests[0]
	wantAnn := map[string]string{AnnotationRefName: "1.2.3", AnnotationImageName: testRef}
	for k, v := range wantAnn {
		if m.Annotations[k] != v {
			t.Errorf("index annotation %s = %q, want %q", k, m.Annotations[k], v)
		}
	}
	if m.Platform == nil || *m.Platform != (Platform{Architecture: "amd64", OS: "linux"}) {
		t.Errorf("index platform = %+v, want linux/amd64", m.Platform)
	}
	manJSON := files[blobPath(m.Digest)]
	if m.MediaType != MediaTypeManifest || m.Size != int64(len(manJSON)) || m.Digest != lay.Manifest.Digest {
		t.Errorf("manifest descriptor %+v does not match its blob (%d bytes) or the returned %s", m, len(manJSON), lay.Manifest.Digest)
	}

	var man manifest
	mustUnmarshal(t, manJSON, &man)
	if man.MediaType != MediaTypeManifest || man.Config.MediaType != MediaTypeConfig || len(man.Layers) != 1 || man.Layers[0].MediaType != MediaTypeLayer {
		t.Fatalf("manifest = %+v, want an OCI manifest with one gzip layer", man)
	}
	cfgJSON, gz := files[blobPath(man.Config.Digest)], files[blobPath(man.Layers[0].Digest)]
	if man.Config.Size != int64(len(cfgJSON)) || man.Layers[0].Size != int64(len(gz)) || man.Config.Digest != lay.Config.Digest {
		t.Errorf("manifest sizes/digests do not match the blobs")
	}

	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("layer is not gzip: %v", err)
	}
	layer, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("decompressing the layer: %v", err)
	}
	var cfg configBlob
	mustUnmarshal(t, cfgJSON, &cfg)
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != sha(layer) || lay.DiffID != sha(layer) {
		t.Errorf("diff_ids = %v, returned %s, want [%s]", cfg.RootFS.DiffIDs, lay.DiffID, sha(layer))
	}
	if cfg.Architecture != "amd64" || cfg.OS != "linux" || strings.Join(cfg.Config.Entrypoint, " ") != "/app -x" {
		t.Errorf("config = %+v", cfg)
	}
	if strings.Join(cfg.Config.Env, " ") != DefaultPath+" A=b" {
		t.Errorf("config env = %q, want PATH first, then A=b", cfg.Config.Env)
	}
	if _, ok := cfg.Config.ExposedPorts["8080/tcp"]; !ok || len(cfg.Config.ExposedPorts) != 1 {
		t.Errorf("exposed ports = %v, want 8080/tcp", cfg.Config.ExposedPorts)
	}
}

func TestLayerHoldsTheBinaryParentsAndTmp(t *testing.T) {
	t.Parallel()
	out, lay := writeTestLayout(t, "/usr/local/bin/app", []byte("the binary"))
	files, _, _ := untar(t, bytes.NewReader(out))
	zr, err := gzip.NewReader(bytes.NewReader(files[blobPath(lay.Layer.Digest)]))
	if err != nil {
		t.Fatal(err)
	}
	contents, headers, order := untar(t, zr)

	wantOrder := []string{"tmp/", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/app"}
	if strings.Join(order, " ") != strings.Join(wantOrder, " ") {
		t.Errorf("layer entries = %v, want %v", order, wantOrder)
	}
	tests := []struct {
		name     string
		wantMode fs.FileMode
		wantType byte
	}{
		{"usr/local/bin/app", 0o755, tar.TypeReg},
		{"usr/local/bin/", fs.ModeDir | 0o755, tar.TypeDir},
		{"tmp/", fs.ModeDir | fs.ModeSticky | 0o777, tar.TypeDir},
	}
	for _, tt := range tests {
		hdr := headers[tt.name]
		if hdr == nil {
			t.Errorf("%s is not in the layer", tt.name)
			continue
		}
		if got := hdr.FileInfo().Mode(); got != tt.wantMode || hdr.Typeflag != tt.wantType {
			t.Errorf("%s: mode %v type %q, want %v type %q", tt.name, got, hdr.Typeflag, tt.wantMode, tt.wantType)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.ModTime.Unix() != 0 {
			t.Errorf("%s: owner %d:%d mtime %v, want root and the epoch", tt.name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
	}
	if got := string(contents["usr/local/bin/app"]); got != "the binary" {
		t.Errorf("binary content = %q", got)
	}
}

func TestReadLayoutReturnsWhatWriteLayoutWrote(t *testing.T) {
	t.Parallel()
	out, lay := writeTestLayout(t, "/app", []byte("bin"))
	got, err := ReadLayout(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("ReadLayout: %v", err)
	}
	if !reflect.DeepEqual(got, lay) {
		t.Errorf("ReadLayout = %+v, want %+v", got, lay)
	}
}

func TestReadLayoutRejectsACorruptBlob(t *testing.T) {
	t.Parallel()
	out, lay := writeTestLayout(t, "/app", []byte("bin"))
	files, _, order := untar(t, bytes.NewReader(out))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range order {
		data, ok := files[name]
		if !ok {
			continue
		}
		if name == blobPath(lay.Config.Digest) {
			data = bytes.Replace(data, []byte("amd64"), []byte("arm64"), 1)
		}
		if err := writeFile(tw, name, 0o644, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLayout(&buf); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("ReadLayout of an edited config = %v, want a corrupt-blob error", err)
	}
}

func TestLayerTarRejectsBadFileLists(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []File
	}{
		{"the root itself", []File{{Path: "/", Mode: 0o755}}},
		{"a path listed twice", []File{{Path: "/a", Mode: 0o755}, {Path: "a", Mode: 0o644}}},
		{"a file that is also a parent", []File{{Path: "/a", Mode: 0o755}, {Path: "/a/b", Mode: 0o644}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := layerTar(tt.files); err == nil {
				t.Errorf("layerTar(%v) succeeded, want an error", tt.files)
			}
		})
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}
