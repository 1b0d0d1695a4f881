package envconf

import (
	"fmt"
	"regexp"
)

// semVer is the SemVer 2.0 grammar that nats.go/micro validates a service
// version against: checking it with the configuration turns a bad -ldflags
// version into a one-line start-up error instead of a failed registration.
var semVer = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// CheckVersion returns an error naming how to set the version when v is
// not SemVer.
func CheckVersion(v string) error {
	if !semVer.MatchString(v) {
		return fmt.Errorf("version %q is not SemVer (set with -ldflags -X github.com/relaybus/relaybus/internal/stage.Version=1.2.3)", v)
	}
	return nil
}
