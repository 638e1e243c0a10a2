package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/legateproxy/legate/xds"
)

func newBootstrapCommand() *cobra.Command {
	var xdsAddress, adminAddress, nodeID, nodeCluster, protocol string
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
			delta, err := parseXDSProtocol(protocol)
			if err != nil {
				return err
			}
			b, err := xds.Bootstrap(xds.BootstrapOptions{
				NodeID: nodeID, NodeCluster: nodeCluster,
				XDSAddress: host, XDSPort: port, AdminAddress: adminHost, AdminPort: adminPort, Delta: delta,
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
	fl.StringVar(&protocol, "xds-protocol", "delta", xdsProtocolUsage+" Envoy uses")
	return cmd
}

// xdsProtocolUsage describes --xds-protocol.
const xdsProtocolUsage = "xDS variant (delta: incremental, only what changed is sent; sotw: state of the world, every resource of a changed type is sent)"

// parseXDSProtocol says whether --xds-protocol asks for delta xDS.
//
// Delta is the default: with state of the world, one changed endpoint
// sends Envoy every ClusterLoadAssignment again (10k of them at 10k
// Services), and Envoy compares them all; with delta it gets the one.
func parseXDSProtocol(s string) (delta bool, err error) {
	switch s {
	case "delta":
		return true, nil
	case "sotw":
		return false, nil
	}
	return false, fmt.Errorf("--xds-protocol: %q is neither delta nor sotw", s)
}
