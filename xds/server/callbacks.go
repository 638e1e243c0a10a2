package server

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// streamState is what the server knows about one open xDS stream.
type streamState struct {
	id      int64
	delta   bool
	typeURL string // "" for ADS
	opened  time.Time
	nodeID  string
	group   string
	// sent holds, per type, the last few responses (nonce and version), so
	// that an ACK or NACK, which names a response by nonce, can be tied to
	// the version it accepted or rejected.
	sent  map[string][]sentResponse
	acked map[string]string
	nacks map[string]*NACK
}

type sentResponse struct{ nonce, version string }

// sentKept bounds sent per type. More than one response of a type is in
// flight only when a client changes its subscription while a response is on
// its way; a handful covers that.
const sentKept = 4

func (st *streamState) setNode(node *core.Node, s *Server) {
	if node == nil || (st.nodeID != "" && node.GetId() == st.nodeID) {
		return
	}
	st.nodeID = node.GetId()
	st.group = s.groupOf(node)
}

func (st *streamState) recordSent(typeURL, nonce, version string) {
	list := append(st.sent[typeURL], sentResponse{nonce: nonce, version: version})
	if len(list) > sentKept {
		list = list[len(list)-sentKept:]
	}
	st.sent[typeURL] = list
}

func (st *streamState) versionOf(typeURL, nonce string) (string, bool) {
	for _, r := range st.sent[typeURL] {
		if r.nonce == nonce {
			return r.version, true
		}
	}
	return "", false
}

// callbacks hooks the server into go-control-plane's stream life cycle. The
// hooks run synchronously on the stream's goroutine: keep them short.
type callbacks struct{ s *Server }

func (c callbacks) open(id int64, typeURL string, delta bool) {
	c.s.clientsMu.Lock()
	c.s.streams[id] = &streamState{
		id: id, delta: delta, typeURL: typeURL, opened: time.Now(),
		sent: map[string][]sentResponse{}, acked: map[string]string{}, nacks: map[string]*NACK{},
	}
	c.s.clientsMu.Unlock()
	c.s.metrics.connected.Inc()
	proto := "sotw"
	if delta {
		proto = "delta"
	}
	c.s.metrics.streams.WithLabelValues(proto).Inc()
}

func (c callbacks) closed(id int64, node *core.Node) {
	c.s.clientsMu.Lock()
	_, ok := c.s.streams[id]
	delete(c.s.streams, id)
	c.s.clientsMu.Unlock()
	if ok {
		c.s.metrics.connected.Dec()
	}
	c.s.log.Debug("xDS stream closed", "stream", id, "node", node.GetId())
}

// request handles ACKs and NACKs. A request without a nonce is a fresh
// subscription, not an answer to a response.
func (c callbacks) request(id int64, node *core.Node, typeURL, nonce, versionInfo, nackMessage string, isNACK bool) {
	c.s.clientsMu.Lock()
	defer c.s.clientsMu.Unlock()
	st := c.s.streams[id]
	if st == nil {
		return
	}
	st.setNode(node, c.s)
	if nonce == "" {
		return
	}
	version, known := st.versionOf(typeURL, nonce)
	if isNACK {
		c.s.recordNACK(st, typeURL, version, nackMessage)
		return
	}
	if !st.delta {
		// State of the world: version_info is the version accepted.
		version, known = versionInfo, true
	}
	if known {
		st.acked[typeURL] = version
	}
}

func (c callbacks) OnStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.open(id, typeURL, false)
	return nil
}

func (c callbacks) OnStreamClosed(id int64, node *core.Node) { c.closed(id, node) }

func (c callbacks) OnStreamRequest(id int64, req *discovery.DiscoveryRequest) error {
	c.request(id, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), req.GetVersionInfo(), req.GetErrorDetail().GetMessage(), req.GetErrorDetail() != nil)
	return nil
}

func (c callbacks) OnStreamResponse(_ context.Context, id int64, _ *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
	c.s.clientsMu.Lock()
	defer c.s.clientsMu.Unlock()
	if st := c.s.streams[id]; st != nil {
		st.recordSent(resp.GetTypeUrl(), resp.GetNonce(), resp.GetVersionInfo())
	}
}

func (c callbacks) OnDeltaStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.open(id, typeURL, true)
	return nil
}

func (c callbacks) OnDeltaStreamClosed(id int64, node *core.Node) { c.closed(id, node) }

func (c callbacks) OnStreamDeltaRequest(id int64, req *discovery.DeltaDiscoveryRequest) error {
	c.request(id, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), "", req.GetErrorDetail().GetMessage(), req.GetErrorDetail() != nil)
	return nil
}

func (c callbacks) OnStreamDeltaResponse(id int64, _ *discovery.DeltaDiscoveryRequest, resp *discovery.DeltaDiscoveryResponse) {
	c.s.clientsMu.Lock()
	defer c.s.clientsMu.Unlock()
	if st := c.s.streams[id]; st != nil {
		st.recordSent(resp.GetTypeUrl(), resp.GetNonce(), resp.GetSystemVersionInfo())
	}
}

func (c callbacks) OnFetchRequest(context.Context, *discovery.DiscoveryRequest) error { return nil }

func (c callbacks) OnFetchResponse(*discovery.DiscoveryRequest, *discovery.DiscoveryResponse) {}

// ClientInfo describes one open xDS stream.
type ClientInfo struct {
	StreamID int64
	NodeID   string
	// Group is the node's group (node.cluster, or the default group).
	Group string
	Delta bool
	// TypeURL is the stream's type for a per-type stream, "" for ADS.
	TypeURL   string
	Connected time.Time
	// Acked is the last version accepted per type URL (for delta, the
	// system version of the last accepted response).
	Acked map[string]string
	// NACKs is the last rejection per type, sorted by type URL.
	NACKs []NACK
}

// Clients returns the open xDS streams, sorted by node ID, then stream.
func (s *Server) Clients() []ClientInfo {
	s.clientsMu.Lock()
	out := make([]ClientInfo, 0, len(s.streams))
	for _, st := range s.streams {
		ci := ClientInfo{
			StreamID: st.id, NodeID: st.nodeID, Group: st.group, Delta: st.delta,
			TypeURL: st.typeURL, Connected: st.opened, Acked: maps.Clone(st.acked),
		}
		for _, t := range slices.Sorted(maps.Keys(st.nacks)) {
			ci.NACKs = append(ci.NACKs, *st.nacks[t])
		}
		out = append(out, ci)
	}
	s.clientsMu.Unlock()
	slices.SortFunc(out, func(a, b ClientInfo) int {
		return cmp.Or(cmp.Compare(a.NodeID, b.NodeID), cmp.Compare(a.StreamID, b.StreamID))
	})
	return out
}
