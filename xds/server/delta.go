package server

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// deltaCache answers delta xDS watches from the published snapshots.
//
// go-control-plane's snapshot cache works out a delta response by looking
// at every resource the client subscribed to, twice per change (when the
// snapshot is set, and when the client's acknowledgement opens the next
// watch): at 10k Services one changed endpoint cost two walks over 10k
// names in four maps per Envoy, most of an endpoint edit's time. This
// cache knows what a subscription holds when it holds what this cache
// sent it, so it answers from what changed since:
//
//   - A response's next versions (which the delta server keeps as the
//     subscription's returned resources) are remembered with the type
//     version they describe. A subscription whose returned resources are
//     one of those maps, and that did not change what it subscribes to,
//     holds exactly that version of every resource it subscribes to.
//   - Each published type knows which names changed since the version
//     before it (publishedType.changedFrom). A subscription that holds
//     that version is sent those of them it subscribes to, and nothing is
//     looked at for the others.
//
// Anything else (a first request, a changed subscription, an older
// version, a reconnecting client's initial versions) is answered from a
// look at everything, with go-control-plane's semantics: a wildcard
// subscription gets every resource whose version differs from what it
// holds and the removal of those it holds that are gone; a named one the
// same for the names it subscribes to; a first wildcard request is
// answered even when there is nothing to send.
type deltaCache struct {
	mu sync.Mutex
	// snapshots are the groups' published snapshots.
	snapshots map[string]*snapshot
	// open are the watches waiting for a change, by group and type.
	open map[groupType]map[*deltaWatch]struct{}
	// sent are the next-version maps of responses this cache made, by
	// map, with what they describe. The maps are held here, so none is
	// collected (and its address reused) while it is known.
	sent map[unsafe.Pointer]sentVersions
	// answers counts the watches answered or looked at, and looks those
	// that needed a look at everything (for tests).
	answers, looks int
}

type groupType struct{ group, typeURL string }

// sentVersions says a map of next versions holds, for every resource a
// subscription of group subscribes to, its version at version of
// typeURL.
type sentVersions struct {
	versions map[string]string
	groupType
	version string
}

// deltaWatch is an open delta watch.
type deltaWatch struct {
	req *cachev3.DeltaRequest
	sub cachev3.Subscription
	out chan cachev3.DeltaResponse
	groupType
}

func newDeltaCache() *deltaCache {
	return &deltaCache{
		snapshots: map[string]*snapshot{},
		open:      map[groupType]map[*deltaWatch]struct{}{},
		sent:      map[unsafe.Pointer]sentVersions{},
	}
}

// CreateDeltaWatch answers req at once if the subscription lacks
// something of the group's snapshot, or else keeps the watch open until a
// publish changes something it subscribes to.
func (d *deltaCache) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, out chan cachev3.DeltaResponse, group string) (func(), error) {
	w := &deltaWatch{req: req, sub: sub, out: out, groupType: groupType{group, req.GetTypeUrl()}}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(req.GetResourceNamesSubscribe()) > 0 || len(req.GetResourceNamesUnsubscribe()) > 0 {
		// The delta server has just changed the subscription, and with
		// it maybe the returned resources (in place): whatever this
		// cache knew of them no longer holds.
		delete(d.sent, mapKey(sub.ReturnedResources()))
	}
	if snap := d.snapshots[group]; snap != nil && d.respond(w, snap.types[w.typeURL]) {
		return func() {}, nil
	}
	set := d.open[w.groupType]
	if set == nil {
		set = map[*deltaWatch]struct{}{}
		d.open[w.groupType] = set
	}
	set[w] = struct{}{}
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		delete(d.open[w.groupType], w)
	}, nil
}

// set makes snap the group's snapshot and answers the open watches of the
// types changed reports.
func (d *deltaCache) set(group string, snap *snapshot, changed func(typeURL string) bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.snapshots[group] = snap
	for _, typeURL := range TypeURLs {
		if !changed(typeURL) {
			continue
		}
		key := groupType{group, typeURL}
		pt := snap.types[typeURL]
		for w := range d.open[key] {
			if d.respond(w, pt) {
				delete(d.open[key], w)
			}
		}
		d.forgetOld(key, pt)
	}
}

// forgetOld drops the sent maps of key that describe neither pt's version
// nor the one its changes are counted from: no subscription holding them
// can be answered from what changed.
func (d *deltaCache) forgetOld(key groupType, pt *publishedType) {
	for k, s := range d.sent {
		if s.groupType != key {
			continue
		}
		if pt == nil || (s.version != pt.version && (pt.changedFrom == nil || s.version != pt.changedFrom.version)) {
			delete(d.sent, k)
		}
	}
}

// respond sends w what its subscription lacks of pt, if anything, and
// says whether it did. d.mu is held.
func (d *deltaCache) respond(w *deltaWatch, pt *publishedType) bool {
	if pt == nil {
		pt = &publishedType{}
	}
	d.answers++
	returned := w.sub.ReturnedResources()
	held, known := d.sent[mapKey(returned)]
	known = known && held.groupType == w.groupType
	var send []*encodedResource
	var removed []string
	var next map[string]string
	switch {
	case known && held.version == pt.version:
		// It holds this very version.
		return false
	case known && pt.changedFrom != nil && held.version == pt.changedFrom.version:
		send, next = d.changedSince(w.sub, pt, returned)
		if len(send) == 0 {
			// Nothing it subscribes to changed: what it holds is this
			// version too.
			held.version = pt.version
			d.sent[mapKey(returned)] = held
			return false
		}
	default:
		d.looks++
		send, removed, next = everything(w.sub, pt, returned)
		if len(send) == 0 && len(removed) == 0 && !(w.sub.IsWildcard() && w.req.GetResponseNonce() == "") {
			return false
		}
	}
	resp := &discovery.DeltaDiscoveryResponse{
		TypeUrl:           w.typeURL,
		SystemVersionInfo: pt.version,
		RemovedResources:  removed,
		Resources:         make([]*discovery.Resource, 0, len(send)),
	}
	complete := true
	for _, e := range send {
		b, err := e.wire()
		if err != nil {
			// Validated resources encode. If one did not, the client is
			// sent the rest and is not counted as holding this one, so
			// the next look (at everything: its versions are not one
			// this cache knows) offers it again.
			delete(next, e.name)
			complete = false
			continue
		}
		resp.Resources = append(resp.Resources, &discovery.Resource{
			Name: e.name, Version: next[e.name], Resource: &anypb.Any{TypeUrl: w.typeURL, Value: b},
		})
	}
	if complete {
		d.sent[mapKey(next)] = sentVersions{versions: next, groupType: w.groupType, version: pt.version}
	} else {
		// next may be the map this cache knew as the last version (see
		// changedSince): it no longer is.
		delete(d.sent, mapKey(next))
	}
	w.out <- &cachev3.DeltaPassthroughResponse{DeltaRequest: w.req, NextVersionMap: next, DeltaDiscoveryResponse: resp}
	return true
}

// changedSince is what a subscription holding pt.changedFrom's version
// lacks of pt: the changed resources it subscribes to whose version moved,
// and its next versions. Changes are resources replaced in place (same
// names, see changedFrom), so nothing is removed.
//
// The next versions are written into returned itself, not into a copy of
// it (10k versions at 10k Services, per EndpointSlice edit and stream).
// returned is a map this cache made (it is known, for this group and
// type), and go-control-plane's delta server (v0.14) keeps it as the
// stream's state: it stores a response's next versions without reading
// them, and reads or writes the map only on the stream's goroutine, after
// cancelling the type's watch (under d.mu), so never while this runs. A
// response made here may still be queued when the stream handles its
// next request: if that changes the subscription, the change is made in
// this very map, which the queued response then installs, so it is kept
// (a copy would have dropped it); if it only acknowledges, the new watch
// finds the map already at this version and sends nothing twice. The
// Cache interface asks caches not to alter this map: this relies on the
// delta server as it is, to be checked again when go-control-plane is
// upgraded.
func (d *deltaCache) changedSince(sub cachev3.Subscription, pt *publishedType, returned map[string]string) ([]*encodedResource, map[string]string) {
	var send []*encodedResource
	for _, e := range pt.changedFrom.changed {
		if !sub.IsWildcard() {
			if _, ok := sub.SubscribedResources()[e.name]; !ok {
				continue
			}
		}
		if v, _ := pt.each.Get(e.name); returned[e.name] != v {
			send = append(send, e)
		}
	}
	if len(send) == 0 {
		return nil, nil
	}
	next := returned
	for _, e := range send {
		next[e.name], _ = pt.each.Get(e.name)
	}
	return send, next
}

// everything is what sub lacks of pt, found by looking at every resource
// it subscribes to.
func everything(sub cachev3.Subscription, pt *publishedType, returned map[string]string) (send []*encodedResource, removed []string, next map[string]string) {
	byName := pt.plain.get()
	if sub.IsWildcard() {
		next = make(map[string]string, len(pt.wrapped))
		for _, e := range pt.wrapped {
			v, _ := pt.each.Get(e.name)
			next[e.name] = v
			if was, ok := returned[e.name]; !ok || was != v {
				send = append(send, e)
			}
		}
		for name := range returned {
			if byName[name] == nil {
				removed = append(removed, name)
			}
		}
	} else {
		next = make(map[string]string, len(sub.SubscribedResources()))
		for name := range sub.SubscribedResources() {
			was, had := returned[name]
			if e, _ := byName[name].(*encodedResource); e != nil {
				v, _ := pt.each.Get(e.name)
				next[name] = v
				if !had || was != v {
					send = append(send, e)
				}
			} else if had {
				removed = append(removed, name)
			}
		}
		slices.SortFunc(send, func(a, b *encodedResource) int { return strings.Compare(a.name, b.name) })
	}
	slices.Sort(removed)
	return send, removed, next
}

// mapKey identifies a map by the table it refers to.
func mapKey(m map[string]string) unsafe.Pointer {
	if m == nil {
		return nil
	}
	return reflect.ValueOf(m).UnsafePointer()
}
