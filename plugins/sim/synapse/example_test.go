package synapsesim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	synapsesim "github.com/puod/puod/plugins/sim/synapse"
)

// Example shows how the demo (or a test) runs the simulator and points a
// puod.synapse source at it.
func Example() {
	clock := synapsesim.NewManualClock(time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC))
	sim := synapsesim.New(synapsesim.Options{Now: clock.Now}) // the demo leaves Now nil: the real clock
	srv := httptest.NewServer(sim)                            // or http.Serve on any loopback listener
	defer srv.Close()

	config, secrets := sim.SourceConfig(srv.URL) // the source's config JSON and its secret fields
	_ = config
	fmt.Println(len(secrets["client_secret"]) > 0)

	// Drive the world by hand...
	id, _ := sim.StartRun(synapsesim.RunSpec{Pipeline: "ETL_Vendas"})
	clock.Advance(6 * time.Minute)
	_ = sim.FinishRun(id, synapsesim.StatusSucceeded, "")
	run, _ := sim.Run(id)
	fmt.Println(run.Status, *run.DurationInMs)

	// ...and inject faults.
	sim.FailNext(2, http.StatusTooManyRequests, 3*time.Second)
	sim.ExpireTokens()
	sim.MalformNext(1)
	sim.OverlapNextPages(1, 2)
	// Output:
	// true
	// Succeeded 360000
}
