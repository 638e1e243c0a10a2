package server

import (
	"sync"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoiface"

	"github.com/legateproxy/legate/xds"
)

// encodedResource is a resource as the snapshot cache is given it: the
// message, encoded at most once, when first sent, for every stream and
// every snapshot that holds the same message.
//
// The cache encodes a resource for each response on each stream (it keeps
// the bytes per response only). A state-of-the-world response carries
// every resource of its type: at 10k clusters, one changed endpoint meant
// encoding 10k ClusterLoadAssignments again, per client; and a route
// configuration is sent whole whenever any of its routes changes (at 10k
// virtual hosts about 30 ms of encoding per client per change). Resources
// are never modified once published, and the Builder hands out the very
// message it built last time for what did not change, so the encoding is
// kept with the message and carried from one publish to the next
// (wrapResources). A route configuration is put together from the parts
// validation kept (xds.Resources.EncodeRoute).
//
// The cache encodes with proto.Marshal, which uses a message's own
// ProtoMethods when it has them: encodedResource's copy out the bytes.
// Everything else (descriptor, fields, for logs or comparisons) is the
// message's own reflection.
type encodedResource struct {
	protoreflect.Message
	msg  cachetypes.Resource
	name string
	wire func() ([]byte, error)
}

func newEncoded(res *xds.Resources, msg cachetypes.Resource) *encodedResource {
	e := &encodedResource{Message: msg.ProtoReflect(), msg: msg, name: cachev3.GetResourceName(msg)}
	if rc, ok := msg.(*routev3.RouteConfiguration); ok {
		e.wire = sync.OnceValues(func() ([]byte, error) { return res.EncodeRoute(rc) })
	} else {
		e.wire = sync.OnceValues(func() ([]byte, error) { return proto.MarshalOptions{Deterministic: true}.Marshal(msg) })
	}
	return e
}

func (e *encodedResource) ProtoReflect() protoreflect.Message   { return e }
func (e *encodedResource) Interface() protoreflect.ProtoMessage { return e }
func (e *encodedResource) ProtoMethods() *protoiface.Methods    { return &encodedMethods }

// GetName is the resource's name (a ClusterLoadAssignment's cluster name),
// which is how the cache names it.
func (e *encodedResource) GetName() string { return e.name }

// encodedMethods serve proto.Marshal (deterministic or not: the bytes are
// the deterministic encoding) from the kept bytes. The resources were
// validated, so they are initialized.
//
// There is no Size method on purpose: given one, proto.Marshal allocates
// a buffer of that size and has Marshal copy the bytes into it, once per
// response per stream (5 MB at 10k virtual hosts). Without it, Marshal
// gets no buffer and returns the kept bytes themselves, capped so that an
// append to them makes a copy; nothing writes into a marshalled message's
// bytes, and the cache only puts them into an Any. (proto.Size falls back
// to Marshal.)
var encodedMethods = protoiface.Methods{
	Flags: protoiface.SupportMarshalDeterministic,
	Marshal: func(in protoiface.MarshalInput) (protoiface.MarshalOutput, error) {
		b, err := in.Message.(*encodedResource).wire()
		if err != nil {
			return protoiface.MarshalOutput{}, err
		}
		if len(in.Buf) == 0 {
			return protoiface.MarshalOutput{Buf: b[:len(b):len(b)]}, nil
		}
		return protoiface.MarshalOutput{Buf: append(in.Buf, b...)}, nil
	},
	CheckInitialized: func(protoiface.CheckInitializedInput) (protoiface.CheckInitializedOutput, error) {
		return protoiface.CheckInitializedOutput{}, nil
	},
}

// wrapResources wraps items for the cache, reusing prev's wrapper (and so
// its encoding) for every message prev was made from too. Publishes of one
// type usually hold the same messages in the same order, with a few
// replaced: those are found by position, and only when the lists do not
// line up is prev indexed by message.
func wrapResources[T cachetypes.Resource](res *xds.Resources, items []T, prev *publishedType) []*encodedResource {
	out := make([]*encodedResource, len(items))
	var byMsg map[cachetypes.Resource]*encodedResource
	for i, it := range items {
		msg := cachetypes.Resource(it)
		if prev != nil && i < len(prev.wrapped) && prev.wrapped[i].msg == msg {
			out[i] = prev.wrapped[i]
			continue
		}
		if prev != nil && byMsg == nil && len(prev.wrapped) != len(items) {
			byMsg = make(map[cachetypes.Resource]*encodedResource, len(prev.wrapped))
			for _, p := range prev.wrapped {
				byMsg[p.msg] = p
			}
		}
		if e := byMsg[msg]; e != nil {
			out[i] = e
			continue
		}
		out[i] = newEncoded(res, msg)
	}
	return out
}
