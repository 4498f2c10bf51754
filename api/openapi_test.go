package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"taskrunner/models/modelstest"
)

// The OpenAPI description and the route table agree: every route is
// documented, and every documented operation is served.
func TestOpenAPI_MatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	var documented, served []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	f := setup(t, modelstest.SQLite(t))
	for _, rt := range f.srv.routes {
		served = append(served, rt.method+" "+rt.path)
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("documented, not served: %s", d)
		}
	}
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("served, not documented: %s", s)
		}
	}
	// And the mux answers each documented operation (not 404/405).
	for _, d := range documented {
		method, path, _ := strings.Cut(d, " ")
		r := f.call(method, strings.ReplaceAll(path, "{id}", "1"), "admin", nil)
		if r.status == http.StatusMethodNotAllowed || r.status == http.StatusNotFound && strings.Contains(r.Msg, "no route") {
			t.Errorf("%s: %d %s", d, r.status, r.Msg)
		}
	}
	r := f.call("GET", "/openapi.json", "read", nil)
	if r.status != 200 {
		t.Errorf("GET /openapi.json: %d", r.status)
	}
}
