// Command bare is the benchmark baseline: a go-plugin gRPC plugin that
// implements PUOD's wire services directly, without the SDK. It answers
// CheckHealth and streams ListRuns from pre-shaped messages, so the host
// benchmarks can compare PUOD's layers against bare go-plugin + gRPC.
package main

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/puod/puod/proto/puod/plugin/v1"
)

type barePlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (barePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterPluginServer(s, &pluginSrv{})
	pb.RegisterConnectorServer(s, &connSrv{})
	return nil
}

func (barePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

type pluginSrv struct{ pb.UnimplementedPluginServer }

func (pluginSrv) CheckHealth(context.Context, *pb.CheckHealthRequest) (*pb.CheckHealthResponse, error) {
	return &pb.CheckHealthResponse{Status: pb.HealthStatus_HEALTH_STATUS_OK, Message: "configured"}, nil
}

type connSrv struct {
	pb.UnimplementedConnectorServer
}

// ListRuns streams N runs (cursor = N) in batches of max_batch_size,
// building the same messages the SDK path builds.
func (connSrv) ListRuns(req *pb.ListRunsRequest, stream grpc.ServerStreamingServer[pb.RunBatch]) error {
	n, _ := strconv.Atoi(req.GetCursor())
	size := int(req.GetMaxBatchSize())
	if size <= 0 {
		size = 500
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; {
		b := &pb.RunBatch{Runs: make([]*pb.Run, 0, size)}
		for ; i < n && len(b.Runs) < size; i++ {
			start := base.Add(time.Duration(i) * time.Second)
			b.Runs = append(b.Runs, &pb.Run{
				ExternalId: strconv.Itoa(i), PipelineExternalId: "p" + strconv.Itoa(i%50), PipelineName: "pipeline",
				State: pb.RunState_RUN_STATE_SUCCEEDED, RawState: "SUCCESS",
				StartedAt: timestamppb.New(start), EndedAt: timestamppb.New(start.Add(time.Minute)),
				Duration: durationpb.New(time.Minute),
			})
		}
		b.NextCursor = strconv.Itoa(i)
		if err := stream.Send(b); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if os.Getenv("PUOD_PLUGIN") == "" {
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "PUOD_PLUGIN", MagicCookieValue: "8f0e6a4c-puod-plugin-v1"},
		Plugins:         plugin.PluginSet{"puod": barePlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
