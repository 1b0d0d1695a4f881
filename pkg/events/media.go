package events

import "strings"

// MediaKind maps an attachment's content type (MIME type, any case and
// parameters) to its Media.Kind, which is also the message type of a
// message that is only that attachment: image/* is MessagePhoto, video/*
// MessageVideo, audio/* MessageAudio, anything else MessageDocument.
func MediaKind(contentType string) string {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	switch {
	case strings.HasPrefix(ct, "image/"):
		return MessagePhoto
	case strings.HasPrefix(ct, "video/"):
		return MessageVideo
	case strings.HasPrefix(ct, "audio/"):
		return MessageAudio
	}
	return MessageDocument
}
