package events

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
)

// Marshal encodes a payload (MessageEvent, Interrupt, Action, SendResult,
// Scope ...) in the given content type: MessagePack for ContentTypeMsgpack
// (and ""), JSON for ContentTypeJSON. Both encodings are canonical: struct
// keys in declaration order, map keys sorted, so equal values give equal
// bytes (the golden files in testdata pin them). An unsupported content type
// is a *FrameError with ReasonBadEncoding.
func Marshal(v any, contentType string) ([]byte, error) {
	switch mediaType(contentType) {
	case ContentTypeMsgpack, "":
		return marshalMsgpack(v)
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
	switch mediaType(contentType) {
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

// marshalMsgpack encodes the contract types with their hand-written codec
// (msgpack.go) and anything else with msgpack.Marshal's reflection; both
// sort map keys (msgpack/v5 otherwise writes maps in Go's random iteration
// order).
func marshalMsgpack(v any) ([]byte, error) {
	s := marshalScratches.Get().(*marshalScratch)
	defer func() {
		if cap(s.b) <= maxPooledBuf {
			marshalScratches.Put(s)
		}
	}()
	b, ok, err := s.appendMsgpack(v)
	if err != nil {
		return nil, err
	}
	if ok {
		return bytes.Clone(b), nil
	}
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	var buf bytes.Buffer
	enc.Reset(&buf)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// unmarshalMsgpack decodes behind checkMsgpack: the contract types with
// their hand-written codec (msgpack.go), anything else with
// msgpack.Unmarshal's reflection.
func unmarshalMsgpack(data []byte, v any) error {
	if err := checkMsgpack(data); err != nil {
		return err
	}
	if ok, err := decodeMsgpack(data, v); ok {
		return err
	}
	return msgpack.Unmarshal(data, v)
}

// mediaType reduces a Content-Type header value to its lower-case media
// type, so that "application/json; charset=utf-8" (what curl and many HTTP
// clients send) selects JSON like "application/json" does.
func mediaType(contentType string) string {
	switch contentType {
	case ContentTypeMsgpack, ContentTypeJSON, "":
		return contentType
	}
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}
