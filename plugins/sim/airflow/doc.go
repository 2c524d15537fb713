// Package airflowsim simulates the Apache Airflow stable REST API well
// enough that a connector cannot tell it from a real server: Airflow 2
// (/api/v1, HTTP Basic auth, RFC 7807 problem errors) or Airflow 3
// (/api/v2, JWTs from POST /auth/token, FastAPI {"detail"} errors and 422
// validation lists), chosen with Options.API.
//
// It owns an in-memory world of DAGs, DAG runs and task instances that a
// scenario generator fills with a steady, realistic flow driven by an
// injectable clock (scheduled and manual runs, retries, failures that
// leave downstream tasks upstream_failed, slow runs of ETL_Vendas), plus
// methods to add, start and finish runs by hand and to inject faults: 429
// or 503 answers with Retry-After, revoked access tokens, malformed pages
// and overlapping pages. Options.Fixtures loads the shared scenario of
// /work/shared/apis/fixtures/airflow, so the requests the API reference
// pairs with a fixture answer that fixture's content.
//
// The PUOD connector's tests and the host's --demo mode use it:
//
//	sim := airflowsim.New(airflowsim.Options{API: airflowsim.V2, Username: "puod", Password: "demo"})
//	sim.StartScenario(airflowsim.DefaultScenario(), time.Now().Add(-24*time.Hour))
//	go sim.Run(ctx, 2*time.Second) // optional: requests advance the world too
//	srv := httptest.NewServer(sim)
//	config, secrets := sim.ConnectorConfig(srv.URL) // a puod.airflow source
//
// Faults for tests: FailNext (429/503 with Retry-After), ExpireTokens,
// MalformNext, OverlapPages, AfterRequests (change the world between two
// pages); Requests records what the connector sent.
package airflowsim
