package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/cbfs/cbfs/opqueue"
)

// ErrNoService: no service listens on the socket (no socket file, or a
// stale one). cbctl then runs the operation in the foreground.
var ErrNoService = errors.New("no cbfs service is running")

// maxLine bounds one protocol line (a List of many operations with long
// reports is the largest).
const maxLine = 64 << 20

// Client talks to a running service. Each call uses its own connection, so
// a Client is safe for concurrent use.
type Client struct {
	path string
}

// Dial checks that a service answers on socketPath (a ping) and returns a
// client for it. When nothing listens there, the error wraps ErrNoService;
// other failures (permission denied: the service runs as another user) do
// not, and should be reported rather than worked around.
func Dial(socketPath string) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	return DialContext(ctx, socketPath)
}

// dialTimeout bounds Dial's ping: a live service answers it at once.
const dialTimeout = 10 * time.Second

// DialContext is Dial with a context.
func DialContext(ctx context.Context, socketPath string) (*Client, error) {
	if err := checkSocketPath(socketPath); err != nil {
		return nil, err
	}
	c := &Client{path: socketPath}
	if err := c.Ping(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// SocketPath is the socket the client talks to.
func (c *Client) SocketPath() string { return c.path }

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (socket %s)", ErrNoService, c.path)
		}
		return nil, fmt.Errorf("connect to the cbfs service at %s: %w", c.path, err)
	}
	return conn, nil
}

// stream sends req and calls fn for every response line until fn returns
// false (or the server closes the connection: an error).
func (c *Client) stream(ctx context.Context, req Request, fn func(Response) (more bool, err error)) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", req.Cmd, err)
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return c.connErr(ctx, req, err)
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		var resp Response
		if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
			return fmt.Errorf("cbfs service sent a malformed %s response: %w", req.Cmd, err)
		}
		if !resp.OK {
			msg := resp.Error
			if msg == "" {
				msg = "the service refused the request"
			}
			return &RemoteError{Code: resp.Code, Message: msg}
		}
		more, err := fn(resp)
		if err != nil || !more {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return c.connErr(ctx, req, err)
	}
	return fmt.Errorf("%s: the cbfs service closed the connection before answering (shutting down?)", req.Cmd)
}

func (c *Client) connErr(ctx context.Context, req Request, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", req.Cmd, ctx.Err())
	}
	return fmt.Errorf("%s: talking to the cbfs service at %s: %w", req.Cmd, c.path, err)
}

func (c *Client) call(ctx context.Context, req Request) (Response, error) {
	var out Response
	err := c.stream(ctx, req, func(r Response) (bool, error) {
		out = r
		return false, nil
	})
	return out, err
}

func (c *Client) callOp(ctx context.Context, req Request) (opqueue.Op, error) {
	r, err := c.call(ctx, req)
	if err != nil {
		return opqueue.Op{}, err
	}
	if r.Op == nil {
		return opqueue.Op{}, fmt.Errorf("%s: the cbfs service answered without an operation", req.Cmd)
	}
	return *r.Op, nil
}

// Ping checks the service answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.call(ctx, Request{Cmd: CmdPing})
	return err
}

// Version is the service's version string.
func (c *Client) Version(ctx context.Context) (string, error) {
	r, err := c.call(ctx, Request{Cmd: CmdVersion})
	return r.Version, err
}

// Enqueue queues an operation and returns it (with its UUID).
func (c *Client) Enqueue(ctx context.Context, kind string, params map[string]string) (opqueue.Op, error) {
	return c.callOp(ctx, Request{Cmd: CmdEnqueue, Kind: kind, Params: params})
}

// List returns every operation the service keeps, oldest first.
func (c *Client) List(ctx context.Context) ([]opqueue.Op, error) {
	r, err := c.call(ctx, Request{Cmd: CmdList})
	return r.Ops, err
}

// Get returns one operation (errors.Is(err, opqueue.ErrNotFound) if none).
func (c *Client) Get(ctx context.Context, id string) (opqueue.Op, error) {
	return c.callOp(ctx, Request{Cmd: CmdGet, ID: id})
}

// Stop stops one operation (see opqueue.Queue.Stop).
func (c *Client) Stop(ctx context.Context, id string) (opqueue.Op, error) {
	return c.callOp(ctx, Request{Cmd: CmdStop, ID: id})
}

// StopAll stops the running operation and empties the queue; it returns
// how many operations were stopped.
func (c *Client) StopAll(ctx context.Context) (int, error) {
	r, err := c.call(ctx, Request{Cmd: CmdStopAll})
	return r.Count, err
}

// Monitor follows one operation until it ends, calling fn (if not nil) for
// each snapshot, and returns the final one.
func (c *Client) Monitor(ctx context.Context, id string, fn func(opqueue.Op)) (opqueue.Op, error) {
	var last opqueue.Op
	err := c.stream(ctx, Request{Cmd: CmdMonitor, ID: id}, func(r Response) (bool, error) {
		if r.Op == nil {
			return false, fmt.Errorf("monitor: the cbfs service answered without an operation")
		}
		last = *r.Op
		if fn != nil {
			fn(last)
		}
		return !r.End, nil
	})
	return last, err
}

// Config applies or reads one configuration value (see ConfigRequest).
func (c *Client) Config(ctx context.Context, req ConfigRequest) (string, error) {
	r, err := c.call(ctx, Request{Cmd: CmdConfig, Config: &req})
	return r.Value, err
}
