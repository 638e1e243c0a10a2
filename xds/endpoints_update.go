package xds

import (
	"errors"
	"fmt"
	"slices"

	"github.com/legateproxy/legate/translators/ir"
)

// WithEndpoints returns a copy of res in which the ClusterLoadAssignments
// of clusters are rebuilt from those clusters' endpoints, exactly as Build
// makes them, and validated; every other resource (and its recorded
// version) is shared with res. It is the endpoint fast path: when only
// endpoints changed, nothing else needs to be built, encoded or hashed
// again.
//
// res must have passed Validate (it carries versions), and every cluster
// must be an EDS cluster whose load assignment res already holds: the set
// of resource names, and so every reference between resources, is then
// the same as in res, and only the new assignments themselves need a walk.
// res is not modified.
func (val *Validator) WithEndpoints(res *Resources, clusters []*ir.Cluster) (*Resources, error) {
	prev := res.Versions()
	if prev == nil {
		return nil, errors.New("replacing endpoints: the resources have not passed validation")
	}
	// The positions of the load assignments are the same in out, so
	// out carries the index on to the next endpoint change.
	index := res.endpointIndex
	if index == nil {
		index = make(map[string]int, len(res.Endpoints))
		for i, e := range res.Endpoints {
			index[e.GetName()] = i
		}
	}
	out := *res
	out.endpointIndex = index
	out.Endpoints = append(res.Endpoints[:0:0], res.Endpoints...)
	versions := *prev
	changed := make(map[string]string, len(clusters))

	val.mu.Lock()
	defer val.mu.Unlock()
	// What was validated is looked up, but nothing is added: the
	// Validator keeps describing the last full validation.
	v := &validator{known: val.known}
	for _, c := range clusters {
		i, ok := index[c.Name]
		if ok && res.Endpoints[i].GetName() != c.Name {
			// An index carried over by a copy that moved things (none
			// does): look the long way.
			i = slices.IndexFunc(res.Endpoints, func(e *LoadAssignment) bool { return e.GetName() == c.Name })
			ok = i >= 0
		}
		if c.Kind != ir.ClusterEDS || !ok {
			return nil, fmt.Errorf("replacing endpoints: %s is not an EDS cluster of the resources", c.Name)
		}
		cla := buildLoadAssignment(c.Name, c.Endpoints)
		a := NewLoadAssignment(cla)
		loc := location{kind: "ClusterLoadAssignment", name: c.Name}
		// The message just built is walked, rather than one decoded from
		// a's encoding, which is the same.
		p, _ := v.part(loc, a, func() { v.message(loc, cla) })
		out.Endpoints[i] = a
		changed[c.Name] = p.version
	}
	if len(v.errs) > 0 {
		return nil, fmt.Errorf("invalid xDS resources: %w", errors.Join(v.errs...))
	}
	versions.Endpoints = prev.Endpoints.With(changed)
	out.versions = &versions
	return &out, nil
}
