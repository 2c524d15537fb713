package sdk

import (
	"context"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/puod/puod/proto/puod/plugin/v1"
)

// HostServices is what the host offers plugins through the go-plugin
// broker: small per-instance state, progress of long exports, and pushing
// runs outside a ListRuns call.
type HostServices interface {
	GetState(ctx context.Context, instanceID, key string) ([]byte, bool, error)
	SetState(ctx context.Context, instanceID, key string, value []byte) error
	ReportProgress(ctx context.Context, jobID string, done, total int64, message string) error
	EmitRuns(ctx context.Context, instanceID string, runs []Run) error
}

// hostClient dials the host's broker service lazily, on first use.
type hostClient struct {
	broker *plugin.GRPCBroker
	id     uint32

	once sync.Once
	cli  pb.HostClient
	err  error
}

func (h *hostClient) client() (pb.HostClient, error) {
	h.once.Do(func() {
		var conn *grpc.ClientConn
		conn, h.err = h.broker.Dial(h.id)
		if h.err == nil {
			h.cli = pb.NewHostClient(conn)
		}
	})
	return h.cli, h.err
}

// lazyHost resolves the host client at call time: instances may be built
// before Describe told the plugin where the host listens.
type lazyHost struct{ s *server }

func (s *server) hostServices() HostServices { return lazyHost{s: s} }

func (l lazyHost) get() (pb.HostClient, error) {
	l.s.hostMu.Lock()
	h := l.s.host
	l.s.hostMu.Unlock()
	if h == nil {
		return nil, &Error{Kind: KindUnimplemented, Message: "the host offers no host services to this plugin"}
	}
	return h.client()
}

func (l lazyHost) GetState(ctx context.Context, instanceID, key string) ([]byte, bool, error) {
	c, err := l.get()
	if err != nil {
		return nil, false, err
	}
	r, err := c.GetState(ctx, &pb.GetStateRequest{InstanceId: instanceID, Key: key})
	if err != nil {
		return nil, false, FromStatus(err)
	}
	return r.GetValue(), r.GetFound(), nil
}

func (l lazyHost) SetState(ctx context.Context, instanceID, key string, value []byte) error {
	c, err := l.get()
	if err != nil {
		return err
	}
	_, err = c.SetState(ctx, &pb.SetStateRequest{InstanceId: instanceID, Key: key, Value: value})
	return FromStatus(err)
}

func (l lazyHost) ReportProgress(ctx context.Context, jobID string, done, total int64, message string) error {
	c, err := l.get()
	if err != nil {
		return err
	}
	_, err = c.ReportProgress(ctx, &pb.ReportProgressRequest{JobId: jobID, Done: done, Total: total, Message: message})
	return FromStatus(err)
}

func (l lazyHost) EmitRuns(ctx context.Context, instanceID string, runs []Run) error {
	c, err := l.get()
	if err != nil {
		return err
	}
	_, err = c.EmitRuns(ctx, &pb.EmitRunsRequest{InstanceId: instanceID, Runs: runsToProto(runs)})
	return FromStatus(err)
}
