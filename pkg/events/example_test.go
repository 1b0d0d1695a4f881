package events_test

import (
	"fmt"

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

func ExampleSubjectToken() {
	fmt.Println(events.SubjectToken("645027906669510667"))
	fmt.Println(events.SubjectToken("!room:example.org"))
	fmt.Println(events.InboundMessageSubject("matrix", "!room:example.org"))
	fmt.Println(events.ScopeKey("matrix", "!room:example.org"))
	chat, ok := events.UnSubjectToken("%21room%3Aexample%2Eorg")
	fmt.Println(chat, ok)
	// Output:
	// 645027906669510667
	// %21room%3Aexample%2Eorg
	// relay.inbound.message.matrix.%21room%3Aexample%2Eorg
	// matrix.=21room=3Aexample=2Eorg
	// !room:example.org true
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
	fmt.Printf("%s\n", body)

	_, err = events.DecodeAction([]byte(`{"op":"send","chat_id":5,"content":"hi"}`), events.ContentTypeJSON, "send")
	fmt.Println(err)
	// Output:
	// {"op":"send","chat_id":"645027906669510667","content":"hi","reply_to":null,"metadata":{"scope_id":"290926798626357999"}}
	// events: bad action: wrong_type (chat_id): chat_id must be a string, got float64
}
