// The flaws a tutor's reply must not have, detected in one place for the two that look for them: eval's
// checks (tone.no_emoticons, tone.no_exclamation_runs, writing.dashes, writing.complete) judge a finished
// reply, and the response guard (agent/response_guard.h) repairs one while it streams. So the detectors
// look at a position of a text that may still grow: `complete` says whether the text ends there for good;
// when it does not and the answer depends on what follows, they answer Match::need_more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mimir {

enum class Match { no, yes, need_more };

struct SpanMatch {
    Match match = Match::no;
    size_t length = 0;  // bytes, when yes
};

// Pictographs, emoticons, flags, dingbats, the emoji presentation selector and the zero-width joiner.
bool is_emoji(uint32_t code_point);

// An ASCII emoticon stands alone: it starts the text or follows whitespace or a double quote, and ends the
// text or precedes whitespace or . , ! ? " (so "3:4", "a[:3]", "f(x)" and "http://" are not faces).
bool may_precede_emoticon(char c);
// The face (":)", ";-)", ":P", "<3", "^_^", "xD", ...) starting at `at`, whose predecessor the caller has
// checked with may_precede_emoticon. With emoji_or_dash_may_follow an emoji or a dash right after the face
// also ends it (the guard removes the emoji and may turn the dash into a comma), and so does a vertical tab
// (whitespace to the guard's word count, which may cut the reply there).
SpanMatch emoticon_at(std::string_view text, size_t at, bool complete, bool emoji_or_dash_may_follow = false);

// A dash: hyphen-minus, en dash or em dash (their UTF-8 length at `at`, 0 when none).
size_t dash_at(std::string_view text, size_t at);
// A run of two or more dashes at `at`, a single space allowed after the first ("--", "- -", "——").
SpanMatch dash_run_at(std::string_view text, size_t at, bool complete);
// A line made only of whitespace, '-', '|', ':' and spaces: a Markdown rule or a table's separator row,
// where dash runs belong.
bool is_rule_or_table_line(std::string_view line);
// A dash used as punctuation at `at`: an em dash, or an en dash or hyphen with a space on each side, but
// not a list bullet (only whitespace before it on its line) nor a minus sign between numbers ("20 - 5").
SpanMatch punctuation_dash_at(std::string_view text, size_t at, bool complete);
// How many punctuation dashes a reply of `prose_words` words may use: a pair (one aside) always, more only
// in a long reply.
int allowed_punctuation_dashes(int prose_words);

// A run of '!' and '?' starting at `at` that shouts: it holds "!!", "!?" or "?!" (its whole length).
SpanMatch shouting_run_at(std::string_view text, size_t at, bool complete);
// More single exclamation marks than this in one reply shout too.
inline constexpr int kMaxExclamations = 3;

// Whether `text` ends with a finished sentence: a full stop, question or exclamation mark or ellipsis
// (closing quotes, brackets or emphasis may follow), a closed code fence or display formula, or a last
// line that is a list item or table row (those need no full stop).
bool ends_sentence(std::string_view text);
// Only the punctuation part of ends_sentence.
bool ends_with_sentence_punctuation(std::string_view text);

// Whitespace as the checks count words: space, tab, newline, vertical tab, form feed, carriage return.
inline bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace mimir
