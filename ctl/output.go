package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/cbfs/cbfs/internal/grammar"
)

// labelWidth is the width of the label column in Carbonio's aligned output
// (the seed's getItem and getServerConfig listings).
const labelWidth = 60

// Indents of the seed's listings.
const (
	itemIndent       = "             " // getItem: 13 spaces
	itemStatesIndent = "     "         // getItem's itemStates line: 5 spaces
	configIndent     = "   "           // getServerConfig, getAccountInfo: 3 spaces
)

// kv writes one aligned "label value" line.
func kv(w io.Writer, indent, label string, value any) {
	fmt.Fprintf(w, "%s%-*s%v\n", indent, labelWidth, label, value)
}

// printJSON writes v as indented JSON and a newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode JSON output: %w", err)
	}
	return nil
}

// rawString renders a JSON value for text output: strings without quotes,
// everything else as compact JSON.
func rawString(m json.RawMessage) string {
	var s string
	if err := json.Unmarshal(m, &s); err == nil {
		return s
	}
	return strings.TrimSpace(string(m))
}

// errReason is err's message for a status line.
func errReason(err error) string {
	if err == nil {
		return ""
	}
	return grammar.OneLine(err.Error())
}
