package wire

import (
	"encoding/base64"
	"net/url"
	"sync"

	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

// ChatKey returns the ordering key of a data frame: the chat it belongs
// to, as "<platform>:<chat id>", so that ws-edge can name it in the raw
// subject and the bus can partition by it (per-chat order at any scale).
// It reads only what it needs, without decoding the frame:
//
//   - inbound: event.source.platform and event.source.chat_id;
//   - passthrough_forward: forward.platform and, in the forwarded body,
//     the Discord interaction's channel_id (or channel.id), or a Twilio
//     webhook's From;
//   - interrupt_inbound: chat_id, or the chat of its session_key, with the
//     session key's platform.
//
// A frame whose chat cannot be read this way (another type, another
// platform, a malformed or unusual frame) gets a stable fallback, "type:"
// followed by its type (for a forward: "forward:" and its platform), so
// that such frames keep their own order among themselves. ChatKey never
// fails; a frame that is bad is rejected later by the full decode.
func ChatKey(frameType string, frame []byte) string {
	switch frameType {
	case FrameInbound:
		if ev := objMember(frame, "event"); ev != nil {
			if src := objMember(ev, "source"); src != nil {
				p, c := stringMember(src, "platform"), stringMember(src, "chat_id")
				if p != "" && c != "" {
					return p + ":" + c
				}
			}
		}
	case FramePassthroughForward:
		if fwd := objMember(frame, "forward"); fwd != nil {
			p := stringMember(fwd, "platform")
			if c := forwardChat(p, fwd); c != "" {
				return p + ":" + c
			}
			if p != "" {
				return "forward:" + p
			}
		}
	case FrameInterruptInbound:
		chat, session := stringMember(frame, "chat_id"), stringMember(frame, "session_key")
		if p, c, ok := sessionChat(session); ok {
			if chat == "" {
				chat = c
			}
			if chat != "" {
				return p + ":" + chat
			}
		}
		if chat != "" {
			return "relay:" + chat
		}
	}
	return "type:" + frameType
}

// forwardChat reads the chat of a forwarded body (base64 in bodyB64).
func forwardChat(platform string, fwd []byte) string {
	if platform != "discord" && platform != "twilio" {
		return ""
	}
	lit := objMember(fwd, "bodyB64")
	if len(lit) < 2 || lit[0] != '"' {
		return ""
	}
	b64 := lit[1 : len(lit)-1]
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	n := base64.StdEncoding.DecodedLen(len(b64))
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	body := (*bp)[:n]
	n, err := base64.StdEncoding.Decode(body, b64)
	if err != nil {
		return ""
	}
	body = body[:n]
	switch platform {
	case "discord":
		if c := stringMember(body, "channel_id"); c != "" {
			return c
		}
		if ch := objMember(body, "channel"); ch != nil {
			return stringMember(ch, "id")
		}
	case "twilio":
		if q, err := url.ParseQuery(string(body)); err == nil {
			return q.Get("From")
		}
	}
	return ""
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// objMember returns the raw value of obj's top-level member name (the
// first), or nil: a hint, read without validating the rest (the frame is
// decoded for real by the converter).
func objMember(obj []byte, name string) []byte { return jsonscan.Find(obj, name) }

// stringMember returns obj's top-level string member name, or "".
func stringMember(obj []byte, name string) string {
	s, _ := unquote(objMember(obj, name))
	return s
}

func unquote(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' {
		return "", false
	}
	return jsonscan.Unquote(lit)
}

// sessionChat reads platform and chat out of a session key
// ("agent:<ns>:<platform>:<chat type>:<chat id>[:...]"), as
// events.SessionChat does (pkg/wire does not import pkg/events).
func sessionChat(key string) (platform, chat string, ok bool) {
	var parts [5]string
	n, start := 0, 0
	for i := 0; i <= len(key) && n < 5; i++ {
		if i == len(key) || key[i] == ':' {
			parts[n] = key[start:i]
			n++
			start = i + 1
		}
	}
	if n < 3 || parts[0] != "agent" || parts[2] == "" {
		return "", "", false
	}
	return parts[2], parts[4], true
}
