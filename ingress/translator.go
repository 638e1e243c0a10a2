package ingress

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// Name is the translator's registry name.
const Name = "ingress"

const (
	group = "networking.k8s.io"
	kind  = "Ingress"

	// AnnotationIngressClass is the legacy way of naming an Ingress's class,
	// read only when spec.ingressClassName is unset.
	AnnotationIngressClass = "kubernetes.io/ingress.class"
	// LegacyClassName is accepted in AnnotationIngressClass even when no
	// IngressClass of that name exists.
	LegacyClassName = "legate"
	// AnnotationDefaultClass marks an IngressClass as the cluster default.
	AnnotationDefaultClass = "ingressclass.kubernetes.io/is-default-class"
	// AnnotationForceSSLRedirect, set to "true", makes plain HTTP answer
	// with a redirect to https for the Ingress's hosts served over TLS.
	AnnotationForceSSLRedirect = "ingress.kubernetes.io/force-ssl-redirect"
)

type translator struct{}

// New returns the Ingress translator.
func New() translators.Translator { return translator{} }

func (translator) Name() string { return Name }

func (translator) Kinds() []client.Object {
	return []client.Object{
		&networkingv1.Ingress{},
		&networkingv1.IngressClass{},
		&corev1.Service{},
		&discoveryv1.EndpointSlice{},
		&corev1.Secret{},
		&corev1.Namespace{},
	}
}

func (translator) AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{networkingv1.AddToScheme, corev1.AddToScheme, discoveryv1.AddToScheme} {
		if err := add(s); err != nil {
			return fmt.Errorf("ingress: adding types to scheme: %w", err)
		}
	}
	return nil
}

func (translator) Translate(in *translators.Inputs, s translators.Settings) (*ir.Config, []*translators.ObjectStatus) {
	t := &translation{
		in:       in,
		settings: s,
		hosts:    map[string]*hostRoutes{},
		tlsHosts: map[string]*tlsHost{},
		clusters: map[string]*ir.Cluster{},
		secrets:  map[string]*ir.Secret{},
	}
	ings := Select(in.IngressClasses, in.Ingresses, s.IngressController)
	states := make([]*ingressState, len(ings))
	for i, ing := range ings {
		states[i] = &ingressState{ing: ing, vhosts: map[string]bool{}}
	}
	// TLS first: whether a host is served over HTTPS decides what its HTTP
	// routes do (forward or redirect), whichever Ingress they come from.
	for _, st := range states {
		t.collectTLS(st)
	}
	for _, st := range states {
		t.collectRules(st)
	}
	// Default backends last, so that they step aside for any Ingress's own
	// "/" route of the same host, older or younger.
	for _, st := range states {
		t.collectDefaultBackend(st)
	}
	cfg := t.emit()
	statuses := make([]translators.ObjectStatus, 0, len(states))
	for _, st := range states {
		statuses = append(statuses, translators.ObjectStatus{
			Object:       translators.ObjectRef{Group: group, Kind: kind, Namespace: st.ing.Namespace, Name: st.ing.Name},
			Generation:   st.ing.Generation,
			Problems:     st.problems,
			LoadBalancer: slices.Clone(s.StatusAddresses),
		})
	}
	return cfg, translators.Pointers(statuses)
}

// Select returns the Ingresses that are Legate's (see the package doc),
// oldest first (creation timestamp, then namespace/name), each
// namespace/name once.
func Select(classes []*networkingv1.IngressClass, ingresses []*networkingv1.Ingress, controller string) []*networkingv1.Ingress {
	owned := map[string]bool{}
	haveDefault := false
	for _, c := range classes {
		if controller == "" || c.Spec.Controller != controller {
			continue
		}
		owned[c.Name] = true
		if c.Annotations[AnnotationDefaultClass] == "true" {
			haveDefault = true
		}
	}
	seen := map[string]bool{}
	var out []*networkingv1.Ingress
	for _, ing := range ingresses {
		if ing == nil || !isOurs(ing, owned, haveDefault) {
			continue
		}
		key := ing.Namespace + "/" + ing.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, ing)
	}
	slices.SortStableFunc(out, func(a, b *networkingv1.Ingress) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func isOurs(ing *networkingv1.Ingress, owned map[string]bool, haveDefault bool) bool {
	if ing.Spec.IngressClassName != nil {
		return owned[*ing.Spec.IngressClassName]
	}
	if c, ok := ing.Annotations[AnnotationIngressClass]; ok {
		return c == LegacyClassName || owned[c]
	}
	return haveDefault
}

// ingressState is what the translation learns about one Ingress.
type ingressState struct {
	ing      *networkingv1.Ingress
	problems []translators.Problem
	// vhosts are the virtual host names of this Ingress's rules and TLS
	// hosts: where its default backend goes.
	vhosts     map[string]bool
	vhostOrder []string
}

func (st *ingressState) addVHost(name string) {
	if !st.vhosts[name] {
		st.vhosts[name] = true
		st.vhostOrder = append(st.vhostOrder, name)
	}
}

func (st *ingressState) problem(sev translators.Severity, field, reason, format string, args ...any) {
	st.problems = append(st.problems, translators.Problem{
		Severity: sev, Field: field, Reason: reason, Message: fmt.Sprintf(format, args...),
	})
}

func (st *ingressState) source(field string) ir.Source {
	return ir.Source{Translator: Name, Group: group, Kind: kind, Namespace: st.ing.Namespace, Name: st.ing.Name, Field: field}
}

func (st *ingressState) routeName(suffix string) string {
	return "ingress/" + st.ing.Namespace + "/" + st.ing.Name + "/" + suffix
}

// hostRoutes are the routes of one virtual host, in Ingress order.
type hostRoutes struct {
	routes []hostRoute
}

type hostRoute struct {
	route *ir.Route
	// redirect: on plain HTTP, answer with a redirect to https (when the
	// host is served over TLS).
	redirect bool
	// isDefault marks a default backend's catch-all.
	isDefault bool
}

// tlsHost is the certificate a host is served with, and who set it.
type tlsHost struct {
	secret string
	owner  string
}

type translation struct {
	in       *translators.Inputs
	settings translators.Settings
	hosts    map[string]*hostRoutes
	tlsHosts map[string]*tlsHost
	clusters map[string]*ir.Cluster
	secrets  map[string]*ir.Secret
}

func (t *translation) addRoute(vhost string, r *ir.Route, redirect bool) {
	h, ok := t.hosts[vhost]
	if !ok {
		h = &hostRoutes{}
		t.hosts[vhost] = h
	}
	h.routes = append(h.routes, hostRoute{route: r, redirect: redirect})
}

// clusterNames returns which of the clusters r names exist, for
// ir.ValidateRoute: only r's own, so that validating every path does not
// copy every cluster (quadratic with thousands of Services).
func (t *translation) clusterNames(r *ir.Route) map[string]bool {
	out := map[string]bool{}
	mark := func(name string) {
		if _, ok := t.clusters[name]; ok {
			out[name] = true
		}
	}
	if r.Forward != nil {
		for _, b := range r.Forward.Backends {
			mark(b.Cluster)
		}
	}
	for _, m := range r.Filters.Mirrors {
		mark(m.Cluster)
	}
	return out
}

// emit builds the fragment: every virtual host on the HTTP listener, TLS
// hosts also on the HTTPS listener, and the clusters and secrets they use.
func (t *translation) emit() *ir.Config {
	cfg := &ir.Config{}
	names := make([]string, 0, len(t.hosts))
	for n := range t.hosts {
		names = append(names, n)
	}
	slices.Sort(names)

	httpL := &ir.Listener{Name: t.settings.HTTPListenerName(), Address: t.settings.ListenAddress, Port: t.settings.HTTPPort, Protocol: ir.ProtocolHTTP}
	httpsL := &ir.Listener{Name: t.settings.HTTPSListenerName(), Address: t.settings.ListenAddress, Port: t.settings.HTTPSPort, Protocol: ir.ProtocolHTTPS}
	usedClusters := map[string]bool{}
	usedSecrets := map[string]bool{}
	for _, name := range names {
		h := t.hosts[name]
		if len(h.routes) == 0 {
			continue
		}
		tls := t.tlsHosts[name]
		vh := &ir.VirtualHost{Name: name, Hostnames: []string{name}}
		for _, hr := range h.routes {
			r := *hr.route
			if hr.redirect && tls != nil {
				r.Forward, r.DirectResponse = nil, nil
				r.Redirect = &ir.Redirect{Scheme: "https", StatusCode: 301}
			}
			vh.Routes = append(vh.Routes, &r)
		}
		httpL.VirtualHosts = append(httpL.VirtualHosts, vh)
		if tls != nil {
			svh := &ir.VirtualHost{Name: name, Hostnames: []string{name}, TLS: &ir.TLSConfig{SecretNames: []string{tls.secret}}}
			for _, hr := range h.routes {
				r := *hr.route
				svh.Routes = append(svh.Routes, &r)
			}
			httpsL.VirtualHosts = append(httpsL.VirtualHosts, svh)
			usedSecrets[tls.secret] = true
		}
		for _, hr := range h.routes {
			if f := hr.route.Forward; f != nil {
				for _, b := range f.Backends {
					usedClusters[b.Cluster] = true
				}
			}
		}
	}
	if len(httpL.VirtualHosts) > 0 {
		cfg.Listeners = append(cfg.Listeners, httpL)
	}
	if len(httpsL.VirtualHosts) > 0 {
		cfg.Listeners = append(cfg.Listeners, httpsL)
	}
	for _, n := range sortedKeys(t.clusters) {
		if usedClusters[n] {
			cfg.Clusters = append(cfg.Clusters, t.clusters[n])
		}
	}
	for _, n := range sortedKeys(t.secrets) {
		if usedSecrets[n] {
			cfg.Secrets = append(cfg.Secrets, t.secrets[n])
		}
	}
	return cfg
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
