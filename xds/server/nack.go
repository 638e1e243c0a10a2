package server

import (
	"context"
	"maps"
	"slices"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
)

// guardedCache stands between the xDS handlers and the snapshot cache. It
// does two things before each watch reaches the cache:
//
//   - it gives a node group that has no snapshot the default group's (see
//     Server.followDefault);
//   - it keeps a NACKed state-of-the-world version from being sent again.
//
// Why the second is needed: a client that rejects a response sends a request
// whose version_info is the last version it accepted and whose error_detail
// says why. The snapshot cache answers any request whose version differs
// from the snapshot's at once, so it sends the rejected version straight
// back, the client rejects it again, and the two loop as fast as the network
// allows. The guard tells the cache that the client holds the version it
// just rejected: the cache then answers only when the type's version moves
// on, which happens exactly when new content is published (versions are
// content hashes). If something newer was published meanwhile, the cache
// sends that at once, as it should.
//
// The rejected version is read from the subscription: for state of the
// world, go-control-plane records on each send, for every resource returned,
// the version of the response (Subscription.ReturnedResources), so after a
// rejected response they all carry the rejected version.
//
// Delta needs no guard: the delta server records what it sent as the
// client's state whether or not the client accepts it, so a NACK produces no
// new response until a resource's content changes.
type guardedCache struct {
	caches *typeCaches
	srv    *Server
}

var _ cachev3.Cache = (*guardedCache)(nil)

func (g *guardedCache) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, out chan cachev3.Response) (func(), error) {
	g.srv.followDefault(g.srv.groupOf(req.GetNode()))
	if req.GetErrorDetail() != nil {
		if rejected := sentVersion(sub); rejected != "" && rejected != req.GetVersionInfo() {
			held := proto.Clone(req).(*cachev3.Request)
			held.VersionInfo = rejected
			req = held
		}
	}
	return g.caches.forType(req.GetTypeUrl()).CreateWatch(req, sub, out)
}

func (g *guardedCache) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, out chan cachev3.DeltaResponse) (func(), error) {
	group := g.srv.groupOf(req.GetNode())
	g.srv.followDefault(group)
	return g.caches.delta.CreateDeltaWatch(req, sub, out, group)
}

func (g *guardedCache) Fetch(ctx context.Context, req *cachev3.Request) (cachev3.Response, error) {
	g.srv.followDefault(g.srv.groupOf(req.GetNode()))
	return g.caches.forType(req.GetTypeUrl()).Fetch(ctx, req)
}

// sentVersion is the version of the last state-of-the-world response sent
// on a subscription, or "" if it returned no resource.
func sentVersion(sub cachev3.Subscription) string {
	returned := sub.ReturnedResources()
	for _, name := range slices.Sorted(maps.Keys(returned)) {
		if v := returned[name]; v != "" {
			return v
		}
	}
	return ""
}

func (s *Server) groupOf(node *core.Node) string {
	return groupHash{defaultGroup: s.defaultGroup}.ID(node)
}

// NACK is a client's rejection of a version of one resource type.
type NACK struct {
	NodeID  string
	Group   string
	TypeURL string
	// Version is the rejected version ("" if the response it answers is not
	// known, e.g. it was sent on an earlier stream).
	Version string
	// Error is the client's error_detail message.
	Error string
	// Count is how many times this version was rejected on this stream.
	Count int
	// Time of the last rejection.
	Time time.Time
}

// recordNACK notes a rejection on a stream; the caller holds clientsMu. It
// logs at warn level once per rejected version: a client that keeps
// rejecting the same version is counted, not logged again.
func (s *Server) recordNACK(st *streamState, typeURL, version, msg string) {
	s.metrics.nacks.WithLabelValues(typeURL).Inc()
	rec := st.nacks[typeURL]
	if rec == nil || rec.Version != version {
		rec = &NACK{NodeID: st.nodeID, Group: st.group, TypeURL: typeURL, Version: version}
		st.nacks[typeURL] = rec
		s.log.Warn("xDS client rejected a configuration; it will not be sent again, publish a fixed one",
			"node", st.nodeID, "group", st.group, "type", typeURL, "version", version, "error", msg)
	}
	rec.Count++
	rec.Error = msg
	rec.Time = time.Now()
}

// NACKs returns the last rejection per stream and type of every connected
// client, sorted by node, stream and type.
func (s *Server) NACKs() []NACK {
	var out []NACK
	for _, c := range s.Clients() {
		out = append(out, c.NACKs...)
	}
	return out
}
