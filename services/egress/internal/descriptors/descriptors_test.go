package descriptors_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/services/egress/internal/descriptors"
	"github.com/relaybus/relaybus/services/egress/internal/kvwatch"
)

func desc(platform string, max int) []byte {
	return fmt.Appendf(nil, `{"contract_version":1,"platform":%q,"label":"L","max_message_length":%d,"supports_draft_streaming":false,"supports_edit":true,"supports_threads":false,"markdown_dialect":"plain","len_unit":"chars"}`, platform, max)
}

func TestTable(t *testing.T) {
	tb := descriptors.New()
	if _, ok := tb.Primary(); ok {
		t.Fatal("empty table has a primary")
	}
	tb.Reset([]kvwatch.Entry{
		{Key: events.DescriptorKey("telegram"), Value: desc("telegram", 4096), Revision: 9},
		{Key: events.DescriptorKey("discord"), Value: desc("discord", 2000), Revision: 3},
		{Key: events.DescriptorKey("slack"), Value: []byte(`{"platform":"slack"}`), Revision: 10},
	})
	if diff := cmp.Diff([]string{"discord", "telegram"}, tb.Platforms()); diff != "" {
		t.Errorf("platforms, first stored first (-want +got):\n%s", diff)
	}
	if p, _ := tb.Primary(); p.Platform != "discord" {
		t.Errorf("primary = %q, want discord (lowest revision)", p.Platform)
	}
	if d, ok := tb.Get("discord"); !ok || d.MaxMessageLength != 2000 {
		t.Errorf("Get(discord) = %+v, %v", d, ok)
	}
	if tb.Undecodable() != 1 {
		t.Errorf("undecodable = %d, want 1 (missing required keys)", tb.Undecodable())
	}
	// A re-handshake updates discord: it stays primary.
	tb.Apply(kvwatch.Entry{Key: events.DescriptorKey("discord"), Value: desc("discord", 1500), Revision: 11})
	if p, _ := tb.Primary(); p.Platform != "discord" || p.MaxMessageLength != 1500 {
		t.Errorf("primary after update = %+v", p)
	}
	tb.Apply(kvwatch.Entry{Key: events.DescriptorKey("discord"), Revision: 12, Deleted: true})
	if p, _ := tb.Primary(); p.Platform != "telegram" || tb.Len() != 1 {
		t.Errorf("primary after delete = %q (len %d), want telegram (1)", p.Platform, tb.Len())
	}
	tb.Apply(kvwatch.Entry{Key: events.DescriptorKey("my.platform"), Value: desc("my.platform", 100), Revision: 13})
	if d, ok := tb.Get("my.platform"); !ok || d.MaxMessageLength != 100 {
		t.Errorf("Get(my.platform) = %+v, %v; want the escaped key decoded", d, ok)
	}
}
