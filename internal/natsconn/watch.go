package natsconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// Watch defaults: the server is asked every WatchEvery; after WatchAfter
// answers in a row that JetStream is unavailable the connection moves.
const (
	WatchEvery = 5 * time.Second
	WatchAfter = 3
)

// jsInfoSubject is JetStream's account information request: the server a
// client is connected to answers it, with a 503 error while it has lost
// contact with the cluster's metadata leader.
const jsInfoSubject = "$JS.API.INFO"

// errJSUnavailable is a JetStream API answer whose error is a 503.
var errJSUnavailable = errors.New("JetStream unavailable")

// Watch moves nc to another server of its pool when the one it is
// connected to keeps saying that JetStream is unavailable, until ctx is
// done. It asks every `every`; after `after` failed answers in a row (a
// 503 "JetStream system temporarily unavailable", no responders, or no
// answer in time) it forces a reconnect, which tries the pool's other
// servers first.
//
// Why: a server cut off from its cluster for a while — a network
// partition, a route that takes minutes to be found dead — still
// answers pings, so the client stays, while every JetStream request it
// forwards fails. A stage on it would stall although the cluster's
// majority serves everyone else. With a single server (nothing else to
// move to) Watch only waits.
func Watch(ctx context.Context, nc *nats.Conn, log *slog.Logger, every time.Duration, after int) {
	t := time.NewTicker(every)
	defer t.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !nc.IsConnected() {
			failed = 0 // reconnecting already
			continue
		}
		err := probeJetStream(ctx, nc, every)
		if err == nil || ctx.Err() != nil {
			failed = 0
			continue
		}
		failed++
		if failed < after || len(nc.Servers()) < 2 {
			continue
		}
		failed = 0
		log.Warn("nats server keeps answering that JetStream is unavailable; reconnecting to another server",
			"server", RedactURL(nc.ConnectedUrl()), "for", time.Duration(after)*every, "err", err)
		if err := nc.ForceReconnect(); err != nil {
			log.Warn("nats reconnect failed", "err", err)
		}
	}
}

// probeJetStream asks the connected server for the account's JetStream
// information and reports whether it answered.
func probeJetStream(ctx context.Context, nc *nats.Conn, timeout time.Duration) error {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := nc.RequestWithContext(rctx, jsInfoSubject, nil)
	if err != nil {
		return err
	}
	var resp struct {
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return fmt.Errorf("JetStream info answer: %w", err)
	}
	if resp.Error != nil && resp.Error.Code == 503 {
		return fmt.Errorf("%w: %s", errJSUnavailable, resp.Error.Description)
	}
	return nil
}
