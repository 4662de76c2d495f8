package app

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phoenix-upgrade/phoenix/provision"
)

func newLoadCommand(g *Global) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Put things into a cluster's nodes",
	}
	var cluster string
	sub := &cobra.Command{
		Use:   "image-archive FILE...",
		Short: "Import OCI or docker-archive image tars into every node of a cluster (like `kind load image-archive`)",
		Long: strings.TrimSpace(`
Import image archives into the containerd of every real node of a local cluster, so that
pods can run them with imagePullPolicy IfNotPresent or Never: the nodes reach no registry.
The image keeps the name recorded in the archive (io.containerd.image.name or the
docker-archive's RepoTags).`),
		Example: "  phoenix load image-archive --cluster green payments-api.tar\n  docker save registry.example.com/shop/web:2.1 > web.tar && phoenix load image-archive --cluster blue web.tar",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cluster == "" {
				return usageError("--cluster is required: the cluster whose nodes get the images")
			}
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			c, err := ws.Cluster(cluster)
			if err != nil {
				return err
			}
			p, ok := newManager(g, ws).Providers[c.Provider]
			if !ok {
				return fmt.Errorf("cluster %s has provider %q, which this build does not know", c.Name, c.Provider)
			}
			loader, ok := p.(provision.ImageLoader)
			if !ok {
				return fmt.Errorf("the %s provider cannot load images into its nodes (for kind clusters use `kind load image-archive`)", c.Provider)
			}
			g.Progress("Importing %d image archive(s) into the nodes of %s ...", len(args), c.Name)
			nodes, err := loader.LoadImages(cmd.Context(), c, args)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Streams.Out, "Loaded %d image archive(s) into %d nodes of %s: %s\n", len(args), len(nodes), c.Name, strings.Join(nodes, ", "))
			return nil
		},
	}
	sub.Flags().StringVar(&cluster, "cluster", "", "the cluster whose nodes get the images (required)")
	_ = sub.RegisterFlagCompletionFunc("cluster", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return clusterNames(g), cobra.ShellCompDirectiveNoFileComp
	})
	cmd.AddCommand(sub)
	return cmd
}
