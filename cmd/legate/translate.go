package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/provider/file"
)

type translateFlags struct {
	files  []string
	to     string
	output string
	serve  serveFlags
}

func newTranslateCommand(g *globalFlags) *cobra.Command {
	f := &translateFlags{}
	cmd := &cobra.Command{
		Use:   "translate -f FILE...",
		Short: "Translate manifests offline and print the Envoy configuration, IR or status",
		Long: `translate reads Kubernetes YAML manifests (files or folders), runs the same
translators and validation as serve, and prints the result: the Envoy
resources (--to xds), Legate's intermediate representation (--to ir) or what
Legate has to say about each object (--to status). Private keys are never
printed. It exits non-zero if the Envoy resources fail validation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			reg := registry(&f.serve)
			in, err := file.LoadPaths(reg, file.Options{Logger: log}, f.files...)
			if err != nil {
				return err
			}
			pipe := &pipeline.Pipeline{Registry: reg, Settings: f.serve.settings()}
			out, err := pipe.Run(in)
			if err != nil {
				return err
			}
			var doc any
			switch f.to {
			case "xds":
				// Private keys are redacted: translate output ends up in
				// terminals, tickets and chat.
				if f.output == "yaml" {
					return out.Resources.WriteYAML(cmd.OutOrStdout(), true)
				}
				y, err := out.Resources.RenderYAML(true)
				if err != nil {
					return err
				}
				var v any
				if err := yaml.Unmarshal(y, &v); err != nil {
					return err
				}
				doc = v
			case "ir":
				doc = out.IR
			case "status":
				doc = out.Statuses
			default:
				return fmt.Errorf("--to %q: want xds, ir or status", f.to)
			}
			if err != nil {
				return err
			}
			return writeDocument(cmd.OutOrStdout(), doc, f.output)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.files, "file", "f", nil, "manifest files or folders (repeatable)")
	fl.StringVar(&f.to, "to", "xds", "what to print: xds, ir or status")
	fl.StringVarP(&f.output, "output", "o", "yaml", "output format: yaml or json")
	fl.StringVar(&f.serve.listenAddress, "listen-address", "0.0.0.0", "address Envoy's listeners bind")
	fl.Uint32Var(&f.serve.httpPort, "http-port", 8080, "port of Envoy's HTTP listener")
	fl.Uint32Var(&f.serve.httpsPort, "https-port", 8443, "port of Envoy's HTTPS listener")
	fl.StringSliceVar(&f.serve.statusAddresses, "status-address", nil, "address(es) written into load balancer status")
	fl.Var(&f.serve.gatewayPool, "gateway-address-pool", gatewayPoolUsage)
	fl.StringVar(&f.serve.ingressClass, "ingress-controller", "legate.dev/ingress-controller", "IngressClass spec.controller that Legate owns")
	fl.StringVar(&f.serve.gatewayClass, "gateway-controller", "legate.dev/gateway-controller", "GatewayClass spec.controllerName that Legate owns")
	fl.StringVar(&f.serve.ambassadorID, "ambassador-id", "default", "Emissary ambassador_id this installation answers to")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func writeDocument(w io.Writer, doc any, format string) error {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("rendering output: %w", err)
	}
	switch format {
	case "json":
		_, err = fmt.Fprintf(w, "%s\n", b)
	case "yaml":
		if b, err = yaml.JSONToYAML(b); err == nil {
			_, err = w.Write(b)
		}
	default:
		return fmt.Errorf("-o %q: want yaml or json", format)
	}
	return err
}
