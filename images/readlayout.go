package images

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ReadLayout reads an image layout tar written by WriteLayout and returns its descriptors.
// It checks every blob against the digest in its name, so a torn or edited tar is an error.
func ReadLayout(r io.Reader) (Layout, error) {
	tr := tar.NewReader(r)
	blobs := map[string][]byte{} // only the small JSON blobs are kept
	var idxJSON []byte
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Layout{}, fmt.Errorf("reading the image layout: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		switch {
		case hdr.Name == "index.json":
			if idxJSON, err = io.ReadAll(io.LimitReader(tr, 1<<20)); err != nil {
				return Layout{}, fmt.Errorf("reading index.json: %w", err)
			}
		case strings.HasPrefix(hdr.Name, "blobs/sha256/"):
			want := strings.TrimPrefix(hdr.Name, "blobs/sha256/")
			h := sha256.New()
			var keep strings.Builder
			w := io.Writer(h)
			if hdr.Size <= 1<<20 {
				w = io.MultiWriter(h, &keep)
			}
			if _, err := io.Copy(w, tr); err != nil {
				return Layout{}, fmt.Errorf("reading %s: %w", hdr.Name, err)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != want {
				return Layout{}, fmt.Errorf("blob %s has digest sha256:%s: the image tar is corrupt, delete it and build again", hdr.Name, got)
			}
			blobs["sha256:"+want] = []byte(keep.String())
		}
	}
	if idxJSON == nil {
		return Layout{}, errors.New("no index.json: not an OCI image layout tar")
	}
	var idx index
	if err := json.Unmarshal(idxJSON, &idx); err != nil {
		return Layout{}, fmt.Errorf("decoding index.json: %w", err)
	}
	if len(idx.Manifests) != 1 {
		return Layout{}, fmt.Errorf("index.json lists %d manifests, want 1", len(idx.Manifests))
	}
	lay := Layout{Manifest: idx.Manifests[0]}
	manJSON, ok := blobs[lay.Manifest.Digest]
	if !ok {
		return Layout{}, fmt.Errorf("manifest %s is missing from the image tar", lay.Manifest.Digest)
	}
	var man manifest
	if err := json.Unmarshal(manJSON, &man); err != nil {
		return Layout{}, fmt.Errorf("decoding manifest %s: %w", lay.Manifest.Digest, err)
	}
	if len(man.Layers) != 1 {
		return Layout{}, fmt.Errorf("manifest %s has %d layers, want 1", lay.Manifest.Digest, len(man.Layers))
	}
	lay.Config, lay.Layer = man.Config, man.Layers[0]
	cfgJSON, ok := blobs[lay.Config.Digest]
	if !ok {
		return Layout{}, fmt.Errorf("config %s is missing from the image tar", lay.Config.Digest)
	}
	if _, ok := blobs[lay.Layer.Digest]; !ok {
		return Layout{}, fmt.Errorf("layer %s is missing from the image tar", lay.Layer.Digest)
	}
	var cfg configBlob
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return Layout{}, fmt.Errorf("decoding config %s: %w", lay.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != 1 {
		return Layout{}, fmt.Errorf("config %s has %d diff_ids, want 1", lay.Config.Digest, len(cfg.RootFS.DiffIDs))
	}
	lay.DiffID = cfg.RootFS.DiffIDs[0]
	return lay, nil
}
