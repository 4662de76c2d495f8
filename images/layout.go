package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// OCI media types and annotations the layout uses.
const (
	MediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"

	// AnnotationRefName is the OCI tag of a manifest in index.json.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationImageName is the full name containerd gives the image on import.
	AnnotationImageName = "io.containerd.image.name"
)

// DefaultPath is the PATH every image's environment starts with unless its Env sets one.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// epoch is every timestamp in a layout (file mtimes, config "created"): the same input gives
// the same bytes.
var epoch = time.Unix(0, 0).UTC()

// File is one entry of the image's single layer. Path is absolute ("/pause"); Mode carries
// the permission bits, fs.ModeDir for a directory and fs.ModeSticky where wanted.
type File struct {
	Path string
	Mode fs.FileMode
	Data []byte
}

// ImageConfig is the part of the OCI image config a caller chooses.
type ImageConfig struct {
	Architecture string
	OS           string
	Entrypoint   []string
	Env          []string
	ExposedPorts []string
}

// Platform is an OCI platform.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Layout describes a written image layout: the manifest index.json points at, the config and
// the layer it names, and the layer's diff_id (sha256 of the uncompressed layer tar).
type Layout struct {
	Manifest Descriptor
	Config   Descriptor
	Layer    Descriptor
	DiffID   string
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []Descriptor `json:"manifests"`
}

type configBlob struct {
	Created      string         `json:"created"`
	Architecture string         `json:"architecture"`
	OS           string         `json:"os"`
	Config       runtimeConfig  `json:"config"`
	RootFS       rootFS         `json:"rootfs"`
	History      []historyEntry `json:"history"`
}

type runtimeConfig struct {
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type historyEntry struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

// WriteLayout writes an OCI image layout tar (oci-layout, index.json, blobs/sha256/...) of
// one image to w: a gzip'd layer holding files (plus their parent directories), the config
// built from cfg, and a manifest that index.json names ref. The output depends only on its
// inputs.
func WriteLayout(w io.Writer, files []File, cfg ImageConfig, ref string) (Layout, error) {
	tag, err := refTag(ref)
	if err != nil {
		return Layout{}, err
	}
	layer, err := layerTar(files)
	if err != nil {
		return Layout{}, err
	}
	gz, err := gzipBytes(layer)
	if err != nil {
		return Layout{}, err
	}
	lay := Layout{DiffID: digestOf(layer), Layer: descriptorOf(MediaTypeLayer, gz)}
	cfgJSON, err := configJSON(cfg, lay.DiffID)
	if err != nil {
		return Layout{}, err
	}
	lay.Config = descriptorOf(MediaTypeConfig, cfgJSON)
	manJSON, err := json.Marshal(manifest{SchemaVersion: 2, MediaType: MediaTypeManifest, Config: lay.Config, Layers: []Descriptor{lay.Layer}})
	if err != nil {
		return Layout{}, fmt.Errorf("encoding the image manifest: %w", err)
	}
	lay.Manifest = descriptorOf(MediaTypeManifest, manJSON)
	lay.Manifest.Platform = &Platform{Architecture: cfg.Architecture, OS: cfg.OS}
	lay.Manifest.Annotations = map[string]string{AnnotationRefName: tag, AnnotationImageName: ref}
	idxJSON, err := json.Marshal(index{SchemaVersion: 2, MediaType: MediaTypeIndex, Manifests: []Descriptor{lay.Manifest}})
	if err != nil {
		return Layout{}, fmt.Errorf("encoding the image index: %w", err)
	}

	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", idxJSON},
		{blobPath(lay.Layer.Digest), gz},
		{blobPath(lay.Config.Digest), cfgJSON},
		{blobPath(lay.Manifest.Digest), manJSON},
	}
	for i, e := range entries {
		if i == 2 { // the blobs directories, before the first blob
			for _, dir := range []string{"blobs/", "blobs/sha256/"} {
				if err := tw.WriteHeader(dirHeader(dir, 0o755)); err != nil {
					return Layout{}, fmt.Errorf("writing the image layout: %w", err)
				}
			}
		}
		if err := writeFile(tw, e.name, 0o644, e.data); err != nil {
			return Layout{}, fmt.Errorf("writing the image layout: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return Layout{}, fmt.Errorf("writing the image layout: %w", err)
	}
	return lay, nil
}

// layerTar is the uncompressed layer: files sorted by path, each preceded by any parent
// directory not given explicitly (mode 0755), owned by root, with the fixed epoch as mtime.
func layerTar(files []File) ([]byte, error) {
	byPath := map[string]File{}
	for _, f := range files {
		p := strings.TrimPrefix(path.Clean("/"+f.Path), "/")
		if p == "" || p == "." {
			return nil, fmt.Errorf("layer file %q: give an absolute path below /", f.Path)
		}
		if _, dup := byPath[p]; dup {
			return nil, fmt.Errorf("layer file %q is listed twice: list each path once", f.Path)
		}
		byPath[p] = f
	}
	for p := range byPath {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if f, ok := byPath[d]; ok {
				if !f.Mode.IsDir() {
					return nil, fmt.Errorf("layer file %q is also the parent directory of %q: use another path", f.Path, p)
				}
				continue
			}
			byPath[d] = File{Path: "/" + d, Mode: fs.ModeDir | 0o755}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		f := byPath[p]
		var err error
		if f.Mode.IsDir() {
			err = tw.WriteHeader(dirHeader(p+"/", tarMode(f.Mode)))
		} else {
			err = writeFile(tw, p, tarMode(f.Mode), f.Data)
		}
		if err != nil {
			return nil, fmt.Errorf("writing layer entry %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	return buf.Bytes(), nil
}

// configJSON is the OCI image config of cfg over a layer with the given diff_id.
func configJSON(cfg ImageConfig, diffID string) ([]byte, error) {
	env := cfg.Env
	hasPath := false
	for _, e := range env {
		hasPath = hasPath || strings.HasPrefix(e, "PATH=")
	}
	if !hasPath {
		env = append([]string{DefaultPath}, env...)
	}
	var ports map[string]struct{}
	if len(cfg.ExposedPorts) > 0 {
		ports = map[string]struct{}{}
		for _, p := range cfg.ExposedPorts {
			ports[p] = struct{}{}
		}
	}
	created := epoch.Format(time.RFC3339)
	b, err := json.Marshal(configBlob{
		Created:      created,
		Architecture: cfg.Architecture,
		OS:           cfg.OS,
		Config:       runtimeConfig{Env: env, Entrypoint: cfg.Entrypoint, ExposedPorts: ports, WorkingDir: "/"},
		RootFS:       rootFS{Type: "layers", DiffIDs: []string{diffID}},
		History:      []historyEntry{{Created: created, CreatedBy: "phoenix images.Build"}},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the image config: %w", err)
	}
	return b, nil
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // zero header ModTime and no name: deterministic
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("compressing the layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing the layer: %w", err)
	}
	return buf.Bytes(), nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func descriptorOf(mediaType string, b []byte) Descriptor {
	return Descriptor{MediaType: mediaType, Digest: digestOf(b), Size: int64(len(b))}
}

func blobPath(digest string) string { return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:") }

func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	return mode
}

func dirHeader(name string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: epoch, Format: tar.FormatPAX}
}

func writeFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
