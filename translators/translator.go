// Package translators is where translators plug into Legate: the Inputs they
// read, the Translator interface they implement, the Registry that runs them
// and merges their IR fragments into one ir.Config, and the status model they
// fill.
package translators

import (
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/translators/ir"
)

// Settings are the facts about the deployment every translator needs.
type Settings struct {
	// ListenAddress is the IP Envoy's listeners bind, e.g. "0.0.0.0".
	ListenAddress string
	// HTTPPort and HTTPSPort are the ports of the shared HTTP and HTTPS
	// listeners (Ingress, Emissary defaults).
	HTTPPort  uint32
	HTTPSPort uint32
	// StatusAddresses are where clients reach Envoy (IPs or hostnames),
	// written into load balancer status.
	StatusAddresses []string
	// IngressController is the IngressClass spec.controller Legate owns.
	IngressController string
	// GatewayController is the GatewayClass spec.controllerName Legate
	// owns.
	GatewayController string
	// GatewayAddressPool, when valid, gives every Gateway an IP address of
	// its own from this prefix (its listeners bind it), so that Gateways
	// may share ports. The zero Prefix keeps every Gateway on
	// ListenAddress.
	GatewayAddressPool netip.Prefix
}

// DefaultSettings returns the settings used when nothing is configured.
func DefaultSettings() Settings {
	return Settings{
		ListenAddress:     "0.0.0.0",
		HTTPPort:          8080,
		HTTPSPort:         8443,
		IngressController: "legate.dev/ingress-controller",
		GatewayController: "legate.dev/gateway-controller",
	}
}

// HTTPListenerName and HTTPSListenerName name the shared listeners, so that
// translators writing to them merge into one.
func (s Settings) HTTPListenerName() string  { return fmt.Sprintf("http-%d", s.HTTPPort) }
func (s Settings) HTTPSListenerName() string { return fmt.Sprintf("https-%d", s.HTTPSPort) }

// Translator turns the objects of one API (Ingress, Gateway API, Emissary)
// into an IR fragment and a status for each object it owns. Translate must be
// a pure function of its arguments: no I/O, no clock, no map-order
// dependence, and it must not modify in.
type Translator interface {
	// Name is the translator's registry name, e.g. "ingress".
	Name() string
	// Kinds lists prototypes of every object kind the translator reads; the
	// providers watch (or decode) exactly the union of these.
	Kinds() []client.Object
	// AddToScheme registers the Go types of those kinds.
	AddToScheme(*runtime.Scheme) error
	// Translate produces the fragment and the statuses.
	Translate(in *Inputs, s Settings) (*ir.Config, []*ObjectStatus)
}

// Registry holds the translators Legate runs, in order.
type Registry struct {
	translators []Translator
	// pruner remembers the routes and clusters the last run found valid.
	pruner ir.Pruner
}

// NewRegistry returns a registry of ts, run in the order given.
func NewRegistry(ts ...Translator) *Registry {
	return &Registry{translators: ts}
}

// Translators returns the registered translators in order.
func (r *Registry) Translators() []Translator { return r.translators }

// Scheme returns a scheme holding the core Kubernetes types and every
// registered translator's types.
func (r *Registry) Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding core types to scheme: %w", err)
	}
	for _, t := range r.translators {
		if err := t.AddToScheme(s); err != nil {
			return nil, fmt.Errorf("adding types of translator %s to scheme: %w", t.Name(), err)
		}
	}
	return s, nil
}

// Kinds returns the union of the kinds every translator reads, deduplicated
// by Go type, in registry order.
func (r *Registry) Kinds() []client.Object {
	seen := map[string]bool{}
	var out []client.Object
	for _, t := range r.translators {
		for _, k := range t.Kinds() {
			key := fmt.Sprintf("%T", k)
			if !seen[key] {
				seen[key] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// GroupKinds returns the GroupKinds of Kinds, looked up in scheme.
func (r *Registry) GroupKinds(scheme *runtime.Scheme) (map[schema.GroupKind]bool, error) {
	out := map[schema.GroupKind]bool{}
	for _, k := range r.Kinds() {
		gvks, _, err := scheme.ObjectKinds(k)
		if err != nil {
			return nil, fmt.Errorf("looking up kind of %T: %w", k, err)
		}
		for _, gvk := range gvks {
			out[gvk.GroupKind()] = true
		}
	}
	return out, nil
}

// Result is what one translation of a snapshot produced.
type Result struct {
	// IR is the merged, pruned configuration: it passes ir.Validate.
	IR *ir.Config
	// Statuses has one entry per object any translator reported on.
	Statuses []*ObjectStatus
}

// Translate runs every translator on in, merges their fragments with
// ir.Merge, prunes what is invalid, and reports every merge conflict and
// pruned element on the object it came from.
func (r *Registry) Translate(in *Inputs, s Settings) Result {
	fragments := make([]*ir.Config, 0, len(r.translators))
	reports := make([][]*ObjectStatus, 0, len(r.translators))
	n := 0
	for _, t := range r.translators {
		frag, st := t.Translate(in, s)
		fragments = append(fragments, frag)
		reports = append(reports, st)
		n += len(st)
	}
	merged, conflicts := ir.Merge(fragments...)
	var problems []refProblem
	for _, e := range conflicts {
		problems = append(problems, refProblem{refOf(e.Source), Problem{
			Severity: SeverityError, Field: e.Source.Field, Reason: "Conflict", Message: e.Element + ": " + e.Message,
		}})
	}
	for _, e := range r.pruner.Prune(merged) {
		if e.Source.Kind == "" {
			continue // an element with no object behind it; Prune already removed it
		}
		problems = append(problems, refProblem{refOf(e.Source), Problem{
			Severity: SeverityError, Field: e.Source.Field, Reason: "Invalid", Message: e.Element + ": " + e.Message,
		}})
	}
	if out, ok := singleReport(reports, problems); ok {
		return Result{IR: merged, Statuses: out}
	}
	statuses := newStatusSetFor(n)
	for _, st := range reports {
		statuses.Merge(st)
	}
	for _, p := range problems {
		statuses.AddProblem(p.ref, p.problem)
	}
	return Result{IR: merged, Statuses: statuses.take()}
}

func refOf(s ir.Source) ObjectRef {
	return ObjectRef{Group: s.Group, Kind: s.Kind, Namespace: s.Namespace, Name: s.Name}
}

// FieldPath joins path elements into "a.b[1].c" form.
func FieldPath(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}
