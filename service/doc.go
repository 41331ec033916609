// Package service is the core of "cbfs serve", the long-running backup
// service for one mail server, independent of what its operations do:
//
//   - a lock on the state directory (statedir.StateLock, <state-dir>/lock, an
//     exclusive flock holding the owner's PID), so two services, or a
//     service and a foreground cbctl, never share an index or a queue;
//   - the operation queue (package opqueue) in <state-dir>/queue.db and its
//     runner, with the handlers the caller registers by kind;
//   - a Unix-socket server (mode 0600) answering cbctl with a line-delimited
//     JSON protocol (protocol.go), and Client, its counterpart for cbctl;
//     Dial's errors.Is(err, ErrNoService) tells cbctl to run the operation
//     in the foreground itself;
//   - a scheduler of cron-style patterns (Spec, Scheduler), by default
//     Carbonio's: SmartScan daily at 04:00, purge on Saturdays at 04:00;
//   - pruning of ended operations after Options.KeepOps.
//
// # Life cycle
//
// Open takes the lock and opens the queue; an operation a dead process
// left running is recorded as stopped ("interrupted by service restart; run
// it again to resume": scans and restores resume where they were when run
// again) and queued ones stay queued. Serve listens (replacing a socket file
// left by a dead process, refusing one a live service answers on) and runs
// until its context ends (the caller cancels it on SIGTERM/SIGINT). Then it
// stops accepting connections and scheduling, cancels the running
// operation's context and waits for its handler to return at a safe point
// (the operation is recorded stopped, and is resumable), lets monitors see
// that end, closes the connections and the queue, removes the socket and
// releases the lock.
//
// # Protocol
//
// One JSON object per line each way; see Request, Response and the Cmd*
// constants. Errors carry a Code (Code*), which Client turns back into
// errors that match opqueue.ErrNotFound, opqueue.ErrFinished,
// opqueue.ErrUnknownKind and ErrInvalid with errors.Is. The socket's mode
// (0600, created in a private folder and linked into place) limits access
// to the service's user (and root).
package service
