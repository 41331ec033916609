package search

import (
	"encoding/base64"
	"mime"
	"slices"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// encodeIn is s in enc's bytes.
func encodeIn(t *testing.T, enc encoding.Encoding, s string) string {
	t.Helper()
	b, err := enc.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cjkMessage is a message as the mailers of each language write it: its
// Subject an encoded word in charset, its body in charset with cte.
func cjkMessage(t *testing.T, charset string, enc encoding.Encoding, cte, from, subject, body string) string {
	t.Helper()
	subj := mime.BEncoding.Encode(charset, encodeIn(t, enc, subject))
	raw := encodeIn(t, enc, body)
	if cte == "base64" {
		raw = base64.StdEncoding.EncodeToString([]byte(raw))
	}
	return crlf("From: "+from+"\nTo: alice@example.com\nSubject: "+subj+"\nMIME-Version: 1.0\n"+
		"Content-Type: text/plain; charset="+charset+"\nContent-Transfer-Encoding: "+cte+"\n\n") + raw + "\r\n"
}

// TestCJK: Japanese, Chinese and Korean mail in its usual charsets is
// found by a word inside unspaced text (bigrams, matched as a phrase),
// by one character (unigrams), by field, and only where it is.
func TestCJK(t *testing.T) {
	utf8 := encoding.Nop
	msgs := map[int]string{
		// Japanese, ISO-2022-JP (7bit, as Japanese mailers send it)
		30: cjkMessage(t, "ISO-2022-JP", japanese.ISO2022JP, "7bit", mime.BEncoding.Encode("ISO-2022-JP", encodeIn(t, japanese.ISO2022JP, "田中"))+" <tanaka@example.jp>",
			"会議の議事録", "来週の会議は東京都庁で行います。よろしくお願いします。"),
		// Japanese, UTF-8 base64: katakana with ー, half-width katakana,
		// full-width Latin, a Latin word glued to kanji
		31: cjkMessage(t, "UTF-8", utf8, "base64", "Sato <sato@example.jp>",
			"コーヒー", "ｺｰﾋｰを飲みましょう。Windows版のＡＢＣソフト"),
		// Chinese, GB2312 (simplified) and GBK
		32: cjkMessage(t, "GB2312", simplifiedchinese.GBK, "base64", "Wang <wang@example.cn>",
			"会议通知", "我们明天在北京开会。"),
		33: cjkMessage(t, "GBK", simplifiedchinese.GBK, "8bit", "Li <li@example.cn>",
			"京剧", "周末去看京剧吗？"),
		// Korean, EUC-KR (spaces between words, particles glued on)
		34: cjkMessage(t, "EUC-KR", korean.EUCKR, "8bit", "Kim <kim@example.kr>",
			"회의 안내", "서울에서 회의가 있습니다."),
		// Japanese, Shift_JIS, from a phone
		35: cjkMessage(t, "Shift_JIS", japanese.ShiftJIS, "8bit", "Suzuki <suzuki@example.jp>",
			"雨", "今日は雨です。"),
		// no CJK at all
		36: crlf("From: Bob <bob@example.org>\nSubject: Tokyo meeting\n\nSee you in Tokyo.\n"),
	}
	file, rep := buildMessages(t, msgs)
	if rep.Truncated != 0 || rep.Broken != 0 {
		t.Fatalf("report %+v", rep)
	}
	checkQueries(t, file, []queryCase{
		// two characters inside unspaced text: one bigram
		{"東京", []int{30}},
		{"会議", []int{30}}, // Japanese 議, not the Chinese 议
		{"会议", []int{32}},
		{"北京", []int{32}},
		{"京剧", []int{33}},
		{"서울", []int{34}},
		{"회의", []int{34}},
		{"コーヒー", []int{31}},
		// longer words: their bigrams as a phrase, in order
		{"東京都庁", []int{30}},
		{"北京开会", []int{32}},
		{"开会北京", nil},
		{"서울에서", []int{34}},
		{`"서울에서 회의가"`, []int{34}},
		{"飲みましょう", []int{31}},
		{"議事録", []int{30}},
		{"東京大学", nil},
		// bigrams find a word inside a longer one (京都 in 東京都庁)
		{"京都", []int{30}},
		// one character: its unigram
		{"京", []int{30, 32, 33}},
		{"雨", []int{35}},
		{"議", []int{30}},
		{"庁", []int{30}},
		// half-width katakana is its full-width form, either way round
		{"ｺｰﾋｰ", []int{31}},
		{"subject:ｺｰﾋｰ", []int{31}},
		{"body:コーヒー", []int{31}},
		// a Latin word glued to CJK text, full-width Latin
		{"windows", []int{31}},
		{"版", []int{31}},
		{"abc", []int{31}},
		{"ＡＢＣ", []int{31}},
		// fields
		{"subject:議事録", []int{30}},
		{"body:議事録", nil},
		{"subject:会议", []int{32}},
		{"body:会议", nil},
		{"from:田中", []int{30}}, // the name in the From encoded word
		{"subject:안내 body:서울", []int{34}},
		// combined with Latin
		{"tokyo", []int{36}},
		{"東京 OR tokyo", []int{30, 36}},
		{"京 -北京", []int{30, 33}},
	})
}

// TestCJKWords: the tokens of the index and of a query, with positions.
func TestCJKWords(t *testing.T) {
	type tok struct {
		w string
		p uint32
	}
	collect := func(s string, query bool) (out []tok) {
		words(s, query, func(w []byte, p uint32) { out = append(out, tok{string(w), p}) })
		return out
	}
	for _, tc := range []struct {
		in           string
		index, query []tok
	}{
		{"東京都", []tok{{"東", 0}, {"東京", 0}, {"京", 1}, {"京都", 1}, {"都", 2}}, []tok{{"東京", 0}, {"京都", 1}}},
		{"雨", []tok{{"雨", 0}}, []tok{{"雨", 0}}},
		{"a 雨 b", []tok{{"a", 0}, {"雨", 1}, {"b", 2}}, []tok{{"a", 0}, {"雨", 1}, {"b", 2}}},
		{"Windows版です", []tok{{"windows", 0}, {"版", 1}, {"版で", 1}, {"で", 2}, {"です", 2}, {"す", 3}},
			[]tok{{"windows", 0}, {"版で", 1}, {"です", 2}}},
		// voicing marks, half-width or combining (macOS file names), go
		// with their kana; ・ separates
		{"ｶﾞｲﾄﾞ", []tok{{"ガ", 0}, {"ガイ", 0}, {"イ", 1}, {"イド", 1}, {"ド", 2}}, []tok{{"ガイ", 0}, {"イド", 1}}},
		{"\u30ab\u3099\u30a4\u30c8\u3099", []tok{{"ガ", 0}, {"ガイ", 0}, {"イ", 1}, {"イド", 1}, {"ド", 2}}, []tok{{"ガイ", 0}, {"イド", 1}}},
		{"東京・大阪", []tok{{"東", 0}, {"東京", 0}, {"京", 1}, {"大", 2}, {"大阪", 2}, {"阪", 3}}, []tok{{"東京", 0}, {"大阪", 2}}},
	} {
		if got := collect(tc.in, false); !slices.Equal(got, tc.index) {
			t.Errorf("index %q: %v, want %v", tc.in, got, tc.index)
		}
		if got := collect(tc.in, true); !slices.Equal(got, tc.query) {
			t.Errorf("query %q: %v, want %v", tc.in, got, tc.query)
		}
	}
}
