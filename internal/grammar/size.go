package grammar

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// ParseSize reads a size: a number of bytes, or a number with the unit K,
// M, G or T (powers of 1024; "KB", "MiB" and lower case read the same;
// spaces around the number and the unit are allowed). "" and "0" are 0: a
// caller that wants a positive size says so itself.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	bad := fmt.Errorf("bad size %q: want bytes, or a number with K, M, G or T", s)
	num := strings.TrimRightFunc(s, unicode.IsLetter)
	unit := strings.ToUpper(strings.TrimSpace(s[len(num):]))
	mult := int64(1)
	switch strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I") {
	case "":
		if unit != "" && unit != "B" {
			return 0, bad
		}
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	default:
		return 0, bad
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, bad
	}
	return n * mult, nil
}
