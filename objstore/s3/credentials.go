package s3

import (
	"github.com/minio/minio-go/v7/pkg/credentials"
	"gopkg.in/ini.v1"

	"github.com/cbfs/cbfs/internal/confined"
)

// MaxCredentialsFile is the most a credentials file (--s3-credentials,
// ~/.aws/credentials) may hold: 1 MiB, room for thousands of profiles; a
// file named by mistake (/dev/zero, a log) fails at once instead of being
// read whole.
const MaxCredentialsFile = 1 << 20

// readCredentials reads the static keys of profile from a file in the
// ~/.aws/credentials format: the section [profile], else [profile
// <profile>] (as minio-go and the AWS SDKs take it), keys
// aws_access_key_id, aws_secret_access_key and aws_session_token. The path
// is the administrator's (symbolic links followed), but only a regular
// file of at most MaxCredentialsFile bytes is read (confined.ReadNamed):
// a FIFO or device fails at once. The INI is parsed by the parser
// minio-go itself uses (gopkg.in/ini.v1), from the bytes read.
//
// It returns nil, nil when the file holds no complete key pair for the
// profile (or is not INI): the caller says so in its own words, as it did
// when minio-go read the file. Profiles that get their keys from
// credential_process or SSO are not read: a root service takes static
// keys.
func readCredentials(path, profile string) (*credentials.Value, error) {
	b, err := confined.ReadNamed(path, MaxCredentialsFile)
	if err != nil {
		return nil, err
	}
	f, err := ini.Load(b)
	if err != nil {
		return nil, nil
	}
	sec, err := f.GetSection(profile)
	if err != nil {
		if sec, err = f.GetSection("profile " + profile); err != nil {
			return nil, nil
		}
	}
	v := credentials.Value{
		AccessKeyID:     sec.Key("aws_access_key_id").String(),
		SecretAccessKey: sec.Key("aws_secret_access_key").String(),
		SessionToken:    sec.Key("aws_session_token").String(),
		SignerType:      credentials.SignatureV4,
	}
	if v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return nil, nil
	}
	return &v, nil
}
