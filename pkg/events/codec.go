package events

import (
	"encoding/json"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Marshal encodes a payload (MessageEvent, Interrupt, Action, SendResult,
// Scope ...) in the given content type: MessagePack for ContentTypeMsgpack
// (and ""), JSON for ContentTypeJSON.
func Marshal(v any, contentType string) ([]byte, error) {
	switch contentType {
	case ContentTypeMsgpack, "":
		return msgpack.Marshal(v)
	case ContentTypeJSON:
		return json.Marshal(v)
	}
	return nil, fmt.Errorf("%w: unsupported content type %q", ErrBadFrame, contentType)
}

// Unmarshal decodes a payload encoded by Marshal. Errors are *FrameError
// with ReasonBadEncoding.
func Unmarshal(data []byte, contentType string, v any) error {
	var err error
	switch contentType {
	case ContentTypeMsgpack, "":
		err = msgpack.Unmarshal(data, v)
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
