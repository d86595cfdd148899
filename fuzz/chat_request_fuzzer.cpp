// libFuzzer target for the chat request parser: any bytes must give a request or a clear error, never a
// crash, a hang or an exception. Build with -DMIMIR_BUILD_FUZZ=ON and clang; run:
//   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DMIMIR_BUILD_FUZZ=ON \
//         -DMIMIR_BUILD_TESTS=OFF -DMIMIR_BUILD_BENCH=OFF <llama.cpp dirs as scripts/setup.sh passes them>
//   cmake --build build-fuzz --target chat_request_fuzzer
//   build-fuzz/fuzz/chat_request_fuzzer -max_total_time=60 -dict=fuzz/chat_request.dict
//   fuzz/corpus/chat_request
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "serve/chat_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    mimir::serve::ChatRequestLimits limits;
    limits.max_tokens = 2048;
    mimir::Result<mimir::serve::ChatCompletionRequest> parsed =
        mimir::serve::parse_chat_request(body, limits);
    if (parsed.ok()) {
        // What the server would do next with a valid request: build and serialize a response from it.
        mimir::serve::CompletionId id = mimir::serve::CompletionId::make(parsed->model);
        mimir::GenerationResult result;
        result.text = parsed->messages.back().content;
        (void)mimir::serve::to_text(mimir::serve::completion_json(id, result));
        if (parsed->messages.empty() || parsed->sampling.max_tokens < 1 || parsed->sampling.max_tokens > 2048)
            __builtin_trap();  // the parser promised these
    } else if (parsed.error().message.empty()) {
        __builtin_trap();
    }
    return 0;
}
