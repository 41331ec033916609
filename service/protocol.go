package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/cbfs/cbfs/opqueue"
)

// The wire protocol: the client writes one Request as a JSON object on one
// line; the server answers with one Response line. A connection may carry
// several requests, one after the other; "monitor" answers with one line per
// snapshot, the last one with End set, and is the last request of its
// connection.
//
// Commands (Request.Cmd):
//
//	ping                  -> ok
//	version               -> Version
//	enqueue kind params   -> Op (queued)
//	list                  -> Ops, oldest first
//	get id                -> Op
//	stop id               -> Op (a running one may still say running)
//	stopAll               -> Count
//	monitor id            -> Op ... Op with End
//	config {action,scope,name,key,value} -> Value
//
// Errors: OK false, Error is a one-line message, Code classifies it (the
// Code* constants) so the client can hand back the sentinel errors.
const (
	CmdPing    = "ping"
	CmdVersion = "version"
	CmdEnqueue = "enqueue"
	CmdList    = "list"
	CmdGet     = "get"
	CmdStop    = "stop"
	CmdStopAll = "stopAll"
	CmdMonitor = "monitor"
	CmdConfig  = "config"
)

// Request is one request line.
type Request struct {
	Cmd    string            `json:"cmd"`
	Kind   string            `json:"kind,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	ID     string            `json:"id,omitempty"`
	Config *ConfigRequest    `json:"config,omitempty"`
}

// Response is one response line.
type Response struct {
	OK      bool         `json:"ok"`
	Error   string       `json:"error,omitempty"`
	Code    string       `json:"code,omitempty"`
	Op      *opqueue.Op  `json:"operation,omitempty"`
	Ops     []opqueue.Op `json:"operations,omitempty"`
	Count   int          `json:"count,omitempty"`
	Value   string       `json:"value,omitempty"`
	Version string       `json:"version,omitempty"`
	End     bool         `json:"end,omitempty"` // monitor: the final snapshot
}

// Error codes.
const (
	CodeNotFound    = "not_found"
	CodeFinished    = "finished"
	CodeUnknownKind = "unknown_kind"
	CodeInvalid     = "invalid"
	CodeInternal    = "internal"
)

// ErrInvalid marks a request the service refused as invalid: bad
// parameters (from Options.Validate), a bad configuration key or value
// (from Options.Config), a malformed request. Wrap it in those callbacks'
// errors to have the client see errors.Is(err, ErrInvalid).
var ErrInvalid = opqueue.ErrInvalid

// ConfigRequest is a configuration change or query, applied at once (never
// queued): "config set cos NAME backupEnabled false" is
// {Action: "set", Scope: "cos", Name: "NAME", Key: "backupEnabled", Value: "false"}.
type ConfigRequest struct {
	Action string `json:"action"` // get, set, unset
	Scope  string `json:"scope"`  // cos, account, ... (the callback decides)
	Name   string `json:"name,omitempty"`
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
}

// ConfigFunc applies or reads one configuration value and returns the
// value to show (for get: the value; for set/unset: the new effective
// value).
type ConfigFunc func(ctx context.Context, req ConfigRequest) (value string, err error)

func (r ConfigRequest) validate() error {
	switch r.Action {
	case "get", "unset":
		if r.Value != "" {
			return fmt.Errorf("%w: config %s takes no value", ErrInvalid, r.Action)
		}
	case "set":
	default:
		return fmt.Errorf("%w: config action %q (want get, set or unset)", ErrInvalid, r.Action)
	}
	if r.Key == "" {
		return fmt.Errorf("%w: config %s: no key given", ErrInvalid, r.Action)
	}
	return nil
}

// codeOf classifies err for the wire.
func codeOf(err error) string {
	switch {
	case errors.Is(err, opqueue.ErrNotFound):
		return CodeNotFound
	case errors.Is(err, opqueue.ErrFinished):
		return CodeFinished
	case errors.Is(err, opqueue.ErrUnknownKind):
		return CodeUnknownKind
	case errors.Is(err, ErrInvalid):
		return CodeInvalid
	default:
		return CodeInternal
	}
}

// RemoteError is an error the service answered with.
type RemoteError struct {
	Code    string
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Unwrap gives the sentinel error of the code, so that
// errors.Is(err, opqueue.ErrNotFound) works across the socket.
func (e *RemoteError) Unwrap() error {
	switch e.Code {
	case CodeNotFound:
		return opqueue.ErrNotFound
	case CodeFinished:
		return opqueue.ErrFinished
	case CodeUnknownKind:
		return opqueue.ErrUnknownKind
	case CodeInvalid:
		return ErrInvalid
	}
	return nil
}
