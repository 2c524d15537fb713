package auth

import (
	"slices"
	"strings"
	"testing"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/store/storetest"
)

// TestRegister_routesDocumented keeps host/api/openapi/auth.yaml in step
// with the routes Register mounts.
func TestRegister_routesDocumented(t *testing.T) {
	t.Parallel()
	e := newEnvOnDB(t, storetest.OpenSQLite(t))
	documented, err := api.OpenAPIOperations()
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, r := range e.srv.Routes() {
		for _, prefix := range []string{"/api/v1/auth/", "/api/v1/users", "/api/v1/tokens", "/api/v1/profiles"} {
			if strings.HasPrefix(strings.SplitN(r, " ", 2)[1], prefix) {
				ours = append(ours, r)
			}
		}
	}
	if len(ours) != 13 {
		t.Fatalf("Register mounted %d routes, want 13: %v", len(ours), ours)
	}
	for _, r := range ours {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in the OpenAPI document (host/api/openapi/auth.yaml)", r)
		}
	}
}
