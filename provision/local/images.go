package local

import (
	"context"
	"log/slog"

	"github.com/phoenix-upgrade/phoenix/images"
)

// nodeImages are the images every real node gets: the pod sandbox, and the application
// images the e2e scenario and the demo run (built from Go code in this repository).
var nodeImages = images.All

// buildCatalog builds (or takes from the image cache) the OCI archives of nodeImages.
func buildCatalog(ctx context.Context, log *slog.Logger) ([]string, error) {
	var out []string
	for _, spec := range nodeImages {
		img, err := images.Build(ctx, spec, images.Options{Log: log})
		if err != nil {
			return nil, err
		}
		out = append(out, img.Path)
	}
	return out, nil
}
