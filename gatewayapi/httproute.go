package gatewayapi

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators/ir"
)

// routeState is what the translation decided about one route: an
// HTTPRoute or a GRPCRoute. Parent references, hostnames, attachment and
// status are the same for both kinds (this file); only the rules differ
// (route for an HTTPRoute, grpc for a GRPCRoute, see grpcroute.go).
type routeState struct {
	// kind is "HTTPRoute" or "GRPCRoute"; meta and parentRefs are the
	// route's, whichever its kind.
	kind       string
	meta       *metav1.ObjectMeta
	parentRefs []gatewayv1.ParentReference

	route *gatewayv1.HTTPRoute
	grpc  *gatewayv1.GRPCRoute
	// routeResult is what translateRules made of the route: its own,
	// or, for a route remembered unchanged, the memo's, shared with
	// other runs and never written (see translateRoute).
	*routeResult

	parents     []gatewayv1.RouteParentStatus
	attachments []attachment
	problems    problems

	// key is kind/namespace/name, set by translateRoute.
	key string
	// memo is the route's entry in this run's memo, nil when not
	// remembered (see memo.go); memoOwned says this run made it (and may
	// write into it), translated that this run translated the route
	// anew (so its attachment is not replayed). ports are its IR routes
	// per listener port, portsAdded set when this run made some.
	memo       *routeMemo
	ports      []portRoutes
	memoOwned  bool
	translated bool
	portsAdded bool
	// attachRec is what attach did this run, to remember.
	attachRec *attachMemo
}

// routeResult is translateRules' result for one version of a route.
type routeResult struct {
	// hostnames are spec.hostnames; hostnameErr is set if one is invalid.
	hostnames   []string
	hostnameErr string

	rules []*ruleState
	// dropped lists the rules left out, with why; droppedReason is the
	// reason of the first.
	dropped       []string
	droppedReason gatewayv1.RouteConditionReason
	// refFailures are references that did not resolve (ResolvedRefs).
	refFailures []*refFailure
	// targets are the BackendTLSPolicy targets (see tlsTargetKey) of the
	// Service ports the route's backends resolved to.
	targets []string
}

// untranslated is the routeResult of a route not translated (one that
// names none of Legate's Gateways): empty, and never written.
var untranslated routeResult

// ruleState is one valid rule of a route.
type ruleState struct {
	index   int
	field   string
	matches []ir.Match
	filters ruleFilters
	// backends are the backends with weight; an invalid one has an empty
	// Cluster, and its share is answered with 500. With none that has a
	// cluster (all invalid, all zero weight, or none), the rule answers 500.
	backends []ir.WeightedBackend
	timeout  time.Duration
	// precedence, for GRPCRoute rules, is the ir.Route Precedence of each
	// match (see grpcPrecedence); nil for HTTPRoute rules.
	precedence []int32
	// name is spec.rules[].name, which names the rule's IR routes.
	name string
	// retry and session are the rule's retry and session persistence.
	retry   *ir.Retry
	session *ir.SessionPersistence
	// websocket: a backend's port has appProtocol kubernetes.io/ws, so
	// the rule's routes let requests upgrade to WebSocket.
	websocket bool
}

// attachment is a route attached to a listener, with the hostnames it
// serves there.
type attachment struct {
	l         *listenerState
	hostnames []string
}

// collectRoutes reads every HTTPRoute and GRPCRoute with a parentRef to a
// Gateway of Legate's, oldest first (creation timestamp, then
// namespace/name): the order the spec gives ties in match precedence,
// which the stable route sort keeps, and the order in which an HTTPRoute
// and a GRPCRoute claiming one hostname of a listener are decided (the
// older wins). Routes naming none of Legate's Gateways but holding status
// entries Legate wrote are kept aside in t.stale.
func (t *translation) collectRoutes() {
	// With duplicates (two files holding one object) the first wins. Lists
	// strictly sorted by namespace and name (Inputs.Sort), as providers
	// hand them over when no object is there twice, need no set of every
	// route's key. Whether they are is checked only where they differ
	// from the last run's lists, which were.
	var lastHTTP []*gatewayv1.HTTPRoute
	var lastGRPC []*gatewayv1.GRPCRoute
	if t.last != nil {
		lastHTTP, lastGRPC = t.last.httpRoutes, t.last.grpcRoutes
	}
	var seen map[string]bool
	if !strictlySortedSince(lastHTTP, t.in.HTTPRoutes, func(r *gatewayv1.HTTPRoute) *metav1.ObjectMeta { return &r.ObjectMeta }) ||
		!strictlySortedSince(lastGRPC, t.in.GRPCRoutes, func(r *gatewayv1.GRPCRoute) *metav1.ObjectMeta { return &r.ObjectMeta }) {
		seen = map[string]bool{}
	} else if t.next != nil {
		t.next.httpRoutes, t.next.grpcRoutes = t.in.HTTPRoutes, t.in.GRPCRoutes
	}
	n := len(t.in.HTTPRoutes) + len(t.in.GRPCRoutes)
	// The states, and the list of them, live in the run's scratch when
	// it has one: nothing refers to a route's state once the run is
	// over, and making 10k of them anew was the largest allocation of a
	// run. The slab is never grown while in use (its pointers are the
	// states).
	var slab []routeState
	if sc := t.scratch; sc != nil {
		if cap(sc.states) < n {
			sc.states = make([]routeState, 0, n)
		}
		if cap(sc.routes) < n {
			sc.routes = make([]*routeState, 0, n)
		}
		slab, t.routes = sc.states[:0], sc.routes[:0]
		defer func() { sc.states, sc.routes = slab, t.routes }()
	} else {
		t.routes = make([]*routeState, 0, n)
	}
	state := func(v routeState) *routeState {
		var rs *routeState
		if len(slab) < cap(slab) {
			slab = slab[:len(slab)+1]
			rs = &slab[len(slab)-1]
		} else {
			rs = new(routeState)
		}
		*rs = v
		return rs
	}
	verdicts := t.routeVerdicts()
	add := func(rs *routeState, v routeVerdict) routeVerdict {
		if seen != nil {
			key := rs.kind + "/" + rs.meta.Namespace + "/" + rs.meta.Name
			if seen[key] {
				return v
			}
			seen[key] = true
		}
		if v == unjudged {
			v = t.judge(rs)
		}
		switch v {
		case oursRoute:
			t.routes = append(t.routes, rs)
		case staleRoute:
			t.stale = append(t.stale, rs)
		}
		return v
	}
	for i, r := range t.in.HTTPRoutes {
		if r != nil {
			v := add(state(routeState{kind: "HTTPRoute", meta: &r.ObjectMeta, parentRefs: r.Spec.ParentRefs, route: r, routeResult: &untranslated}), verdicts.of(i, r))
			verdicts.keep(i, v)
		}
	}
	for _, r := range t.in.GRPCRoutes {
		if r != nil {
			add(state(routeState{kind: "GRPCRoute", meta: &r.ObjectMeta, parentRefs: r.Spec.ParentRefs, grpc: r, routeResult: &untranslated}), unjudged)
		}
	}
	oldestFirst := func(a, b *routeState) int {
		return cmp.Or(a.meta.CreationTimestamp.Compare(b.meta.CreationTimestamp.Time),
			byNamespacedName(a.meta.Namespace, a.meta.Name, b.meta.Namespace, b.meta.Name),
			cmp.Compare(a.kind, b.kind))
	}
	t.sortRoutes(oldestFirst)
	if t.next != nil {
		t.next.order = make([]placedRoute, len(t.routes))
		for i, rs := range t.routes {
			t.next.order[i].meta = rs.meta
		}
	}
	t.startClusters()
	for i, rs := range t.routes {
		t.placing = i
		t.translateRoute(i, rs)
		t.placedClusters(i, rs)
		t.attachRoute(rs)
	}
}

// routeVerdict is what a route is to the run: one of Legate's (it names
// one of Legate's Gateways), stale (it names none, but its status holds
// entries Legate wrote), or neither.
type routeVerdict uint8

const (
	unjudged routeVerdict = iota
	oursRoute
	staleRoute
	otherRoute
)

// judge says what rs is to the run.
func (t *translation) judge(rs *routeState) routeVerdict {
	switch {
	case t.namesOurGateway(rs):
		return oursRoute
	case t.hasOurParents(rs):
		return staleRoute
	}
	return otherRoute
}

// verdicts are the last run's verdicts on its HTTPRoutes, by their place
// in its list, for the routes of this run at the same place, and this
// run's for the next. A verdict depends on the route (its parentRefs and
// status) and on the Gateways and classes, so it holds for the very same
// route while attachments may be replayed (see replayAttach), which asks
// for those to be unchanged. At 10k routes, judging each one anew read
// every route's parent references, scattered over the heap, on every run.
type verdicts struct {
	last, next []routeVerdict
	list       []*gatewayv1.HTTPRoute
}

func (t *translation) routeVerdicts() *verdicts {
	v := &verdicts{}
	if t.next != nil {
		v.next = make([]routeVerdict, len(t.in.HTTPRoutes))
		t.next.verdicts, t.next.verdictsOf = v.next, t.in.HTTPRoutes
	}
	if t.replayAttach && t.prev != nil {
		v.last, v.list = t.prev.verdicts, t.prev.verdictsOf
	}
	return v
}

// of is the last run's verdict on route r at place i of this run's list,
// if it was there too.
func (v *verdicts) of(i int, r *gatewayv1.HTTPRoute) routeVerdict {
	if i < len(v.last) && i < len(v.list) && v.list[i] == r {
		return v.last[i]
	}
	return unjudged
}

// keep remembers the verdict on the route at place i for the next run.
func (v *verdicts) keep(i int, verdict routeVerdict) {
	if v.next != nil {
		v.next[i] = verdict
	}
}

// sortRoutes sorts t.routes by order, a total order, knowing the last run's
// sorted routes. Routes are listed by name; created one after another,
// they are in order already, else (created in parallel, or renamed) the
// order the last run sorted its list into, applied to this run's list,
// most likely sorts it too: an edit leaves every route at its place in
// the list. Either is checked before any sort, and only where the routes
// differ from the last run's sorted ones (one route edited among 10k is
// two comparisons, not 10k, and no sort of 10k routes).
func (t *translation) sortRoutes(order func(a, b *routeState) int) {
	var lastOrder []placedRoute
	var lastFrom []int32
	if t.last != nil && len(t.last.order) == len(t.routes) {
		lastOrder = t.last.order
		if len(t.last.orderFrom) == len(t.routes) {
			lastFrom = t.last.orderFrom
		}
	}
	at := func(from []int32, k int) *routeState {
		if from == nil {
			return t.routes[k]
		}
		return t.routes[from[k]]
	}
	// sortedBy reports whether the routes, taken in the order of from
	// (the place in the list of each sorted one; nil: as listed), are
	// sorted.
	sortedBy := func(from []int32) bool {
		for k := 1; k < len(t.routes); k++ {
			a, b := at(from, k-1), at(from, k)
			if lastOrder != nil && a.meta == lastOrder[k-1].meta && b.meta == lastOrder[k].meta {
				continue // neighbours in the last run's sorted order
			}
			if order(a, b) > 0 {
				return false
			}
		}
		return true
	}
	// The last run's order first: when the list is not in order, the
	// first pair out of order may come late.
	var from []int32
	switch {
	case lastFrom != nil && sortedBy(lastFrom):
		from = lastFrom
	case sortedBy(nil):
	default:
		from = make([]int32, len(t.routes))
		for i := range from {
			from[i] = int32(i)
		}
		slices.SortFunc(from, func(a, b int32) int {
			return cmp.Or(order(t.routes[a], t.routes[b]), cmp.Compare(a, b))
		})
	}
	if t.next != nil {
		t.next.orderFrom = from
	}
	if from == nil {
		return
	}
	var sorted []*routeState
	if sc := t.scratch; sc != nil && cap(sc.sortedRoutes) >= len(from) {
		sorted = sc.sortedRoutes[:len(from)]
	} else {
		sorted = make([]*routeState, len(from))
	}
	for k, i := range from {
		sorted[k] = t.routes[i]
	}
	copy(t.routes, sorted)
	if sc := t.scratch; sc != nil {
		clear(sorted)
		sc.sortedRoutes = sorted[:0]
	}
}

// strictlySortedSince reports whether objs are strictly sorted by
// namespace and name (so no object is there twice), knowing that last,
// when not nil, was the list of the same kind the last run found so:
// a pair of neighbours both at their place of last is not compared.
// (The fields are read, not the methods of client.Object: this runs on
// every run.)
func strictlySortedSince[T comparable](last, objs []T, meta func(T) *metav1.ObjectMeta) bool {
	if len(last) != len(objs) {
		last = nil
	}
	var zero T
	for i := 1; i < len(objs); i++ {
		if last != nil && objs[i-1] == last[i-1] && objs[i] == last[i] {
			continue
		}
		if objs[i-1] == zero || objs[i] == zero {
			return false
		}
		a, b := meta(objs[i-1]), meta(objs[i])
		if a.Namespace > b.Namespace || a.Namespace == b.Namespace && a.Name >= b.Name {
			return false
		}
	}
	return len(objs) != 1 || objs[0] != zero
}

// hasOurParents reports whether the route's status holds an entry of
// Legate's controller.
func (t *translation) hasOurParents(rs *routeState) bool {
	return slices.ContainsFunc(rs.oldParents(), func(p gatewayv1.RouteParentStatus) bool { return p.ControllerName == t.controller })
}

// oldParents are the route's status.parents as read, to find the entries
// Legate wrote for parents it no longer has (see stale).
func (rs *routeState) oldParents() []gatewayv1.RouteParentStatus {
	if rs.grpc != nil {
		return rs.grpc.Status.Parents
	}
	return rs.route.Status.Parents
}

// parentGateway returns the Gateway of Legate's a parentRef names, or nil
// for any other parent (another kind, a missing Gateway, a Gateway of
// another controller or of a class not accepted): those are not Legate's
// to report on.
func (t *translation) parentGateway(routeNS string, p gatewayv1.ParentReference) *gatewayState {
	if p.Group != nil && *p.Group != gatewayv1.GroupName {
		return nil
	}
	if p.Kind != nil && *p.Kind != "Gateway" {
		return nil
	}
	ns := routeNS
	if p.Namespace != nil && *p.Namespace != "" {
		ns = string(*p.Namespace)
	}
	var gs *gatewayState
	if last := t.lastParent; last != nil && t.lastParentNS == ns && t.lastParentName == string(p.Name) {
		gs = last
	} else {
		gs = t.gatewayByKey[ns+"/"+string(p.Name)]
		if gs != nil {
			t.lastParent, t.lastParentNS, t.lastParentName = gs, ns, string(p.Name)
		}
	}
	if gs == nil || !gs.class.accepted {
		return nil
	}
	return gs
}

func (t *translation) namesOurGateway(rs *routeState) bool {
	for _, p := range rs.parentRefs {
		if t.parentGateway(rs.meta.Namespace, p) != nil {
			return true
		}
	}
	return false
}

// translateRules validates the route's hostnames and translates its rules.
// A rule that cannot be served as written is left out (and the route is
// PartiallyInvalid, or not accepted if no rule is left).
func (t *translation) translateRules(rs *routeState) {
	var hostnames []gatewayv1.Hostname
	nRules := 0
	translate := t.translateRule
	if rs.route != nil {
		hostnames, nRules = rs.route.Spec.Hostnames, len(rs.route.Spec.Rules)
	} else {
		hostnames, nRules = rs.grpc.Spec.Hostnames, len(rs.grpc.Spec.Rules)
		translate = t.translateGRPCRule
	}
	for i, h := range hostnames {
		if err := validHostname(string(h)); err != nil && rs.hostnameErr == "" {
			rs.hostnameErr = fmt.Sprintf("spec.hostnames[%d]: %v", i, err)
			rs.problems.add(errSev, fmt.Sprintf("spec.hostnames[%d]", i), string(gatewayv1.RouteReasonUnsupportedValue), "%v; the route is not accepted", err)
		}
		rs.hostnames = append(rs.hostnames, string(h))
	}
	for i := range nRules {
		field := fmt.Sprintf("spec.rules[%d]", i)
		rule, fails, bad := translate(rs, i, field)
		for _, f := range fails {
			if f.policy {
				rs.problems.add(warnSev, f.field, "BackendTLSPolicyNotAccepted", "%s", f.msg)
				continue
			}
			rs.refFailures = append(rs.refFailures, f)
			rs.problems.add(warnSev, f.field, string(f.reason), "%s", f.msg)
		}
		if bad != nil {
			if rs.droppedReason == "" {
				rs.droppedReason = bad.reason
			}
			rs.dropped = append(rs.dropped, field+": "+bad.msg)
			rs.problems.add(errSev, field, string(bad.reason), "%s; the rule is left out", bad.msg)
			continue
		}
		rs.rules = append(rs.rules, rule)
	}
	if nRules == 0 {
		// No rules: the API defaults one HTTPRoute rule matching
		// everything, with no backends, which answers 500 (a folder of YAML
		// has no defaults); a GRPCRoute without rules is treated alike, and
		// answers UNAVAILABLE.
		rs.rules = append(rs.rules, &ruleState{field: "spec.rules", matches: []ir.Match{defaultMatch}})
	}
}

func (t *translation) translateRule(rs *routeState, i int, field string) (*ruleState, []*refFailure, *invalidRule) {
	spec := &rs.route.Spec.Rules[i]
	rule := &ruleState{index: i, field: field}
	name, err := ruleNameFor(rs.route, i)
	if err != nil {
		return nil, nil, unsupported("%v", err)
	}
	rule.name = name
	for j, m := range spec.Matches {
		im, err := matchFor(m)
		if err != nil {
			return nil, nil, unsupported("matches[%d]: %v", j, err)
		}
		rule.matches = append(rule.matches, im)
	}
	if len(rule.matches) == 0 {
		rule.matches = []ir.Match{defaultMatch}
	}
	if spec.Timeouts != nil && spec.Timeouts.Request != nil {
		d, err := parseDuration(string(*spec.Timeouts.Request))
		if err != nil {
			return nil, nil, unsupported("timeouts.request: %v", err)
		}
		rule.timeout = d
		if d == 0 {
			rule.timeout = -1 // zero disables the timeout
		}
	}
	if spec.Retry != nil {
		rt, err := retryFor(spec.Retry)
		if err != nil {
			return nil, nil, unsupported("retry: %v", err)
		}
		rule.retry = rt
	}
	if spec.Timeouts != nil && spec.Timeouts.BackendRequest != nil {
		d, err := parseDuration(string(*spec.Timeouts.BackendRequest))
		if err != nil {
			return nil, nil, unsupported("timeouts.backendRequest: %v", err)
		}
		if d > 0 && rule.timeout > 0 && d > rule.timeout {
			return nil, nil, unsupported("timeouts.backendRequest %s is longer than timeouts.request %s", d, rule.timeout)
		}
		// Zero disables the per-backend bound, leaving the request
		// timeout (or Envoy's default) in force.
		if d > 0 {
			if rule.retry != nil {
				// Each try is bounded; the request timeout (if any)
				// still bounds all tries together.
				rule.retry.PerTry = d
			} else if rule.timeout <= 0 || d < rule.timeout {
				// Without retries there is one try, so bounding the
				// route is bounding the try; a zero (disabled) request
				// timeout still lets the backend request be bounded.
				rule.timeout = d
			}
		}
	}
	if spec.SessionPersistence != nil {
		sp, err := sessionFor(spec.SessionPersistence)
		if err != nil {
			return nil, nil, unsupported("sessionPersistence: %v", err)
		}
		rule.session = sp
	}
	filters, fails, bad := t.ruleFiltersFor(rs, spec.Filters, field+".filters", rule.matches)
	if bad != nil {
		return nil, fails, bad
	}
	rule.filters = filters
	for j, br := range spec.BackendRefs {
		bf := fmt.Sprintf("%s.backendRefs[%d]", field, j)
		reqHeaders, respHeaders, err := backendFiltersFor(br.Filters)
		if err != nil {
			return nil, fails, unsupported("backendRefs[%d].%v", j, err)
		}
		wb, fail, bad := t.weightedBackend(rs, br.BackendRef, j, bf)
		if bad != nil {
			return nil, fails, bad
		}
		rule.websocket = rule.websocket || t.lastWebSocket
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

// weightedBackend resolves backendRefs[j] of a rule of rs. A backend that
// does not resolve keeps its weight with no cluster: the spec wants the
// requests that would have gone to it answered with an error (500 for an
// HTTPRoute, UNAVAILABLE for a GRPCRoute) while the valid shares still
// flow. A weight out of range makes the rule invalid.
func (t *translation) weightedBackend(rs *routeState, br gatewayv1.BackendRef, j int, field string) (ir.WeightedBackend, *refFailure, *invalidRule) {
	weight := int32(1)
	if br.Weight != nil {
		weight = *br.Weight
	}
	if weight < 0 || weight > 1000000 {
		return ir.WeightedBackend{}, nil, unsupported("backendRefs[%d].weight %d is not in 0-1000000", j, weight)
	}
	cluster, fail := t.backend(rs.kind, rs.meta.Namespace, br.BackendObjectReference, field)
	rs.useTargets(t.lastTargets)
	return ir.WeightedBackend{Cluster: cluster, Weight: uint32(weight)}, fail, nil
}

var durationRE = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

// parseDuration reads a Gateway API Duration (GEP-2257), a strict subset
// of Go's duration syntax.
func parseDuration(s string) (time.Duration, error) {
	if !durationRE.MatchString(s) {
		return 0, fmt.Errorf("%q is not a Gateway API duration", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a Gateway API duration: %w", s, err)
	}
	return d, nil
}

// attach works out, for each parentRef naming a Gateway of Legate's,
// which listeners the route attaches to and the parent's status.
func (t *translation) attach(rs *routeState) map[*listenerState]bool {
	counted := map[*listenerState]bool{}
	served := map[*listenerState]int{}
	for k, p := range rs.parentRefs {
		gs := t.parentGateway(rs.meta.Namespace, p)
		if gs == nil {
			continue
		}
		field := fmt.Sprintf("spec.parentRefs[%d]", k)
		accepted := t.attachToGateway(rs, gs, p, counted, served, field)
		rs.parents = append(rs.parents, gatewayv1.RouteParentStatus{
			ParentRef:      p,
			ControllerName: t.controller,
			Conditions:     parentConditions(accepted, rs.meta.Generation, rs.refFailures, rs.dropped),
		})
	}
	return counted
}

// attachToGateway attaches the route to the listeners of gs that p
// selects and that allow it. It returns the route's Accepted condition for
// this parent.
func (t *translation) attachToGateway(rs *routeState, gs *gatewayState, p gatewayv1.ParentReference, counted map[*listenerState]bool, served map[*listenerState]int, field string) metav1.Condition {
	ns, gen := rs.meta.Namespace, rs.meta.Generation
	var selected []*listenerState
	for _, l := range gs.listeners {
		if p.SectionName != nil && l.spec.Name != *p.SectionName {
			continue
		}
		if p.Port != nil && l.spec.Port != *p.Port {
			continue
		}
		selected = append(selected, l)
	}
	fail := func(reason gatewayv1.RouteConditionReason, format string, args ...any) metav1.Condition {
		c := condition(gatewayv1.RouteConditionAccepted, false, reason, gen, format, args...)
		rs.problems.add(errSev, field, string(reason), "%s", c.Message)
		return c
	}
	if len(selected) == 0 {
		return fail(gatewayv1.RouteReasonNoMatchingParent, "Gateway %s has no listener matching the sectionName and port of this parentRef", gs.key())
	}
	var allowed []*listenerState
	for _, l := range selected {
		if l.allowsKind(rs.kind) && t.allowsNamespace(l, ns) {
			allowed = append(allowed, l)
		}
	}
	if len(allowed) == 0 {
		return fail(gatewayv1.RouteReasonNotAllowedByListeners, "no listener of Gateway %s allows %ss from namespace %s", gs.key(), rs.kind, ns)
	}
	if rs.hostnameErr != "" {
		return fail(gatewayv1.RouteReasonUnsupportedValue, "%s", rs.hostnameErr)
	}
	matched := false
	var conflict *kindClaim
	for _, l := range allowed {
		hosts := routeHostnames(l.hostname, rs.hostnames)
		if len(hosts) == 0 {
			continue
		}
		// A route counts in attachedRoutes where its hostnames meet the
		// listener's: the upstream conformance test GatewayWithAttachedRoutes
		// expects a route refused with NoMatchingListenerHostname not to
		// count, though the API reference speaks of parentRefs and
		// allowedRoutes alone.
		if !counted[l] {
			counted[l] = true
			l.attached++
		}
		if c := l.kindConflict(rs, hosts); c != nil {
			conflict = c
			continue
		}
		matched = true
		if _, ok := served[l]; !ok {
			served[l] = len(rs.attachments)
			rs.attachments = append(rs.attachments, attachment{l: l, hostnames: hosts})
			if len(rs.rules) > 0 {
				l.claim(rs, hosts)
			}
		}
	}
	if !matched && conflict != nil {
		return fail(ReasonRouteKindConflict, "a hostname of the route is served on the listeners of Gateway %s it may attach to by %s %s/%s, which is older; HTTPRoutes and GRPCRoutes are never merged on one hostname",
			gs.key(), conflict.route.kind, conflict.route.meta.Namespace, conflict.route.meta.Name)
	}
	if !matched {
		return fail(gatewayv1.RouteReasonNoMatchingListenerHostname, "no hostname of the route matches a listener of Gateway %s it may attach to", gs.key())
	}
	if len(rs.rules) == 0 {
		return condition(gatewayv1.RouteConditionAccepted, false, rs.droppedReason, gen, "no valid rule: %s", strings.Join(rs.dropped, "; "))
	}
	return condition(gatewayv1.RouteConditionAccepted, true, gatewayv1.RouteReasonAccepted, gen, "route is accepted")
}

// parentConditions are the conditions of one parent entry of a route of
// generation gen: Accepted, ResolvedRefs (false with every reference that
// failed), and PartiallyInvalid when rules were left out of an accepted
// route. Every route kind reports them alike.
func parentConditions(accepted metav1.Condition, gen int64, refFailures []*refFailure, dropped []string) []metav1.Condition {
	conds := []metav1.Condition{accepted}
	if len(refFailures) == 0 {
		conds = append(conds, condition(gatewayv1.RouteConditionResolvedRefs, true, gatewayv1.RouteReasonResolvedRefs, gen, "all references resolved"))
	} else {
		msgs := make([]string, len(refFailures))
		for i, f := range refFailures {
			msgs[i] = f.String()
		}
		conds = append(conds, condition(gatewayv1.RouteConditionResolvedRefs, false, refFailures[0].reason, gen, "%s", strings.Join(msgs, "; ")))
	}
	if accepted.Status == metav1.ConditionTrue && len(dropped) > 0 {
		conds = append(conds, condition(gatewayv1.RouteConditionPartiallyInvalid, true, gatewayv1.RouteReasonUnsupportedValue, gen,
			"Dropped Rule(s): %s", strings.Join(dropped, "; ")))
	}
	return conds
}

// irRoutes instantiates the route's rules for a listener of the given
// port: one IR route per match of each rule, named
// "<kind>/<namespace>/<name>/rules[i]/matches[j]" (kind in lower case).
// Requests that cannot be served (an ExtensionRef filter, no valid
// backend) answer 500 on an HTTPRoute, and 503 on a GRPCRoute, which
// Envoy's local reply turns into grpc-status UNAVAILABLE, as that spec
// asks.
func (rs *routeState) irRoutes(port uint32) []*ir.Route {
	ns, n := rs.meta.Namespace, rs.meta.Name
	unavailable := 500
	if rs.grpc != nil {
		unavailable = 503
	}
	var out []*ir.Route
	for _, rule := range rs.rules {
		for j, m := range rule.matches {
			field := fmt.Sprintf("%s.matches[%d]", rule.field, j)
			name := fmt.Sprintf("%s/%s/%s/rules[%d]/matches[%d]", strings.ToLower(rs.kind), ns, n, rule.index, j)
			if rule.name != "" {
				// A named rule keeps its routes' names when rules are
				// added or removed before it.
				name = fmt.Sprintf("%s/%s/%s/%s/matches[%d]", strings.ToLower(rs.kind), ns, n, rule.name, j)
			}
			route := &ir.Route{
				Name:   name,
				Source: ir.Source{Translator: Name, Group: gatewayv1.GroupName, Kind: rs.kind, Namespace: ns, Name: n, Field: field},
				Match:  m,
			}
			if j < len(rule.precedence) {
				route.Precedence = rule.precedence[j]
			}
			f := rule.filters
			route.Filters.ResponseHeaders = f.filters.ResponseHeaders
			route.Filters.CORS = f.filters.CORS
			switch {
			case f.redirect != nil:
				route.Redirect = redirectFor(f.redirect, rule.matches, port)
			case f.extensionRef || !anyCluster(rule.backends):
				route.DirectResponse = &ir.DirectResponse{StatusCode: unavailable}
			default:
				route.Forward = &ir.ForwardAction{Backends: slices.Clone(rule.backends)}
				if unavailable != 500 && slices.ContainsFunc(rule.backends, func(b ir.WeightedBackend) bool { return b.Cluster == "" }) {
					route.Forward.InvalidBackendStatus = unavailable
				}
				route.Filters.RequestHeaders = f.filters.RequestHeaders
				route.Filters.Rewrite = f.filters.Rewrite
				route.Filters.Mirrors = slices.Clone(f.filters.Mirrors)
				route.Filters.Timeout = rule.timeout
				route.Filters.Retry = rule.retry
				route.Filters.SessionPersistence = rule.session
				if rule.websocket {
					route.Filters.Upgrades = []string{"websocket"}
				}
			}
			out = append(out, route)
		}
	}
	return out
}

// anyCluster reports whether some backend has a cluster to go to.
func anyCluster(bs []ir.WeightedBackend) bool {
	for _, b := range bs {
		if b.Cluster != "" {
			return true
		}
	}
	return false
}
