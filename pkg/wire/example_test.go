package wire_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

func ExampleDecodeFrame() {
	f, err := wire.DecodeFrame([]byte(`{"type":"outbound_result","requestId":"9f1c"}`))
	fmt.Println(f.Type, f.RequestID, string(f.Result), err)

	_, err = wire.DecodeFrame([]byte(`{"type":"inbound","event":null}`))
	var fe *events.FrameError
	if errors.As(err, &fe) {
		fmt.Println(fe.Reason, fe.Field)
	}
	fmt.Println(events.Reason(err), errors.Is(err, events.ErrBadFrame))
	// Output:
	// outbound_result 9f1c {} <nil>
	// null_field event
	// null_field true
}

func ExampleMintToken() {
	token := wire.MintToken("gw-x", "secret-x", 0) // exp 0: never expires
	fmt.Println(wire.BearerHeader(token))

	lookup := func(id string) (string, bool) { return "secret-x", id == "gw-x" }
	id, exp, err := wire.VerifyToken(token, lookup, time.Now())
	fmt.Println(id, exp, err)

	expired := wire.MintToken("gw-x", "secret-x", 1_000)
	_, _, err = wire.VerifyToken(expired, lookup, time.Unix(2_000, 0))
	fmt.Println(errors.Is(err, wire.ErrTokenExpired))
	// Output:
	// Bearer Z3cteDowOjBkNWVjMzY5ZThjYzk1NmNmN2IxYzk2NmM4ZDY4ODM0ZjZiYTc2OWRlMWU1MzA0NWI3NmNmNDI2YWYxNTRkNDM
	// gw-x 0 <nil>
	// true
}

func ExampleDialURL() {
	for _, base := range []string{"https://c.example", "http://c.local:8080", "https://c.example/relay/"} {
		u, _ := wire.DialURL(base)
		fmt.Println(u)
	}
	_, err := wire.DialURL("https://c.example/?token=x")
	fmt.Println(errors.Is(err, wire.ErrBadURL))
	// Output:
	// wss://c.example/relay
	// ws://c.local:8080/relay
	// wss://c.example/relay
	// true
}

func ExampleAppendOutbound() {
	// ws-edge wraps the action JSON egress sent on relay.edge.outbound.
	a := events.Action{Op: events.OpSend, ChatID: "645027906669510667", Content: "hi"}
	a.SetMetadataDefault("scope_id", "290926798626357999")
	body, _ := a.AppendJSON(nil)
	fmt.Printf("%s", wire.AppendOutbound(nil, "0123456789abcdef0123456789abcdef", body, "discord", ""))
	// Output:
	// {"type":"outbound","requestId":"0123456789abcdef0123456789abcdef","action":{"op":"send","chat_id":"645027906669510667","content":"hi","reply_to":null,"metadata":{"scope_id":"290926798626357999"}},"platform":"discord"}
}
