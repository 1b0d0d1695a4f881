package events

import (
	"encoding/json"

	"github.com/vmihailenco/msgpack/v5"
)

// Marshal encodes a payload (MessageEvent, Interrupt, Action, SendResult,
// Scope ...) in the given content type: MessagePack for ContentTypeMsgpack
// (and ""), JSON for ContentTypeJSON. An unsupported content type is a
// *FrameError with ReasonBadEncoding.
func Marshal(v any, contentType string) ([]byte, error) {
	switch contentType {
	case ContentTypeMsgpack, "":
		return msgpack.Marshal(v)
	case ContentTypeJSON:
		return json.Marshal(v)
	}
	return nil, frameErr(ReasonBadEncoding, ContentTypeHeader, "unsupported content type %q", contentType)
}

// Unmarshal decodes a payload encoded by Marshal. MessagePack input must be
// exactly one well-formed value (no trailing bytes) whose declared lengths fit
// in the payload, so that a hostile length prefix cannot make the decoder
// allocate without bound. Errors are *FrameError with ReasonBadEncoding.
func Unmarshal(data []byte, contentType string, v any) error {
	var err error
	switch contentType {
	case ContentTypeMsgpack, "":
		err = unmarshalMsgpack(data, v)
	case ContentTypeJSON:
		err = json.Unmarshal(data, v)
	default:
		return frameErr(ReasonBadEncoding, ContentTypeHeader, "unsupported content type %q", contentType)
	}
	if err != nil {
		return frameErr(ReasonBadEncoding, "", "%v", err)
	}
	return nil
}

// unmarshalMsgpack is msgpack.Unmarshal behind checkMsgpack.
func unmarshalMsgpack(data []byte, v any) error {
	if err := checkMsgpack(data); err != nil {
		return err
	}
	return msgpack.Unmarshal(data, v)
}
