package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/legateproxy/legate/xds"
)

func newBootstrapCommand() *cobra.Command {
	var xdsAddress, adminAddress, nodeID, nodeCluster string
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Print an Envoy bootstrap that points Envoy at Legate's xDS server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, port, err := splitHostPort(xdsAddress)
			if err != nil {
				return fmt.Errorf("--xds-address: %w", err)
			}
			adminHost, adminPort, err := parseHostPort(adminAddress)
			if err != nil {
				return fmt.Errorf("--admin-address: %w", err)
			}
			if nodeID == "" {
				if nodeID, err = os.Hostname(); err != nil {
					return fmt.Errorf("node id: %w", err)
				}
			}
			b, err := xds.Bootstrap(xds.BootstrapOptions{
				NodeID: nodeID, NodeCluster: nodeCluster,
				XDSAddress: host, XDSPort: port, AdminAddress: adminHost, AdminPort: adminPort,
			})
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&xdsAddress, "xds-address", "127.0.0.1:18000", "address of Legate's xDS server")
	fl.StringVar(&adminAddress, "admin-address", "127.0.0.1:9901", "address of Envoy's admin interface")
	fl.StringVar(&nodeID, "node-id", "", "Envoy node id (default: the host name)")
	fl.StringVar(&nodeCluster, "node-cluster", "legate", "Envoy node cluster: the data-plane group whose configuration it gets")
	return cmd
}
