package bench

import (
	"context"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk"
)

// rawPlugin dispenses a bare gRPC connection: the baseline host code talks
// to the generated stubs directly.
type rawPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (rawPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (rawPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return c, nil
}

func bareConn(tb testing.TB) *grpc.ClientConn {
	c, rpc := startBare(tb)
	tb.Cleanup(c.Kill)
	raw, err := rpc.Dispense("puod")
	if err != nil {
		tb.Fatal(err)
	}
	return raw.(*grpc.ClientConn)
}

// BenchmarkUnaryCall compares one CheckHealth call through PUOD's manager,
// client and SDK layers with the same call through bare go-plugin + gRPC.
// Target: ratio ≤ 1.3.
func BenchmarkUnaryCall(b *testing.B) {
	const calls = 20000
	ctx := context.Background()

	bare := pb.NewPluginClient(bareConn(b))
	dir := b.TempDir()
	bundle(b, dir, "bench.runs")
	m, _ := startManager(b, dir, 1)
	m.SetInstance("bench.runs", sdk.InstanceConfig{ID: "i1", Revision: 1, Config: []byte(`{}`)})
	h, err := m.Plugin("bench.runs")
	if err != nil {
		b.Fatal(err)
	}
	// Warm both paths (connection set-up, instance configuration).
	for i := 0; i < 200; i++ {
		if _, err := bare.CheckHealth(ctx, &pb.CheckHealthRequest{InstanceId: "i1"}); err != nil {
			b.Fatal(err)
		}
		if _, err := h.CheckHealth(ctx, "i1"); err != nil {
			b.Fatal(err)
		}
	}
	measure := func(call func() error) time.Duration {
		start := time.Now()
		for i := 0; i < calls; i++ {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start) / calls
	}
	var bareD, puodD time.Duration
	for i := 0; i < b.N; i++ {
		// Interleave rounds so drift on a shared machine hits both alike.
		for r := 0; r < 3; r++ {
			bareD += measure(func() error {
				_, err := bare.CheckHealth(ctx, &pb.CheckHealthRequest{InstanceId: "i1"})
				return err
			})
			puodD += measure(func() error { _, err := h.CheckHealth(ctx, "i1"); return err })
		}
	}
	b.ReportMetric(float64(bareD.Nanoseconds())/float64(3*b.N), "bare-ns/call")
	b.ReportMetric(float64(puodD.Nanoseconds())/float64(3*b.N), "puod-ns/call")
	b.ReportMetric(float64(puodD)/float64(bareD), "ratio")
}

// BenchmarkListRunsStream streams 1,000,000 runs plugin → host in batches of
// 500, through PUOD (SDK plugin, manager handle, conversion to sdk.Run on
// both sides) and through a bare gRPC server stream of the same messages.
// Targets: PUOD ≥ 70% of the bare rate and ≥ 500,000 runs/s.
func BenchmarkListRunsStream(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	bare := pb.NewConnectorClient(bareConn(b))
	dir := b.TempDir()
	bundle(b, dir, "bench.runs")
	m, _ := startManager(b, dir, 1)
	m.SetInstance("bench.runs", sdk.InstanceConfig{ID: "i1", Revision: 1, Config: []byte(`{}`)})
	h, err := m.Plugin("bench.runs")
	if err != nil {
		b.Fatal(err)
	}
	cursor := strconv.Itoa(n)

	runBare := func() time.Duration {
		start := time.Now()
		stream, err := bare.ListRuns(ctx, &pb.ListRunsRequest{InstanceId: "i1", Cursor: cursor, MaxBatchSize: 500})
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for {
			batch, err := stream.Recv()
			if err != nil {
				break
			}
			got += len(batch.GetRuns())
		}
		if got != n {
			b.Fatalf("bare stream delivered %d runs, want %d", got, n)
		}
		return time.Since(start)
	}
	runPUOD := func() time.Duration {
		start := time.Now()
		got := 0
		err := h.ListRuns(ctx, "i1", cursor, 500, func(batch sdk.RunBatch) error {
			got += len(batch.Runs)
			return nil
		})
		if err != nil || got != n {
			b.Fatalf("PUOD stream delivered %d runs (err %v), want %d", got, err, n)
		}
		return time.Since(start)
	}
	runBare()
	runPUOD()
	var bareD, puodD time.Duration
	for i := 0; i < b.N; i++ {
		bareD += runBare()
		puodD += runPUOD()
	}
	bareRate := float64(n*b.N) / bareD.Seconds()
	puodRate := float64(n*b.N) / puodD.Seconds()
	b.ReportMetric(bareRate, "bare-runs/s")
	b.ReportMetric(puodRate, "puod-runs/s")
	b.ReportMetric(puodRate/bareRate, "ratio")
}

// BenchmarkHostStart starts a manager over 5 plugin bundles until all are
// running, against the start of one bare go-plugin process (target: ≤ 2×).
//
// A second baseline, five bare go-plugin processes started concurrently,
// is the floor any host reaches on this machine: go-plugin's SecureConfig
// hash and AutoMTLS keys cost each start more CPU than its wall time, so
// five starts on fewer than five cores queue for the CPU whatever the host
// does. The ratio to that floor is what PUOD's own layers cost.
//
// Each figure is the median of several rounds, so one slow round (page
// cache, a GC, a noisy neighbour) does not decide the result.
func BenchmarkHostStart(b *testing.B) {
	const rounds = 5
	var bare, bare5, puod []time.Duration
	dir := b.TempDir()
	for j := 0; j < 5; j++ {
		bundle(b, dir, "bench.runs"+strconv.Itoa(j))
	}
	for i := 0; i < b.N*rounds; i++ {
		start := time.Now()
		c, rpc := startBare(b)
		if err := rpc.Ping(); err != nil {
			b.Fatal(err)
		}
		bare = append(bare, time.Since(start))
		c.Kill()

		bare5 = append(bare5, startBareConcurrently(b, 5))

		m, took := startManager(b, dir, 5)
		puod = append(puod, took)
		_ = m.Close(context.Background())
	}
	mb, mb5, mp := median(bare), median(bare5), median(puod)
	b.ReportMetric(float64(mb.Microseconds())/1e3, "bare-ms")
	b.ReportMetric(float64(mb5.Microseconds())/1e3, "bare-5-concurrent-ms")
	b.ReportMetric(float64(mp.Microseconds())/1e3, "puod-5-plugins-ms")
	b.ReportMetric(float64(mp)/float64(mb), "ratio")
	b.ReportMetric(float64(mp)/float64(mb5), "ratio-to-5-bare")
	b.ReportMetric(float64(gomaxprocs()), "cores")
}

// startBareConcurrently starts n bare plugins at once and returns how long
// it took until every one answered a ping.
func startBareConcurrently(b *testing.B, n int) time.Duration {
	sum := fileSum(b, bins.bare)
	start := time.Now()
	var wg sync.WaitGroup
	clients := make([]*plugin.Client, n)
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, rpc, err := launchBare(sum)
			if err != nil {
				b.Error(err)
				return
			}
			clients[k] = c
			if err := rpc.Ping(); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for _, c := range clients {
		if c != nil {
			c.Kill()
		}
	}
	return took
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

var _ = exec.Command
