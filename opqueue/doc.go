// Package opqueue is cbfs's operation queue: one persistent, unprioritized
// FIFO of operations (scans, purges, exports, restores, coherency checks),
// run one at a time in enqueue order, as Carbonio Backup's queue does.
//
// # Operations
//
// An operation (Op) has a UUID, a Kind naming the handler that runs it
// ("doSmartScan", "doExternalRestore", ...), string Params, a State, a
// Progress (done/total counters and a free-text phase), its Created,
// Started and Ended times, and when it has ended a Result (the report text
// the handler returned, also for a stopped operation that reported what it
// did so far) and an Error. States move only forward:
//
//	queued ──► running ──► done | partial | failed | stopped
//	   └──────────────────────────────────► stopped   (stopped before it ran)
//
// # Running
//
// Queue.Run is the runner: it takes the oldest queued operation, calls the
// Handler registered for its Kind with a context, a copy of the operation
// and a progress callback, and records the outcome: done when the handler
// returns a nil error, partial when its error wraps ErrPartial (part of the
// work failed: the error says how much and the first failure), stopped when the operation's context had been
// cancelled (Stop, StopAll or the runner's own context ending), failed
// otherwise (also when the handler panics). Stop of a queued operation marks
// it stopped without running it; StopAll stops the running one and every
// queued one. Handlers are expected to check their context at safe points
// (between accounts, between items) and to return promptly once it is
// cancelled, leaving their output consistent.
//
// # Persistence and restart
//
// Operations live in a buntdb file (Open's path; ":memory:" for none),
// written with fsync on every commit, so an operation whose Enqueue returned
// survives a crash. Keys follow the templates in keys.go: op:<seq> (the
// zero-padded enqueue sequence, so key order is FIFO order) holds the
// operation as JSON, opid:<uuid> maps an id to its seq. Progress is kept in
// memory while an operation runs and written at most once per
// Options.PersistEvery, and always when the operation ends.
//
// An operation found "running" when the queue is opened was running when
// the process died (or was killed). It is NOT re-queued: Open marks it
// stopped with the error "interrupted by service restart; run it again to
// resume", keeping its last recorded progress. Re-running it is cheap and
// safe by design: scans are incremental (they skip what is already in the
// Backup Path) and restores are idempotent (their ledger skips what was
// already restored), so running the same operation again resumes it. Not
// re-running it automatically means a crash-looping operation cannot take
// the service down again and again. Queued operations stay queued and run,
// in their original order, once Run is called again. The same rule applies
// at a clean shutdown: Run's context ending stops the running operation
// ("interrupted by service shutdown; run it again to resume").
//
// # Following an operation
//
// Monitor returns a channel of snapshots of one operation: the current one
// at once, then one per change (progress or state; a slow reader gets the
// latest, intermediate ones are dropped), and the final one before the
// channel is closed. Finished operations older than a given age are removed
// by Prune.
//
// Every method is safe for concurrent use.
package opqueue
