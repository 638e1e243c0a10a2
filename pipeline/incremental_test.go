package pipeline_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

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

// A pipeline that runs one snapshot after another, remembering what it
// built and validated and taking the endpoint fast path where it can,
// gives for every snapshot what a fresh pipeline gives: the same
// resources, versions and statuses. Route edits (the full path, reusing
// the last build's messages) and EndpointSlice edits (the fast path) are
// interleaved at random, over snapshots that share unchanged objects.
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
			for edit := range 60 {
				if r.IntN(2) == 0 {
					objs = editSlice(r, objs, edit+2)
				} else {
					objs = editRoute(r, objs, edit+2)
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
					t.Fatalf("edit %d: resources differ from a fresh pipeline's:\n--- incremental\n%s\n--- fresh\n%s", edit, g, w)
				}
				if gv, wv := got.Resources.Versions(), want.Resources.Versions(); fmt.Sprint(*gv) != fmt.Sprint(*wv) {
					t.Fatalf("edit %d: versions differ:\nincremental %v\nfresh %v", edit, *gv, *wv)
				}
				if !reflect.DeepEqual(got.Statuses, want.Statuses) {
					t.Fatalf("edit %d: statuses differ:\nincremental %+v\nfresh %+v", edit, got.Statuses, want.Statuses)
				}
			}
			if fastRuns == 0 || fullRuns == 0 {
				t.Fatalf("%d fast and %d full runs: both paths must be taken", fastRuns, fullRuns)
			}
		})
	}
}
