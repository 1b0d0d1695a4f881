package wsedge

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/relaybus/relaybus/pkg/backoff"
	"github.com/relaybus/relaybus/pkg/wire"
)

// Close codes and reasons of the relay contract.
const (
	closeUnauthorized = 4401
	reasonExpired     = "expired"
)

// connEnd says how a connection ended, for the dial loop's next move.
type connEnd struct {
	handshaken bool
	code       int
	reason     string
	up         time.Duration
	shutdown   bool // ctx ended and the connection was drained
}

// connectLoop is the one dialer: it dials, runs the connection until it
// ends, and redials along the backoff ladder (contract §1). It returns nil
// when ctx ends and ErrRevoked when the credential is revoked.
func (s *Service) connectLoop(ctx context.Context) error {
	ladder := backoff.New(s.cfg.BackoffMin, s.cfg.BackoffMax, nil)
	var delay time.Duration
	fresh := false // the next connection is the one immediate redial after a 4401
	dials := 0
	for {
		if delay > 0 && !backoff.Sleep(ctx, delay) {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if err := s.loadReplays(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			delay = ladder.Next()
			s.Log.Warn("loading the ack log failed; not dialing yet", "err", err, "retry_in", delay)
			continue
		}
		if dials > 0 {
			s.m.reconnects.Inc()
		}
		dials++
		ws, err := s.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			delay = ladder.Next()
			s.Log.Warn("relay dial failed", "url", s.dialURL, "err", err, "retry_in", delay)
			continue
		}
		end := s.runConn(ctx, ws)
		if end.shutdown {
			return nil
		}
		if end.up >= s.cfg.StableAfter {
			ladder.Reset()
		}
		wasFresh := fresh && end.up < s.cfg.StableAfter
		fresh = false
		switch {
		case end.code == closeUnauthorized && end.reason != reasonExpired && wasFresh:
			s.revoked.Store(true)
			s.m.revoked.Set(1)
			s.Log.Error("relay credential revoked: the connector refused the fresh token again (close 4401); not redialing",
				"relay_id", s.cfg.RelayID, "reason", end.reason)
			return ErrRevoked
		case end.code == closeUnauthorized && end.handshaken:
			// After a handshake a 4401 may be a token the connector
			// re-checked; one immediate redial with a fresh token tells a
			// transient refusal from a revocation. An expired token is never
			// a revocation.
			fresh = end.reason != reasonExpired
			delay = 0
			s.Log.Warn("relay refused the token after the handshake; redialing at once with a fresh token",
				"reason", end.reason)
		default:
			delay = ladder.Next()
			s.Log.Info("relay socket closed; redialing", "code", end.code, "reason", end.reason,
				"handshaken", end.handshaken, "up", end.up.Round(time.Millisecond), "retry_in", delay)
		}
	}
}

// loadReplays loads the replay set before a dial, so that nothing the
// connection brings is handled before it is in place. The frames of the
// last connection still in flight are stored and logged first (bounded by
// WSEDGE_PUBLISH_TIMEOUT), so that their ids are in the set; acks of other
// replicas logged after the load are RELAY_RAW's server window's.
func (s *Service) loadReplays(ctx context.Context) error {
	s.pipe.waitIdle(s.cfg.PublishTimeout)
	s.acklog.waitIdle(s.cfg.PublishTimeout)
	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	writers, ids, err := s.acklog.load(lctx)
	if err != nil {
		return err
	}
	s.Log.Info("ack log loaded", "writers", writers, "ids", ids, "horizon", s.cfg.AckHorizon,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// dial opens the socket with a freshly minted token.
func (s *Service) dial(ctx context.Context) (*websocket.Conn, error) {
	h := http.Header{}
	if s.cfg.RelayID != "" && s.cfg.RelaySecret != "" {
		tok := wire.MintTokenAt(s.cfg.RelayID, s.cfg.RelaySecret, s.Now(), wire.TokenTTL)
		h.Set("Authorization", wire.BearerHeader(tok))
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	ws, resp, err := s.dialer.DialContext(dctx, s.dialURL, h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("upgrade refused with HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, err
	}
	return ws, nil
}

// runConn runs one connection from the hellos to its end.
func (s *Service) runConn(ctx context.Context, ws *websocket.Conn) connEnd {
	c := newConn(s, ws, s.connSeq.Add(1))
	log := s.Log.With("conn_id", c.id)
	_ = ws.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, s.hellos); err != nil {
		_ = ws.Close()
		log.Warn("relay hello failed", "err", err)
		return connEnd{code: websocket.CloseAbnormalClosure}
	}
	_ = ws.SetReadDeadline(time.Now().Add(s.cfg.PongTimeout))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(s.cfg.PongTimeout))
	})
	go c.readLoop()
	go c.writeLoop()
	s.m.socketState.Set(stateConnected)
	log.Info("relay connected", "url", s.dialURL, "hellos", len(s.identities))

	end := connEnd{}
	hsTimer := time.NewTimer(s.cfg.HandshakeTimeout)
	select {
	case <-c.hs:
		hsTimer.Stop()
		end.handshaken = true
	case <-c.done:
		hsTimer.Stop()
	case <-hsTimer.C:
		log.Warn("relay handshake timed out; redialing", "timeout", s.cfg.HandshakeTimeout)
		c.closeNow(websocket.CloseNormalClosure, "handshake timeout")
	case <-ctx.Done():
		hsTimer.Stop()
		s.closeConn(c)
		end.shutdown = true
	}
	if end.handshaken {
		s.setCurrent(c)
		s.m.socketState.Set(stateHandshaken)
		log.Info("relay handshaken")
		select {
		case <-c.done:
		case <-ctx.Done():
			s.drain(c)
			end.shutdown = true
		}
	}
	// The socket is over: no outbound may use it, and its waiters learn at
	// once (not after their timeout).
	s.clearCurrent(c)
	<-c.done
	_ = ws.Close()
	<-c.writerUp
	s.waiters.failConn(c)
	s.m.socketState.Set(stateDown)
	code, reason, err := c.closeInfo()
	end.code, end.reason = code, reason
	end.up = s.Now().Sub(c.dialedAt)
	if !end.shutdown {
		why := "connection lost"
		if isTimeout(err) {
			why = "connection dead: no pong in time"
		}
		log.Info("relay disconnected", "why", why, "code", code, "reason", reason, "err", err)
	}
	return end
}

// drain is the orderly way out of a handshaken socket (SIGTERM): ask the
// connector to go buffered-only, stop reading, let every in-flight publish
// finish and its ack be written, fail the outbound waiters, close 1000.
func (s *Service) drain(c *conn) {
	log := s.Log.With("conn_id", c.id)
	log.Info("relay draining: going idle")
	s.clearCurrent(c) // new outbound requests now answer "not connected"
	if c.send(outItem{frame: wire.AppendGoingIdle(nil)}) {
		t := time.NewTimer(s.cfg.IdleTimeout)
		select {
		case <-c.idleAck:
			log.Debug("going_idle acknowledged")
		case <-t.C:
			log.Warn("going_idle not acknowledged in time; closing anyway", "timeout", s.cfg.IdleTimeout)
		case <-c.done:
		}
		t.Stop()
	}
	c.stopReading()
	if !s.pipe.waitIdle(s.cfg.ShutdownTimeout) {
		log.Error("publishes still in flight after the shutdown timeout; their frames stay un-acked for replay")
	}
	if !s.acklog.waitIdle(s.cfg.ShutdownTimeout) {
		log.Error("acks still waiting for the ack log after the shutdown timeout; their frames stay un-acked for replay")
	}
	c.flush(s.cfg.ShutdownTimeout)
	// Outbound frames already written wait for their results (bounded):
	// failing them at once would answer "connection lost" (ambiguous) for
	// actions the connector is about to confirm, on every rolling restart.
	s.waiters.settle(c, s.cfg.ShutdownTimeout)
	s.waiters.failConn(c)
	s.closeConn(c)
}

// closeConn closes with 1000 through the writer (after what is queued) and
// waits briefly for the connector's close echo before dropping the socket.
func (s *Service) closeConn(c *conn) {
	c.send(outItem{close: true})
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-c.writerUp:
		select {
		case <-c.done:
		case <-t.C:
		}
	case <-t.C:
	}
	_ = c.ws.Close()
}
