package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/legateproxy/legate/diagnostics"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/provider/file"
)

// diagFlags say where `describe` and `explain` get the configuration: a
// running admin server (--admin) or manifests translated on the spot (-f).
type diagFlags struct {
	admin  string
	files  []string
	output string
	serve  serveFlags
}

func (f *diagFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.admin, "admin", "", "URL of a running admin server, e.g. http://127.0.0.1:8877 (default: offline with -f)")
	fl.StringSliceVarP(&f.files, "file", "f", nil, "manifest files or folders to translate offline (repeatable)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	fl.Uint32Var(&f.serve.httpPort, "http-port", 8080, "port of Envoy's HTTP listener (offline)")
	fl.Uint32Var(&f.serve.httpsPort, "https-port", 8443, "port of Envoy's HTTPS listener (offline)")
	fl.StringVar(&f.serve.ingressClass, "ingress-controller", "legate.dev/ingress-controller", "IngressClass spec.controller that Legate owns (offline)")
	fl.StringVar(&f.serve.gatewayClass, "gateway-controller", "legate.dev/gateway-controller", "GatewayClass spec.controllerName that Legate owns (offline)")
	fl.StringVar(&f.serve.ambassadorID, "ambassador-id", "default", "Emissary ambassador_id this installation answers to (offline)")
	f.serve.listenAddress = "0.0.0.0"
}

// query fetches one admin API path. Offline, the manifests are translated
// by the same pipeline as `legate translate` and the answer comes from an
// in-process admin server, so both modes share one implementation.
func (f *diagFlags) query(g *globalFlags, path string, v any) error {
	var (
		code int
		body []byte
	)
	switch {
	case f.admin != "" && len(f.files) > 0:
		return fmt.Errorf("--admin and -f exclude each other")
	case f.admin != "":
		client := &http.Client{Timeout: 30 * time.Second}
		resp, err := client.Get(strings.TrimRight(f.admin, "/") + path)
		if err != nil {
			return fmt.Errorf("admin server: %w", err)
		}
		defer resp.Body.Close()
		if body, err = io.ReadAll(resp.Body); err != nil {
			return fmt.Errorf("admin server: %w", err)
		}
		code = resp.StatusCode
	case len(f.files) > 0:
		log, err := g.logger()
		if err != nil {
			return err
		}
		reg := registry(&f.serve)
		in, err := file.LoadPaths(reg, file.Options{Logger: log}, f.files...)
		if err != nil {
			return err
		}
		out, err := (&pipeline.Pipeline{Registry: reg, Settings: f.serve.settings()}).Run(in)
		if err != nil {
			return err
		}
		srv := diagnostics.New(diagnostics.Options{Logger: log})
		srv.Update(out, "offline")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		code, body = rec.Code, rec.Body.Bytes()
	default:
		return fmt.Errorf("say where the configuration is: --admin URL or -f FILE")
	}
	if code != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", path, e.Error)
		}
		return fmt.Errorf("%s: HTTP %d", path, code)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func newDescribeCommand(g *globalFlags) *cobra.Command {
	f := &diagFlags{}
	cmd := &cobra.Command{
		Use:       "describe routes|problems|clusters",
		Short:     "Show the routes, problems or clusters Legate built",
		Long:      "describe shows what a running Legate built (--admin) or what it would build from manifests (-f): the route tables in evaluation order with their source objects, the problems found in the inputs, or the clusters and their endpoints.",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"routes", "problems", "clusters"},
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			switch args[0] {
			case "routes":
				var v []diagnostics.RouteTable
				if err := f.query(g, "/api/v1/routes", &v); err != nil {
					return err
				}
				return f.print(w, v, func() error { return printRoutes(w, v) })
			case "problems":
				var v []diagnostics.ProblemView
				if err := f.query(g, "/api/v1/problems", &v); err != nil {
					return err
				}
				return f.print(w, v, func() error { return printProblems(w, v) })
			case "clusters":
				var v diagnostics.ClustersView
				if err := f.query(g, "/api/v1/clusters", &v); err != nil {
					return err
				}
				return f.print(w, v, func() error { return printClusters(w, v) })
			}
			return fmt.Errorf("describe %q: want routes, problems or clusters", args[0])
		},
	}
	f.register(cmd)
	return cmd
}

func newExplainCommand(g *globalFlags) *cobra.Command {
	f := &diagFlags{}
	var (
		host, path, method, scheme, listener string
		headers, query                       []string
		port                                 uint32
	)
	cmd := &cobra.Command{
		Use:   "explain --host H --path P [-H 'name: value'] [--method M]",
		Short: "Show which route a request takes, and why the routes before it did not match",
		Long: `explain evaluates one request against the Envoy route tables Legate publishes,
with Envoy's matching rules: the virtual host chosen by the Host header, the
routes tried in order, the first reason each earlier one failed, and the
backend (or redirect, or direct answer) of the one that matched.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := url.Values{"host": {host}, "path": {path}, "method": {method}, "scheme": {scheme}, "listener": {listener},
				"header": headers, "query": query}
			if port != 0 {
				v.Set("port", fmt.Sprint(port))
			}
			var ex diagnostics.Explanation
			if err := f.query(g, "/api/v1/explain?"+v.Encode(), &ex); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			return f.print(w, ex, func() error { return printExplanation(w, ex) })
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&host, "host", "", "Host header (with a port if the client sends one)")
	fl.StringVar(&path, "path", "/", "request path, optionally with a query string")
	fl.StringVar(&method, "method", "GET", "request method")
	fl.StringVar(&scheme, "scheme", "http", "http or https (picks the HTTP or HTTPS listener)")
	fl.StringVar(&listener, "listener", "", "listener name, e.g. gateway-default-gw-80 (default: by --port or --scheme)")
	fl.Uint32Var(&port, "port", 0, "pick the listener by port")
	fl.StringArrayVarP(&headers, "header", "H", nil, "request header 'name: value' (repeatable)")
	fl.StringArrayVar(&query, "query", nil, "query parameter name=value (repeatable)")
	_ = cmd.MarkFlagRequired("host")
	return cmd
}

func (f *diagFlags) print(w io.Writer, v any, text func() error) error {
	switch f.output {
	case "text":
		return text()
	case "json":
		return writeDocument(w, v, "json")
	}
	return fmt.Errorf("-o %q: want text or json", f.output)
}

func describeAction(a diagnostics.Action) string {
	switch a.Kind {
	case diagnostics.ActionForward:
		var parts []string
		for _, c := range a.Clusters {
			if c.Weight != 0 {
				parts = append(parts, fmt.Sprintf("%s (weight %d)", c.Cluster, c.Weight))
			} else {
				parts = append(parts, c.Cluster)
			}
		}
		return "-> " + strings.Join(parts, ", ")
	case diagnostics.ActionRedirect:
		s := fmt.Sprintf("redirect %d", a.Status)
		for _, p := range [][2]string{{"scheme", a.RedirectScheme}, {"host", a.RedirectHost}, {"path", a.RedirectPath}} {
			if p[1] != "" {
				s += " " + p[0] + " " + p[1]
			}
		}
		return s
	case diagnostics.ActionDirect:
		return fmt.Sprintf("answer %d", a.Status)
	}
	return "404 Not Found"
}

func printRoutes(w io.Writer, tables []diagnostics.RouteTable) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range tables {
		fmt.Fprintf(tw, "ROUTE CONFIG %s (listener %s)\n", t.RouteConfig, t.Listener)
		for _, vh := range t.VirtualHosts {
			fmt.Fprintf(tw, "  VIRTUAL HOST %s  domains %s\n", vh.Name, strings.Join(vh.Domains, " "))
			for _, r := range vh.Routes {
				src := ""
				if r.Source != nil {
					src = r.Source.String()
				}
				if d := r.Annotations["docs.display_name"]; d != "" {
					src += " (" + d + ")"
				}
				fmt.Fprintf(tw, "    %d\t%s\t%s\t%s\n", r.Index, r.Match, describeAction(r.Action), src)
			}
		}
	}
	return tw.Flush()
}

func printProblems(w io.Writer, ps []diagnostics.ProblemView) error {
	if len(ps) == 0 {
		_, err := fmt.Fprintln(w, "No problems.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tSEVERITY\tFIELD\tREASON\tMESSAGE")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Object, p.Severity, p.Field, p.Reason, p.Message)
	}
	return tw.Flush()
}

func printClusters(w io.Writer, v diagnostics.ClustersView) error {
	if v.EnvoyError != "" {
		fmt.Fprintf(w, "Envoy at %s: %s\n", v.EnvoyAdmin, v.EnvoyError)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "CLUSTER\tKIND\tSOURCE\tENDPOINTS"
	if v.EnvoyAdmin != "" {
		header += "\tENVOY HOSTS"
	}
	fmt.Fprintln(tw, header)
	for _, c := range v.Clusters {
		var eps []string
		if c.DNS != "" {
			eps = append(eps, c.DNS)
		}
		for _, e := range c.Endpoints {
			s := fmt.Sprintf("%s:%d", e.Address, e.Port)
			if !e.Ready {
				s += " (not ready)"
			}
			eps = append(eps, s)
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s", c.Name, c.Kind, c.Source.String(), strings.Join(eps, ", "))
		if v.EnvoyAdmin != "" {
			var hosts []string
			for _, h := range c.EnvoyHosts {
				hs := h.Address + " " + h.Health
				if len(h.Reasons) > 0 {
					hs += " (" + strings.Join(h.Reasons, "; ") + ")"
				}
				hosts = append(hosts, hs)
			}
			row += "\t" + strings.Join(hosts, ", ")
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

func printExplanation(w io.Writer, ex diagnostics.Explanation) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Route configuration: %s\n", ex.RouteConfig)
	if ex.VirtualHost == "" {
		fmt.Fprintf(&b, "Virtual host: none matches host %q\n", ex.Request.Host)
	} else {
		fmt.Fprintf(&b, "Virtual host: %s (domain %s)\n", ex.VirtualHost, ex.Domain)
	}
	for _, m := range ex.Skipped {
		fmt.Fprintf(&b, "  %d %s: no, %s\n", m.Index, m.Route, m.Reason)
	}
	if ex.Route != "" {
		fmt.Fprintf(&b, "  %d %s: MATCH\n", ex.RouteIndex, ex.Route)
	} else if ex.VirtualHost != "" {
		b.WriteString("No route matched.\n")
	}
	fmt.Fprintf(&b, "Result: %s\n", describeAction(ex.Action))
	_, err := io.WriteString(w, b.String())
	return err
}
