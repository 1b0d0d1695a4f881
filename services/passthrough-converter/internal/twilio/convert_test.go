package twilio_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
	"github.com/relaybus/relaybus/services/passthrough-converter/internal/twilio"
)

var testForward = wire.PassthroughForward{
	Platform: "twilio",
	BotID:    "AC0f3b8e3b5c9d4a6e8f1a2b3c4d5e6f70",
	Method:   "POST",
	Path:     "/webhooks/twilio/sms",
	BodyB64:  "ignored-by-convert",
}

func forwardInfo() *events.ForwardInfo {
	return &events.ForwardInfo{Platform: "twilio", BotID: "AC0f3b8e3b5c9d4a6e8f1a2b3c4d5e6f70", Method: "POST", Path: "/webhooks/twilio/sms"}
}

// Bodies shaped like Twilio's (parameters in Twilio's order, as captured
// from its webhook requests; ids synthetic).
const (
	smsBody = "ToCountry=US&ToState=CA&SmsMessageSid=SM5f2a6c0d9b8e47a1b3c4d5e6f7a8b9c0&NumMedia=0" +
		"&ToCity=SAN+FRANCISCO&FromZip=94105&SmsSid=SM5f2a6c0d9b8e47a1b3c4d5e6f7a8b9c0&FromState=CA" +
		"&SmsStatus=received&FromCity=SAN+FRANCISCO&Body=What%27s+on+my+calendar+tomorrow%3F&FromCountry=US" +
		"&To=%2B14155550100&MessagingServiceSid=MG0a1b2c3d4e5f60718293a4b5c6d7e8f9&ToZip=94105&NumSegments=1" +
		"&MessageSid=SM5f2a6c0d9b8e47a1b3c4d5e6f7a8b9c0&AccountSid=AC0f3b8e3b5c9d4a6e8f1a2b3c4d5e6f70" +
		"&From=%2B14155550199&ApiVersion=2010-04-01"
	mmsBody = "ToCountry=US&MediaContentType0=image%2Fjpeg&MediaContentType1=application%2Fpdf&NumMedia=2" +
		"&SmsMessageSid=MM8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f&SmsSid=MM8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f" +
		"&SmsStatus=received&Body=&To=%2B14155550100&NumSegments=1" +
		"&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC0f3b8e3b5c9d4a6e8f1a2b3c4d5e6f70%2FMessages%2FMM8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f%2FMedia%2FME11" +
		"&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC0f3b8e3b5c9d4a6e8f1a2b3c4d5e6f70%2FMessages%2FMM8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f%2FMedia%2FME22" +
		"&MessageSid=MM8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f&AccountSid=AC0f3b8e3b5c9d4a6e8f1a2b3c4d5e6f70" +
		"&From=%2B14155550199&ApiVersion=2010-04-01"
	whatsAppBody = "SmsMessageSid=SM9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a&NumMedia=1&ProfileName=Alice+B" +
		"&MessageType=audio&SmsSid=SM9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a&WaId=14155550199&SmsStatus=received" +
		"&Body=%2Fnew+start+over&To=whatsapp%3A%2B14155550100&MediaContentType0=audio%2Fogg" +
		"&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC0f%2FMessages%2FSM9d%2FMedia%2FME33" +
		"&NumSegments=1&ReferralNumMedia=0&MessageSid=SM9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a" +
		"&AccountSid=AC0f3b8e3b5c9d4a6e8f1a2b3c4d5e6f70&From=whatsapp%3A%2B14155550199&ApiVersion=2010-04-01"
)

const (
	mediaURL0 = "https://api.twilio.com/2010-04-01/Accounts/AC0f3b8e3b5c9d4a6e8f1a2b3c4d5e6f70/Messages/MM8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f/Media/ME11"
	mediaURL1 = "https://api.twilio.com/2010-04-01/Accounts/AC0f3b8e3b5c9d4a6e8f1a2b3c4d5e6f70/Messages/MM8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f/Media/ME22"
	waMedia   = "https://api.twilio.com/2010-04-01/Accounts/AC0f/Messages/SM9d/Media/ME33"
)

func smsSource(from string) events.SessionSource {
	return events.SessionSource{Platform: "twilio", ChatID: from, ChatType: "dm", UserID: from, ChatIDAlt: "+14155550100"}
}

func TestConvert(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		profile string
		want    events.MessageEvent
	}{
		{
			name: "SMS",
			body: smsBody,
			want: events.MessageEvent{
				Text:        "What's on my calendar tomorrow?",
				MessageType: "text",
				MessageID:   "SM5f2a6c0d9b8e47a1b3c4d5e6f7a8b9c0",
				Source:      smsSource("+14155550199"),
				SessionKey:  "agent:main:twilio:dm:+14155550199",
				Forward:     forwardInfo(),
			},
		},
		{
			name:    "MMSWithoutTextTakesFirstMediaKind",
			body:    mmsBody,
			profile: "family",
			want: events.MessageEvent{
				Text:        "",
				MessageType: "photo",
				MessageID:   "MM8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
				MediaURLs:   []string{mediaURL0, mediaURL1},
				Media: []events.Media{
					{URL: mediaURL0, Kind: "photo", MIME: "image/jpeg"},
					{URL: mediaURL1, Kind: "document", MIME: "application/pdf"},
				},
				Source: func() events.SessionSource {
					s := smsSource("+14155550199")
					s.Profile = "family"
					return s
				}(),
				SessionKey: "agent:family:twilio:dm:+14155550199",
				Forward:    forwardInfo(),
			},
		},
		{
			name: "WhatsAppCommandWithVoiceNote",
			body: whatsAppBody,
			want: events.MessageEvent{
				Text:        "/new start over",
				MessageType: "command",
				MessageID:   "SM9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a",
				MediaURLs:   []string{waMedia},
				Media:       []events.Media{{URL: waMedia, Kind: "audio", MIME: "audio/ogg"}},
				Source: events.SessionSource{
					Platform: "twilio", ChatID: "whatsapp:+14155550199", ChatType: "dm",
					UserID: "whatsapp:+14155550199", UserName: "Alice B", ChatIDAlt: "whatsapp:+14155550100",
				},
				SessionKey: "agent:main:twilio:dm:whatsapp:+14155550199",
				Forward:    forwardInfo(),
			},
		},
		{
			name: "MinimalNoNumMediaNoTo",
			body: "From=%2B447700900123&MessageSid=SMaaa&Body=++%2Fstop",
			want: events.MessageEvent{
				Text:        "  /stop",
				MessageType: "command",
				MessageID:   "SMaaa",
				Source:      events.SessionSource{Platform: "twilio", ChatID: "+447700900123", ChatType: "dm", UserID: "+447700900123"},
				SessionKey:  "agent:main:twilio:dm:+447700900123",
				Forward:     forwardInfo(),
			},
		},
		{
			name: "EmptyMessageIsText",
			body: "From=%2B1&MessageSid=SMb&NumMedia=0&Body=",
			want: events.MessageEvent{
				MessageType: "text", MessageID: "SMb",
				Source:     events.SessionSource{Platform: "twilio", ChatID: "+1", ChatType: "dm", UserID: "+1"},
				SessionKey: "agent:main:twilio:dm:+1",
				Forward:    forwardInfo(),
			},
		},
		{
			name: "TextWinsOverMediaAndKinds",
			body: "From=%2B1&MessageSid=SMc&Body=look&NumMedia=3&MediaUrl0=u0&MediaContentType0=video%2Fmp4" +
				"&MediaUrl1=u1&MediaUrl2=u2&MediaContentType2=IMAGE%2FPNG&MediaUrl3=ignored",
			want: events.MessageEvent{
				Text: "look", MessageType: "text", MessageID: "SMc",
				MediaURLs: []string{"u0", "u1", "u2"},
				Media: []events.Media{
					{URL: "u0", Kind: "video", MIME: "video/mp4"},
					{URL: "u1", Kind: "document"},
					{URL: "u2", Kind: "photo", MIME: "IMAGE/PNG"},
				},
				Source:     events.SessionSource{Platform: "twilio", ChatID: "+1", ChatType: "dm", UserID: "+1"},
				SessionKey: "agent:main:twilio:dm:+1",
				Forward:    forwardInfo(),
			},
		},
		{
			name: "FirstValueOfRepeatedKey",
			body: "From=%2B1&From=%2B2&MessageSid=SMd&MessageSid=SMe&Body=a&Body=b",
			want: events.MessageEvent{
				Text: "a", MessageType: "text", MessageID: "SMd",
				Source:     events.SessionSource{Platform: "twilio", ChatID: "+1", ChatType: "dm", UserID: "+1"},
				SessionKey: "agent:main:twilio:dm:+1",
				Forward:    forwardInfo(),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fwd := testForward
			fwd.Profile = tt.profile
			got, err := twilio.Convert([]byte(tt.body), fwd)
			if err != nil {
				t.Fatalf("Convert(%q) error = %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Convert(%q) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantReason string
		wantField  string
	}{
		{name: "BadPercentEncoding", body: "From=%2B1&MessageSid=SMa&Body=100%", wantReason: events.ReasonBadBody},
		{name: "BadKeyEncoding", body: "Fr%zzom=%2B1&MessageSid=SMa", wantReason: events.ReasonBadBody},
		{name: "Semicolon", body: "From=%2B1;MessageSid=SMa", wantReason: events.ReasonBadBody},
		{name: "Empty", body: "", wantReason: events.ReasonMissingField, wantField: "From"},
		{name: "JSONBody", body: `{"From":"+1","MessageSid":"SMa"}`, wantReason: events.ReasonMissingField, wantField: "From"},
		{name: "MissingFrom", body: "To=%2B1&MessageSid=SMa&Body=hi", wantReason: events.ReasonMissingField, wantField: "From"},
		{name: "EmptyFrom", body: "From=&MessageSid=SMa", wantReason: events.ReasonMissingField, wantField: "From"},
		{name: "MissingMessageSid", body: "From=%2B1&SmsSid=SMa&Body=hi", wantReason: events.ReasonMissingField, wantField: "MessageSid"},
		{name: "NumMediaNotInteger", body: "From=%2B1&MessageSid=SMa&NumMedia=two", wantReason: events.ReasonWrongType, wantField: "NumMedia"},
		{name: "NumMediaFraction", body: "From=%2B1&MessageSid=SMa&NumMedia=1.0", wantReason: events.ReasonWrongType, wantField: "NumMedia"},
		{name: "NumMediaHuge", body: "From=%2B1&MessageSid=SMa&NumMedia=99999999999999999999", wantReason: events.ReasonWrongType, wantField: "NumMedia"},
		{name: "NumMediaNegative", body: "From=%2B1&MessageSid=SMa&NumMedia=-1", wantReason: events.ReasonBadBody, wantField: "NumMedia"},
		{name: "NumMediaOverTen", body: "From=%2B1&MessageSid=SMa&NumMedia=11", wantReason: events.ReasonBadBody, wantField: "NumMedia"},
		{name: "MediaUrlMissing", body: "From=%2B1&MessageSid=SMa&NumMedia=2&MediaUrl0=u0&MediaUrl2=u2", wantReason: events.ReasonMissingField, wantField: "MediaUrl1"},
		{name: "MediaUrlEmpty", body: "From=%2B1&MessageSid=SMa&NumMedia=1&MediaUrl0=", wantReason: events.ReasonMissingField, wantField: "MediaUrl0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := twilio.Convert([]byte(tt.body), testForward)
			if err == nil {
				t.Fatalf("Convert(%q) = %+v, want an error", tt.body, ev)
			}
			var fe *events.FrameError
			if !errors.As(err, &fe) || !errors.Is(err, events.ErrBadFrame) {
				t.Fatalf("Convert(%q) error = %T %v, want *events.FrameError", tt.body, err, err)
			}
			if fe.Reason != tt.wantReason || fe.Field != tt.wantField {
				t.Errorf("Convert(%q) error = %v, want reason %q field %q", tt.body, err, tt.wantReason, tt.wantField)
			}
			if strings.Contains(fe.Detail, "+1") || !strings.HasPrefix(fe.Detail, "twilio: ") {
				t.Errorf("Detail = %q, want a twilio: prefix and no field values", fe.Detail)
			}
		})
	}
}

// seeds are the bodies of the unit tests.
var seeds = []string{
	smsBody, mmsBody, whatsAppBody,
	"From=%2B447700900123&MessageSid=SMaaa&Body=++%2Fstop",
	"From=%2B1&MessageSid=SMc&Body=look&NumMedia=3&MediaUrl0=u0&MediaContentType0=video%2Fmp4&MediaUrl1=u1&MediaUrl2=u2",
	"From=%2B1&MessageSid=SMa&Body=100%",
	"From=%2B1;MessageSid=SMa",
	"From=%2B1&MessageSid=SMa&NumMedia=-1",
	"From=%2B1&MessageSid=SMa&NumMedia=2&MediaUrl0=u0&MediaUrl2=u2",
	"",
}

func FuzzConvert(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := twilio.Convert(body, testForward)
		if err != nil {
			var fe *events.FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("Convert error %T %v is not a *FrameError", err, err)
			}
			return
		}
		if ev.Source.Platform != "twilio" || ev.Source.ChatType != "dm" || ev.Source.ChatID == "" || ev.MessageID == "" {
			t.Fatalf("Convert event lacks required parts: %+v", ev.Source)
		}
		if len(ev.Media) != len(ev.MediaURLs) || len(ev.Media) > twilio.MaxMedia {
			t.Fatalf("Convert media = %d entries, %d urls", len(ev.Media), len(ev.MediaURLs))
		}
		if ev.SessionKey != events.SessionKey(ev.Source, events.SessionKeyOptions{}) {
			t.Fatalf("SessionKey %q does not match its source", ev.SessionKey)
		}
	})
}

func BenchmarkConvert(b *testing.B) {
	for _, bc := range []struct{ name, body string }{{"SMS", smsBody}, {"MMS", mmsBody}} {
		b.Run(bc.name, func(b *testing.B) {
			body := []byte(bc.body)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := twilio.Convert(body, testForward); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
