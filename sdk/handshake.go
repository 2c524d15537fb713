package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the newest protocol major this SDK speaks.
const ProtocolVersion = 1

// Version is the SDK version reported in Describe.
const Version = "0.1.0"

// Handshake is the go-plugin handshake shared by the host and every plugin.
// The magic cookie never changes: it only tells a plugin binary that it was
// started by a PUOD host (and not by hand), it is not a secret.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "PUOD_PLUGIN",
	MagicCookieValue: "8f0e6a4c-puod-plugin-v1",
}

// PluginName is the go-plugin name under which PUOD's services are served.
const PluginName = "puod"

// GRPCPlugin is the go-plugin glue. On the plugin side it registers the
// services of the plugin's kinds; on the host side it returns a *Client.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the plugin's services.
func (p *GRPCPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	p.srv.register(broker, s)
	return nil
}

// GRPCClient returns the host-side client.
func (p *GRPCPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return NewClient(conn, broker), nil
}

// ClientPluginSets is what the host passes as ClientConfig.VersionedPlugins:
// every protocol major the host speaks. Both majors use the same client
// today; a v2 protocol would add its own entry here.
func ClientPluginSets() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{}},
	}
}
