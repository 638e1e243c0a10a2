package emissary

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// Name is the translator's registry name.
const Name = "emissary"

// Group is the API group of the resources this translator reads.
const Group = "getambassador.io"

// DefaultAmbassadorID is the installation a resource without ambassador_id
// belongs to.
const DefaultAmbassadorID = "default"

// Options configure the translator.
type Options struct {
	// AmbassadorID is the installation Legate acts as; empty means
	// DefaultAmbassadorID.
	AmbassadorID string
}

type translator struct {
	id string
}

// New returns the Emissary translator.
func New(opts Options) translators.Translator {
	id := opts.AmbassadorID
	if id == "" {
		id = DefaultAmbassadorID
	}
	return translator{id: id}
}

func (translator) Name() string { return Name }

func (translator) Kinds() []client.Object {
	return []client.Object{
		&v3.Mapping{},
		&v3.Host{},
		&v3.Listener{},
		&v3.TLSContext{},
		&v3.Module{},
		&v3.TCPMapping{},
		&corev1.Service{},
		&discoveryv1.EndpointSlice{},
		&corev1.Secret{},
		&corev1.Namespace{},
	}
}

func (translator) AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{v3.AddToScheme, corev1.AddToScheme, discoveryv1.AddToScheme} {
		if err := add(s); err != nil {
			return fmt.Errorf("emissary: adding types to scheme: %w", err)
		}
	}
	return nil
}

func (t translator) Translate(in *translators.Inputs, s translators.Settings) (*ir.Config, []*translators.ObjectStatus) {
	tr := &translation{in: in, settings: s, clusters: map[string]*ir.Cluster{}, secrets: map[string]*ir.Secret{}}
	statuses := translators.NewStatusSet()
	var mappings []*v3.Mapping
	var hosts []*v3.Host
	var listeners []*v3.Listener
	var tcpms []*v3.TCPMapping
	var modules []*v3.Module
	seen := map[string]bool{}
	for _, o := range in.Others {
		if o == nil {
			continue
		}
		// With duplicates (two files holding one object), the first wins.
		key := fmt.Sprintf("%T/%s/%s", o, o.GetNamespace(), o.GetName())
		if seen[key] {
			continue
		}
		seen[key] = true
		switch r := o.(type) {
		case *v3.Mapping:
			if r.Spec.AmbassadorID.Matches(t.id) {
				mappings = append(mappings, r)
			}
		case *v3.Host:
			if r.Spec.AmbassadorID.Matches(t.id) {
				hosts = append(hosts, r)
			}
		case *v3.Listener:
			if r.Spec.AmbassadorID.Matches(t.id) {
				listeners = append(listeners, r)
			}
		case *v3.TLSContext:
			if r.Spec.AmbassadorID.Matches(t.id) {
				tr.tlsContexts = append(tr.tlsContexts, r)
			}
		case *v3.Module:
			if r.Spec.AmbassadorID.Matches(t.id) {
				modules = append(modules, r)
			}
		case *v3.TCPMapping:
			if r.Spec.AmbassadorID.Matches(t.id) {
				tcpms = append(tcpms, r)
			}
		}
	}
	byName := func(a, b client.Object) int {
		return strings.Compare(a.GetNamespace()+"/"+a.GetName(), b.GetNamespace()+"/"+b.GetName())
	}
	slices.SortStableFunc(mappings, func(a, b *v3.Mapping) int { return byName(a, b) })
	slices.SortStableFunc(hosts, func(a, b *v3.Host) int { return byName(a, b) })
	slices.SortStableFunc(listeners, func(a, b *v3.Listener) int { return byName(a, b) })
	slices.SortStableFunc(tcpms, func(a, b *v3.TCPMapping) int { return byName(a, b) })
	slices.SortStableFunc(tr.tlsContexts, func(a, b *v3.TLSContext) int { return byName(a, b) })

	slices.SortStableFunc(modules, func(a, b *v3.Module) int { return byName(a, b) })
	tr.module(modules)
	var ms []*mapping
	for _, m := range mappings {
		ms = append(ms, tr.mapping(tr.withDefaults(m)))
	}
	tr.resources(hosts, listeners)
	tr.tcpListeners = tr.tcpMappings(tcpms)
	cfg := tr.emit(ms)
	for _, m := range ms {
		st := statuses.For(m.ref())
		st.Generation = m.obj.Generation
		for _, p := range m.problems {
			statuses.AddProblem(m.ref(), p)
		}
	}
	for _, r := range tr.reports {
		st := statuses.For(r.ref)
		st.Generation = r.generation
		for _, p := range r.problems {
			statuses.AddProblem(r.ref, p)
		}
	}
	return cfg, statuses.List()
}

type translation struct {
	in       *translators.Inputs
	settings translators.Settings
	clusters map[string]*ir.Cluster
	// secrets are the TLS Secrets the fragment's listeners and clusters
	// use, by IR name.
	secrets     map[string]*ir.Secret
	tlsContexts []*v3.TLSContext
	// hosts and listeners are the accepted Host and Listener resources;
	// with no Host, Mappings are served as before Hosts existed (see
	// emit), and with no Listener Emissary's defaults apply.
	hosts     []*host
	listeners []*listener
	// reports are the statuses of the kinds other than Mapping.
	reports []*report
	// defaults are the ambassador Module's Mapping defaults, if any.
	defaults *moduleDefaults
	// httpConn are the ambassador Module's connection settings, set on
	// every HTTP listener of the fragment; nil when it sets none.
	httpConn *ir.HTTPConnection
	// tcpListeners are the listeners of the TCPMappings.
	tcpListeners []*ir.Listener
	usedContexts map[*v3.TLSContext]bool
}
