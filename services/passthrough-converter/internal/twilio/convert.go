package twilio

import (
	"net/url"
	"strconv"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire"
)

// PlatformTwilio is the platform of every event Convert produces.
const PlatformTwilio = "twilio"

// MaxMedia is the most attachments Twilio puts on one message (NumMedia).
const MaxMedia = 10

// Convert turns a forwarded Twilio webhook body
// (application/x-www-form-urlencoded) into a normalized MessageEvent. fwd
// supplies the profile and the event's ForwardInfo.
//
// Every message is a direct conversation with the sender: platform
// "twilio", chat_type "dm", chat_id and user_id the sender's address (From,
// e.g. "+14155550100" or "whatsapp:+14155550100"), chat_id_alt the number
// it was sent to (To), message_id the MessageSid, user_name the WhatsApp
// ProfileName when there is one. Text is Body as sent. Media N (N <
// NumMedia) is MediaUrlN with kind photo, video, audio or document from
// MediaContentTypeN, in order, also listed in MediaURLs.
//
// Message type: "command" when the text (left-stripped) starts with "/",
// "text" when there is other text, otherwise the first attachment's kind
// ("photo", "video", "audio", "document"), and "text" for an empty message.
//
// Errors are *events.FrameError: bad_body for a body that is not a form or
// a NumMedia out of 0..MaxMedia, wrong_type for a NumMedia that is not an
// integer, missing_field for an absent or empty From, MessageSid, or
// MediaUrlN below NumMedia. Details never quote field values (phone numbers
// are personal data). Convert is safe for concurrent use.
func Convert(body []byte, fwd wire.PassthroughForward) (events.MessageEvent, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return events.MessageEvent{}, frameErr(events.ReasonBadBody, "", "body is not a form (application/x-www-form-urlencoded)")
	}
	from := form.Get("From")
	if from == "" {
		return events.MessageEvent{}, frameErr(events.ReasonMissingField, "From", "webhook has no From")
	}
	sid := form.Get("MessageSid")
	if sid == "" {
		return events.MessageEvent{}, frameErr(events.ReasonMissingField, "MessageSid", "webhook has no MessageSid")
	}
	numMedia := 0
	if s := form.Get("NumMedia"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			return events.MessageEvent{}, frameErr(events.ReasonWrongType, "NumMedia", "NumMedia is not an integer")
		case n < 0 || n > MaxMedia:
			return events.MessageEvent{}, frameErr(events.ReasonBadBody, "NumMedia", "NumMedia is outside 0.."+strconv.Itoa(MaxMedia))
		}
		numMedia = n
	}

	ev := events.MessageEvent{
		Text:      form.Get("Body"),
		MessageID: sid,
		Source: events.SessionSource{
			Platform:  PlatformTwilio,
			ChatID:    from,
			ChatType:  events.ChatDM,
			UserID:    from,
			UserName:  form.Get("ProfileName"),
			ChatIDAlt: form.Get("To"),
			Profile:   fwd.Profile,
		},
		Forward: &events.ForwardInfo{Platform: fwd.Platform, BotID: fwd.BotID, Method: fwd.Method, Path: fwd.Path},
	}
	if numMedia > 0 {
		ev.Media = make([]events.Media, 0, numMedia)
		ev.MediaURLs = make([]string, 0, numMedia)
	}
	for i := range numMedia {
		n := strconv.Itoa(i)
		u := form.Get("MediaUrl" + n)
		if u == "" {
			return events.MessageEvent{}, frameErr(events.ReasonMissingField, "MediaUrl"+n, "NumMedia is "+strconv.Itoa(numMedia)+" but MediaUrl"+n+" is missing")
		}
		mime := form.Get("MediaContentType" + n)
		ev.Media = append(ev.Media, events.Media{URL: u, Kind: events.MediaKind(mime), MIME: mime})
		ev.MediaURLs = append(ev.MediaURLs, u)
	}

	switch {
	case events.IsCommand(ev.Text):
		ev.MessageType = events.MessageCommand
	case ev.Text != "" || len(ev.Media) == 0:
		ev.MessageType = events.MessageText
	default:
		ev.MessageType = ev.Media[0].Kind
	}
	ev.SessionKey = events.SessionKey(ev.Source, events.SessionKeyOptions{})
	ev.Normalize()
	return ev, nil
}

func frameErr(reason, field, detail string) *events.FrameError {
	return &events.FrameError{Reason: reason, Field: field, Detail: "twilio: " + detail}
}
