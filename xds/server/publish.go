package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/legateproxy/legate/xds"
)

// TypeURLs are the resource types a snapshot carries. The order is fixed
// because the snapshot version hashes the per-type versions in it; it is
// also the order Envoy applies them in (clusters and their endpoints before
// the listeners and routes that use them).
var TypeURLs = []string{
	resource.ClusterType,
	resource.EndpointType,
	resource.ListenerType,
	resource.RouteType,
	resource.SecretType,
}

// published is what was last published for a group.
type published struct {
	// version identifies the whole snapshot; versions, per type URL, each
	// type's content.
	version  string
	versions map[string]string
	snapshot *snapshot
	// types are what each type of the snapshot was made from, so that the
	// next publish reuses a type whose resources are the same messages.
	types map[string]*publishedType
}

// publishedType is one resource type of a published snapshot: the
// resources it was given (the very messages), their version and versions
// by name, and the cache's forms of them. Resources are not modified once
// published, so the same messages have the same versions: the next
// publish checks the messages are the same (a pass over the list) rather
// than sorting, hashing and indexing them again, and where a few changed
// it patches copies of this type's maps rather than making them anew.
type publishedType struct {
	// wrapped are the resources given, in their order, each with what
	// it was made from (encodedResource.from).
	wrapped []*encodedResource
	version string
	// each is the version of every resource by name; eachMap the same as
	// a map, made when asked for (GetVersionMap).
	each    *xds.VersionMap
	eachMap func() map[string]string
	// sum makes version: the sum of a hash of the name and version of
	// each resource (itemHash, see versionAll).
	sum uint64
	// withTTL and plain index wrapped by name, as the cache reads them: a
	// state-of-the-world stream the one, a delta stream the other. Each
	// is made when first asked for (a server with delta clients only
	// never makes withTTL), from the last publish's if it had one.
	withTTL lazyIndex[cachetypes.ResourceWithTTL]
	plain   lazyIndex[cachetypes.Resource]
	// changedFrom, if set, says which resources differ from the type's
	// last publish, when they only replaced resources of the same names
	// in place (the usual edit): delta answers from it (deltaCache).
	changedFrom *typeChange
}

// typeChange is what changed in a type since the publish of version.
type typeChange struct {
	version string
	changed []*encodedResource
}

// lazyIndex is a name index made when first asked for.
type lazyIndex[V any] struct {
	once sync.Once
	make func() map[string]V
	m    map[string]V
	// built is set once m is made; m is then never written.
	built atomic.Bool
}

func (x *lazyIndex[V]) get() map[string]V {
	x.once.Do(func() {
		if x.make == nil {
			return
		}
		x.m = x.make()
		x.make = nil
		x.built.Store(true)
	})
	return x.m
}

// ready is the index if it was made already, else nil.
func (x *lazyIndex[V]) ready() map[string]V {
	if x.built.Load() {
		return x.m
	}
	return nil
}

// snapshot is what the cache serves a group: the published types. Unlike
// the cache's own Snapshot, it hands out the same name index on every
// call (the cache only reads it) instead of building one per watch, and
// its per-resource versions are given (the validated ones) rather than
// computed by encoding every resource on the first delta watch.
type snapshot struct {
	types map[string]*publishedType
}

func (s *snapshot) GetVersion(typeURL string) string {
	if pt := s.types[typeURL]; pt != nil {
		return pt.version
	}
	return ""
}

func (s *snapshot) GetResourcesAndTTL(typeURL string) map[string]cachetypes.ResourceWithTTL {
	if pt := s.types[typeURL]; pt != nil {
		return pt.withTTL.get()
	}
	return nil
}

func (s *snapshot) GetResources(typeURL string) map[string]cachetypes.Resource {
	if pt := s.types[typeURL]; pt != nil {
		return pt.plain.get()
	}
	return nil
}

func (s *snapshot) ConstructVersionMap() error { return nil }

func (s *snapshot) GetVersionMap(typeURL string) map[string]string {
	if pt := s.types[typeURL]; pt != nil && pt.eachMap != nil {
		return pt.eachMap()
	}
	return nil
}

// newPublishedType makes the published form of the wrapped resources
// (wrapResources), reusing what prev (the type's last publish, or nil) made
// from the same messages.
func newPublishedType(wrapped []*encodedResource, known *xds.VersionMap, prev *publishedType) (*publishedType, error) {
	pt := &publishedType{wrapped: wrapped}
	pt.changedFrom = changesSince(prev, pt.wrapped)
	if !pt.versionFrom(prev, known) {
		if err := pt.versionAll(known); err != nil {
			return nil, err
		}
	}
	// Only an index the last publish already made is a base for this
	// one's (taken now, so that no publish keeps an older one alive).
	var prevTTL map[string]cachetypes.ResourceWithTTL
	var prevPlain map[string]cachetypes.Resource
	var prevWrapped []*encodedResource
	if prev != nil {
		prevTTL, prevPlain, prevWrapped = prev.withTTL.ready(), prev.plain.ready(), prev.wrapped
	}
	pt.withTTL.make = func() map[string]cachetypes.ResourceWithTTL {
		return nameIndex(pt.wrapped, prevWrapped, prevTTL, func(w *encodedResource) cachetypes.ResourceWithTTL {
			return cachetypes.ResourceWithTTL{Resource: w}
		})
	}
	pt.plain.make = func() map[string]cachetypes.Resource {
		return nameIndex(pt.wrapped, prevWrapped, prevPlain, func(w *encodedResource) cachetypes.Resource { return w })
	}
	return pt, nil
}

// changesSince is what changed in wrapped since prev, if only resources
// were replaced by ones of the same names in the same places; else nil.
func changesSince(prev *publishedType, wrapped []*encodedResource) *typeChange {
	if prev == nil || len(prev.wrapped) != len(wrapped) {
		return nil
	}
	c := &typeChange{version: prev.version}
	for i, w := range wrapped {
		if old := prev.wrapped[i]; old != w {
			if old.name != w.name {
				return nil
			}
			c.changed = append(c.changed, w)
		}
	}
	return c
}

// nameIndex indexes wrapped by name. When the last publish's index was
// made (prevIndex) and its list had the same length, the names are mostly
// the same in the same places: its index is copied and the few that
// differ replaced, which at 10k resources is much less work than indexing
// anew.
func nameIndex[V any](wrapped, prevWrapped []*encodedResource, prevIndex map[string]V, value func(*encodedResource) V) map[string]V {
	if prevIndex != nil && len(prevWrapped) == len(wrapped) {
		out := maps.Clone(prevIndex)
		for i, w := range wrapped {
			if old := prevWrapped[i]; old != w {
				delete(out, old.name)
			}
		}
		for i, w := range wrapped {
			if prevWrapped[i] != w {
				out[w.name] = value(w)
			}
		}
		return out
	}
	out := make(map[string]V, len(wrapped))
	for _, w := range wrapped {
		out[w.name] = value(w)
	}
	return out
}

// Publish validates res and, if it differs from what group last got, makes
// it the group's snapshot. An empty group means the default group.
//
// If validation fails nothing is published: the group keeps being served its
// last good snapshot and the error says what is wrong. Each resource type is
// versioned by a hash of its content, so a type whose content did not change
// keeps its version and is not sent again; when no type changed at all the
// cache is not touched and changed is false. version identifies the whole
// snapshot (a hash of the per-type versions).
func (s *Server) Publish(group string, res *xds.Resources) (version string, changed bool, err error) {
	// One publish at a time: a republish at the end of a cluster's removal
	// grace must not interleave with (and undo) a newer publish.
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	return s.publish(group, res)
}

// republishLatest publishes the group's last requested resources again, so
// that retired clusters whose grace ended are dropped.
func (s *Server) republishLatest(group string) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	res := s.retire.requested(group)
	if res == nil {
		return
	}
	if _, _, err := s.publish(group, res); err != nil {
		s.log.Error("publishing after a cluster's removal grace", "group", group, "error", err)
	}
}

func (s *Server) publish(group string, res *xds.Resources) (version string, changed bool, err error) {
	if group == "" {
		group = s.defaultGroup
	}
	if res == nil {
		return "", false, fmt.Errorf("publishing group %q: no resources", group)
	}
	// Resources that passed validation (the pipeline's) are not validated
	// again: at 10k routes that was a third of a publish. They carry the
	// version of every resource.
	if res.Versions() == nil {
		if err := s.validator.Validate(res); err != nil {
			s.metrics.publishes.WithLabelValues(group, "invalid").Inc()
			return "", false, fmt.Errorf("publishing group %q: invalid resources, keeping the last good snapshot: %w", group, err)
		}
	}
	checked := res.Versions()
	// Clusters that just left the configuration stay a while (unreferenced
	// clusters are valid), so Envoy never loses one before its routes.
	res = s.retire.apply(group, res)
	known := map[string]*xds.VersionMap{
		resource.ClusterType:  xds.NewVersionMap(checked.Clusters),
		resource.EndpointType: checked.Endpoints,
		resource.ListenerType: xds.NewVersionMap(checked.Listeners),
		resource.RouteType:    xds.NewVersionMap(checked.Routes),
		resource.SecretType:   xds.NewVersionMap(checked.Secrets),
	}
	s.mu.Lock()
	prev := s.groups[group]
	s.mu.Unlock()
	versions := make(map[string]string, len(TypeURLs))
	types := make(map[string]*publishedType, len(TypeURLs))
	for _, typeURL := range TypeURLs {
		var last *publishedType
		if prev != nil {
			last = prev.types[typeURL]
		}
		// A type whose messages are the very ones of the last publish
		// is the same (resources are never modified): nothing to hash,
		// encode or index, not even a list to convert.
		var same bool
		switch typeURL {
		case resource.ClusterType:
			same = last != nil && sameItems(last.wrapped, res.Clusters)
		case resource.EndpointType:
			same = last != nil && sameItems(last.wrapped, res.Endpoints)
		case resource.ListenerType:
			same = last != nil && sameItems(last.wrapped, res.Listeners)
		case resource.RouteType:
			same = last != nil && sameItems(last.wrapped, res.Routes)
		case resource.SecretType:
			same = last != nil && sameItems(last.wrapped, res.Secrets)
		}
		if same {
			types[typeURL] = last
			versions[typeURL] = last.version
			continue
		}
		var wrapped []*encodedResource
		switch typeURL {
		case resource.ClusterType:
			wrapped = wrapResources(res.Clusters, last, newEncodedKept)
		case resource.EndpointType:
			wrapped = wrapResources(res.Endpoints, last, newEncodedKept)
		case resource.ListenerType:
			wrapped = wrapMessages(res.Listeners, last)
		case resource.RouteType:
			wrapped = wrapResources(res.Routes, last, newEncodedRoute)
		case resource.SecretType:
			wrapped = wrapMessages(res.Secrets, last)
		}
		pt, err := newPublishedType(wrapped, known[typeURL], last)
		if err != nil {
			return "", false, fmt.Errorf("publishing group %q: versioning %s: %w", group, typeURL, err)
		}
		types[typeURL] = pt
		versions[typeURL] = pt.version
	}
	version = combinedVersion(versions)

	s.mu.Lock()
	defer s.mu.Unlock()
	if prev != nil && prev.version == version {
		s.metrics.publishes.WithLabelValues(group, "unchanged").Inc()
		return version, false, nil
	}

	// The per-resource versions that delta xDS compares are given rather
	// than left to the cache. Like the resources, they are shared with
	// earlier snapshots where a type did not change: the cache only reads
	// them.
	snap := &snapshot{types: types}
	s.groups[group] = &published{version: version, versions: versions, snapshot: snap, types: types}
	delete(s.followers, group)

	// The snapshot is stored by the cache before it answers open watches, so
	// even if that fails the group is published: record it, then report.
	// Only the caches of the types that changed answer their watches.
	typeChanged := func(typeURL string) bool { return prev == nil || prev.versions[typeURL] != versions[typeURL] }
	var errs []error
	if err := s.caches.set(group, snap, typeChanged); err != nil {
		errs = append(errs, fmt.Errorf("group %q: %w", group, err))
	}
	if group == s.defaultGroup {
		for _, f := range slices.Sorted(maps.Keys(s.followers)) {
			if err := s.caches.set(f, snap, typeChanged); err != nil {
				errs = append(errs, fmt.Errorf("group %q (following %q): %w", f, group, err))
			}
		}
	}
	s.metrics.setSnapshotInfo(group, prevVersion(prev), version)
	s.metrics.publishes.WithLabelValues(group, "changed").Inc()
	changedTypes := []string{}
	for _, typeURL := range TypeURLs {
		if prev == nil || prev.versions[typeURL] != versions[typeURL] {
			changedTypes = append(changedTypes, shortType(typeURL))
		}
	}
	s.log.Info("published xDS snapshot", "group", group, "version", version, "changed", changedTypes)
	if err := errors.Join(errs...); err != nil {
		return version, true, fmt.Errorf("publishing version %s: answering open watches: %w", version, err)
	}
	return version, true, nil
}

// followDefault makes group, which has no snapshot of its own, serve the
// default group's. It is called for every watch, before the cache sees it.
func (s *Server) followDefault(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if group == s.defaultGroup || s.groups[group] != nil || s.followers[group] {
		return
	}
	s.followers[group] = true
	if def := s.groups[s.defaultGroup]; def != nil {
		// The same snapshot object is shared between groups: the cache only
		// mutates it (its delta version map) under its own global lock.
		if err := s.caches.set(group, def.snapshot, everyType); err != nil {
			s.log.Error("serving the default snapshot to a new group", "group", group, "error", err)
		}
	}
	s.log.Info("node group has no snapshot of its own, serving the default group's", "group", group, "default", s.defaultGroup)
}

// GroupInfo describes one published group.
type GroupInfo struct {
	Group   string
	Version string
	// Versions per type URL.
	Versions map[string]string
	// Followers are the groups (sorted) seen on nodes but never published,
	// which are served this group's snapshot; only the default group has
	// followers.
	Followers []string
}

// Groups returns the published groups, sorted by name.
func (s *Server) Groups() []GroupInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]GroupInfo, 0, len(s.groups))
	for _, g := range slices.Sorted(maps.Keys(s.groups)) {
		p := s.groups[g]
		info := GroupInfo{Group: g, Version: p.version, Versions: maps.Clone(p.versions)}
		if g == s.defaultGroup {
			info.Followers = slices.Sorted(maps.Keys(s.followers))
		}
		out = append(out, info)
	}
	return out
}

func prevVersion(p *published) string {
	if p == nil {
		return ""
	}
	return p.version
}

// sameItems says whether items are the very messages (or load
// assignments) of published, in order.
func sameItems[T comparable](published []*encodedResource, items []T) bool {
	if len(published) != len(items) {
		return false
	}
	for i, it := range items {
		if published[i].from != any(it) {
			return false
		}
	}
	return true
}

// versionAll versions the type from all its resources: the version of
// each by name (taken from known, the versions validation recorded, or
// else a hash of its deterministic encoding), and the type's version,
// which depends on every resource's name and version and on nothing
// else: a hash of their number and of the sum of a 64-bit hash of each
// (name, version). A sum does not depend on order, so no sorting is
// needed, and when a few resources change it is updated from theirs alone
// (versionFrom). Collisions between two successive versions of one type
// are not a practical concern at 64 bits. Empty and duplicate names are
// an error, as the cache would silently keep only one resource of a name.
//
// When known holds exactly the versions of the resources it is used as
// their versions (it is never modified) rather than copied.
func (pt *publishedType) versionAll(known *xds.VersionMap) error {
	pt.sum = 0
	names := make(map[string]struct{}, len(pt.wrapped))
	allKnown := known.Len() == len(pt.wrapped)
	var each map[string]string
	for i, w := range pt.wrapped {
		if w.name == "" {
			return errors.New("a resource has no name")
		}
		if _, dup := names[w.name]; dup {
			return fmt.Errorf("two resources are named %q", w.name)
		}
		names[w.name] = struct{}{}
		v, ok := known.Get(w.name)
		if !ok {
			b, err := w.wire()
			if err != nil {
				return fmt.Errorf("encoding %q: %w", w.name, err)
			}
			sum := sha256.Sum256(b)
			v = hex.EncodeToString(sum[:])
			if allKnown {
				// Not known after all: versions are collected from
				// here on, and those before were known's.
				allKnown = false
			}
		}
		if !allKnown {
			if each == nil {
				each = make(map[string]string, len(pt.wrapped))
				for _, before := range pt.wrapped[:i] {
					each[before.name], _ = known.Get(before.name)
				}
			}
			each[w.name] = v
		}
		pt.sum += itemHash(w.name, v)
	}
	if each == nil {
		// Every name is in known, and they are as many: known is exactly
		// their versions.
		pt.setEach(known)
	} else {
		pt.setEach(xds.NewVersionMap(each))
	}
	pt.version = typeVersion(len(pt.wrapped), pt.sum)
	return nil
}

// versionFrom versions the type from prev's versions when only resources
// of the same names were replaced in place (changedFrom), all of them with
// versions in known, and known holds as many versions as there are
// resources: the versions are then known's, and the sum is prev's updated
// by the replaced resources. It reports whether it could.
func (pt *publishedType) versionFrom(prev *publishedType, known *xds.VersionMap) bool {
	if prev == nil || pt.changedFrom == nil || prev.each == nil || known.Len() != len(pt.wrapped) {
		return false
	}
	sum := prev.sum
	for _, w := range pt.changedFrom.changed {
		v, ok := known.Get(w.name)
		if !ok {
			return false
		}
		// The same name was there (changedFrom), at its last version.
		was, ok := prev.each.Get(w.name)
		if !ok {
			return false
		}
		sum += itemHash(w.name, v) - itemHash(w.name, was)
	}
	pt.sum = sum
	pt.setEach(known)
	pt.version = typeVersion(len(pt.wrapped), sum)
	return true
}

// setEach sets the versions by name (never nil).
func (pt *publishedType) setEach(each *xds.VersionMap) {
	if each == nil {
		each = xds.NewVersionMap(map[string]string{})
	}
	pt.each = each
	pt.eachMap = sync.OnceValue(each.Map)
}

// itemHash is a 64-bit hash of a resource's name and version,
// length-prefixed so that no two different pairs give the same input.
func itemHash(name, version string) uint64 {
	var buf [128]byte
	b := binary.BigEndian.AppendUint64(buf[:0], uint64(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(version)))
	b = append(b, version...)
	sum := sha256.Sum256(b)
	return binary.BigEndian.Uint64(sum[:8])
}

// typeVersion is the version of a type of n resources whose item hashes
// add up to sum: 16 hex digits.
func typeVersion(n int, sum uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(n))
	binary.BigEndian.PutUint64(b[8:], sum)
	h := sha256.Sum256(b[:])
	return hex.EncodeToString(h[:8])
}

func combinedVersion(versions map[string]string) string {
	h := sha256.New()
	for _, typeURL := range TypeURLs {
		fmt.Fprintf(h, "%s=%s\n", typeURL, versions[typeURL])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// shortType turns a type URL into its message name's last element
// ("Cluster", "ClusterLoadAssignment", ...), for logs.
func shortType(typeURL string) string {
	for i := len(typeURL) - 1; i >= 0; i-- {
		if typeURL[i] == '.' {
			return typeURL[i+1:]
		}
	}
	return typeURL
}
