package restore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/notify/notifytest"
)

func TestNotify(t *testing.T) {
	srv := notifytest.Start(t)
	r := &Report{Operation: OpExternalRestore, Restored: 3, Unrestored: 1, Accounts: []AccountReport{
		{Account: "john@example.com", Unrestored: []UnrestoredItem{{ID: 1255, Class: ClassBroken}}}}}
	require.NoError(t, Notify(r, []string{"admin@example.com", "ops@example.com"}, srv.Addr, "cbfs@example.com"))
	m := srv.Last()
	assert.Equal(t, "cbfs@example.com", m.From)
	assert.Equal(t, []string{"admin@example.com", "ops@example.com"}, m.To)
	assert.Contains(t, m.Data, "Subject: [cbfs] Operation Completed: doExternalRestore\r\n")
	assert.Contains(t, m.Data, strings.ReplaceAll(r.String(), "\n", "\r\n"))

	r.Stopped = "stopped by doStopOperation"
	require.NoError(t, Notify(r, []string{"admin@example.com"}, srv.Addr, ""))
	assert.Contains(t, srv.Last().Data, "Subject: [cbfs] Operation Stopped: doExternalRestore\r\n")
	require.Error(t, Notify(r, []string{"admin@example.com"}, "", ""), "no server")
	require.NoError(t, Notify(r, nil, "", ""), "no addresses: nothing to send")
}
