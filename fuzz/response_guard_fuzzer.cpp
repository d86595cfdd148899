// libFuzzer target for the response guard: for any bytes, pushing them in pieces (split where the input's
// first byte says) gives exactly guard_reply of the whole, and the output is valid UTF-8. (Guarding twice is
// not checked here: on contrived runs of faces glued to dashes a second pass can find a face the first one
// made; the unit tests check it on replies.) Build as chat_request_fuzzer (see there), then:
//   build-fuzz/fuzz/response_guard_fuzzer -max_total_time=60 -dict=fuzz/response_guard.dict
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/response_guard.h"
#include "model/utf8_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    // The first byte chooses the settings and the piece size; the rest is the model's text.
    const unsigned control = data[0];
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    mimir::GuardSettings settings;
    settings.max_words = static_cast<int>(control & 0x0F) * 3;  // 0 = no limit
    settings.hold_words = static_cast<int>(control >> 6) * 2 + 1;
    const size_t piece = 1 + ((control >> 4) & 0x03) * 3;

    const std::string whole = mimir::guard_reply(text, settings);
    mimir::ResponseGuard guard(settings);
    std::string streamed;
    for (size_t at = 0; at < text.size() && !guard.stopped(); at += piece)
        streamed += guard.push(text.substr(at, piece));
    streamed += guard.finish();
    if (streamed != whole) __builtin_trap();
    if (!mimir::is_valid_utf8(whole)) __builtin_trap();
    return 0;
}
