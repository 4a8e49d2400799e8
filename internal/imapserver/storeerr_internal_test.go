package imapserver

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gannet/internal/store"
)

// TestStoreErrDiskFull: a full disk is NO [OVERQUOTA], as Dovecot says it, and
// reveals nothing of the underlying error.
func TestStoreErrDiskFull(t *testing.T) {
	err := storeErr(fmt.Errorf("append: %w", fmt.Errorf("%w: %w", store.ErrStorageFull, errors.New("database or disk is full (13)"))))
	var re *respError
	if !errors.As(err, &re) || re.status != "NO" || re.code != "OVERQUOTA" || strings.Contains(re.text, "13") {
		t.Fatalf("storeErr = %#v", err)
	}
}
