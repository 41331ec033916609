package backuppath

import (
	"encoding/json"

	"github.com/cbfs/cbfs/mailbox"
)

// AccountStat is accounts/<id>/account_stat.
type AccountStat struct {
	LastItemID int            `json:"lastItemId"`             // highest item id backed up
	LastScan   mailbox.Millis `json:"lastScanDate,omitempty"` // last scan that looked at this account
	ItemCount  int            `json:"itemCount"`              // items in the backup (any state)
	BlobBytes  int64          `json:"blobBytes,omitempty"`    // uncompressed bytes of the latest states
	Extra      mailbox.Extra  `json:"-"`
}

type accountStatJSON AccountStat

func (a *AccountStat) UnmarshalJSON(b []byte) error {
	var v accountStatJSON
	extra, err := mailbox.DecodeObject(b, &v)
	if err != nil {
		return err
	}
	*a = AccountStat(v)
	a.Extra = extra
	return nil
}

func (a AccountStat) MarshalJSON() ([]byte, error) {
	return mailbox.EncodeObject(accountStatJSON(a), a.Extra)
}

// BackupStat is the backup-wide statistics file "backupstat".
type BackupStat struct {
	ServerID      string         `json:"serverId"`
	Hostname      string         `json:"hostname,omitempty"`
	FirstRun      mailbox.Millis `json:"firstRunDate"`
	LastScan      mailbox.Millis `json:"lastScanDate,omitempty"`
	LastPurge     mailbox.Millis `json:"lastPurgeDate,omitempty"`
	FormatVersion int            `json:"cbfsFormatVersion,omitempty"` // cbfs: version of docs/FORMAT.md written
	Extra         mailbox.Extra  `json:"-"`
}

type backupStatJSON BackupStat

func (s *BackupStat) UnmarshalJSON(b []byte) error {
	var v backupStatJSON
	extra, err := mailbox.DecodeObject(b, &v)
	if err != nil {
		return err
	}
	*s = BackupStat(v)
	s.Extra = extra
	return nil
}

func (s BackupStat) MarshalJSON() ([]byte, error) {
	return mailbox.EncodeObject(backupStatJSON(s), s.Extra)
}

// Record is a provisioning record in a server config backup: a domain, a
// COS or a distribution list.
type Record struct {
	ID      string                     `json:"id"`
	Name    string                     `json:"name"`
	Members []string                   `json:"members,omitempty"` // distribution lists
	Attrs   map[string]json.RawMessage `json:"attrs,omitempty"`
	Extra   mailbox.Extra              `json:"-"`
}

type recordJSON Record

func (r *Record) UnmarshalJSON(b []byte) error {
	var v recordJSON
	extra, err := mailbox.DecodeObject(b, &v)
	if err != nil {
		return err
	}
	*r = Record(v)
	r.Extra = extra
	return nil
}

func (r Record) MarshalJSON() ([]byte, error) { return mailbox.EncodeObject(recordJSON(r), r.Extra) }

// ServerConfig is one server/global configuration backup
// (server/config_DD_MM_YY#HH_MM_SS.json).
type ServerConfig struct {
	Date              mailbox.Millis             `json:"date"`
	ServerID          string                     `json:"serverId,omitempty"`
	Hostname          string                     `json:"hostname,omitempty"`
	ServerConfig      map[string]json.RawMessage `json:"serverConfig"`
	GlobalConfig      map[string]json.RawMessage `json:"globalConfig"`
	Domains           []Record                   `json:"domains,omitempty"`
	COS               []Record                   `json:"cos,omitempty"`
	DistributionLists []Record                   `json:"distributionLists,omitempty"`
	Extra             mailbox.Extra              `json:"-"`
}

type serverConfigJSON ServerConfig

func (c *ServerConfig) UnmarshalJSON(b []byte) error {
	var v serverConfigJSON
	extra, err := mailbox.DecodeObject(b, &v)
	if err != nil {
		return err
	}
	*c = ServerConfig(v)
	c.Extra = extra
	return nil
}

func (c ServerConfig) MarshalJSON() ([]byte, error) {
	return mailbox.EncodeObject(serverConfigJSON(c), c.Extra)
}

// Map is a map_<serverId> file: after an external restore from the server
// ServerID, which source account id became which destination account id.
type Map struct {
	ServerID string            `json:"serverId"`
	Date     mailbox.Millis    `json:"date,omitempty"`
	Accounts map[string]string `json:"accounts"`
	Extra    mailbox.Extra     `json:"-"`
}

type mapJSON Map

func (m *Map) UnmarshalJSON(b []byte) error {
	var v mapJSON
	extra, err := mailbox.DecodeObject(b, &v)
	if err != nil {
		return err
	}
	*m = Map(v)
	m.Extra = extra
	return nil
}

func (m Map) MarshalJSON() ([]byte, error) { return mailbox.EncodeObject(mapJSON(m), m.Extra) }
