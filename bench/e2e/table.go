package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

func printTable(w io.Writer, c config, rs []*result) {
	fmt.Fprintf(w, "translate: median of %d runs; edits: up to %d per series (within %s), latency from the file rename (file provider) or the API request (kube rows: Kubernetes provider, envtest) to the response arriving at the ADS client (%s)\n\n", c.runs, c.edits, c.budget, clientKind())
	fmt.Fprintln(w, "| shape | N | translate wall | translate peak RSS | serve start → full config | route edit → RDS push p50 / p99 (n) | other types pushed on route edits | EndpointSlice edit → EDS push p50 / p99 (n) | LDS/RDS/CDS pushed on EDS edits | serve RSS | serve Go live heap | serve RSS after edits | allocs/route |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.label(), sizeName(r.n), dur(r.translateWall), mib(r.translateRSS), dur(r.startup),
			series(r.route), typeCounts(r.routeOther, r.route), series(r.eds), typeCounts(r.edsOther, r.eds),
			mib(r.rss), mib(r.heap), mib(r.rssAfter), allocs(r.allocsOfRoute))
	}
	// Growth: the ratio of each figure between consecutive sizes of a shape.
	var ratios []string
	for i := 1; i < len(rs); i++ {
		a, b := rs[i-1], rs[i]
		if a.shape != b.shape || a.provider != b.provider {
			continue
		}
		ratios = append(ratios, fmt.Sprintf("| %s | %s/%s (×%.0f routes) | ×%s | ×%s | ×%s | ×%s | ×%s |",
			b.label(), sizeName(b.n), sizeName(a.n), float64(b.n)/float64(a.n),
			ratio(float64(b.translateWall), float64(a.translateWall)),
			ratio(float64(b.translateRSS), float64(a.translateRSS)),
			ratio(float64(percentile(b.route, 0.99)), float64(percentile(a.route, 0.99))),
			ratio(float64(percentile(b.eds, 0.99)), float64(percentile(a.eds, 0.99))),
			ratio(float64(b.rss), float64(a.rss))))
	}
	if len(ratios) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| shape | sizes | translate wall | translate RSS | route edit p99 | EDS edit p99 | serve RSS |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
		for _, l := range ratios {
			fmt.Fprintln(w, l)
		}
	}
	var notes []string
	for _, r := range rs {
		for _, n := range append(slices.Clone(r.info), r.notes...) {
			notes = append(notes, fmt.Sprintf("- %s/%s: %s", r.label(), sizeName(r.n), n))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, strings.Join(notes, "\n"))
	}
}

// clientKind says which xDS variant the benchmark's ADS client speaks.
func clientKind() string {
	if deltaClient {
		return "delta xDS, as Legate's Envoy speaks it: only changed resources are sent"
	}
	return "state of the world: every resource of a changed type is sent"
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func mib(b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func series(ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s (%d)", dur(percentile(ds, 0.5)), dur(percentile(ds, 0.99)), len(ds))
}

var shortTypes = map[string]string{
	resource.ListenerType: "LDS", resource.RouteType: "RDS", resource.ClusterType: "CDS",
	resource.EndpointType: "EDS", resource.SecretType: "SDS",
}

func typeCounts(m map[string]int, ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	var parts []string
	for t, n := range m {
		name := shortTypes[t]
		if name == "" {
			name = t
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", name, n))
	}
	if len(parts) == 0 {
		return "none"
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func allocs(a float64) string {
	if math.IsNaN(a) {
		return "–"
	}
	return fmt.Sprintf("%.0f", a)
}

func ratio(b, a float64) string {
	if a == 0 || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", b/a)
}
