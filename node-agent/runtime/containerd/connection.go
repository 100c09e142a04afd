package containerd

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// restartable are the client's options for a containerd that may restart under it, as
// an embedded one does. The gRPC connection redials the same socket by itself; these make
// it redial within a second of a restarted containerd serving (the client's default waits
// up to 10 s between attempts), and make a call while containerd is down fail at once, as
// gRPC's calls without WaitForReady do, with an error that says so.
func restartable(address string) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 10 * time.Second,
		}),
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return explainUnavailable(address, invoker(ctx, method, req, reply, cc, opts...))
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil {
				return nil, explainUnavailable(address, err)
			}
			return explainedStream{ClientStream: s, address: address}, nil
		}),
	}
}

// explainedStream explains the errors of a stream's messages as well: a stream opens
// before a connection that just lost containerd knows it, and fails at its first read.
type explainedStream struct {
	grpc.ClientStream
	address string
}

func (s explainedStream) SendMsg(m any) error {
	return explainUnavailable(s.address, s.ClientStream.SendMsg(m))
}

func (s explainedStream) RecvMsg(m any) error {
	return explainUnavailable(s.address, s.ClientStream.RecvMsg(m))
}

// explainUnavailable names containerd in the error of a call it was not there to serve;
// the code stays Unavailable, which the client's errdefs read.
func explainUnavailable(address string, err error) error {
	if s, ok := status.FromError(err); ok && s.Code() == codes.Unavailable {
		return status.Errorf(codes.Unavailable, "containerd at %s is not serving (down or restarting): %s", address, s.Message())
	}
	return err
}
