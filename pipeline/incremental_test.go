package pipeline_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/bench/workload"
)

// editRoute changes one HTTPRoute at random: a path of its first rule, or
// its hostnames swapped for another route's (two routes then share a
// virtual host), as a new object with a new resourceVersion.
func editRoute(r *rand.Rand, objs []client.Object, version int) []client.Object {
	var routes []int
	for i, o := range objs {
		if _, ok := o.(*gatewayv1.HTTPRoute); ok {
			routes = append(routes, i)
		}
	}
	idx := routes[r.IntN(len(routes))]
	hr := objs[idx].DeepCopyObject().(*gatewayv1.HTTPRoute)
	hr.ResourceVersion = fmt.Sprint(version)
	switch r.IntN(2) {
	case 0:
		if len(hr.Spec.Rules) > 0 && len(hr.Spec.Rules[0].Matches) > 0 && hr.Spec.Rules[0].Matches[0].Path != nil {
			p := fmt.Sprintf("/edit-%d/", version)
			hr.Spec.Rules[0].Matches[0].Path.Value = &p
		}
	case 1:
		other := objs[routes[r.IntN(len(routes))]].(*gatewayv1.HTTPRoute)
		hr.Spec.Hostnames = append([]gatewayv1.Hostname(nil), other.Spec.Hostnames...)
	}
	out := append(objs[:0:0], objs...)
	out[idx] = hr
	return out
}

// editOther makes one edit of another kind at random: an HTTPRoute
// removed, or added (a copy under a new name), or its parentRef narrowed
// to a section that may not exist; a Gateway's first listener given or
// stripped of a hostname; a Service removed; a ReferenceGrant added or
// removed. Edited objects are new, with a new resourceVersion.
func editOther(r *rand.Rand, objs []client.Object, version int) ([]client.Object, string) {
	var routes, gateways, services, grants []int
	for i, o := range objs {
		switch o.(type) {
		case *gatewayv1.HTTPRoute:
			routes = append(routes, i)
		case *gatewayv1.Gateway:
			gateways = append(gateways, i)
		case *corev1.Service:
			services = append(services, i)
		case *gatewayv1.ReferenceGrant:
			grants = append(grants, i)
		}
	}
	out := append(objs[:0:0], objs...)
	remove := func(i int) []client.Object { return append(out[:i:i], out[i+1:]...) }
	rv := fmt.Sprint(version)
	switch r.IntN(6) {
	case 0:
		if len(routes) > 1 {
			return remove(routes[r.IntN(len(routes))]), "HTTPRoute removed"
		}
	case 1:
		hr := objs[routes[r.IntN(len(routes))]].DeepCopyObject().(*gatewayv1.HTTPRoute)
		hr.Name = fmt.Sprintf("%s-copy-%d", hr.Name, version)
		hr.UID = types.UID(fmt.Sprintf("uid-copy-%d", version))
		hr.ResourceVersion = rv
		return append(out, hr), "HTTPRoute added"
	case 2:
		i := routes[r.IntN(len(routes))]
		hr := objs[i].DeepCopyObject().(*gatewayv1.HTTPRoute)
		hr.ResourceVersion = rv
		if len(hr.Spec.ParentRefs) > 0 {
			sec := gatewayv1.SectionName([]string{"http", "nonexistent"}[r.IntN(2)])
			hr.Spec.ParentRefs[0].SectionName = &sec
		}
		out[i] = hr
		return out, "HTTPRoute parentRef changed"
	case 3:
		if len(gateways) > 0 {
			i := gateways[r.IntN(len(gateways))]
			gw := objs[i].DeepCopyObject().(*gatewayv1.Gateway)
			gw.ResourceVersion = rv
			if l := &gw.Spec.Listeners[0]; l.Hostname == nil {
				h := gatewayv1.Hostname("*.example.com")
				l.Hostname = &h
			} else {
				l.Hostname = nil
			}
			out[i] = gw
			return out, "Gateway listener changed"
		}
	case 4:
		if len(services) > 1 {
			return remove(services[r.IntN(len(services))]), "Service removed"
		}
	default:
		if len(grants) > 0 {
			return remove(grants[r.IntN(len(grants))]), "ReferenceGrant removed"
		}
		g := &gatewayv1.ReferenceGrant{
			ObjectMeta: metav1.ObjectMeta{Namespace: objs[services[0]].GetNamespace(), Name: fmt.Sprintf("grant-%d", version),
				UID: types.UID(fmt.Sprintf("uid-grant-%d", version)), ResourceVersion: rv},
			Spec: gatewayv1.ReferenceGrantSpec{
				From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "elsewhere"}},
				To:   []gatewayv1.ReferenceGrantTo{{Kind: "Service"}},
			},
		}
		return append(out, g), "ReferenceGrant added"
	}
	return editRoute(r, objs, version), "HTTPRoute changed"
}

// A pipeline that runs one snapshot after another, remembering what it
// built and validated and taking the endpoint fast path where it can,
// gives for every snapshot what a fresh pipeline gives: the same
// resources, versions and statuses. Route edits (the full path, reusing
// the last build's messages), edits of other objects (editOther) and
// EndpointSlice edits (the fast path) are interleaved at random, over
// snapshots that share unchanged objects.
func TestIncrementalRunsEqualFreshRuns(t *testing.T) {
	for _, shape := range []workload.Shape{workload.Gateway, workload.Mixed} {
		t.Run(string(shape), func(t *testing.T) {
			r := rand.New(rand.NewPCG(2, uint64(len(shape))))
			objs := versioned(t, shape, 8)
			p := benchPipeline()
			if _, err := p.Run(snapshotSharing(t, objs, true)); err != nil {
				t.Fatal(err)
			}
			fastRuns, fullRuns := 0, 0
			for edit := range 90 {
				what := "EndpointSlice changed"
				switch r.IntN(3) {
				case 0:
					objs = editSlice(r, objs, edit+2)
				case 1:
					objs, what = editRoute(r, objs, edit+2), "HTTPRoute changed"
				default:
					objs, what = editOther(r, objs, edit+2)
				}
				got, err := p.Run(snapshotSharing(t, objs, true))
				if err != nil {
					t.Fatal(err)
				}
				if got.EndpointsOnly {
					fastRuns++
				} else {
					fullRuns++
				}
				want, err := benchPipeline().Run(snapshotOf(t, objs))
				if err != nil {
					t.Fatal(err)
				}
				if g, w := render(t, got), render(t, want); !bytes.Equal(g, w) {
					t.Fatalf("edit %d (%s): resources differ from a fresh pipeline's:\n--- incremental\n%s\n--- fresh\n%s", edit, what, g, w)
				}
				if gv, wv := got.Resources.Versions(), want.Resources.Versions(); fmt.Sprint(*gv) != fmt.Sprint(*wv) {
					t.Fatalf("edit %d (%s): versions differ:\nincremental %v\nfresh %v", edit, what, *gv, *wv)
				}
				if !reflect.DeepEqual(got.Statuses, want.Statuses) {
					t.Fatalf("edit %d (%s): statuses differ:\nincremental %+v\nfresh %+v", edit, what, got.Statuses, want.Statuses)
				}
			}
			if fastRuns == 0 || fullRuns == 0 {
				t.Fatalf("%d fast and %d full runs: both paths must be taken", fastRuns, fullRuns)
			}
		})
	}
}
