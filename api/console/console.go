// Package console is the web console: plain HTML, CSS and JavaScript
// modules in static/, committed as they are served (there is no build
// step) and embedded in the binary. It is a client of the HTTP API and
// nothing more: it signs in with an API token and calls the same routes,
// so a role sees and may do in the browser what it may do with curl.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the console's files from its root ("/" is index.html).
// They are public: every call for data carries the user's token.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Embedded files have no modification time: revalidate each time
		// so that a new binary's console is never mixed with a cached one.
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
