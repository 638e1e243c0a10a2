package server

import (
	"sync"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoiface"

	"github.com/legateproxy/legate/xds"
)

// encodedRoute is a route configuration as the snapshot cache is given
// it. The cache encodes a resource for each response on each stream (it
// keeps the bytes per response only), and a route configuration is sent
// whole whenever any of its routes changes: at 10k virtual hosts that was
// about 30 ms of encoding per client per change. An encodedRoute is
// encoded once, when first sent, for every stream and every snapshot that
// holds it, from the parts validation kept (xds.Resources.EncodeRoute).
//
// The cache encodes with proto.Marshal, which uses a message's own
// ProtoMethods when it has them: encodedRoute's copy out the bytes.
// Everything else (descriptor, fields, for logs or comparisons) is the
// route configuration's own reflection.
type encodedRoute struct {
	protoreflect.Message
	rc   *routev3.RouteConfiguration
	wire func() ([]byte, error)
}

func newEncodedRoute(res *xds.Resources, rc *routev3.RouteConfiguration) *encodedRoute {
	return &encodedRoute{
		Message: rc.ProtoReflect(),
		rc:      rc,
		wire:    sync.OnceValues(func() ([]byte, error) { return res.EncodeRoute(rc) }),
	}
}

func (e *encodedRoute) ProtoReflect() protoreflect.Message   { return e }
func (e *encodedRoute) Interface() protoreflect.ProtoMessage { return e }
func (e *encodedRoute) ProtoMethods() *protoiface.Methods    { return &encodedRouteMethods }
func (e *encodedRoute) GetName() string                      { return e.rc.GetName() }

// encodedRouteMethods serve proto.Marshal (deterministic or not: the bytes
// are the deterministic encoding) from the kept bytes. A route
// configuration has no required fields, so it is always initialized.
var encodedRouteMethods = protoiface.Methods{
	Flags: protoiface.SupportMarshalDeterministic,
	Size: func(in protoiface.SizeInput) protoiface.SizeOutput {
		b, err := in.Message.(*encodedRoute).wire()
		if err != nil {
			return protoiface.SizeOutput{}
		}
		return protoiface.SizeOutput{Size: len(b)}
	},
	Marshal: func(in protoiface.MarshalInput) (protoiface.MarshalOutput, error) {
		b, err := in.Message.(*encodedRoute).wire()
		if err != nil {
			return protoiface.MarshalOutput{}, err
		}
		return protoiface.MarshalOutput{Buf: append(in.Buf, b...)}, nil
	},
	CheckInitialized: func(protoiface.CheckInitializedInput) (protoiface.CheckInitializedOutput, error) {
		return protoiface.CheckInitializedOutput{}, nil
	},
}
