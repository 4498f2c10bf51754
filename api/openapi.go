package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI 3 description, kept by hand;
// TestOpenAPI_MatchesRoutes keeps it true to the route table.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
