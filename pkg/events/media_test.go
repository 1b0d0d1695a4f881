package events_test

import (
	"testing"

	"github.com/relaybus/relaybus/pkg/events"
)

func TestMediaKind(t *testing.T) {
	for ct, want := range map[string]string{
		"image/png": events.MessagePhoto, " IMAGE/JPEG; q=1": events.MessagePhoto, "video/mp4": events.MessageVideo,
		"audio/ogg": events.MessageAudio, "application/pdf": events.MessageDocument, "": events.MessageDocument,
		"imagex/png": events.MessageDocument, "text/plain": events.MessageDocument,
	} {
		if got := events.MediaKind(ct); got != want {
			t.Errorf("MediaKind(%q) = %q, want %q", ct, got, want)
		}
	}
}
