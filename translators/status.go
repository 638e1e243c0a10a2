package translators

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ObjectRef names one Kubernetes object.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Compare orders refs by group, kind, namespace and name, the order of
// every list of ObjectStatuses handed out.
func (r ObjectRef) Compare(o ObjectRef) int { return compareRefs(r, o) }

func compareRefs(a, b ObjectRef) int {
	return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// Severity says what a Problem cost.
type Severity string

const (
	// SeverityError: the object, or the part of it named by Field, was left
	// out of the configuration.
	SeverityError Severity = "Error"
	// SeverityWarning: accepted, but not everything may work as written
	// (e.g. a backend Service that does not exist yet answers 503).
	SeverityWarning Severity = "Warning"
)

// Problem is one thing wrong with an object, named by the field at fault.
type Problem struct {
	Severity Severity `json:"severity"`
	// Field is the path in the object, e.g. "spec.rules[0].http.paths[1].backend".
	Field string `json:"field,omitempty"`
	// Reason is a CamelCase word, as in Kubernetes events and conditions.
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// ObjectStatus is what Legate has to say about one object: written back onto
// it by the status writer (Ingress status, Gateway API conditions, Emissary
// state), emitted as events, and shown by diagnostics.
type ObjectStatus struct {
	Object     ObjectRef `json:"object"`
	Generation int64     `json:"generation,omitempty"`
	// Problems found while translating; empty for a clean object.
	Problems []Problem `json:"problems,omitempty"`
	// Conditions for kinds that carry them (Gateway API).
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LoadBalancer lists the addresses (IPs or hostnames) traffic for this
	// object arrives on (Ingress status.loadBalancer.ingress).
	LoadBalancer []string `json:"loadBalancer,omitempty"`

	// The whole Gateway API status, in the API's own types, for the status
	// writer (at most one is set, by kind). Conditions carry no
	// LastTransitionTime: translators have no clock; the writer keeps the
	// time of a condition whose status did not change. Golden files show
	// these through the translator's own output.
	GatewayClass *gatewayv1.GatewayClassStatus `json:"-"`
	Gateway      *gatewayv1.GatewayStatus      `json:"-"`
	// RouteParents are Legate's entries of a route's status.parents (its
	// controllerName); other controllers' entries are not Legate's to touch.
	// With RouteController set, they replace every entry of that
	// controller; an empty list then removes them all (a route that no
	// longer names any of Legate's Gateways).
	RouteParents    []gatewayv1.RouteParentStatus `json:"-"`
	RouteController gatewayv1.GatewayController   `json:"-"`
	// PolicyAncestors are Legate's entries of a policy's status.ancestors
	// (BackendTLSPolicy), one per Gateway of Legate's the policy affects;
	// other controllers' entries are not Legate's to touch. RouteController
	// says whose entries they replace, as for RouteParents.
	PolicyAncestors []gatewayv1.PolicyAncestorStatus `json:"-"`
}

// Accepted reports whether nothing of the object was left out.
func (s ObjectStatus) Accepted() bool {
	for _, p := range s.Problems {
		if p.Severity == SeverityError {
			return false
		}
	}
	return true
}

// Pointers returns a list of the entries of l (pointers into it), for a
// translator that made its statuses in one array.
func Pointers(l []ObjectStatus) []*ObjectStatus {
	out := make([]*ObjectStatus, len(l))
	for i := range l {
		out[i] = &l[i]
	}
	return out
}

// StatusSet collects ObjectStatuses by object.
//
// Lists of ObjectStatuses hold pointers: an entry, once in a list handed
// out, is never written again, so that a translator can hand out the
// entries of unchanged objects run after run, and a list that differs
// from the last in one object costs a list of pointers and that one
// entry, not a copy of every entry (at 10k routes, 2 MB per edit).
type StatusSet struct {
	// list holds the statuses in the order first seen; byRef indexes it.
	// mine says which entries the set made, and so may write: the others
	// are a translator's, taken as they were (see Merge).
	list  []*ObjectStatus
	mine  []bool
	byRef map[ObjectRef]int
}

// NewStatusSet returns an empty set.
func NewStatusSet() *StatusSet { return &StatusSet{byRef: map[ObjectRef]int{}} }

// For returns the status of ref, for writing, creating it when absent.
func (s *StatusSet) For(ref ObjectRef) *ObjectStatus {
	i, ok := s.byRef[ref]
	if !ok {
		s.byRef[ref] = len(s.list)
		s.list = append(s.list, &ObjectStatus{Object: ref})
		s.mine = append(s.mine, true)
		return s.list[len(s.list)-1]
	}
	if !s.mine[i] {
		// Copied on first write; its slices are clipped (see Merge), so
		// appending to them copies them too.
		c := *s.list[i]
		s.list[i], s.mine[i] = &c, true
	}
	return s.list[i]
}

// AddProblem records a problem on ref.
func (s *StatusSet) AddProblem(ref ObjectRef, p Problem) {
	if i, ok := s.byRef[ref]; ok && slices.Contains(s.list[i].Problems, p) {
		return
	}
	st := s.For(ref)
	st.Problems = append(st.Problems, p)
}

// List returns every status, sorted by object. The entries are handed
// out: a later write to the set copies the one it writes.
func (s *StatusSet) List() []*ObjectStatus {
	clear(s.mine)
	return sortedStatuses(slices.Clone(s.list))
}

// newStatusSetFor returns an empty set with room for n objects: a
// snapshot of 10k routes has 10k statuses, and growing the list and index
// to that size on every translation was the largest allocation of a
// re-translation (every allocation brings the next collection of a large
// heap closer, and those set the tail of edit latencies).
func newStatusSetFor(n int) *StatusSet {
	return &StatusSet{list: make([]*ObjectStatus, 0, n), mine: make([]bool, 0, n), byRef: make(map[ObjectRef]int, n)}
}

// take returns every status sorted by object, handing over the set's own
// list: s must not be used afterwards.
func (s *StatusSet) take() []*ObjectStatus {
	out := sortedStatuses(s.list)
	s.list, s.mine, s.byRef = nil, nil, nil
	return out
}

func sortedStatuses(l []*ObjectStatus) []*ObjectStatus {
	slices.SortFunc(l, func(a, b *ObjectStatus) int { return compareRefs(a.Object, b.Object) })
	return l
}

// normalized reports whether o is as Merge leaves a status: no room
// behind its problems and conditions (an append copies them), and nil
// for none.
func normalized(o *ObjectStatus) bool {
	return (o.Problems == nil || (len(o.Problems) > 0 && cap(o.Problems) == len(o.Problems))) &&
		(o.Conditions == nil || (len(o.Conditions) > 0 && cap(o.Conditions) == len(o.Conditions)))
}

// Normalize leaves o as the registry would (see normalized): a
// translator whose statuses are normalized has them taken as they are.
func Normalize(o *ObjectStatus) {
	o.Problems, o.Conditions = slices.Clip(o.Problems), slices.Clip(o.Conditions)
	if len(o.Conditions) == 0 {
		o.Conditions = nil
	}
	if len(o.Problems) == 0 {
		o.Problems = nil
	}
}

// Merge adds every status of other into s.
func (s *StatusSet) Merge(other []*ObjectStatus) {
	if s.byRef == nil {
		s.byRef = make(map[ObjectRef]int, len(other))
	}
	for _, o := range other {
		if _, ok := s.byRef[o.Object]; !ok && !repeats(o.Problems) {
			// The first word on an object (nearly always the only one)
			// is taken as it is, normalized in a copy if need be, so
			// that nothing is written into the translator's entry or
			// its arrays.
			mine := !normalized(o)
			if mine {
				c := *o
				Normalize(&c)
				o = &c
			}
			s.byRef[o.Object] = len(s.list)
			s.list = append(s.list, o)
			s.mine = append(s.mine, mine)
			continue
		}
		st := s.For(o.Object)
		if o.Generation != 0 {
			st.Generation = o.Generation
		}
		for _, p := range o.Problems {
			if !slices.Contains(st.Problems, p) {
				st.Problems = append(st.Problems, p)
			}
		}
		st.Conditions = append(st.Conditions, o.Conditions...)
		if o.LoadBalancer != nil {
			st.LoadBalancer = o.LoadBalancer
		}
		if o.GatewayClass != nil {
			st.GatewayClass = o.GatewayClass
		}
		if o.Gateway != nil {
			st.Gateway = o.Gateway
		}
		if o.RouteParents != nil {
			st.RouteParents = o.RouteParents
		}
		if o.PolicyAncestors != nil {
			st.PolicyAncestors = o.PolicyAncestors
		}
		if o.RouteController != "" {
			st.RouteController = o.RouteController
		}
	}
}

// repeats reports whether a problem appears twice in ps, which AddProblem
// would record once.
func repeats(ps []Problem) bool {
	for i := range ps {
		if slices.Contains(ps[:i], ps[i]) {
			return true
		}
	}
	return false
}

// refProblem is a problem Merge or Prune found, on the object it names.
type refProblem struct {
	ref     ObjectRef
	problem Problem
}

// singleReport is what a StatusSet fed reports and then problems would
// give, made without the set, when it can be: when a single translator
// reported (the others said nothing), its list is sorted by object with
// no object twice and no status repeating a problem, and every problem
// lands on an object of that list. Then the list is the answer, its
// entries normalized as Merge would (clipped slices, nil for empty ones)
// and the problems appended, in a copy if either writes anything. A
// snapshot of 10k routes is one translator's 10k statuses: indexing and
// copying them on every run was the largest allocation of a
// re-translation. Neither the list nor the slices its entries hold are
// ever written: a translator may return one list run after run.
func singleReport(reports [][]*ObjectStatus, problems []refProblem) ([]*ObjectStatus, bool) {
	var list []*ObjectStatus
	for _, r := range reports {
		if len(r) == 0 {
			continue
		}
		if list != nil {
			return nil, false
		}
		list = r
	}
	for i := range list {
		if i > 0 && compareRefs(list[i-1].Object, list[i].Object) >= 0 {
			return nil, false
		}
		if repeats(list[i].Problems) {
			return nil, false
		}
	}
	at := make([]int, len(problems))
	for k, p := range problems {
		i, found := slices.BinarySearchFunc(list, p.ref, func(s *ObjectStatus, r ObjectRef) int { return compareRefs(s.Object, r) })
		if !found {
			return nil, false
		}
		at[k] = i
	}
	// Copy on write, of the list and of each entry written: a translator
	// may hand out one list run after run (when its statuses did not
	// change), and others may still read it.
	copied := false
	for i, o := range list {
		if normalized(o) {
			continue
		}
		if !copied {
			list, copied = slices.Clone(list), true
		}
		c := *o
		Normalize(&c)
		list[i] = &c
	}
	if len(problems) > 0 && !copied {
		list = slices.Clone(list)
	}
	for k, p := range problems {
		if st := list[at[k]]; !slices.Contains(st.Problems, p.problem) {
			// Normalized above: the append copies, never writing into
			// the translator's array.
			c := *st
			c.Problems = append(c.Problems, p.problem)
			list[at[k]] = &c
		}
	}
	if list == nil {
		// As an empty set's take gives.
		list = []*ObjectStatus{}
	}
	return list, true
}
