// Inside the response guard (agent/response_guard.h): the pass that applies the emoticon, dash and
// exclamation rules to the text received so far, and records what the length rule needs. Not a public API.
#pragma once

#include <cstddef>
#include <memory>
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

// The guard's passes over one reply, fed as it grows: invalid UTF-8 replaced by U+FFFD, then emoji, then
// ASCII faces, then dashes and exclamation marks (one pass each, so that what one removes cannot leave flaws
// for the next to miss: "- \xF0\x9F\x98\x8A -" is a dash run once the emoji is gone, "^_\xE2\x80\x8D^" a
// face). Each feed goes on where the last one stopped. Without `complete`, the passes stop where what follows
// could change the outcome.
class CleaningPipeline {
  public:
    explicit CleaningPipeline(const GuardSettings& settings);
    ~CleaningPipeline();
    // `raw` is everything received so far: it extends what the last call saw.
    const CleanText& feed(std::string_view raw, bool complete);

  private:
    struct Passes;
    std::unique_ptr<Passes> passes_;
};

// Appends `raw` to `out` with invalid UTF-8 replaced by U+FFFD; returns the bytes read: without `complete`,
// an unfinished sequence at the end is left unread (it may still become valid).
size_t append_valid_utf8(std::string_view raw, bool complete, std::string& out);

}  // namespace mimir::guard_detail
