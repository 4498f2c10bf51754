package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"taskrunner/api"
	"taskrunner/models"
	"taskrunner/tasks/engine"
)

// benchToken is the admin token of the benchmarks' API servers; only its
// hash is in their configuration, as in api.toml.
const benchToken = "bench-admin-token"

// newAPI builds the daemon's API server on an engine, with one admin
// token; edited, when not nil, is told of every edit (the Redis bus).
func newAPI(db *models.DB, eng *engine.Engine, log *slog.Logger, edited func(ctx context.Context, ids ...int64)) (*api.Server, error) {
	cfg := api.DefaultConfig()
	sum := sha256.Sum256([]byte(benchToken))
	cfg.Tokens = []api.Token{{Name: "bench", Role: "admin", SHA256: hex.EncodeToString(sum[:])}}
	return api.New(api.Options{Config: cfg, DB: db, Engine: eng, Log: log, Edited: edited})
}

// ownDB gives a scenario a database of its own by default, so that it
// never drops one another scenario (or another checkout's bench) is
// using on the same server.
func ownDB(fs *flag.FlagSet, name string) {
	_ = fs.Set("db", name)
	fs.Lookup("db").DefValue = name
}

// envelope is an API answer.
type envelope struct {
	Code int             `json:"code"`
	Data json.RawMessage `json:"data"`
	Msg  string          `json:"msg"`
}

// page is the data of a list answer.
type page struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

// serveTimed sends a GET to the handler in-process and times it: the
// server's own time (authentication, routing, the queries, the JSON
// encoding into the recorder), without a network or a client.
func serveTimed(ctx context.Context, h http.Handler, path string) (page, int, time.Duration, error) {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+benchToken)
	rec := httptest.NewRecorder()
	t := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(t)
	var env envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || rec.Code != http.StatusOK || env.Code != 0 {
		return page{}, 0, took, fmt.Errorf("GET %s: %d %s", path, rec.Code, truncate(rec.Body.String(), 300))
	}
	var p page
	if err := json.Unmarshal(env.Data, &p); err != nil {
		return page{}, 0, took, fmt.Errorf("GET %s: data: %w", path, err)
	}
	return p, rec.Body.Len(), took, nil
}

// call sends a request over HTTP and decodes the envelope.
func call(ctx context.Context, client *http.Client, method, url string, body io.Reader, hdr map[string]string) (envelope, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return envelope{}, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		return envelope{}, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return envelope{}, nil, err
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil || res.StatusCode != http.StatusOK || env.Code != 0 {
		return env, res.Header, fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, truncate(string(b), 300))
	}
	return env, res.Header, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// latencies summarises request times: median, p99 and max.
type latencies []time.Duration

func (l latencies) row(name string) [2]string {
	s := slices.Clone(l)
	slices.Sort(s)
	return [2]string{name, fmt.Sprintf("median %s, p99 %s, max %s (%d requests)", ms2(percentile(s, 0.5)), ms2(percentile(s, 0.99)), ms2(percentile(s, 1)), len(s))}
}

// ms2 prints a duration in ms to the hundredth: API answers take well
// under one.
func ms2(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
