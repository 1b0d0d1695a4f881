package events_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/relaybus/relaybus/pkg/events"
)

func ExampleSessionKey() {
	group := events.SessionSource{Platform: "discord", ChatID: "chan1", ChatType: events.ChatGroup, UserID: "u1"}
	fmt.Println(events.SessionKey(group, events.SessionKeyOptions{}))
	fmt.Println(events.SessionKey(group, events.SessionKeyOptions{SharedGroups: true}))

	thread := events.SessionSource{Platform: "discord", ChatID: "th1", ChatType: events.ChatThread, ThreadID: "th1", UserID: "u1"}
	fmt.Println(events.SessionKey(thread, events.SessionKeyOptions{}))

	dm := events.SessionSource{Platform: "telegram", ChatID: "5", ChatType: events.ChatDM, Profile: "main"}
	fmt.Println(events.SessionKey(dm, events.SessionKeyOptions{}))
	// Output:
	// agent:main:discord:group:chan1:u1
	// agent:main:discord:group:chan1
	// agent:main:discord:thread:th1:th1
	// agent:main~:telegram:dm:5
}

func ExampleDecodeFrame() {
	f, err := events.DecodeFrame([]byte(`{"type":"outbound_result","requestId":"9f1c"}`))
	fmt.Println(f.Type, f.RequestID, string(f.Result), err)

	_, err = events.DecodeFrame([]byte(`{"type":"inbound","event":null}`))
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
	token := events.MintToken("gw-x", "secret-x", 0) // exp 0: never expires
	fmt.Println(events.BearerHeader(token))

	lookup := func(id string) (string, bool) { return "secret-x", id == "gw-x" }
	id, exp, err := events.VerifyToken(token, lookup, time.Now())
	fmt.Println(id, exp, err)

	expired := events.MintToken("gw-x", "secret-x", 1_000)
	_, _, err = events.VerifyToken(expired, lookup, time.Unix(2_000, 0))
	fmt.Println(errors.Is(err, events.ErrTokenExpired))
	// Output:
	// Bearer Z3cteDowOjBkNWVjMzY5ZThjYzk1NmNmN2IxYzk2NmM4ZDY4ODM0ZjZiYTc2OWRlMWU1MzA0NWI3NmNmNDI2YWYxNTRkNDM
	// gw-x 0 <nil>
	// true
}

func ExampleToken() {
	fmt.Println(events.Token("645027906669510667"))
	fmt.Println(events.Token("!room:example.org"))
	fmt.Println(events.InboundMessageSubject("matrix", "!room:example.org"))
	fmt.Println(events.ScopeKey("matrix", "!room:example.org"))
	chat, ok := events.UnToken("%21room%3Aexample%2Eorg")
	fmt.Println(chat, ok)
	// Output:
	// 645027906669510667
	// %21room%3Aexample%2Eorg
	// relay.inbound.message.matrix.%21room%3Aexample%2Eorg
	// matrix.=21room=3Aexample=2Eorg
	// !room:example.org true
}

func ExampleDialURL() {
	for _, base := range []string{"https://c.example", "http://c.local:8080", "https://c.example/relay/"} {
		u, _ := events.DialURL(base)
		fmt.Println(u)
	}
	_, err := events.DialURL("https://c.example/?token=x")
	fmt.Println(errors.Is(err, events.ErrBadURL))
	// Output:
	// wss://c.example/relay
	// ws://c.local:8080/relay
	// wss://c.example/relay
	// true
}

func ExampleDecodeAction() {
	// An action published as JSON on relay.outbound.send, e.g. from a script.
	a, err := events.DecodeAction([]byte(`{"chat_id":"645027906669510667","content":"hi"}`), events.ContentTypeJSON, "send")
	if err != nil {
		fmt.Println(err)
		return
	}
	a.SetMetadataDefault("scope_id", "290926798626357999")
	body, _ := a.AppendJSON(nil)
	fmt.Printf("%s", events.AppendOutbound(nil, "0123456789abcdef0123456789abcdef", body, "discord", ""))

	_, err = events.DecodeAction([]byte(`{"op":"send","chat_id":5,"content":"hi"}`), events.ContentTypeJSON, "send")
	fmt.Println(err)
	// Output:
	// {"type":"outbound","requestId":"0123456789abcdef0123456789abcdef","action":{"op":"send","chat_id":"645027906669510667","content":"hi","reply_to":null,"metadata":{"scope_id":"290926798626357999"}},"platform":"discord"}
	// events: bad action: wrong_type (chat_id): chat_id must be a string, got float64
}
