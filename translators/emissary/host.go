package emissary

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// report collects the problems of one Host, Listener or TLSContext.
type report struct {
	ref        translators.ObjectRef
	generation int64
	problems   []translators.Problem
	failed     bool
}

func newReport(kind string, o metav1.Object) *report {
	return &report{ref: translators.ObjectRef{Group: Group, Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName()}, generation: o.GetGeneration()}
}

func (r *report) add(sev translators.Severity, field, reason, format string, args ...any) {
	r.problems = append(r.problems, translators.Problem{Severity: sev, Field: field, Reason: reason, Message: fmt.Sprintf(format, args...)})
	if sev == translators.SeverityError {
		r.failed = true
	}
}

// fieldError reports an invalid value that is left out while the rest
// of the object still applies: an Error in the status that does not fail
// the object.
func (r *report) fieldError(field, format string, args ...any) {
	r.problems = append(r.problems, translators.Problem{Severity: translators.SeverityError, Field: field, Reason: "InvalidValue", Message: fmt.Sprintf(format, args...)})
}

func (r *report) source(field string) ir.Source {
	return ir.Source{Translator: Name, Group: Group, Kind: r.ref.Kind, Namespace: r.ref.Namespace, Name: r.ref.Name, Field: field}
}

// Insecure request actions of a Host.
const (
	actionRedirect = "Redirect"
	actionReject   = "Reject"
	actionRoute    = "Route"
)

// host is an accepted Host.
type host struct {
	obj      *v3.Host
	rep      *report
	hostname string
	// selector is the mappingSelector; nil selects every Mapping.
	selector labels.Selector
	// tls terminates TLS for the Host; nil serves it in cleartext only.
	tls *ir.TLSConfig
	// action is what an insecure request gets.
	action string
	// additionalPort: 0 unset, -1 no insecure serving, else a port.
	additionalPort int
}

// listener is a Listener, or one of Emissary's defaults when there is
// none.
type listener struct {
	rep      *report // nil for a default
	name     string
	port     uint32
	protocol ir.Protocol
	// security is XFP, SECURE or INSECURE.
	security string
	// nsFrom is SELF or ALL; ns the Listener's namespace.
	nsFrom, ns string
	selector   labels.Selector
	// only, when set, is the Hosts an additionalPort listener serves.
	only map[*host]bool
	// l7Depth is the number of layer 7 proxies in front whose
	// X-Forwarded-For (and X-Forwarded-Proto) Envoy trusts; 0 leaves the
	// ambassador Module's xff_num_trusted_hops.
	l7Depth uint32
	// statsPrefix names the listener's statistics; "" keeps the default.
	statsPrefix string
	// terminatesTLS, on a TCP Listener (protocol TCP), says its stack is
	// TLS over TCP: its TCPMappings must then have a host.
	terminatesTLS bool
}

func (l *listener) binds(h *host) bool {
	if l.protocol != ir.ProtocolHTTP && l.protocol != ir.ProtocolHTTPS {
		return false // a TCP Listener serves TCPMappings, not Hosts
	}
	if l.only != nil {
		return l.only[h]
	}
	if l.nsFrom == "SELF" && h.obj.Namespace != l.ns {
		return false
	}
	return l.selector == nil || l.selector.Matches(labels.Set(h.obj.Labels))
}

// secure reports whether requests arriving on l count as secure. With
// XFP, Envoy sets X-Forwarded-Proto from the connection (Legate trusts no
// layer 7 hops), so it is the listener's own protocol.
func (l *listener) secure() bool {
	return l.protocol == ir.ProtocolHTTPS || l.security == "SECURE"
}

// resources checks the Listeners and Hosts; the accepted ones decide where
// Mappings are served (see emit).
func (tr *translation) resources(hosts []*v3.Host, listeners []*v3.Listener) {
	ports := map[uint32]string{}
	for _, obj := range listeners {
		l := tr.listener(obj)
		if l == nil {
			continue
		}
		if other, ok := ports[l.port]; ok {
			l.rep.add(translators.SeverityError, "spec.port", "PortConflict", "port %d is already used by Listener %s; this Listener is left out", l.port, other)
			continue
		}
		ports[l.port] = obj.Namespace + "/" + obj.Name
		tr.listeners = append(tr.listeners, l)
	}
	if len(listeners) == 0 {
		// Emissary's documented defaults without any Listener: HTTP on
		// 8080 and HTTPS on 8443, security model XFP, Hosts of every
		// namespace. Legate's are its shared listeners (--http-port,
		// --https-port; 8080 and 8443 by default).
		tr.listeners = []*listener{
			{name: tr.settings.HTTPListenerName(), port: tr.settings.HTTPPort, protocol: ir.ProtocolHTTP, security: "XFP", nsFrom: "ALL"},
			{name: tr.settings.HTTPSListenerName(), port: tr.settings.HTTPSPort, protocol: ir.ProtocolHTTPS, security: "XFP", nsFrom: "ALL"},
		}
	}
	names := map[string]string{}
	for _, obj := range hosts {
		h := tr.host(obj)
		if h == nil {
			continue
		}
		if other, ok := names[h.hostname]; ok {
			h.rep.add(translators.SeverityError, "spec.hostname", "HostnameConflict", "hostname %q is already served by Host %s; this Host is left out", h.hostname, other)
			continue
		}
		names[h.hostname] = obj.Namespace + "/" + obj.Name
		bound := false
		for _, l := range tr.listeners {
			bound = bound || l.binds(h)
		}
		if !bound {
			h.rep.add(translators.SeverityWarning, "", "NoListener", "no Listener's hostBinding takes this Host; it is not served")
		}
		tr.hosts = append(tr.hosts, h)
		if h.additionalPort > 0 {
			tr.additionalPort(h)
		}
	}
}

// additionalPort serves the insecure requests of h on its additionalPort:
// a cleartext listener that serves only the Hosts that name the port,
// unless a Listener already has it.
func (tr *translation) additionalPort(h *host) {
	port := uint32(h.additionalPort)
	for _, l := range tr.listeners {
		if l.port != port {
			continue
		}
		if l.only != nil {
			l.only[h] = true
		} else if l.protocol != ir.ProtocolHTTP {
			h.rep.add(translators.SeverityWarning, "spec.requestPolicy.insecure.additionalPort", "PortConflict", "additionalPort %d is the port of a%s Listener; insecure requests are not served there", port, map[ir.Protocol]string{ir.ProtocolHTTPS: "n HTTPS", ir.ProtocolTCP: " TCP"}[l.protocol])
		}
		return
	}
	name := fmt.Sprintf("emissary-%d", port)
	if port == tr.settings.HTTPPort {
		name = tr.settings.HTTPListenerName()
	}
	tr.listeners = append(tr.listeners, &listener{name: name, port: port, protocol: ir.ProtocolHTTP, security: "INSECURE", nsFrom: "ALL", only: map[*host]bool{h: true}})
}

func (tr *translation) listener(obj *v3.Listener) *listener {
	rep := newReport("Listener", obj)
	tr.reports = append(tr.reports, rep)
	sp := &obj.Spec
	l := &listener{rep: rep, port: uint32(sp.Port), security: string(sp.SecurityModel), ns: obj.Namespace, nsFrom: string(sp.HostBinding.Namespace.From)}
	if sp.Port < 1 || sp.Port > 65535 {
		rep.add(translators.SeverityError, "spec.port", "InvalidPort", "port %d is not in 1-65535", sp.Port)
	}
	stack := []string{}
	switch {
	case sp.Protocol != "" && len(sp.ProtocolStack) > 0:
		rep.add(translators.SeverityError, "spec.protocol", "InvalidProtocol", "set protocol or protocolStack, not both")
	case sp.Protocol != "":
		stack = map[v3.ProtocolType][]string{
			"HTTP": {"HTTP", "TCP"}, "HTTPS": {"TLS", "HTTP", "TCP"}, "HTTPPROXY": {"PROXY", "HTTP", "TCP"},
			"HTTPSPROXY": {"PROXY", "TLS", "HTTP", "TCP"}, "TCP": {"TCP"}, "TLS": {"TLS", "TCP"}, "UDP": {"UDP"},
		}[sp.Protocol]
		if stack == nil {
			rep.add(translators.SeverityError, "spec.protocol", "InvalidProtocol", "protocol %q is not one of HTTP, HTTPS, HTTPPROXY, HTTPSPROXY, TCP, TLS, UDP", sp.Protocol)
		}
	case len(sp.ProtocolStack) > 0:
		for _, e := range sp.ProtocolStack {
			stack = append(stack, string(e))
		}
	default:
		rep.add(translators.SeverityError, "spec.protocol", "InvalidProtocol", "set protocol or protocolStack")
	}
	joined := strings.Join(stack, ",")
	switch joined {
	case "HTTP,TCP", "HTTP":
		l.protocol = ir.ProtocolHTTP
	case "TLS,HTTP,TCP", "TLS,HTTP":
		l.protocol = ir.ProtocolHTTPS
	case "":
	default:
		switch {
		case slices.Contains(stack, "PROXY"):
			rep.add(translators.SeverityError, "spec.protocolStack", "NotSupported", "the PROXY protocol is not supported; the Listener is left out")
		case joined == "TCP" || joined == "TLS,TCP":
			// TCPMappings make the listeners of their ports themselves.
			l.protocol = ir.ProtocolTCP
		default:
			rep.add(translators.SeverityError, "spec.protocolStack", "NotSupported", "protocol stack %s is not supported; the Listener is left out", joined)
		}
	}
	switch sp.SecurityModel {
	case "XFP", "SECURE", "INSECURE":
	default:
		rep.add(translators.SeverityError, "spec.securityModel", "InvalidSecurityModel", "securityModel %q is not one of XFP, SECURE, INSECURE", sp.SecurityModel)
	}
	switch l.nsFrom {
	case "":
		l.nsFrom = "SELF" // Emissary's default binding
	case "SELF", "ALL":
	default:
		rep.add(translators.SeverityError, "spec.hostBinding.namespace.from", "NotSupported", "namespace binding %q is not supported (SELF or ALL)", l.nsFrom)
	}
	if s := sp.HostBinding.Selector; s != nil {
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			rep.add(translators.SeverityError, "spec.hostBinding.selector", "InvalidSelector", "%v", err)
		}
		l.selector = sel
	}
	if sp.HTTP2MaxConcurrentStreams != nil {
		rep.add(translators.SeverityWarning, "spec.http2MaxConcurrentStreams", "NotSupported", "http2MaxConcurrentStreams is not supported; Envoy's default applies")
	}
	if rep.failed {
		return nil
	}
	// l7Depth and statsPrefix are checked after the rest: a bad value is
	// an Error on its own field and is left out, while the Listener is
	// still served (with the defaults), as a bad connection setting of
	// the ambassador Module is.
	switch d := sp.L7Depth; {
	case d < 0:
		rep.fieldError("spec.l7Depth", "l7Depth %d is negative: it counts the layer 7 proxies in front of Envoy; it is left out", d)
	case d > 0 && l.protocol == ir.ProtocolTCP:
		rep.add(translators.SeverityWarning, "spec.l7Depth", "NotApplied", "l7Depth has no effect on a %s Listener: there are no HTTP headers to trust", joined)
	default:
		l.l7Depth = uint32(d)
	}
	if sp.StatsPrefix != "" {
		if err := ir.ValidateStatPrefix(sp.StatsPrefix); err != nil {
			rep.fieldError("spec.statsPrefix", "%v; it is left out", err)
		} else {
			l.statsPrefix = sp.StatsPrefix
		}
	}
	if l.protocol == ir.ProtocolTCP {
		// Nothing to build: the TCPMappings of its port do, with its
		// statsPrefix.
		l.terminatesTLS = joined == "TLS,TCP"
		return l
	}
	switch {
	case l.protocol == ir.ProtocolHTTP && l.port == tr.settings.HTTPPort:
		l.name = tr.settings.HTTPListenerName()
	case l.protocol == ir.ProtocolHTTPS && l.port == tr.settings.HTTPSPort:
		l.name = tr.settings.HTTPSListenerName()
	default:
		l.name = fmt.Sprintf("emissary-%d", l.port)
	}
	return l
}

func (tr *translation) host(obj *v3.Host) *host {
	rep := newReport("Host", obj)
	tr.reports = append(tr.reports, rep)
	sp := &obj.Spec
	h := &host{obj: obj, rep: rep, hostname: strings.ToLower(sp.Hostname)}
	if h.hostname == "" {
		h.hostname = "*"
	}
	if err := ir.ValidateHostname(h.hostname); err != nil {
		rep.add(translators.SeverityError, "spec.hostname", "InvalidHostname", "hostname %q is not supported: want a DNS name, \"*.\" followed by one, or \"*\"", sp.Hostname)
	}
	sel := sp.MappingSelector
	if sel == nil && sp.Selector != nil {
		rep.add(translators.SeverityWarning, "spec.selector", "Deprecated", "selector is deprecated; it is used as mappingSelector")
		sel = sp.Selector
	}
	if sel != nil {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			rep.add(translators.SeverityError, "spec.mappingSelector", "InvalidSelector", "%v", err)
		}
		h.selector = s
	}
	if a := sp.AcmeProvider; a != nil && a.Authority != "none" {
		rep.add(translators.SeverityWarning, "spec.acmeProvider", "NotSupported",
			"ACME is not supported: Legate obtains no certificates; give the Host a tlsSecret (for example one cert-manager fills)")
	}
	if p := sp.PreviewURL; p != nil && p.Enabled != nil && *p.Enabled {
		rep.add(translators.SeverityWarning, "spec.previewUrl", "NotSupported", "preview URLs are not supported")
	}
	h.tls = tr.hostTLS(h)
	h.action = actionRoute
	if h.tls != nil {
		h.action = actionRedirect
	}
	if rp := sp.RequestPolicy; rp != nil {
		switch a := rp.Insecure.Action; a {
		case "":
		case actionRedirect, actionReject, actionRoute:
			h.action = a
		default:
			rep.add(translators.SeverityError, "spec.requestPolicy.insecure.action", "InvalidAction", "action %q is not one of Redirect, Reject, Route", a)
		}
		if p := rp.Insecure.AdditionalPort; p != nil {
			switch {
			case *p == -1:
				h.additionalPort = -1
			case *p >= 1 && *p <= 65535:
				h.additionalPort = *p
			default:
				rep.add(translators.SeverityError, "spec.requestPolicy.insecure.additionalPort", "InvalidPort", "additionalPort %d is not -1 or in 1-65535", *p)
			}
		}
	}
	if rep.failed {
		return nil
	}
	return h
}

// hostTLS builds the TLS termination of a Host: its tlsSecret, with the
// settings of its tlsContext, its inline tls, or a TLSContext whose hosts
// list its hostname.
func (tr *translation) hostTLS(h *host) *ir.TLSConfig {
	sp := &h.obj.Spec
	rep := h.rep
	var ctx *v3.TLSContextSpec
	ctxName := ""
	switch {
	case sp.TLSContext != nil && sp.TLS != nil:
		rep.add(translators.SeverityError, "spec.tls", "InvalidTLS", "set tlsContext or tls, not both")
		return nil
	case sp.TLSContext != nil:
		c := tr.findTLSContext(h.obj.Namespace, sp.TLSContext.Name)
		if c == nil {
			rep.add(translators.SeverityError, "spec.tlsContext", "TLSContextNotFound", "TLSContext %q does not exist", sp.TLSContext.Name)
			return nil
		}
		ctx, ctxName = &c.Spec, c.Namespace+"/"+c.Name
		tr.usedContext(c)
	case sp.TLS != nil:
		t := sp.TLS
		ctx = &v3.TLSContextSpec{
			CertChainFile: t.CertChainFile, PrivateKeyFile: t.PrivateKeyFile, CASecret: t.CASecret, CACertChainFile: t.CACertChainFile,
			CRLSecret: t.CRLSecret, ALPNProtocols: t.ALPNProtocols, CertRequired: t.CertRequired, MinTLSVersion: t.MinTLSVersion,
			MaxTLSVersion: t.MaxTLSVersion, CipherSuites: t.CipherSuites, ECDHCurves: t.ECDHCurves, RedirectCleartextFrom: t.RedirectCleartextFrom, SNI: t.SNI,
		}
	default:
		for _, c := range tr.tlsContexts {
			if slices.Contains(c.Spec.Hosts, h.hostname) && (c.Namespace == h.obj.Namespace || ctx == nil) {
				ctx, ctxName = &c.Spec, c.Namespace+"/"+c.Name
				tr.usedContext(c)
				if c.Namespace == h.obj.Namespace {
					break
				}
			}
		}
	}
	if sp.TLSSecret == nil || sp.TLSSecret.Name == "" {
		if ctx != nil && (sp.TLSContext != nil || sp.TLS != nil) {
			rep.add(translators.SeverityWarning, "spec.tlsSecret", "NoTLSSecret", "TLS settings without a tlsSecret have no effect: TLS is terminated only with a tlsSecret")
		}
		return nil
	}
	ns := sp.TLSSecret.Namespace
	if ns == "" {
		ns = h.obj.Namespace
	}
	name, err := tr.certSecret(ns, sp.TLSSecret.Name)
	if err != nil {
		rep.add(translators.SeverityError, "spec.tlsSecret", "InvalidSecret", "%v", err)
		return nil
	}
	out := &ir.TLSConfig{SecretNames: []string{name}}
	if ctx == nil {
		return out
	}
	field := "spec.tls"
	var c *v3.TLSContext
	if ctxName != "" {
		field = "spec.tlsContext"
		c = tr.findTLSContext(h.obj.Namespace, ctxName[strings.Index(ctxName, "/")+1:])
		if ctx.Secret != "" {
			cns, cname := secretRef(c, ctx.Secret)
			if cns+"/"+cname != name {
				rep.add(translators.SeverityError, field, "SecretMismatch", "TLSContext %s names secret %s/%s but the Host's tlsSecret is %s: they must be the same", ctxName, cns, cname, name)
				return nil
			}
		}
	}
	if !tr.tlsSettings(rep, field, ctx, c, h.obj.Namespace, out) {
		return nil
	}
	return out
}

// tlsSettings copies the settings of a TLSContext (c, or inline ones
// when c is nil, whose secrets are in ns) but the certificate into out:
// TLS versions, cipher suites, ECDH curves, ALPN, and ca_secret with
// cert_required for client certificates. Problems are reported on field
// of rep; it returns false when one of them is an Error.
func (tr *translation) tlsSettings(rep *report, field string, ctx *v3.TLSContextSpec, c *v3.TLSContext, ns string, out *ir.TLSConfig) bool {
	var ok bool
	if out.MinVersion, ok = tlsVersion(ctx.MinTLSVersion); !ok {
		rep.add(translators.SeverityError, field, "InvalidTLS", "min_tls_version %q is not v1.0-v1.3", ctx.MinTLSVersion)
	}
	if out.MaxVersion, ok = tlsVersion(ctx.MaxTLSVersion); !ok {
		rep.add(translators.SeverityError, field, "InvalidTLS", "max_tls_version %q is not v1.0-v1.3", ctx.MaxTLSVersion)
	}
	out.CipherSuites = append([]string(nil), ctx.CipherSuites...)
	out.ECDHCurves = append([]string(nil), ctx.ECDHCurves...)
	out.ALPN = splitList(ctx.ALPNProtocols)
	if ctx.CASecret != "" {
		cns, cname := ns, ctx.CASecret
		if c != nil {
			cns, cname = secretRef(c, ctx.CASecret)
		}
		ca, err := tr.caSecret(cns, cname)
		if err != nil {
			rep.add(translators.SeverityError, field, "InvalidSecret", "ca_secret: %v", err)
			return false
		}
		out.ClientCA = ca
		out.ClientCertRequired = ctx.CertRequired != nil && *ctx.CertRequired
	} else if ctx.CertRequired != nil && *ctx.CertRequired {
		rep.add(translators.SeverityError, field, "InvalidTLS", "cert_required needs a ca_secret to check client certificates against")
	}
	for _, f := range []struct{ name, v string }{
		{"cert_chain_file", ctx.CertChainFile}, {"private_key_file", ctx.PrivateKeyFile},
		{"cacert_chain_file", ctx.CACertChainFile}, {"crl_secret", ctx.CRLSecret},
	} {
		if f.v != "" {
			rep.add(translators.SeverityWarning, field, "NotSupported", "%s is not supported (Legate reads certificates from Secrets) and is ignored", f.name)
		}
	}
	if ctx.RedirectCleartextFrom != nil {
		rep.add(translators.SeverityWarning, field, "Deprecated", "redirect_cleartext_from is ignored: use requestPolicy.insecure.action")
	}
	return !rep.failed
}

func (tr *translation) usedContext(c *v3.TLSContext) {
	if tr.usedContexts == nil {
		tr.usedContexts = map[*v3.TLSContext]bool{}
	}
	tr.usedContexts[c] = true
}

// reportContexts gives every TLSContext a status: a TLSContext neither a
// Host nor a Mapping uses has no effect.
func (tr *translation) reportContexts() {
	for _, c := range tr.tlsContexts {
		rep := newReport("TLSContext", c)
		tr.reports = append(tr.reports, rep)
		if !tr.usedContexts[c] {
			rep.add(translators.SeverityWarning, "", "Unused", "no Host with a tlsSecret and no Mapping uses this TLSContext; it has no effect")
		}
	}
}

// globsOverlap reports whether some hostname matches both DNS globs.
func globsOverlap(a, b string) bool {
	switch {
	case a == "*" || b == "*" || a == b:
		return true
	case strings.HasPrefix(a, "*.") && strings.HasPrefix(b, "*."):
		return strings.HasSuffix(a, b[1:]) || strings.HasSuffix(b, a[1:])
	case strings.HasPrefix(a, "*."):
		return strings.HasSuffix(b, a[1:])
	case strings.HasPrefix(b, "*."):
		return strings.HasSuffix(a, b[1:])
	}
	return false
}

// authorityMatch is the ":authority" match that narrows a Host's virtual
// host to a Mapping's hostname, or nil when the Host is no wider.
func authorityMatch(mappingHost, hostHost string) *ir.HeaderMatch {
	if mappingHost == "*" || mappingHost == hostHost || !strings.HasPrefix(hostHost, "*") {
		return nil
	}
	re := regexp.QuoteMeta(mappingHost)
	if rest, ok := strings.CutPrefix(mappingHost, "*."); ok {
		re = `.+\.` + regexp.QuoteMeta(rest)
	}
	return &ir.HeaderMatch{Name: ":authority", Type: ir.MatchRegex, Value: "(?i)^" + re + "(:[0-9]+)?$"}
}
