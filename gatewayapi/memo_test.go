package gatewayapi_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// world is a set of objects edited step by step as a provider would: an
// edited object is a new object with a new resourceVersion, every other
// object is shared, unchanged, with the previous snapshot.
type world struct {
	objs []client.Object
	rnd  *rand.Rand
	seq  int
	// removed are objects edits removed, which one may add back.
	removed []client.Object
}

// gatewayWorld is a world of the gateway workload of n routes (random
// edits seeded by seed), with a translator that remembers and the test
// settings.
func gatewayWorld(t *testing.T, n int, seed uint64) (*world, translators.Translator, translators.Settings) {
	t.Helper()
	objs, err := workload.Objects(workload.Gateway, n)
	if err != nil {
		t.Fatal(err)
	}
	return newWorld(objs, seed), gatewayapi.New(), testSettings()
}

func newWorld(objs []client.Object, seed uint64) *world {
	w := &world{rnd: rand.New(rand.NewPCG(seed, 8))}
	for _, o := range objs {
		o = o.DeepCopyObject().(client.Object)
		o.SetUID(types.UID(fmt.Sprintf("uid-%T-%s-%s", o, o.GetNamespace(), o.GetName())))
		o.SetResourceVersion("1")
		w.objs = append(w.objs, o)
	}
	return w
}

func (w *world) inputs() *translators.Inputs { return inputsOf(w.objs) }

// pick returns the index of a random object of type T, or -1.
func pick[T client.Object](w *world) int {
	var idx []int
	for i, o := range w.objs {
		if _, ok := o.(T); ok {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return -1
	}
	return idx[w.rnd.IntN(len(idx))]
}

// replace puts a changed copy of object i in place, with a new
// resourceVersion.
func (w *world) replace(i int, change func(client.Object)) {
	o := w.objs[i].DeepCopyObject().(client.Object)
	change(o)
	w.seq++
	o.SetResourceVersion(fmt.Sprintf("e%d", w.seq))
	w.objs = append(w.objs[:i:i], append([]client.Object{o}, w.objs[i+1:]...)...)
}

func (w *world) remove(i int) {
	w.removed = append(w.removed, w.objs[i])
	w.objs = append(w.objs[:i:i], w.objs[i+1:]...)
}

// serviceNames are the Services of the world, for edits that point a
// backend elsewhere.
func (w *world) serviceNames() []string {
	var out []string
	for _, o := range w.objs {
		if s, ok := o.(*corev1.Service); ok {
			out = append(out, s.Name)
		}
	}
	return append(out, "missing-service")
}

// edit applies one random edit and says what it was.
func (w *world) edit() string {
	w.seq++
	n := w.seq
	switch w.rnd.IntN(18) {
	case 17: // a Gateway's status written: a new version, the same spec
		if i := pick[*gatewayv1.Gateway](w); i >= 0 {
			w.replace(i, func(o client.Object) {
				g := o.(*gatewayv1.Gateway)
				g.Status.Conditions = append(g.Status.Conditions, metav1.Condition{Type: "Written", Status: metav1.ConditionTrue, Reason: "Written"})
			})
			return "Gateway status written"
		}
	case 15: // a route's status written, or its labels: a new version, the same spec
		if i := pick[*gatewayv1.HTTPRoute](w); i >= 0 {
			w.replace(i, func(o client.Object) {
				r := o.(*gatewayv1.HTTPRoute)
				r.Labels = map[string]string{"written": fmt.Sprint(n)}
				r.Status.Parents = append(r.Status.Parents, gatewayv1.RouteParentStatus{
					ParentRef: gatewayv1.ParentReference{Name: "elsewhere"}, ControllerName: "example.com/other"})
			})
			return "HTTPRoute status written"
		}
	case 16: // a route's generation raised with the same spec (a conditions' observedGeneration changes)
		if i := pick[*gatewayv1.HTTPRoute](w); i >= 0 {
			w.replace(i, func(o client.Object) { o.SetGeneration(o.GetGeneration() + 1) })
			return "HTTPRoute generation raised"
		}
	case 0, 1, 2: // a route changed
		if i := pick[*gatewayv1.HTTPRoute](w); i >= 0 {
			w.replace(i, func(o client.Object) { w.changeRoute(o.(*gatewayv1.HTTPRoute), n) })
			return "HTTPRoute changed"
		}
		if i := pick[*gatewayv1.GRPCRoute](w); i >= 0 {
			w.replace(i, func(o client.Object) {
				r := o.(*gatewayv1.GRPCRoute)
				r.Spec.Hostnames = append(r.Spec.Hostnames, gatewayv1.Hostname(fmt.Sprintf("g%d.example.com", n)))
			})
			return "GRPCRoute changed"
		}
	case 3: // a route added
		if i := pick[*gatewayv1.HTTPRoute](w); i >= 0 {
			r := w.objs[i].DeepCopyObject().(*gatewayv1.HTTPRoute)
			r.Name = fmt.Sprintf("%s-copy-%d", r.Name, n)
			r.UID = types.UID(fmt.Sprintf("uid-new-%d", n))
			r.ResourceVersion = fmt.Sprintf("e%d", n)
			// Created at one of a few times, so that the oldest-first
			// order of routes differs from the order of their names.
			r.CreationTimestamp = metav1.NewTime(time.Unix(int64(w.rnd.IntN(3)), 0))
			w.changeRoute(r, n)
			w.objs = append(w.objs, r)
			return "HTTPRoute added"
		}
	case 4: // a route removed
		if i := pick[*gatewayv1.HTTPRoute](w); i >= 0 {
			w.remove(i)
			return "HTTPRoute removed"
		}
	case 5: // a Service changed
		if i := pick[*corev1.Service](w); i >= 0 {
			w.replace(i, func(o client.Object) {
				s := o.(*corev1.Service)
				if len(s.Spec.Ports) == 0 {
					s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}
					return
				}
				switch w.rnd.IntN(3) {
				case 0:
					s.Spec.Ports[0].AppProtocol = ptrTo("kubernetes.io/h2c")
				case 1:
					s.Spec.Ports[0].Port++
				default:
					s.Spec.Ports[0].Name += "x"
				}
			})
			return "Service changed"
		}
	case 6: // an EndpointSlice changed
		if i := pick[*discoveryv1.EndpointSlice](w); i >= 0 {
			w.replace(i, func(o client.Object) {
				es := o.(*discoveryv1.EndpointSlice)
				es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.99.%d.%d", n/250%250, n%250)}})
			})
			return "EndpointSlice changed"
		}
	case 7: // a Gateway changed
		if i := pick[*gatewayv1.Gateway](w); i >= 0 {
			w.replace(i, func(o client.Object) {
				g := o.(*gatewayv1.Gateway)
				if len(g.Spec.Listeners) == 0 {
					return
				}
				l := &g.Spec.Listeners[w.rnd.IntN(len(g.Spec.Listeners))]
				switch w.rnd.IntN(3) {
				case 0:
					l.Port++
				case 1:
					l.Hostname = ptrTo(gatewayv1.Hostname(fmt.Sprintf("*.w%d.example.com", n)))
				default:
					l.Hostname = nil
				}
			})
			return "Gateway changed"
		}
	case 8: // an object loses its resourceVersion
		i := w.rnd.IntN(len(w.objs))
		o := w.objs[i].DeepCopyObject().(client.Object)
		o.SetResourceVersion("")
		w.objs[i] = o
		return "resourceVersion removed"
	case 9: // an object gets a copy with its version: nothing changed
		i := w.rnd.IntN(len(w.objs))
		w.objs[i] = w.objs[i].DeepCopyObject().(client.Object)
		return "same version, new copy"
	case 10: // a Service removed
		if i := pick[*corev1.Service](w); i >= 0 {
			w.remove(i)
			return "Service removed"
		}
	case 12: // a removed object added back, as a new version
		if len(w.removed) > 0 {
			k := w.rnd.IntN(len(w.removed))
			o := w.removed[k].DeepCopyObject().(client.Object)
			w.removed = append(w.removed[:k], w.removed[k+1:]...)
			o.SetResourceVersion(fmt.Sprintf("e%d", n))
			w.objs = append(w.objs, o)
			return fmt.Sprintf("%T added back", o)
		}
	case 13: // the Service a route names but that does not exist is added
		for _, o := range w.objs {
			r, ok := o.(*gatewayv1.HTTPRoute)
			if !ok || w.rnd.IntN(3) > 0 {
				continue
			}
			for _, rule := range r.Spec.Rules {
				for _, br := range rule.BackendRefs {
					if br.Port == nil || br.Namespace != nil {
						continue
					}
					name := string(br.Name)
					if slices.ContainsFunc(w.objs, func(o client.Object) bool {
						_, svc := o.(*corev1.Service)
						return svc && o.GetNamespace() == r.Namespace && o.GetName() == name
					}) {
						continue
					}
					svc := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: int32(*br.Port), TargetPort: intstr.FromInt32(8080)}}}}
					svc.Namespace, svc.Name = r.Namespace, name
					svc.UID, svc.ResourceVersion = types.UID(fmt.Sprintf("uid-new-%d", n)), fmt.Sprintf("e%d", n)
					w.objs = append(w.objs, svc)
					return "missing Service added"
				}
			}
		}
	case 14: // a Namespace's labels changed (listener selectors read them)
		if i := pick[*corev1.Namespace](w); i >= 0 {
			w.replace(i, func(o client.Object) {
				labels := map[string]string{}
				for k, v := range o.GetLabels() {
					if w.rnd.IntN(2) == 0 {
						labels[k] = v
					}
				}
				labels[fmt.Sprintf("l%d", n%3)] = "yes"
				o.SetLabels(labels)
			})
			return "Namespace labels changed"
		}
	case 11: // a policy, grant, ConfigMap or Secret changed, or one removed
		for _, i := range []int{pick[*gatewayv1.BackendTLSPolicy](w), pick[*gatewayv1.ReferenceGrant](w), pick[*corev1.ConfigMap](w), pick[*corev1.Secret](w)} {
			if i < 0 || w.rnd.IntN(2) == 0 {
				continue
			}
			if w.rnd.IntN(3) == 0 {
				w.remove(i)
				return "policy, grant, ConfigMap or Secret removed"
			}
			w.replace(i, func(o client.Object) {
				switch o := o.(type) {
				case *gatewayv1.BackendTLSPolicy:
					o.Spec.Validation.Hostname = gatewayv1.PreciseHostname(fmt.Sprintf("b%d.example.com", n))
				case *gatewayv1.ReferenceGrant:
					o.Spec.From = o.Spec.From[:0]
				case *corev1.ConfigMap:
					o.Data = nil
				case *corev1.Secret:
					o.Data = nil
				}
			})
			return "policy, grant, ConfigMap or Secret changed"
		}
	}
	return "nothing"
}

// changeRoute changes one thing of r: a path, a backend, a hostname or
// its rules.
func (w *world) changeRoute(r *gatewayv1.HTTPRoute, n int) {
	if len(r.Spec.Rules) == 0 {
		r.Spec.Hostnames = append(r.Spec.Hostnames, gatewayv1.Hostname(fmt.Sprintf("h%d.example.com", n)))
		return
	}
	rule := &r.Spec.Rules[w.rnd.IntN(len(r.Spec.Rules))]
	switch w.rnd.IntN(5) {
	case 0:
		v := fmt.Sprintf("/edit-%d", n)
		if len(rule.Matches) > 0 && rule.Matches[0].Path != nil {
			rule.Matches[0].Path.Value = &v
		} else {
			rule.Matches = append(rule.Matches, gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: ptrTo(gatewayv1.PathMatchPathPrefix), Value: &v}})
		}
	case 1:
		names := w.serviceNames()
		if len(rule.BackendRefs) > 0 {
			rule.BackendRefs[0].Name = gatewayv1.ObjectName(names[w.rnd.IntN(len(names))])
		}
	case 2:
		r.Spec.Hostnames = append(r.Spec.Hostnames, gatewayv1.Hostname(fmt.Sprintf("h%d.example.com", n)))
	case 3:
		// Its parents: another listener of its Gateway (by section
		// name, which may name none), or a Gateway that does not exist.
		if len(r.Spec.ParentRefs) == 0 {
			r.Spec.Rules = r.Spec.Rules[:len(r.Spec.Rules)-1]
			return
		}
		p := &r.Spec.ParentRefs[w.rnd.IntN(len(r.Spec.ParentRefs))]
		switch w.rnd.IntN(3) {
		case 0:
			p.SectionName = ptrTo(gatewayv1.SectionName([]string{"http", "https", "other"}[w.rnd.IntN(3)]))
		case 1:
			p.SectionName = nil
		default:
			p.Name = gatewayv1.ObjectName(fmt.Sprintf("missing-%d", n))
		}
	default:
		r.Spec.Rules = r.Spec.Rules[:len(r.Spec.Rules)-1]
	}
}

func ptrTo[T any](v T) *T { return &v }

// checkSame fails t if got, from a translator that has seen earlier
// snapshots, is not what a fresh translation gives.
func checkSame(t *testing.T, what string, got, want gatewayapi.Result) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := yaml.Marshal(got)
	w, _ := yaml.Marshal(want)
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			t.Fatalf("%s: the remembering translator differs from a fresh one at line %d:\n got  %s\n want %s", what, i+1, gl[i], wl[i])
		}
	}
	t.Fatalf("%s: the remembering translator differs from a fresh one (%d lines against %d; equal as YAML: %v)", what, len(gl), len(wl), string(g) == string(w))
}

// stepSame translates w's snapshot with tr and checks it is what a fresh
// translation gives.
func stepSame(t *testing.T, what string, w *world, tr translators.Translator, s translators.Settings) gatewayapi.Result {
	t.Helper()
	got := gatewayapi.TranslateWith(tr, w.inputs(), s)
	checkSame(t, what, got, gatewayapi.Translate(w.inputs(), s))
	return got
}

// TestMemoEqualsFreshTranslation: one translator fed a sequence of
// snapshots, each a random edit of the one before (a route changed, added
// or removed, a Service, EndpointSlice, Gateway, policy, grant, ConfigMap
// or Secret changed or removed, an object without resourceVersion, an
// unchanged object copied), gives after every step exactly what a fresh
// translation of that snapshot gives: IR, Gateway API status and object
// statuses. The worlds are every golden case's input and a generated
// workload.
func TestMemoEqualsFreshTranslation(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type start struct {
		name  string
		objs  []client.Object
		s     translators.Settings
		steps int
	}
	var starts []start
	for _, p := range ins {
		in, s := loadCase(t, p)
		starts = append(starts, start{strings.TrimSuffix(filepath.Base(p), ".in.yaml"), in.All(), s, 12})
	}
	wl, err := workload.Objects(workload.Gateway, 40)
	if err != nil {
		t.Fatal(err)
	}
	starts = append(starts, start{"workload", wl, testSettings(), 200})
	hits, vhHits, listHits, entryHits := 0, 0, 0, 0
	for k, st := range starts {
		t.Run(st.name, func(t *testing.T) {
			w := newWorld(st.objs, uint64(k))
			tr := gatewayapi.New()
			last := gatewayapi.TranslateWith(tr, w.inputs(), st.s)
			lastWant := gatewayapi.Translate(w.inputs(), st.s)
			checkSame(t, "first run", last, lastWant)
			for step := range st.steps {
				what := w.edit()
				got := gatewayapi.TranslateWith(tr, w.inputs(), st.s)
				want := gatewayapi.Translate(w.inputs(), st.s)
				checkSame(t, fmt.Sprintf("step %d (%s)", step, what), got, want)
				if err := gatewayapi.CheckPlacedEntries(tr); err != nil {
					t.Fatalf("step %d (%s): %v", step, what, err)
				}
				if err := gatewayapi.CheckClusters(tr); err != nil {
					t.Fatalf("step %d (%s): %v", step, what, err)
				}
				// A result is never written once returned, though the
				// next run shares parts of it.
				checkSame(t, fmt.Sprintf("step %d (%s), the last result", step, what), last, lastWant)
				// Again, unchanged: everything that can be reused is.
				again := gatewayapi.TranslateWith(tr, w.inputs(), st.s)
				checkSame(t, fmt.Sprintf("step %d (%s), again", step, what), again, gatewayapi.Translate(w.inputs(), st.s))
				checkSame(t, fmt.Sprintf("step %d (%s), again, the last result", step, what), got, want)
				hits += sharedRoutes(got.IR, again.IR)
				vhHits += sharedVirtualHosts(got.IR, again.IR)
				if len(got.Objects) > 0 && len(again.Objects) > 0 && &got.Objects[0] == &again.Objects[0] {
					listHits++
				}
				entryHits += sharedEntries(last.Objects, got.Objects)
				last, lastWant = again, want
			}
		})
	}
	if hits == 0 {
		t.Fatal("no IR route was ever reused: the memo was never used")
	}
	if vhHits == 0 {
		t.Fatal("no IR virtual host was ever reused")
	}
	if listHits == 0 {
		t.Fatal("the list of ObjectStatuses was never reused")
	}
	if entryHits == 0 {
		t.Fatal("no ObjectStatus entry was ever reused after an edit")
	}
}

// sharedEntries counts the ObjectStatuses b holds as the very entries a
// holds.
func sharedEntries(a, b []*translators.ObjectStatus) int {
	in := map[*translators.ObjectStatus]bool{}
	for _, o := range a {
		in[o] = true
	}
	n := 0
	for _, o := range b {
		if in[o] {
			n++
		}
	}
	return n
}

// sharedVirtualHosts counts the virtual hosts b holds as the very
// pointers a holds.
func sharedVirtualHosts(a, b *ir.Config) int {
	seen := map[*ir.VirtualHost]bool{}
	for _, l := range a.Listeners {
		for _, vh := range l.VirtualHosts {
			seen[vh] = true
		}
	}
	n := 0
	for _, l := range b.Listeners {
		for _, vh := range l.VirtualHosts {
			if seen[vh] {
				n++
			}
		}
	}
	return n
}

// routePointers maps each IR route of cfg, by virtual host and name, to
// its pointer.
func routePointers(cfg *ir.Config) map[string]*ir.Route {
	out := map[string]*ir.Route{}
	for _, l := range cfg.Listeners {
		for _, vh := range l.VirtualHosts {
			for _, r := range vh.Routes {
				out[l.Name+"|"+vh.Name+"|"+r.Name] = r
			}
		}
	}
	return out
}

// sharedRoutes counts the IR routes b holds as the very pointers a holds.
func sharedRoutes(a, b *ir.Config) int {
	pa, n := routePointers(a), 0
	for k, r := range routePointers(b) {
		if pa[k] == r {
			n++
		}
	}
	return n
}

// TestMemoKeepsUnchangedRoutePointers: after one HTTPRoute changed, every
// other route's IR routes and clusters are the very values of the last
// run (later stages memoize by pointer); the changed route's are new, and
// so are those of a route whose Service changed. Likewise the
// ObjectStatuses: every object's but the changed route's (a new
// generation) is the last run's very entry, and the last run's entries
// still say what they said.
func TestMemoKeepsUnchangedRoutePointers(t *testing.T) {
	w, tr, s := gatewayWorld(t, 20, 1)
	first := gatewayapi.TranslateWith(tr, w.inputs(), s)
	firstEntries := map[string]*translators.ObjectStatus{}
	var firstValues []translators.ObjectStatus
	for _, o := range first.Objects {
		firstEntries[o.Object.String()] = o
		firstValues = append(firstValues, *o)
	}
	before := routePointers(first.IR)
	if len(before) != 40 {
		t.Fatalf("got %d IR routes, want 40 (20 routes of 2 rules)", len(before))
	}
	clusters := map[string]*ir.Cluster{}
	for _, c := range first.IR.Clusters {
		clusters[c.Name] = c
	}

	// Route 3 changes; Service 7 (the first backend of route 7, the
	// second of route 6) changes.
	edited, svc := workload.RouteName(3), workload.ServiceName(7)
	for i, o := range w.objs {
		switch {
		case o.GetName() == edited:
			w.replace(i, func(o client.Object) {
				v := "/changed"
				o.(*gatewayv1.HTTPRoute).Spec.Rules[0].Matches[0].Path.Value = &v
				o.SetGeneration(o.GetGeneration() + 1)
			})
		case o.GetName() == svc:
			if _, ok := o.(*corev1.Service); ok {
				w.replace(i, func(o client.Object) { o.SetLabels(map[string]string{"changed": "yes"}) })
			}
		}
	}
	second := gatewayapi.TranslateWith(tr, w.inputs(), s)
	checkSame(t, "after the edit", second, gatewayapi.Translate(w.inputs(), s))
	checkKeptRoutes(t, before, routePointers(second.IR), func(k string) bool {
		return strings.Contains(k, "/"+edited+"/") || strings.Contains(k, "/"+workload.RouteName(7)+"/") || strings.Contains(k, "/"+workload.RouteName(6)+"/")
	}, "its HTTPRoute or a Service of it changed", "nothing it depends on changed")
	for _, c := range second.IR.Clusters {
		if c.Name != workload.Namespace+"/"+svc+"/"+fmt.Sprint(workload.ServicePort) && clusters[c.Name] != c {
			t.Errorf("cluster %s is a new value, though its Service did not change", c.Name)
		}
	}
	if len(second.Objects) != len(first.Objects) {
		t.Fatalf("%d ObjectStatuses after the edit, %d before", len(second.Objects), len(first.Objects))
	}
	for _, o := range second.Objects {
		key := o.Object.String()
		if changed := o.Object.Name == edited; changed == (firstEntries[key] == o) {
			t.Errorf("ObjectStatus of %s: the last run's entry %v, want %v", key, !changed, !changed)
		}
	}
	// A third run, unchanged, hands out the second's list itself.
	third := gatewayapi.TranslateWith(tr, w.inputs(), s)
	if &third.Objects[0] != &second.Objects[0] {
		t.Error("an unchanged run made a new list of ObjectStatuses")
	}
	for i, o := range first.Objects {
		if !reflect.DeepEqual(*o, firstValues[i]) {
			t.Errorf("the first run's ObjectStatus of %s was written by a later run", o.Object)
		}
	}
}

// TestMemoKeepsRoutesWhoseStatusWasWritten: writing a route's status
// gives it a new resourceVersion but the same spec and generation (what
// Legate's status writer does to every route after a translation): the
// next run translates none of them again, keeping every IR route's
// pointer, while a route whose spec changed under the same generation (a
// file edited without one) is translated again.
func TestMemoKeepsRoutesWhoseStatusWasWritten(t *testing.T) {
	w, tr, s := gatewayWorld(t, 20, 1)
	first := gatewayapi.TranslateWith(tr, w.inputs(), s)
	before := routePointers(first.IR)
	attached := gatewayapi.AttachRecords(tr)
	if len(attached) != 20 {
		t.Fatalf("%d attachments remembered, want 20", len(attached))
	}
	edited := workload.RouteName(5)
	for i, o := range w.objs {
		if _, ok := o.(*gatewayv1.Gateway); ok {
			w.replace(i, func(o client.Object) {
				g := o.(*gatewayv1.Gateway)
				g.Status.Conditions = append(g.Status.Conditions, metav1.Condition{Type: "Written", Status: metav1.ConditionTrue, Reason: "Written"})
			})
			continue
		}
		if _, ok := o.(*gatewayv1.HTTPRoute); !ok {
			continue
		}
		w.replace(i, func(o client.Object) {
			r := o.(*gatewayv1.HTTPRoute)
			r.Status.Parents = append(r.Status.Parents, gatewayv1.RouteParentStatus{
				ParentRef: gatewayv1.ParentReference{Name: "written"}, ControllerName: "example.com/other"})
			if r.Name == edited {
				v := "/changed"
				r.Spec.Rules[0].Matches[0].Path.Value = &v
			}
		})
	}
	second := gatewayapi.TranslateWith(tr, w.inputs(), s)
	checkSame(t, "after the status writes", second, gatewayapi.Translate(w.inputs(), s))
	after := routePointers(second.IR)
	checkKeptRoutes(t, before, after, func(k string) bool { return strings.Contains(k, "/"+edited+"/") },
		"its spec changed", "only its status was written")
	if n, all := sharedVirtualHosts(first.IR, second.IR), sharedVirtualHosts(first.IR, first.IR); n != all-1 {
		t.Errorf("%d of %d virtual hosts are the last run's values, want all but the edited route's", n, all)
	}
	// The Gateway's status was written too, not its spec: every route
	// but the edited one gets its last attachment again.
	for key, rec := range gatewayapi.AttachRecords(tr) {
		if same := attached[key] == rec; same == strings.HasSuffix(key, "/"+edited) {
			t.Errorf("route %s: attachment replayed: %v", key, same)
		}
	}
	// The entries now hold the new versions: a third run is all hits too.
	third := gatewayapi.TranslateWith(tr, w.inputs(), s)
	if n := sharedRoutes(second.IR, third.IR); n != len(after) {
		t.Errorf("a run with nothing changed shares %d of %d IR routes with the last", n, len(after))
	}
}

// TestMemoRenamedGatewayWithoutUID: objects from files have no UID, so a
// Gateway renamed, its spec as it was, must not pass for the one it
// replaced: a route naming the new name attaches to it, as a fresh
// translation finds.
func TestMemoRenamedGatewayWithoutUID(t *testing.T) {
	w, tr, s := gatewayWorld(t, 1, 1)
	for _, o := range w.objs {
		switch o := o.(type) {
		case *gatewayv1.Gateway:
			a := o.DeepCopy()
			a.Name = "a-" + workload.GatewayName
			w.objs = append(w.objs, a)
		case *gatewayv1.HTTPRoute:
			o.Spec.ParentRefs = append([]gatewayv1.ParentReference{{Name: "b-" + workload.GatewayName}}, o.Spec.ParentRefs...)
		}
	}
	for _, o := range w.objs {
		if _, ok := o.(*gatewayv1.Gateway); ok {
			o.SetUID("")
		}
	}
	checkSame(t, "first run", gatewayapi.TranslateWith(tr, w.inputs(), s), gatewayapi.Translate(w.inputs(), s))
	for i, o := range w.objs {
		if o.GetName() == "a-"+workload.GatewayName {
			w.replace(i, func(o client.Object) { o.SetName("b-" + workload.GatewayName) })
		}
	}
	checkSame(t, "after the rename", gatewayapi.TranslateWith(tr, w.inputs(), s), gatewayapi.Translate(w.inputs(), s))
}

// checkKeptRoutes checks that after holds the IR routes before held, each
// the very value of the last run unless changed says it changed (why says
// how each could be wrong).
func checkKeptRoutes(t *testing.T, before, after map[string]*ir.Route, changed func(key string) bool, changedWhy, keptWhy string) {
	t.Helper()
	if len(after) != len(before) {
		t.Fatalf("got %d IR routes, want %d", len(after), len(before))
	}
	for k, r := range after {
		switch c := changed(k); {
		case c && before[k] == r:
			t.Errorf("route %s is the last run's value, though %s", k, changedWhy)
		case !c && before[k] != r:
			t.Errorf("route %s is a new value, though %s", k, keptWhy)
		}
	}
}

// TestMemoConcurrentRuns: one translator run from several goroutines at
// once on different snapshots gives each what a fresh translation gives
// (run with -race, this also checks that runs share nothing they write).
func TestMemoConcurrentRuns(t *testing.T) {
	base, tr, s := gatewayWorld(t, 30, 2)
	gatewayapi.TranslateWith(tr, base.inputs(), s)
	var wg sync.WaitGroup
	for g := range 4 {
		w := &world{objs: append([]client.Object(nil), base.objs...), rnd: rand.New(rand.NewPCG(uint64(g), 3)), seq: 1000 * g}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				w.edit()
				got := gatewayapi.TranslateWith(tr, w.inputs(), s)
				if want := gatewayapi.Translate(w.inputs(), s); !reflect.DeepEqual(got, want) {
					t.Errorf("goroutine %d: a concurrent run differs from a fresh translation", g)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestMemoNamespaceLabels: a route remembered as attached to a listener
// that admits routes by namespace selector is attached anew when its
// namespace's labels change: after every Namespace loses its labels, and
// after they come back, the remembering translator agrees with a fresh
// one on every golden case whose listeners select namespaces.
func TestMemoNamespaceLabels(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, p := range ins {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "from: Selector") {
			continue
		}
		in, s := loadCase(t, p)
		w := newWorld(in.All(), 1)
		tr := gatewayapi.New()
		checkSame(t, p+": first run", gatewayapi.TranslateWith(tr, w.inputs(), s), gatewayapi.Translate(w.inputs(), s))
		var labelled []client.Object
		for i, o := range w.objs {
			if _, ok := o.(*corev1.Namespace); ok && len(o.GetLabels()) > 0 {
				labelled = append(labelled, o)
				w.replace(i, func(o client.Object) { o.SetLabels(nil) })
			}
		}
		if len(labelled) == 0 {
			continue
		}
		tried++
		checkSame(t, p+": labels removed", gatewayapi.TranslateWith(tr, w.inputs(), s), gatewayapi.Translate(w.inputs(), s))
		for i, o := range w.objs {
			for _, l := range labelled {
				if o.GetName() == l.GetName() {
					w.replace(i, func(o client.Object) { o.SetLabels(l.GetLabels()) })
				}
			}
		}
		checkSame(t, p+": labels back", gatewayapi.TranslateWith(tr, w.inputs(), s), gatewayapi.Translate(w.inputs(), s))
	}
	if tried == 0 {
		t.Fatal("no golden case selects routes by labelled namespaces")
	}
}

// TestDuplicateRoutesFirstWins: of two routes of one namespace and name
// (two files holding one object), the first is translated and the second
// ignored, whether the list is sorted (duplicates are neighbours) or not.
func TestDuplicateRoutesFirstWins(t *testing.T) {
	objs, err := workload.Objects(workload.Gateway, 3)
	if err != nil {
		t.Fatal(err)
	}
	in := inputsOf(objs)
	first := in.HTTPRoutes[1]
	dup := first.DeepCopy()
	dup.Spec.Hostnames = []gatewayv1.Hostname{"duplicate.example.com"}
	hosts := func(res gatewayapi.Result) []string {
		var out []string
		for _, l := range res.IR.Listeners {
			for _, vh := range l.VirtualHosts {
				out = append(out, vh.Name)
			}
		}
		return out
	}
	want := hosts(gatewayapi.Translate(in, testSettings()))
	sorted := inputsOf(objs)
	sorted.HTTPRoutes = slices.Insert(slices.Clone(sorted.HTTPRoutes), 2, dup)
	unsorted := inputsOf(objs)
	unsorted.HTTPRoutes = append(slices.Clone(unsorted.HTTPRoutes), dup)
	slices.Reverse(unsorted.HTTPRoutes[:len(unsorted.HTTPRoutes)-1])
	unsorted.HTTPRoutes[0], unsorted.HTTPRoutes[len(unsorted.HTTPRoutes)-1] = unsorted.HTTPRoutes[len(unsorted.HTTPRoutes)-1], unsorted.HTTPRoutes[0]
	// Unsorted, the duplicate comes first: it wins.
	wantUnsorted := hosts(gatewayapi.Translate(func() *translators.Inputs {
		in := inputsOf(objs)
		in.HTTPRoutes = slices.Clone(in.HTTPRoutes)
		in.HTTPRoutes[1] = dup
		return in
	}(), testSettings()))
	for _, c := range []struct {
		name string
		in   *translators.Inputs
		want []string
	}{{"sorted", sorted, want}, {"unsorted", unsorted, wantUnsorted}} {
		for _, res := range []gatewayapi.Result{gatewayapi.Translate(c.in, testSettings()), gatewayapi.TranslateWith(gatewayapi.New(), c.in, testSettings())} {
			if got := hosts(res); !slices.Equal(got, c.want) {
				t.Errorf("%s: virtual hosts %v, want %v", c.name, got, c.want)
			}
		}
	}
	if slices.Equal(want, wantUnsorted) {
		t.Fatal("the duplicate changes nothing: the test cannot tell which one won")
	}
}

// TestMemoClustersInUse: the clusters and secrets a run hands out are
// those the virtual hosts of its listeners name, which each run counts
// only where its virtual hosts differ from the last run's. Routes moved
// from listener to listener, a listener removed with the only routes
// using a cluster, routes attached nowhere, removed and added back, each
// give what a fresh translation gives.
func TestMemoClustersInUse(t *testing.T) {
	w, tr, s := gatewayWorld(t, 20, 3)
	svc7 := workload.Namespace + "/" + workload.ServiceName(7) + "/" + fmt.Sprint(workload.ServicePort)
	// step translates the world and checks whether the cluster of
	// Service 7 is handed out.
	step := func(what string, svc7Used bool) {
		t.Helper()
		got := gatewayapi.TranslateWith(tr, w.inputs(), s)
		checkSame(t, what, got, gatewayapi.Translate(w.inputs(), s))
		if used := slices.ContainsFunc(got.IR.Clusters, func(c *ir.Cluster) bool { return c.Name == svc7 }); used != svc7Used {
			t.Fatalf("%s: cluster %s handed out: %v, want %v", what, svc7, used, svc7Used)
		}
	}
	find := func(name string, kind client.Object) int {
		for i, o := range w.objs {
			if o.GetName() == name && reflect.TypeOf(o) == reflect.TypeOf(kind) {
				return i
			}
		}
		t.Fatalf("no %T %s", kind, name)
		return -1
	}
	gw := find(workload.GatewayName, &gatewayv1.Gateway{})
	setListeners := func(n int) {
		w.replace(gw, func(o client.Object) {
			g := o.(*gatewayv1.Gateway)
			l := g.Spec.Listeners[0]
			l.Name, l.Port = "other", l.Port+1
			g.Spec.Listeners = append(g.Spec.Listeners[:1], l)[:n]
		})
	}
	// Routes 6 and 7 are the only ones using Service 7.
	moveRoutes := func(section string) {
		for _, r := range []int{6, 7} {
			w.replace(find(workload.RouteName(r), &gatewayv1.HTTPRoute{}), func(o client.Object) {
				for i := range o.(*gatewayv1.HTTPRoute).Spec.ParentRefs {
					o.(*gatewayv1.HTTPRoute).Spec.ParentRefs[i].SectionName = ptrTo(gatewayv1.SectionName(section))
				}
			})
		}
	}
	step("first run", true)
	setListeners(2)
	step("a listener added", true)
	moveRoutes("other")
	step("routes moved to it", true)
	setListeners(1)
	step("the listener removed", false)
	setListeners(2)
	step("the listener back", true)
	moveRoutes("http")
	step("routes moved back", true)
	moveRoutes("nowhere")
	step("routes attached nowhere", false)
	w.remove(find(workload.RouteName(6), &gatewayv1.HTTPRoute{}))
	w.remove(find(workload.RouteName(7), &gatewayv1.HTTPRoute{}))
	step("routes removed", false)
	for len(w.removed) > 0 {
		o := w.removed[0].DeepCopyObject().(*gatewayv1.HTTPRoute)
		w.removed = w.removed[1:]
		o.ResourceVersion = "back"
		o.Spec.ParentRefs[0].SectionName = nil
		w.objs = append(w.objs, o)
	}
	step("routes added back", true)
	step("again", true)
}

// TestMemoReusesClusters: a run whose routes list, each at its place,
// the clusters the last run's listed there takes the last run's clusters
// as they are; edits that change which routes list which clusters (a
// route gone and another come, a backend dropped, a backend moved to a
// Service no route used then dropped, a Service changed, a route without
// resourceVersion) give what a
// fresh translation gives, and the clusters kept for the next run are
// those a run registering every route's anew would have.
func TestMemoReusesClusters(t *testing.T) {
	w, tr, s := gatewayWorld(t, 20, 4)
	step := func(what string) gatewayapi.Result {
		t.Helper()
		got := stepSame(t, what, w, tr, s)
		if err := gatewayapi.CheckClusters(tr); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return got
	}
	route := func(i int) int {
		for k, o := range w.objs {
			if _, ok := o.(*gatewayv1.HTTPRoute); ok && o.GetName() == workload.RouteName(i) {
				return k
			}
		}
		t.Fatalf("no route %d", i)
		return -1
	}
	edit := func(i int, change func(r *gatewayv1.HTTPRoute)) {
		w.replace(route(i), func(o client.Object) { change(o.(*gatewayv1.HTTPRoute)) })
	}

	first := step("first run")
	kept := gatewayapi.KeptClusters(tr)
	if kept == 0 {
		t.Fatal("the first run kept no clusters for the next")
	}
	edit(3, func(r *gatewayv1.HTTPRoute) {
		v := "/changed"
		r.Spec.Rules[0].Matches[0].Path.Value = &v
	})
	second := step("a path changed")
	if !slices.Equal(first.IR.Clusters, second.IR.Clusters) {
		t.Error("the clusters are not the last run's very values, though no route's backends changed")
	}
	if gatewayapi.KeptClusters(tr) != kept {
		t.Error("the last run's clusters were not reused, though every route lists the same")
	}

	// One route gone and another come: as many routes, not at the same
	// places.
	added := w.objs[route(5)].DeepCopyObject().(*gatewayv1.HTTPRoute)
	added.Name, added.UID, added.ResourceVersion = "added", "uid-added", "a1"
	added.CreationTimestamp = metav1.NewTime(time.Unix(1, 0))
	w.remove(route(5))
	w.objs = append(w.objs, added)
	step("a route removed, another added")
	if gatewayapi.KeptClusters(tr) == kept {
		t.Error("the last run's clusters were reused, though routes are not at their places")
	}

	edit(8, func(r *gatewayv1.HTTPRoute) { r.Spec.Rules = r.Spec.Rules[:1] })
	step("a backend dropped")

	svc := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: workload.ServicePort, TargetPort: intstr.FromInt32(8080)}}}}
	svc.Namespace, svc.Name, svc.UID, svc.ResourceVersion = workload.Namespace, "unused-until-now", "uid-unused", "u1"
	w.objs = append(w.objs, svc)
	step("a Service no route uses")
	edit(9, func(r *gatewayv1.HTTPRoute) { r.Spec.Rules[0].BackendRefs[0].Name = gatewayv1.ObjectName(svc.Name) })
	step("a backend moved to it")
	edit(9, func(r *gatewayv1.HTTPRoute) { r.Spec.Rules = r.Spec.Rules[1:] })
	step("the only backend to it dropped")

	for k, o := range w.objs {
		if svc, ok := o.(*corev1.Service); ok && svc.Name == workload.ServiceName(12) {
			w.replace(k, func(o client.Object) {
				o.(*corev1.Service).Spec.Ports[0].AppProtocol = ptrTo("kubernetes.io/h2c")
			})
		}
	}
	step("a Service's protocol changed")

	k := route(10)
	o := w.objs[k].DeepCopyObject().(client.Object)
	o.SetResourceVersion("")
	w.objs[k] = o
	step("a route without resourceVersion")
	step("again")
	w.replace(k, func(client.Object) {})
	step("the route with a resourceVersion again")
	step("again, unchanged")
}

// TestMemoStatusOrder: the ObjectStatuses are gathered in the last run's
// order while the objects come in the same order as then; routes that
// change places among the routes (created at other times), or one route
// renamed, as many objects as before, give what a fresh translation
// gives.
func TestMemoStatusOrder(t *testing.T) {
	w, tr, s := gatewayWorld(t, 10, 5)
	step := func(what string) {
		t.Helper()
		got := gatewayapi.TranslateWith(tr, w.inputs(), s)
		want := gatewayapi.Translate(w.inputs(), s)
		checkSame(t, what, got, want)
		if !slices.IsSortedFunc(got.Objects, func(a, b *translators.ObjectStatus) int {
			return strings.Compare(a.Object.Kind+"/"+a.Object.Namespace+"/"+a.Object.Name, b.Object.Kind+"/"+b.Object.Namespace+"/"+b.Object.Name)
		}) {
			t.Fatalf("%s: the ObjectStatuses are not sorted", what)
		}
	}
	routes := func() []int {
		var out []int
		for k, o := range w.objs {
			if _, ok := o.(*gatewayv1.HTTPRoute); ok {
				out = append(out, k)
			}
		}
		return out
	}
	step("first run")
	step("again")
	rs := routes()
	for n, k := range rs {
		// The last created first.
		w.replace(k, func(o client.Object) {
			o.SetCreationTimestamp(metav1.NewTime(time.Unix(int64(len(rs)-n), 0)))
		})
	}
	step("routes created in the other order")
	step("again, unchanged")
	w.replace(rs[3], func(o client.Object) { o.SetName("zz-renamed") })
	step("a route renamed")
	w.replace(rs[4], func(o client.Object) { o.SetName("a-renamed") })
	step("another renamed")
}

// TestMemoRouteOrder: routes listed by name but created in another order
// are sorted oldest first; a run whose routes are the last run's, one of
// them edited, takes the last run's order without sorting again, and
// gives what a fresh translation gives; so does one in which a route
// moved in that order (created at another time), or two changed places.
func TestMemoRouteOrder(t *testing.T) {
	w, tr, s := gatewayWorld(t, 30, 7)
	var rs []int
	for k, o := range w.objs {
		if _, ok := o.(*gatewayv1.HTTPRoute); ok {
			rs = append(rs, k)
		}
	}
	// Created in an order unlike their names', several at one time, and
	// all for one host, so that the order decides which of their equal
	// matches wins.
	for n, k := range rs {
		w.replace(k, func(o client.Object) {
			o.SetCreationTimestamp(metav1.NewTime(time.Unix(int64((n*7)%11), 0)))
			o.(*gatewayv1.HTTPRoute).Spec.Hostnames = []gatewayv1.Hostname{"shared.example.com"}
		})
	}
	step := func(what string) []int32 {
		t.Helper()
		stepSame(t, what, w, tr, s)
		return gatewayapi.RouteOrderFrom(tr)
	}
	first := step("routes created out of order")
	if len(first) != len(rs) {
		t.Fatalf("the first run sorted %d routes by a permutation, want %d", len(first), len(rs))
	}
	edit := func(k int, path string) {
		w.replace(k, func(o client.Object) {
			o.(*gatewayv1.HTTPRoute).Spec.Rules[0].Matches[0].Path.Value = &path
			o.SetGeneration(o.GetGeneration() + 1)
		})
	}
	edit(rs[5], "/edited")
	if again := step("a route edited"); len(again) == 0 || &again[0] != &first[0] {
		t.Error("after one route was edited, the routes were sorted again")
	}
	w.replace(rs[2], func(o client.Object) { o.SetCreationTimestamp(metav1.NewTime(time.Unix(100, 0))) })
	moved := step("a route created later")
	if len(moved) == 0 || &moved[0] == &first[0] {
		t.Error("a route created at another time kept the last run's order")
	}
	a, b := w.objs[rs[8]].GetCreationTimestamp(), w.objs[rs[9]].GetCreationTimestamp()
	w.replace(rs[8], func(o client.Object) { o.SetCreationTimestamp(b) })
	w.replace(rs[9], func(o client.Object) { o.SetCreationTimestamp(a) })
	step("two routes swapped their times")
	edit(rs[0], "/edited-again")
	step("another edit")
}

// TestMemoRouteVerdicts: whether a route is Legate's is remembered by its
// place in the list, for the very same route, only while the Gateways and
// classes are unchanged: after an edit of one route the others keep their
// verdicts, and when the class passes to another controller, or comes
// back, every unchanged route is judged again (what a fresh translation
// gives, statuses included).
func TestMemoRouteVerdicts(t *testing.T) {
	w, tr, s := gatewayWorld(t, 10, 3)
	step := func(what string) gatewayapi.Result {
		t.Helper()
		return stepSame(t, what, w, tr, s)
	}
	routeStatuses := func(r gatewayapi.Result) int {
		n := 0
		for _, o := range r.Objects {
			if o.Object.Kind == "HTTPRoute" {
				n++
			}
		}
		return n
	}
	if n := routeStatuses(step("first run")); n != 10 {
		t.Fatalf("%d HTTPRoute statuses, want 10", n)
	}
	for k, o := range w.objs {
		if r, ok := o.(*gatewayv1.HTTPRoute); ok && r.Name == workload.RouteName(4) {
			w.replace(k, func(o client.Object) {
				v := "/edited"
				o.(*gatewayv1.HTTPRoute).Spec.Rules[0].Matches[0].Path.Value = &v
			})
		}
	}
	step("a route edited")
	class := pick[*gatewayv1.GatewayClass](w)
	controller := w.objs[class].(*gatewayv1.GatewayClass).Spec.ControllerName
	w.replace(class, func(o client.Object) {
		o.(*gatewayv1.GatewayClass).Spec.ControllerName = "example.com/another-controller"
		o.SetGeneration(o.GetGeneration() + 1)
	})
	if n := routeStatuses(step("the class passed to another controller")); n != 0 {
		t.Fatalf("%d HTTPRoute statuses once no Gateway is Legate's, want 0", n)
	}
	w.replace(class, func(o client.Object) {
		o.(*gatewayv1.GatewayClass).Spec.ControllerName = controller
		o.SetGeneration(o.GetGeneration() + 1)
	})
	if n := routeStatuses(step("the class back")); n != 10 {
		t.Fatalf("%d HTTPRoute statuses with the class back, want 10", n)
	}
}
