package gatewayapi

import (
	"fmt"
	"regexp"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators/ir"
)

// GRPCRoute rules. Everything else of a GRPCRoute (parent references,
// hostnames, attachment, status) is done as for an HTTPRoute, by the same
// code (httproute.go); this file holds what differs: matches, the filters
// allowed, and precedence.
//
// A gRPC call is an HTTP/2 POST to the path "/<service>/<method>", so a
// method match is a path match:
//
//   - Exact service and method: the exact path "/<service>/<method>";
//   - Exact service only: the prefix "/<service>/";
//   - Exact method only: the regular expression "/[^/]+/<method>";
//   - RegularExpression: "/(?:<service>)/(?:<method>)", an omitted part
//     being "[^/]+" (RE2, matched against the whole path).
//
// Header matches are those of an HTTPRoute (Exact and RegularExpression).
//
// Precedence (the spec's order: the longer service, then the longer
// method, then more header matches; ties go to the older route, then to
// the first rule) is carried in ir.Route.Precedence (see grpcPrecedence),
// since no path order expresses it: a service-only match must win over a
// method-only one, which is a regular expression. A GRPCRoute and an
// HTTPRoute never share a hostname of a listener (the older is accepted
// there, see kindConflict), so the precedence never mixes with HTTPRoute
// routes.

// grpcServiceRE and grpcMethodRE are what the API server admits as Exact
// service and method names (a folder of YAML is not validated).
var (
	grpcServiceRE = regexp.MustCompile(`^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`)
	grpcMethodRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*$`)
)

// grpcMatchFor translates one GRPCRouteMatch, with its precedence. An error
// means the match cannot be served as written; its rule is left out.
func grpcMatchFor(m gatewayv1.GRPCRouteMatch) (ir.Match, int32, error) {
	out := ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}}
	var service, method string
	if mm := m.Method; mm != nil {
		typ := gatewayv1.GRPCMethodMatchExact
		if mm.Type != nil {
			typ = *mm.Type
		}
		if mm.Service != nil {
			service = *mm.Service
		}
		if mm.Method != nil {
			method = *mm.Method
		}
		if service == "" && method == "" {
			return out, 0, fmt.Errorf("method: one or both of service and method must be given")
		}
		if len(service) > 1024 || len(method) > 1024 {
			// The API's limit, which grpcPrecedence relies on.
			return out, 0, fmt.Errorf("method: service and method are limited to 1024 characters")
		}
		switch typ {
		case gatewayv1.GRPCMethodMatchExact:
			if service != "" && !grpcServiceRE.MatchString(service) {
				return out, 0, fmt.Errorf("method: service %q is not a valid gRPC service name", service)
			}
			if method != "" && !grpcMethodRE.MatchString(method) {
				return out, 0, fmt.Errorf("method: method %q is not a valid gRPC method name", method)
			}
			switch {
			case service != "" && method != "":
				out.Path = ir.PathMatch{Type: ir.PathExact, Value: "/" + service + "/" + method}
			case service != "":
				out.Path = ir.PathMatch{Type: ir.PathPrefix, Value: "/" + service + "/"}
			default:
				out.Path = ir.PathMatch{Type: ir.PathRegex, Value: "/[^/]+/" + regexp.QuoteMeta(method)}
			}
		case gatewayv1.GRPCMethodMatchRegularExpression:
			svcRE, methodRE := "[^/]+", "[^/]+"
			if service != "" {
				if err := ir.ValidateRegex(service); err != nil {
					return out, 0, fmt.Errorf("method: service: %w", err)
				}
				svcRE = "(?:" + service + ")"
			}
			if method != "" {
				if err := ir.ValidateRegex(method); err != nil {
					return out, 0, fmt.Errorf("method: method: %w", err)
				}
				methodRE = "(?:" + method + ")"
			}
			out.Path = ir.PathMatch{Type: ir.PathRegex, Value: "/" + svcRE + "/" + methodRE}
			if err := ir.ValidateRegex(out.Path.Value); err != nil {
				return out, 0, fmt.Errorf("method: %w", err)
			}
		default:
			return out, 0, fmt.Errorf("method: match type %q is not supported", typ)
		}
	}
	hs := make([]gatewayv1.HTTPHeaderMatch, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = gatewayv1.HTTPHeaderMatch{Name: gatewayv1.HTTPHeaderName(h.Name), Value: h.Value}
		if h.Type != nil {
			hs[i].Type = ptr(gatewayv1.HeaderMatchType(*h.Type))
		}
	}
	headers, err := headerMatches(hs)
	if err != nil {
		return out, 0, err
	}
	out.Headers = headers
	return out, grpcPrecedence(len(service), len(method), len(headers)), nil
}

// grpcPrecedence encodes the GRPCRoute precedence of a match as one number,
// higher first: the characters of its service, then of its method, then
// its header matches. Services and methods are at most 1024 characters and
// matches hold at most 16 headers, so each part fits below the next.
func grpcPrecedence(service, method, headers int) int32 {
	const headerSpan = 17                // 0-16 header matches
	const methodSpan = 1025 * headerSpan // 0-1024 method characters
	return int32(service*methodSpan + method*headerSpan + min(headers, headerSpan-1))
}

// grpcFilterTypes are the GRPCRoute filters Legate applies, translated as
// the HTTPRoute filters of the same name (the API gives them the same
// types). ExtensionRef never resolves (see ruleFiltersFor).
var grpcFilterTypes = map[gatewayv1.GRPCRouteFilterType]bool{
	gatewayv1.GRPCRouteFilterRequestHeaderModifier:  true,
	gatewayv1.GRPCRouteFilterResponseHeaderModifier: true,
	gatewayv1.GRPCRouteFilterRequestMirror:          true,
	gatewayv1.GRPCRouteFilterExtensionRef:           true,
}

// translateGRPCRule translates rule i of a GRPCRoute, as translateRule does
// for an HTTPRoute.
func (t *translation) translateGRPCRule(rs *routeState, i int, field string) (*ruleState, []*refFailure, *invalidRule) {
	spec := &rs.grpc.Spec.Rules[i]
	rule := &ruleState{index: i, field: field}
	name, err := grpcRuleName(rs.grpc, i)
	if err != nil {
		return nil, nil, unsupported("%v", err)
	}
	rule.name = name
	for j, m := range spec.Matches {
		im, prec, err := grpcMatchFor(m)
		if err != nil {
			return nil, nil, unsupported("matches[%d]: %v", j, err)
		}
		rule.matches = append(rule.matches, im)
		rule.precedence = append(rule.precedence, prec)
	}
	if len(rule.matches) == 0 {
		rule.matches = []ir.Match{defaultMatch}
		rule.precedence = []int32{0}
	}
	if spec.SessionPersistence != nil {
		sp, err := sessionFor(spec.SessionPersistence)
		if err != nil {
			return nil, nil, unsupported("sessionPersistence: %v", err)
		}
		rule.session = sp
	}
	hf, bad := httpFilters(spec.Filters, "filters")
	if bad != nil {
		return nil, nil, bad
	}
	filters, fails, bad := t.ruleFiltersFor(rs, hf, field+".filters", rule.matches)
	if bad != nil {
		return nil, fails, bad
	}
	rule.filters = filters
	for j, br := range spec.BackendRefs {
		bf := fmt.Sprintf("%s.backendRefs[%d]", field, j)
		bhf, bad := httpFilters(br.Filters, fmt.Sprintf("backendRefs[%d].filters", j))
		if bad != nil {
			return nil, fails, bad
		}
		reqHeaders, respHeaders, err := backendFiltersFor(bhf)
		if err != nil {
			return nil, fails, unsupported("backendRefs[%d].%v", j, err)
		}
		wb, fail, bad := t.weightedBackend(rs, br.BackendRef, j, bf)
		if bad != nil {
			return nil, fails, bad
		}
		if fail != nil {
			fails = append(fails, fail)
		}
		if wb.Weight > 0 {
			if wb.Cluster != "" {
				wb.RequestHeaders, wb.ResponseHeaders = reqHeaders, respHeaders
			}
			rule.backends = append(rule.backends, wb)
		}
	}
	return rule, fails, nil
}

// httpFilters turns GRPCRoute filters into the HTTPRoute filters of the
// same type, which the API defines alike, so that one translation serves
// both kinds. A type GRPCRoute does not have leaves the rule out.
func httpFilters(fs []gatewayv1.GRPCRouteFilter, field string) ([]gatewayv1.HTTPRouteFilter, *invalidRule) {
	out := make([]gatewayv1.HTTPRouteFilter, 0, len(fs))
	for j, f := range fs {
		if !grpcFilterTypes[f.Type] {
			return nil, unsupported("%s[%d]: filter type %q is not supported on a GRPCRoute", field, j, f.Type)
		}
		out = append(out, gatewayv1.HTTPRouteFilter{
			Type:                   gatewayv1.HTTPRouteFilterType(f.Type),
			RequestHeaderModifier:  f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier,
			RequestMirror:          f.RequestMirror,
			ExtensionRef:           f.ExtensionRef,
		})
	}
	return out, nil
}

// grpcRuleName checks and returns the name of rule i of a GRPCRoute, by
// the rules HTTPRoute rule names follow (ruleNameFor): the names are the
// same type with the same constraints.
func grpcRuleName(r *gatewayv1.GRPCRoute, i int) (string, error) {
	names := &gatewayv1.HTTPRoute{Spec: gatewayv1.HTTPRouteSpec{Rules: make([]gatewayv1.HTTPRouteRule, i+1)}}
	for k := range names.Spec.Rules {
		names.Spec.Rules[k].Name = r.Spec.Rules[k].Name
	}
	return ruleNameFor(names, i)
}
