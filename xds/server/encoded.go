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
// (wrapResources). Clusters, load assignments and route configurations are
// kept encoded already (xds.Encoded, xds.RouteConfiguration).
//
// The cache encodes with proto.Marshal, which uses a message's own
// ProtoMethods when it has them: encodedResource's copy out the bytes.
// Everything else (descriptor, fields, for logs or comparisons) is the
// message's own reflection, or for a resource kept encoded a reflection
// that decodes it on demand (decodedOnDemand).
type encodedResource struct {
	protoreflect.Message
	// from is what the resource was made from: the message, or for a
	// resource kept encoded what holds it (*xds.Encoded,
	// *xds.RouteConfiguration).
	from any
	name string
	wire func() ([]byte, error)
}

func newEncoded(msg cachetypes.Resource) *encodedResource {
	e := &encodedResource{Message: msg.ProtoReflect(), from: msg, name: cachev3.GetResourceName(msg)}
	e.wire = sync.OnceValues(func() ([]byte, error) { return proto.MarshalOptions{Deterministic: true}.Marshal(msg) })
	return e
}

// newEncodedKept wraps a resource that is kept encoded already (a cluster
// or a load assignment): its bytes are served as they are, and the message
// is decoded only for whoever reflects on it (nothing in serving does).
func newEncodedKept[M proto.Message](k *xds.Encoded[M]) *encodedResource {
	return &encodedResource{Message: decodedOnDemand[M]{k}, from: k, name: k.GetName(), wire: k.Encoding}
}

// newEncodedRoute wraps a route configuration, which is kept as the
// encodings of its virtual hosts: its own encoding is put together from
// them once, when first sent, and the message is decoded only for whoever
// reflects on it.
func newEncodedRoute(rc *xds.RouteConfiguration) *encodedResource {
	m := decodedOnDemand[*routev3.RouteConfiguration]{rc}
	return &encodedResource{Message: m, from: rc, name: rc.GetName(), wire: sync.OnceValues(rc.Encoding)}
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

// wrapResources wraps items for the cache with wrap, reusing prev's wrapper
// (and so its encoding) for every item prev was made from too. Publishes
// of one type usually hold the same items in the same order, with a few
// replaced: those are found by position, and only when the lists do not
// line up is prev indexed by item.
func wrapResources[T comparable](items []T, prev *publishedType, wrap func(T) *encodedResource) []*encodedResource {
	out := make([]*encodedResource, len(items))
	var byItem map[any]*encodedResource
	for i, it := range items {
		if prev != nil && i < len(prev.wrapped) && prev.wrapped[i].from == any(it) {
			out[i] = prev.wrapped[i]
			continue
		}
		if prev != nil && byItem == nil && len(prev.wrapped) != len(items) {
			byItem = make(map[any]*encodedResource, len(prev.wrapped))
			for _, p := range prev.wrapped {
				byItem[p.from] = p
			}
		}
		if e := byItem[any(it)]; e != nil {
			out[i] = e
			continue
		}
		out[i] = wrap(it)
	}
	return out
}

// wrapMessages is wrapResources for messages.
func wrapMessages[T interface {
	comparable
	cachetypes.Resource
}](items []T, prev *publishedType) []*encodedResource {
	return wrapResources(items, prev, func(msg T) *encodedResource { return newEncoded(msg) })
}

// decodedOnDemand is the reflection of a resource that is kept encoded:
// every read decodes it anew, so that nothing but the encoding is kept.
// Resources are never modified once published, so it is read-only.
type decodedOnDemand[M proto.Message] struct {
	k interface{ Message() (M, error) }
}

// decoded is the resource's message; one that does not decode (it was
// validated, so this does not happen) reads as empty.
func (d decodedOnDemand[M]) decoded() protoreflect.Message {
	m, err := d.k.Message()
	if err != nil {
		return d.New()
	}
	return m.ProtoReflect()
}

// typ is the resource's message type, read from a nil message of it.
func (d decodedOnDemand[M]) typ() protoreflect.MessageType {
	var zero M
	return zero.ProtoReflect().Type()
}

func (d decodedOnDemand[M]) Descriptor() protoreflect.MessageDescriptor { return d.typ().Descriptor() }
func (d decodedOnDemand[M]) Type() protoreflect.MessageType             { return d.typ() }
func (d decodedOnDemand[M]) New() protoreflect.Message                  { return d.typ().New() }
func (d decodedOnDemand[M]) Interface() protoreflect.ProtoMessage       { return d.decoded().Interface() }
func (d decodedOnDemand[M]) IsValid() bool                              { return true }
func (d decodedOnDemand[M]) ProtoMethods() *protoiface.Methods          { return d.decoded().ProtoMethods() }

func (d decodedOnDemand[M]) Range(f func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
	d.decoded().Range(f)
}
func (d decodedOnDemand[M]) Has(fd protoreflect.FieldDescriptor) bool { return d.decoded().Has(fd) }
func (d decodedOnDemand[M]) Get(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return d.decoded().Get(fd)
}
func (d decodedOnDemand[M]) NewField(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return d.decoded().NewField(fd)
}
func (d decodedOnDemand[M]) WhichOneof(od protoreflect.OneofDescriptor) protoreflect.FieldDescriptor {
	return d.decoded().WhichOneof(od)
}
func (d decodedOnDemand[M]) GetUnknown() protoreflect.RawFields { return d.decoded().GetUnknown() }

func (d decodedOnDemand[M]) Clear(protoreflect.FieldDescriptor) { readOnly() }
func (d decodedOnDemand[M]) Set(protoreflect.FieldDescriptor, protoreflect.Value) {
	readOnly()
}
func (d decodedOnDemand[M]) Mutable(protoreflect.FieldDescriptor) protoreflect.Value {
	readOnly()
	return protoreflect.Value{}
}
func (d decodedOnDemand[M]) SetUnknown(protoreflect.RawFields) { readOnly() }

func readOnly() { panic("a published resource is read-only") }
