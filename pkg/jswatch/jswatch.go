// Package jswatch moves a NATS connection off a server whose JetStream
// keeps answering that it is unavailable.
//
// A server cut off from its cluster for a while — a network partition, a
// route that takes minutes to be found dead — still answers its clients'
// pings, so a client stays on it while every JetStream request it forwards
// fails with "503 JetStream system temporarily unavailable" (or finds no
// responders). A stage or agent on that server stalls although the
// cluster's majority serves everyone else. [Run] asks the connected server
// for the account's JetStream information at an interval and, after a few
// failed answers in a row, forces a reconnect, which tries the
// connection's other servers first. With a single server there is
// nowhere to go and Run only waits.
//
// Every relaybus stage runs it on its connection, and so does the agent
// client (package agent) while it runs; other programs on the bus may run
// it too. One Run per connection is enough.
package jswatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults: the server is asked every DefaultEvery; after DefaultAfter
// failed answers in a row the connection moves (15 s of unavailability).
const (
	DefaultEvery = 5 * time.Second
	DefaultAfter = 3
)

var (
	// ErrUnavailable is a JetStream API answer whose error is a 503.
	ErrUnavailable = errors.New("jswatch: JetStream unavailable")
	// ErrDenied is reported (Options.OnError) when the server refuses the
	// probe as a permissions violation: Run then stops watching. Allow
	// the user to publish $JS.API.INFO to have the watch.
	ErrDenied = errors.New("jswatch: not allowed to ask " + infoSubject + " (permissions violation); not watching this connection")
)

// Options tune Run. The zero value is the defaults.
type Options struct {
	// Every is the interval between probes, and each probe's timeout
	// (default DefaultEvery).
	Every time.Duration
	// After is how many failed probes in a row move the connection
	// (default DefaultAfter).
	After int
	// Moving, when set, is called before each forced reconnect with the
	// server being left (credentials redacted) and the last probe's
	// error; OnError with a failed reconnect's error, or ErrDenied. Both
	// may be nil.
	Moving  func(server string, err error)
	OnError func(error)
}

// Run watches nc until ctx is done; see the package documentation.
func Run(ctx context.Context, nc *nats.Conn, o Options) {
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.After <= 0 {
		o.After = DefaultAfter
	}
	t := time.NewTicker(o.Every)
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
		err := Probe(ctx, nc, o.Every)
		if err == nil || ctx.Err() != nil {
			failed = 0
			continue
		}
		if denied(nc) {
			// The connection's user may not ask: the probe can tell
			// nothing, and moving would not help.
			if o.OnError != nil {
				o.OnError(ErrDenied)
			}
			<-ctx.Done()
			return
		}
		failed++
		if failed < o.After || len(nc.Servers()) < 2 {
			continue
		}
		failed = 0
		if o.Moving != nil {
			o.Moving(nc.ConnectedUrlRedacted(), err)
		}
		if err := nc.ForceReconnect(); err != nil && o.OnError != nil {
			o.OnError(fmt.Errorf("jswatch: reconnect: %w", err))
		}
	}
}

// infoSubject is JetStream's account information request: the server a
// client is connected to answers it, with a 503 error while it has lost
// contact with the cluster's metadata leader.
const infoSubject = "$JS.API.INFO"

// denied reports whether the server refused the probe's subject: a
// permissions violation comes as an asynchronous error, and the request
// itself only times out.
func denied(nc *nats.Conn) bool {
	err := nc.LastError()
	return errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+infoSubject+`"`)
}

// Probe asks the server nc is connected to for the account's JetStream
// information, waiting at most timeout. It returns nil when JetStream
// answered (an answer with an error other than a 503 counts: JetStream is
// there), an error wrapping ErrUnavailable for a 503, and the request's
// error otherwise (no responders, timeout).
func Probe(ctx context.Context, nc *nats.Conn, timeout time.Duration) error {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := nc.RequestWithContext(rctx, infoSubject, nil)
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
		return fmt.Errorf("jswatch: JetStream info answer: %w", err)
	}
	if resp.Error != nil && resp.Error.Code == 503 {
		return fmt.Errorf("%w: %s", ErrUnavailable, resp.Error.Description)
	}
	return nil
}
