// Package s3test runs a real S3 server for tests: versitygw with its posix
// backend on a temporary folder, on a free loopback port, with an access
// key and secret of the test's own, and one bucket. It is stopped (SIGKILL
// to its process group) in t.Cleanup; Kill stops it earlier, for fault
// tests.
//
// It installs nothing. Without the versitygw binary (PATH or
// ~/go/bin/versitygw), Start skips the test with the command that installs
// it, or fails it when CBFS_REQUIRE_S3=1 (.ci/run sets it).
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// RequireEnv, when "1", makes Start fail instead of skip without versitygw.
const RequireEnv = "CBFS_REQUIRE_S3"

// Install is the command that installs the server.
const Install = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// Server is one running versitygw.
type Server struct {
	Dir            string // the posix backend's root (a folder per bucket)
	Addr           string // host:port
	Access, Secret string
	Bucket         string
	PID            int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Binary returns versitygw's path, or how to install it.
func Binary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, "go", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw not found: install it with `%s`", Install)
}

// Start starts a server with a fresh bucket "cbfs-test".
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%v (and %s=1)", err, RequireEnv)
		}
		t.Skipf("skipping: %v", err)
	}
	s := &Server{Dir: t.TempDir(), Access: "cbfstestaccess", Secret: "cbfs-test-secret-0123456789", Bucket: "cbfs-test"}
	sidecar := t.TempDir()
	for attempt := 0; ; attempt++ {
		err = s.start(bin, sidecar)
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("versitygw: %v", err)
		}
	}
	t.Cleanup(s.Kill)
	if err := os.Mkdir(filepath.Join(s.Dir, s.Bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ok, err := c.BucketExists(ctx, s.Bucket); err != nil || !ok {
		// The posix backend may want the bucket made through the API.
		if err := c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatalf("versitygw: make bucket: %v", err)
		}
	}
	return s
}

func (s *Server) start(bin, sidecar string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	log, err := os.Create(filepath.Join(filepath.Dir(s.Dir), "versitygw-"+strconv.Itoa(port)+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--port", s.Addr, "--quiet", "posix", "--sidecar", sidecar, s.Dir)
	// The keys go through the environment, not argv (ps shows argv).
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.Access, "ROOT_SECRET_ACCESS_KEY="+s.Secret)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	log.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.PID = cmd, done, cmd.Process.Pid
	s.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			b, _ := os.ReadFile(log.Name())
			return fmt.Errorf("exited at start: %s", b)
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Kill()
	return errors.New("not listening after 20s")
}

// URL is the s3:// URL of prefix in the test bucket, with the endpoint,
// path-style and plain HTTP in its query.
func (s *Server) URL(prefix string) string {
	return "s3://" + s.Bucket + "/" + prefix + "?endpoint=" + s.Addr + "&path-style=1&insecure=1"
}

// Env is the environment that hands the credentials to cbfs and cbctl.
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.Access, "AWS_SECRET_ACCESS_KEY=" + s.Secret,
		"AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
}

// Client is a minio client for the test's own checks.
func (s *Server) Client(t testing.TB) *minio.Client {
	c, err := minio.New(s.Addr, &minio.Options{Creds: credentials.NewStaticV4(s.Access, s.Secret, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Kill stops the server (SIGKILL to its process group) and waits for it.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// Freeze stops the server with SIGSTOP (it still accepts connections, the
// kernel does, and never answers) and returns once every thread of its
// process is stopped: kill(2) only queues the signal, and a thread still
// running for a moment could answer the next request. Cleanup continues
// it.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(-s.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-s.PID, syscall.SIGCONT) })
	deadline := time.Now().Add(5 * time.Second)
	for !stopped(s.PID) {
		if time.Now().After(deadline) {
			t.Fatalf("versitygw (pid %d) not stopped 5 s after SIGSTOP", s.PID)
		}
		time.Sleep(time.Millisecond)
	}
}

// stopped says whether every thread of process pid is stopped (state T
// in /proc/<pid>/task/<tid>/stat).
func stopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
