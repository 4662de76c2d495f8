package convert

import (
	"testing"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
)

// TestMain stops the shared local control plane the differential test starts.
func TestMain(m *testing.M) { testenv.Main(m) }
