package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
)

// Namespace is the containerd namespace the kubelet's CRI plugin uses.
const Namespace = "k8s.io"

// Snapshotter is the snapshotter images are unpacked for; it must match the CRI plugin's
// (containerd's default, overlayfs), or the kubelet finds the image but cannot start it.
const Snapshotter = "overlayfs"

// ImportArgs is the ctr command line Import runs. The tar's index names the image with
// io.containerd.image.name, so no --base-name is needed; ctr unpacks by default, and by
// default keeps the content of the host platform, which is what Build writes.
func ImportArgs(address, tarPath string) []string {
	return []string{"--address", address, "--namespace", Namespace, "images", "import", "--snapshotter", Snapshotter, tarPath}
}

// Import loads an image tar into the containerd listening on address (a unix socket path),
// in the k8s.io namespace, unpacked for overlayfs. ctr is the ctr binary ("ctr" if empty).
func Import(ctx context.Context, ctr, address, tarPath string) error {
	if ctr == "" {
		ctr = "ctr"
	}
	cmd := exec.CommandContext(ctx, ctr, ImportArgs(address, tarPath)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("importing %s: %w", tarPath, ctx.Err())
		}
		var execErr *exec.Error
		if errors.As(err, &execErr) {
			return fmt.Errorf("importing %s: %w (install containerd's ctr, Debian package containerd)", tarPath, err)
		}
		return fmt.Errorf("ctr images import %s into %s failed: %w: %s (check that containerd runs at that address, that it has the %s snapshotter, and that the tar is readable)",
			tarPath, address, err, tail(out.String(), 10), Snapshotter)
	}
	return nil
}
