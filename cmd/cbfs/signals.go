package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Signals, as daemons use them:
//
//   - SIGINT and SIGTERM stop: they cancel the command's context, with the
//     signal as its cause (signalCause), so what stops can say why.
//   - SIGHUP is each command's to take (hangups): cbfs serve and a --daemon
//     mount reload (logrotate's kill -HUP must not unmount backups); a
//     foreground mount unmounts, its terminal having gone away.
//
// Every signal-driven stop or reload is logged by the command that acts
// on it.

// signalError is the cause of a context ended by a signal.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return unix.SignalName(e.sig) }

// Is makes a signal's stop a cancellation (errors.Is(err,
// context.Canceled)): what stops on it (the service's Serve) stops as
// asked, not as failed.
func (e signalError) Is(target error) bool { return target == context.Canceled }

// signalCause names the signal that ended ctx ("SIGTERM"), or "".
func signalCause(ctx context.Context) string {
	if e, ok := context.Cause(ctx).(signalError); ok {
		return e.Error()
	}
	return ""
}

// hangups delivers SIGHUP to the command that takes it.
type hangups struct{ C <-chan os.Signal }

// signalContext returns a context that SIGINT or SIGTERM cancel (cause:
// signalError), and SIGHUP's channel; stop undoes both.
func signalContext() (ctx context.Context, hup *hangups, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	term := make(chan os.Signal, 1)
	signal.Notify(term, os.Interrupt, syscall.SIGTERM)
	h := make(chan os.Signal, 1)
	signal.Notify(h, syscall.SIGHUP)
	go func() {
		select {
		case s := <-term:
			cancel(signalError{s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	return ctx, &hangups{C: h}, func() {
		signal.Stop(term)
		signal.Stop(h)
		cancel(context.Canceled)
	}
}
