package testuser

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestNew(t *testing.T) {
	u := New(t)
	home := u.Home(t)
	secret := filepath.Join(filepath.Dir(home), "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	u.Sh(t, home, "echo hi > mine; ln -s ../secret link")
	fi, err := os.Stat(filepath.Join(home, "mine"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != u.UID || st.Gid != u.GID {
		t.Errorf("a file the user made belongs to %d:%d, want %d:%d", st.Uid, st.Gid, u.UID, u.GID)
	}
	if err := u.Command("cat", secret).Run(); err == nil {
		t.Error("the user read a root-only file")
	}
}
