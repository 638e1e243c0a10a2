// Command legate is Legate's one binary: the control plane (`serve`), the
// offline translator (`translate`), the Envoy bootstrap generator
// (`bootstrap`) and `version`. It wires the pipeline's stages together and
// registers the translators; nothing imports it.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/ingress"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/emissary"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "legate:", err)
		os.Exit(1)
	}
}

// registry returns the translators Legate runs, in merge order (earlier
// translators win ties, see ir.Merge).
func registry(f *serveFlags) *translators.Registry {
	return translators.NewRegistry(
		ingress.New(),
		gatewayapi.New(),
		emissary.New(emissary.Options{AmbassadorID: f.ambassadorID}),
	)
}

type globalFlags struct {
	logLevel  string
	logFormat string
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "legate",
		Short:         "Legate: Ingress, Gateway API and Emissary routing, served to Envoy over xDS",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.AddCommand(newServeCommand(g), newTranslateCommand(g), newBootstrapCommand(), newVersionCommand(),
		newDescribeCommand(g), newExplainCommand(g))
	return root
}

func (g *globalFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(g.logLevel))); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", g.logLevel, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Legate's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "legate %s\n", version)
			return err
		},
	}
}
