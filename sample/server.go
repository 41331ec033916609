package sample

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// attrs builds an attribute map from name/value pairs.
func attrs(kv ...any) map[string]json.RawMessage {
	m := make(map[string]json.RawMessage, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		b, err := json.Marshal(kv[i+1])
		if err != nil {
			panic(fmt.Sprintf("sample: attribute %v: %v", kv[i], err)) // static values only
		}
		m[kv[i].(string)] = b
	}
	return m
}

const hostname = "mail.example.com"

// writeServer writes the server configuration backups and customizations
// archives.
func (g *gen) writeServer() error {
	days := [...]time.Duration{-40 * 24 * time.Hour, -3 * 24 * time.Hour, -2 * 24 * time.Hour, -24 * time.Hour}
	for i, d := range days {
		if err := g.ctx.Err(); err != nil {
			return err
		}
		at := g.end.Add(d).Truncate(24 * time.Hour).Add(4*time.Hour + 1*time.Minute + 2*time.Second)
		c := g.serverConfig(at, i)
		rel, err := g.p.WriteServerConfig(c)
		if err != nil {
			return fmt.Errorf("server config backup: %w", err)
		}
		if err := stamp(g.p.Root, rel, at); err != nil {
			return err
		}
	}
	for i, d := range [...]time.Duration{-40 * 24 * time.Hour, -24 * time.Hour} {
		at := g.end.Add(d).Truncate(24 * time.Hour).Add(4*time.Hour + 1*time.Minute + 14*time.Second)
		tgz, err := customizations(at, i)
		if err != nil {
			return fmt.Errorf("customizations archive: %w", err)
		}
		rel, err := g.p.WriteCustomizations(at, tgz)
		if err != nil {
			return fmt.Errorf("customizations archive: %w", err)
		}
		if err := stamp(g.p.Root, rel, at); err != nil {
			return err
		}
	}
	return nil
}

// serverConfig is the configuration as backed up at `at`; gen is the
// backup's rank (later backups show a few changed settings).
func (g *gen) serverConfig(at time.Time, gen int) *backuppath.ServerConfig {
	mailMode, maxSize := "both", "10240000"
	if gen > 0 {
		mailMode = "https"
	}
	if gen > 2 {
		maxSize = "20480000"
	}
	c := &backuppath.ServerConfig{
		Date:     mailbox.MillisOf(at),
		ServerID: g.serverID,
		Hostname: hostname,
		ServerConfig: attrs(
			"zimbraServiceHostname", hostname,
			"zimbraId", g.serverID,
			"zimbraMailMode", mailMode,
			"zimbraSmtpHostname", []string{hostname},
			"zimbraSmtpPort", "25",
			"zimbraMailPort", "8080",
			"zimbraMailSSLPort", "8443",
			"zimbraImapBindPort", "143",
			"zimbraImapSSLBindPort", "993",
			"zimbraPop3BindPort", "110",
			"zimbraLmtpBindPort", "7025",
			"zimbraMtaMyNetworks", "127.0.0.0/8 [::1]/128 10.0.0.0/24",
			"zimbraMtaAuthHost", hostname,
			"zimbraReverseProxyHttpEnabled", "TRUE",
			"zimbraReverseProxyMailMode", "https",
			"zimbraServiceEnabled", []string{"mailbox", "mta", "proxy", "stats", "amavis", "antispam", "antivirus", "opendkim"},
			"zimbraServiceInstalled", []string{"mailbox", "mta", "proxy", "stats", "amavis", "antispam", "antivirus", "opendkim", "ldap"},
			"zimbraMailboxdJavaHeapSize", "2048",
		),
		GlobalConfig: attrs(
			"zimbraDefaultDomainName", domains[0],
			"zimbraMtaMaxMessageSize", maxSize,
			"zimbraFileUploadMaxSize", maxSize,
			"zimbraSmtpSendAddOriginatingIP", "TRUE",
			"zimbraMessageCacheSize", "2000",
			"zimbraMtaBlockedExtension", []string{"exe", "bat", "com", "scr", "vbs"},
			"zimbraMtaRestriction", []string{"reject_invalid_helo_hostname", "reject_non_fqdn_sender"},
			"zimbraPasswordMinLength", "8",
			"zimbraBackupReportEmailRecipients", "admin@"+domains[0],
		),
	}
	for i, d := range domains {
		c.Domains = append(c.Domains, backuppath.Record{
			ID: g.domainIDs[i], Name: d,
			Attrs: attrs(
				"zimbraDomainStatus", "active",
				"zimbraDomainType", "local",
				"zimbraDomainDefaultCOSId", g.cosIDs[0],
				"zimbraPublicServiceHostname", hostname,
			),
		})
	}
	quotas := [...]int64{2 << 30, 10 << 30, 512 << 20}
	for i, n := range cosNames {
		c.COS = append(c.COS, backuppath.Record{
			ID: g.cosIDs[i], Name: n,
			Attrs: attrs(
				"cn", n,
				"zimbraMailQuota", fmt.Sprint(quotas[i]),
				"zimbraFeatureMobileSyncEnabled", map[bool]string{true: "TRUE", false: "FALSE"}[i == 1],
				"zimbraFeatureSharingEnabled", map[bool]string{true: "FALSE", false: "TRUE"}[i == 2],
				"zimbraPrefLocale", "en_US",
				"zimbraMailMessageLifetime", map[bool]string{true: "90d", false: "0"}[i == 2],
				"description", map[int]string{0: "Default class of service", 1: "Management", 2: "Partners and contractors"}[i],
			),
		})
	}
	// Distribution lists: everyone (that day), and one per domain.
	var all []string
	per := make([][]string, len(domains))
	for _, a := range g.accts {
		if a.info.DeletedDate != 0 && a.info.DeletedDate.Time().Before(at) {
			continue
		}
		all = append(all, a.info.Name)
		per[a.domain] = append(per[a.domain], a.info.Name)
	}
	c.DistributionLists = append(c.DistributionLists, backuppath.Record{
		ID: g.dlIDs[0], Name: "all@" + domains[0], Members: all,
		Attrs: attrs("displayName", "All Staff", "zimbraMailStatus", "enabled", "zimbraHideInGal", "FALSE"),
	})
	dlNames := [...]string{"team", "staff", "sales"}
	for i, d := range domains {
		c.DistributionLists = append(c.DistributionLists, backuppath.Record{
			ID: g.dlIDs[i+1], Name: dlNames[i] + "@" + d, Members: per[i],
			Attrs: attrs("displayName", title(dlNames[i])+" ("+d+")", "zimbraMailStatus", "enabled"),
		})
	}
	// Zimlets, as Carbonio's configuration backups carry them (name ->
	// settings); cbfs has no typed field for them, so they ride in Extra.
	c.Extra = mailbox.Extra{"zimlets": json.RawMessage(`{"com_zimbra_ymemoticons":{"zimbraZimletEnabled":"TRUE","zimbraZimletPriority":"6","zimbraZimletKeyword":"ymemoticons"},` +
		`"com_zextras_drive":{"zimbraZimletEnabled":"TRUE","zimbraZimletPriority":"1"}}`)}
	return c
}

// customizations builds a tar.gz of small configuration files under
// opt/zextras/conf/ and opt/zextras/postfix/conf/, as Carbonio archives them.
func customizations(at time.Time, rank int) ([]byte, error) {
	mt := at.Add(-72 * time.Hour).Truncate(time.Second)
	msgSize := "10240000"
	if rank > 0 {
		msgSize = "20480000"
	}
	files := []struct{ name, body string }{
		{"opt/zextras/conf/", ""},
		{"opt/zextras/conf/localconfig.xml", `<?xml version="1.0" encoding="UTF-8"?>
<localconfig>
  <key name="zimbra_server_hostname">
    <value>` + hostname + `</value>
  </key>
  <key name="zimbra_lmtp_validate_messages">
    <value>true</value>
  </key>
  <key name="mailboxd_java_heap_size">
    <value>2048</value>
  </key>
  <key name="ldap_url">
    <value>ldap://` + hostname + `:389</value>
  </key>
</localconfig>
`},
		{"opt/zextras/conf/zmssl.cnf", "[ req ]\ndefault_bits = 2048\ndistinguished_name = req_dn\nprompt = no\n\n[ req_dn ]\nCN = " + hostname + "\nO = Example\n"},
		{"opt/zextras/conf/nginx/", ""},
		{"opt/zextras/conf/nginx/nginx.conf", "worker_processes 2;\nevents { worker_connections 10240; }\nhttp {\n    include /opt/zextras/conf/nginx/includes/nginx.conf.web;\n    client_max_body_size " + msgSize + ";\n}\n"},
		{"opt/zextras/postfix/conf/", ""},
		{"opt/zextras/postfix/conf/main.cf", "myhostname = " + hostname + "\nmydomain = example.com\nmynetworks = 127.0.0.0/8 [::1]/128 10.0.0.0/24\nmessage_size_limit = " + msgSize + "\nsmtpd_tls_security_level = may\nsmtpd_tls_cert_file = /opt/zextras/conf/smtpd.crt\nsmtpd_tls_key_file = /opt/zextras/conf/smtpd.key\n"},
		{"opt/zextras/postfix/conf/master.cf", "smtp      inet  n       -       n       -       -       smtpd\nsubmission inet n       -       n       -       -       smtpd\n  -o smtpd_tls_security_level=encrypt\namavis    unix  -       -       n       -       2       smtp\n"},
	}
	if rank > 0 {
		files = append(files, struct{ name, body string }{"opt/zextras/postfix/conf/transport", "example.org   lmtp:" + hostname + ":7025\nacme.test     lmtp:" + hostname + ":7025\n"})
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, f := range files {
		h := &tar.Header{Name: f.name, ModTime: mt, Uid: 998, Gid: 998, Uname: "zextras", Gname: "zextras", Format: tar.FormatUSTAR}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		} else {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// stamp sets a file's times (relative to root).
func stamp(root, rel string, t time.Time) error {
	if err := os.Chtimes(root+"/"+rel, t, t); err != nil {
		return fmt.Errorf("set time of %s: %w", rel, err)
	}
	return nil
}
