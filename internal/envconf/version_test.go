package envconf_test

import (
	"strings"
	"testing"

	"github.com/relaybus/relaybus/internal/envconf"
)

func TestCheckVersion(t *testing.T) {
	for _, v := range []string{"0.1.0", "1.2.3-rc.1", "1.2.3+build.5", "10.20.30-alpha-1+meta"} {
		if err := envconf.CheckVersion(v); err != nil {
			t.Errorf("CheckVersion(%q) = %v, want nil", v, err)
		}
	}
	for _, v := range []string{"", "dev", "1.2", "01.2.3", "1.2.3-", "v1.2.3", "1.2.3.4"} {
		if err := envconf.CheckVersion(v); err == nil || !strings.Contains(err.Error(), "stage.Version") {
			t.Errorf("CheckVersion(%q) = %v, want an error naming how to set it", v, err)
		}
	}
}
