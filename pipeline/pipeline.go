// Package pipeline runs the pure middle of Legate: Inputs -> translators ->
// one IR -> Envoy resources, validated. The two ends (providers that fill
// Inputs, the xDS server that publishes the resources) stay outside, so the
// pipeline can be golden-tested, fuzzed and benchmarked without I/O.
package pipeline

import (
	"fmt"
	"time"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/xds"
)

// Pipeline is a translator registry and the settings it runs with.
type Pipeline struct {
	Registry *translators.Registry
	Settings translators.Settings

	// builder remembers what the last run built from each IR route,
	// cluster and secret, and validator what it validated, so that the
	// parts of a snapshot that did not change are neither built nor
	// validated again.
	builder   xds.Builder
	validator xds.Validator
	// last is the previous successful run, for the endpoint fast path
	// (fastpath.go).
	last *last
}

// Output is what one run produced.
type Output struct {
	translators.Result
	// Resources are the Envoy resources made from Result.IR; they passed
	// xds.Validate (and so carry their versions).
	Resources *xds.Resources
	// Duration is how long translation, building and validation took.
	Duration time.Duration
	// EndpointsOnly is set when only EndpointSlices changed since the last
	// run, and only the affected load assignments were rebuilt (the
	// endpoint fast path); Statuses are then the last run's.
	EndpointsOnly bool
}

// Run translates in and builds validated Envoy resources. An error means the
// resources could not be built or failed deep validation: a bug, since the IR
// was already pruned of everything invalid; the caller must keep serving its
// last good resources.
//
// Run is not safe for concurrent use: it remembers its last snapshot.
func (p *Pipeline) Run(in *translators.Inputs) (*Output, error) {
	if out, err := p.runEndpoints(in); out != nil || err != nil {
		if err != nil {
			// The fast path failing is a bug, not a bad snapshot: fall
			// back to the full path, which does not depend on its
			// reasoning (with p.last cleared, Run takes it).
			p.last = nil
			return p.Run(in)
		}
		p.last = &last{in: in, settings: p.Settings, out: out, clusters: p.last.clusters}
		return out, nil
	}
	p.last = nil
	start := time.Now()
	res := p.Registry.Translate(in, p.Settings)
	out := &Output{Result: res}
	defer func() { out.Duration = time.Since(start) }()
	built, err := p.builder.Build(res.IR)
	if err != nil {
		return out, fmt.Errorf("building Envoy resources: %w", err)
	}
	if err := p.validator.Validate(built); err != nil {
		return out, fmt.Errorf("validating Envoy resources: %w", err)
	}
	out.Resources = built
	p.last = &last{in: in, settings: p.Settings, out: out}
	return out, nil
}
