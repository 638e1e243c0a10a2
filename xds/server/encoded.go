package server

import (
	"sync"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
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
	// from is what the resource was made from: the message, or for a
	// ClusterLoadAssignment the *xds.LoadAssignment that holds it encoded.
	from any
	name string
	wire func() ([]byte, error)
}

func newEncoded(res *xds.Resources, msg cachetypes.Resource) *encodedResource {
	e := &encodedResource{Message: msg.ProtoReflect(), from: msg, name: cachev3.GetResourceName(msg)}
	if rc, ok := msg.(*routev3.RouteConfiguration); ok {
		e.wire = sync.OnceValues(func() ([]byte, error) { return res.EncodeRoute(rc) })
	} else {
		e.wire = sync.OnceValues(func() ([]byte, error) { return proto.MarshalOptions{Deterministic: true}.Marshal(msg) })
	}
	return e
}

// newEncodedAssignment wraps a load assignment, which is kept encoded
// already: its bytes are served as they are, and the message is decoded
// only for whoever reflects on it (nothing in serving does).
func newEncodedAssignment(a *xds.LoadAssignment) *encodedResource {
	return &encodedResource{Message: decodedOnDemand{a}, from: a, name: a.GetClusterName(), wire: a.Encoding}
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

// wrapMessages is wrapResources for messages of res.
func wrapMessages[T interface {
	comparable
	cachetypes.Resource
}](res *xds.Resources, items []T, prev *publishedType) []*encodedResource {
	return wrapResources(items, prev, func(msg T) *encodedResource { return newEncoded(res, msg) })
}

// decodedOnDemand is the reflection of a load assignment that is kept
// encoded: every read decodes it anew, so that nothing but the encoding is
// kept. Resources are never modified once published, so it is read-only.
type decodedOnDemand struct{ a *xds.LoadAssignment }

// emptyAssignment is the message a load assignment that does not decode
// reads as (it was validated, so this does not happen).
var emptyAssignment = (&endpointv3.ClusterLoadAssignment{}).ProtoReflect()

func (d decodedOnDemand) decoded() protoreflect.Message {
	cla, err := d.a.Message()
	if err != nil {
		return emptyAssignment
	}
	return cla.ProtoReflect()
}

func (d decodedOnDemand) Descriptor() protoreflect.MessageDescriptor {
	return emptyAssignment.Descriptor()
}
func (d decodedOnDemand) Type() protoreflect.MessageType       { return emptyAssignment.Type() }
func (d decodedOnDemand) New() protoreflect.Message            { return emptyAssignment.New() }
func (d decodedOnDemand) Interface() protoreflect.ProtoMessage { return d.decoded().Interface() }
func (d decodedOnDemand) IsValid() bool                        { return true }
func (d decodedOnDemand) ProtoMethods() *protoiface.Methods    { return d.decoded().ProtoMethods() }

func (d decodedOnDemand) Range(f func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
	d.decoded().Range(f)
}
func (d decodedOnDemand) Has(fd protoreflect.FieldDescriptor) bool { return d.decoded().Has(fd) }
func (d decodedOnDemand) Get(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return d.decoded().Get(fd)
}
func (d decodedOnDemand) NewField(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return d.decoded().NewField(fd)
}
func (d decodedOnDemand) WhichOneof(od protoreflect.OneofDescriptor) protoreflect.FieldDescriptor {
	return d.decoded().WhichOneof(od)
}
func (d decodedOnDemand) GetUnknown() protoreflect.RawFields { return d.decoded().GetUnknown() }

func (d decodedOnDemand) Clear(protoreflect.FieldDescriptor) { readOnly() }
func (d decodedOnDemand) Set(protoreflect.FieldDescriptor, protoreflect.Value) {
	readOnly()
}
func (d decodedOnDemand) Mutable(protoreflect.FieldDescriptor) protoreflect.Value {
	readOnly()
	return protoreflect.Value{}
}
func (d decodedOnDemand) SetUnknown(protoreflect.RawFields) { readOnly() }

func readOnly() { panic("a published load assignment is read-only") }
