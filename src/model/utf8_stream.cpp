#include "model/utf8_stream.h"

#include <utf8.h>

namespace mimir {

std::string Utf8Stream::push(std::string_view bytes) {
    pending_.append(bytes);
    std::string out;
    out.reserve(pending_.size());
    auto it = pending_.cbegin();
    const auto end = pending_.cend();
    while (it != end) {
        auto next = it;
        const utf8::internal::utf_error error = utf8::internal::validate_next(next, end);
        if (error == utf8::internal::UTF8_OK) {
            out.append(it, next);
            it = next;
        } else if (error == utf8::internal::NOT_ENOUGH_ROOM) {
            break;  // a valid start of a character that the next piece may complete
        } else {
            // Replace one byte and resynchronise on the next: a stray continuation byte after it is
            // replaced on its own turn, so no invalid byte ever reaches the output.
            out.append(kReplacementCharacter);
            ++it;
        }
    }
    pending_.erase(pending_.cbegin(), it);
    return out;
}

std::string Utf8Stream::finish() {
    std::string out;
    if (!pending_.empty()) out.append(kReplacementCharacter);
    pending_.clear();
    return out;
}

bool is_valid_utf8(std::string_view text) {
    return utf8::is_valid(text.begin(), text.end());
}

}  // namespace mimir
