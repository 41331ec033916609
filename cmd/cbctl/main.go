// Command cbctl reads and restores Carbonio Backup Paths. See ctl.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cbfs/cbfs/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Run(ctx)
	stop()
	os.Exit(code)
}
