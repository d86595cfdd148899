// Turns the byte pieces of generated tokens into text that is always valid UTF-8. A model emits bytes, not
// characters: one character may be split over several tokens, and a random or confused model emits byte
// sequences that are not UTF-8 at all. A stream must never abort because of that.
#pragma once

#include <string>
#include <string_view>

namespace mimir {

// Incremental decoder: push() the bytes of each token piece and get back the complete, valid characters
// so far. An incomplete character at the end waits for the next push; bytes that can never form a valid
// character (invalid lead or continuation, overlong forms, surrogates, code points above U+10FFFF) become
// U+FFFD. finish() flushes what is still waiting (as U+FFFD) when the stream ends.
class Utf8Stream {
  public:
    std::string push(std::string_view bytes);
    std::string finish();
    bool has_pending() const { return !pending_.empty(); }

  private:
    std::string pending_;  // at most 3 bytes: the start of a character that may still complete
};

// True when `text` is entirely valid UTF-8.
bool is_valid_utf8(std::string_view text);

// The replacement character U+FFFD, encoded.
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

}  // namespace mimir
