// libFuzzer target for inspect_gguf: any file content must give a summary or an Error with one of the
// documented codes, never a crash, an abort inside llama.cpp's GGUF reader, or a hang. Build as
// fuzz/chat_request_fuzzer.cpp describes, then run:
//   build-fuzz/fuzz/gguf_inspect_fuzzer -max_total_time=60 -max_len=4096 -dict=fuzz/gguf.dict WORK_DIR \
//     build-fuzz/fuzz/corpus/gguf_inspect
// The seed there is written by the build (write_gguf_seed.cpp): an 800-byte GGUF that inspect_gguf accepts.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "model/gguf_inspect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path = "/tmp/mimir-gguf-fuzz-" + std::to_string(::getpid()) + ".gguf";
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    mimir::Result<mimir::GgufSummary> summary = mimir::inspect_gguf(path);
    if (summary.ok()) {
        if (summary->architecture.empty() || summary->file_size != size) __builtin_trap();
    } else {
        const std::string& code = summary.error().code;
        if (summary.error().message.empty() ||
            (code != "truncated" && code != "corrupt" && code != "not_gguf")) {
            __builtin_trap();
        }
    }
    return 0;
}
