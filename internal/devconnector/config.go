package devconnector

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/relaybus/relaybus/pkg/events"
)

// Defaults of the zero Config fields.
const (
	DefaultAddr         = "127.0.0.1:0"
	DefaultReplayLimit  = 10000
	DefaultRecordLimit  = 10000
	DefaultVaultLimit   = 100000
	DefaultFollowUpTTL  = 15 * time.Minute
	DefaultPingInterval = 30 * time.Second
	DefaultPongWait     = 60 * time.Second
	// HTTP server timeouts (the /relay WebSocket is exempt: it clears them
	// once upgraded and runs on its own keepalive deadlines).
	DefaultHTTPReadTimeout  = 30 * time.Second
	DefaultHTTPWriteTimeout = 30 * time.Second
	DefaultHTTPIdleTimeout  = 2 * time.Minute
)

// Close codes the dev connector uses on the gateway socket.
const (
	// CloseUnauthorized refuses a dial with a bad or expired token (reason
	// "unauthorized" or "expired"), as the hosted connector does.
	CloseUnauthorized = 4401
	// CloseReplaced closes a socket a newer gateway socket replaced (reason
	// "replaced").
	CloseReplaced = 4000
)

// DefaultSupportedOps is the descriptor's supported_ops when the platform's
// settings do not name any.
var DefaultSupportedOps = []string{
	events.OpSend, events.OpEdit, events.OpTyping, events.OpFollowUp,
	events.OpGetChatInfo, events.OpDelete, events.OpReact,
}

// Config configures a Server. The zero Config is a working unauthenticated
// dev connector on a random loopback port.
type Config struct {
	// Addr is the listen address of Start; default DefaultAddr.
	Addr string
	// Gateways maps gateway id to secret. Empty accepts unauthenticated
	// dials (development); otherwise every dial needs a valid token.
	Gateways map[string]string
	// Platforms holds descriptor settings per platform; a platform missing
	// here gets the defaults described on PlatformSettings.
	Platforms map[string]PlatformSettings
	// ReplayLimit is the most un-acked buffered frames kept; when full the
	// oldest is dropped and counted. Default DefaultReplayLimit.
	ReplayLimit int
	// FollowUpTTL is how long a vaulted interaction token answers follow_up.
	// Default DefaultFollowUpTTL (Discord's 15 minutes).
	FollowUpTTL time.Duration
	// RecordLimit is how many outbound and interrupt records are retained
	// (the newest); counters keep counting past it. Default
	// DefaultRecordLimit.
	RecordLimit int
	// VaultLimit bounds the interaction-token vault (entries); the oldest
	// entries are evicted first. Default DefaultVaultLimit.
	VaultLimit int
	// PingInterval is how often a WebSocket ping is sent; default
	// DefaultPingInterval.
	PingInterval time.Duration
	// PongWait is how long a silent socket (no frame, no pong) lives; default
	// DefaultPongWait.
	PongWait time.Duration
	// HTTPReadTimeout bounds reading one HTTP request, body included;
	// HTTPWriteTimeout bounds a request from the end of its headers to the
	// end of its response; HTTPIdleTimeout bounds a kept-alive connection
	// between requests. Defaults DefaultHTTPReadTimeout,
	// DefaultHTTPWriteTimeout, DefaultHTTPIdleTimeout. None applies to an
	// upgraded /relay socket, which may live for days.
	HTTPReadTimeout  time.Duration
	HTTPWriteTimeout time.Duration
	HTTPIdleTimeout  time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log receives lifecycle and per-frame logs; nil discards them. Outbound
	// frames are logged at Info without their content (content at Debug);
	// interaction tokens are never logged.
	Log *slog.Logger
	// Answer, when set, answers outbound actions: a non-nil map is sent as the
	// result; nil falls back to the default answer. It is called from socket
	// reader goroutines, so it may run concurrently while a replaced socket
	// is still being read; it must not retain or mutate the map it returns.
	Answer func(action events.Action) map[string]any
	// Silent, when set and true for an action, records the outbound frame
	// and never answers it, as a connector that took the frame and then
	// crashed or lost the socket would (tests of ambiguous results). It is
	// called like Answer.
	Silent func(action events.Action) bool
	// Delay, when set and positive for an action, answers it that long
	// after it was read, without holding the socket's reader: the frame is
	// recorded at once (ReceivedAt is when it was read) and the actions
	// read after it are answered in the meantime, as a platform that is
	// slow for one chat only would (tests of per-chat latency). It is
	// called like Answer.
	Delay func(action events.Action) time.Duration
}

// PlatformSettings are the descriptor values the dev connector advertises for
// a platform. Empty strings, zero ints and a nil SupportedOps take the
// defaults: Label is the platform title-cased; MaxMessageLength 2000 for
// discord and 4096 otherwise; LenUnit "utf16" for telegram, "chars"
// otherwise; MarkdownDialect "discord", "markdown_v2" (telegram), "slack" or
// "plain"; SupportedOps DefaultSupportedOps (a non-nil empty slice is sent as
// [], the legacy set). The booleans are taken as given when a platform has an
// entry; without an entry SupportsEdit is true and SupportsThreads is true
// for discord and slack.
type PlatformSettings struct {
	Label            string
	MaxMessageLength int
	LenUnit          string
	MarkdownDialect  string
	SupportedOps     []string
	SupportsEdit     bool
	SupportsThreads  bool
}

func (c *Config) setDefaults() error {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	for id, secret := range c.Gateways {
		if id == "" {
			return fmt.Errorf("%w: empty gateway id", ErrBadConfig)
		}
		if strings.TrimSpace(secret) == "" {
			return fmt.Errorf("%w: gateway %q has a blank secret", ErrBadConfig, id)
		}
	}
	if err := defaultPositive(&c.ReplayLimit, DefaultReplayLimit, "ReplayLimit"); err != nil {
		return err
	}
	if err := defaultPositive(&c.RecordLimit, DefaultRecordLimit, "RecordLimit"); err != nil {
		return err
	}
	if err := defaultPositive(&c.VaultLimit, DefaultVaultLimit, "VaultLimit"); err != nil {
		return err
	}
	if err := defaultDuration(&c.FollowUpTTL, DefaultFollowUpTTL, "FollowUpTTL"); err != nil {
		return err
	}
	if err := defaultDuration(&c.PingInterval, DefaultPingInterval, "PingInterval"); err != nil {
		return err
	}
	if err := defaultDuration(&c.PongWait, DefaultPongWait, "PongWait"); err != nil {
		return err
	}
	if err := defaultDuration(&c.HTTPReadTimeout, DefaultHTTPReadTimeout, "HTTPReadTimeout"); err != nil {
		return err
	}
	if err := defaultDuration(&c.HTTPWriteTimeout, DefaultHTTPWriteTimeout, "HTTPWriteTimeout"); err != nil {
		return err
	}
	if err := defaultDuration(&c.HTTPIdleTimeout, DefaultHTTPIdleTimeout, "HTTPIdleTimeout"); err != nil {
		return err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

func defaultPositive(v *int, def int, name string) error {
	switch {
	case *v == 0:
		*v = def
	case *v < 0:
		return fmt.Errorf("%w: %s must be >= 0, got %d", ErrBadConfig, name, *v)
	}
	return nil
}

func defaultDuration(v *time.Duration, def time.Duration, name string) error {
	switch {
	case *v == 0:
		*v = def
	case *v < 0:
		return fmt.Errorf("%w: %s must be >= 0, got %v", ErrBadConfig, name, *v)
	}
	return nil
}

// descriptor is the contract §3 capability descriptor, in wire key order.
type descriptor struct {
	ContractVersion         int      `json:"contract_version"`
	Platform                string   `json:"platform"`
	Label                   string   `json:"label"`
	MaxMessageLength        int      `json:"max_message_length"`
	SupportsDraftStreaming  bool     `json:"supports_draft_streaming"`
	SupportsEdit            bool     `json:"supports_edit"`
	SupportsThreads         bool     `json:"supports_threads"`
	MarkdownDialect         string   `json:"markdown_dialect"`
	LenUnit                 string   `json:"len_unit"`
	Emoji                   string   `json:"emoji"`
	PlatformHint            string   `json:"platform_hint"`
	PIISafe                 bool     `json:"pii_safe"`
	SupportsContext         bool     `json:"supports_context"`
	SupportsBlockFormatting bool     `json:"supports_block_formatting"`
	SupportedOps            []string `json:"supported_ops"`
}

// descriptorFor builds the descriptor advertised for platform.
func (c *Config) descriptorFor(platform string) descriptor {
	if platform == "" {
		platform = events.PlatformRelay
	}
	ps, ok := c.Platforms[platform]
	if !ok {
		ps.SupportsEdit = true
		ps.SupportsThreads = platform == "discord" || platform == "slack"
	}
	d := descriptor{
		ContractVersion:  1,
		Platform:         platform,
		Label:            ps.Label,
		MaxMessageLength: ps.MaxMessageLength,
		SupportsEdit:     ps.SupportsEdit,
		SupportsThreads:  ps.SupportsThreads,
		MarkdownDialect:  ps.MarkdownDialect,
		LenUnit:          ps.LenUnit,
		Emoji:            "🔌",
		SupportedOps:     ps.SupportedOps,
	}
	if d.Label == "" {
		r, n := utf8.DecodeRuneInString(platform)
		d.Label = string(unicode.ToUpper(r)) + platform[n:]
	}
	if d.MaxMessageLength == 0 {
		d.MaxMessageLength = 4096
		if platform == "discord" {
			d.MaxMessageLength = 2000
		}
	}
	if d.LenUnit == "" {
		d.LenUnit = "chars"
		if platform == "telegram" {
			d.LenUnit = "utf16"
		}
	}
	if d.MarkdownDialect == "" {
		switch platform {
		case "discord":
			d.MarkdownDialect = "discord"
		case "telegram":
			d.MarkdownDialect = "markdown_v2"
		case "slack":
			d.MarkdownDialect = "slack"
		default:
			d.MarkdownDialect = "plain"
		}
	}
	if d.SupportedOps == nil {
		d.SupportedOps = DefaultSupportedOps
	}
	return d
}
