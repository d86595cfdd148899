// Inside the response guard (agent/response_guard.h): the pass that applies the emoticon, dash and
// exclamation rules to the text received so far, and records what the length rule needs. Not a public API.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/response_guard.h"

namespace mimir::guard_detail {

struct CleanText {
    std::string text;                                  // the decided part of the cleaned reply
    std::vector<size_t> sentence_ends;                 // offsets in text where a finished sentence ends
    std::vector<std::pair<size_t, size_t>> fences;     // [after the opening ```, the closing ```) in text
    std::vector<std::pair<GuardRule, size_t>> events;  // a rule changed the text at this offset
};

// `input` is valid UTF-8. Without `complete`, stops where what follows could change the outcome. Two passes,
// so that what the first removes cannot leave flaws for the second to miss ("- \xF0\x9F\x98\x8A -" is a dash
// run once the emoji is gone): emoticons and emoji first, then dashes and exclamation marks.
CleanText clean(std::string_view input, const GuardSettings& settings, bool complete);

// `raw` with invalid UTF-8 replaced by U+FFFD; without `complete`, an unfinished sequence at the end is
// left out (it may still become valid).
std::string valid_utf8(std::string_view raw, bool complete);

}  // namespace mimir::guard_detail
