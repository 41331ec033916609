// Package grammar holds what cbfs reads from people, once: the date
// grammar (Carbonio's dd/MM/yyyy HH:mm:ss and ISO 8601), the size grammar
// (bytes, or a number with K, M, G or T) and the one-line form of a
// message, and the one text form of a moment (FormatDateZ). cbctl, cbfs and the operations' parameters (which the service
// reads back) all use it, so a date or a size means the same everywhere.
//
// It sits below operations (whose parameter types parse with it) and
// internal/cli (the command lines), and imports nothing of the module.
package grammar
