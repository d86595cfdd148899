#include "train/run_files.h"

namespace mimir {

Status write_gguf_atomically(const gguf_context* gguf, const std::string& path) {
    return write_file_atomically(path, [&](std::FILE* f) { return gguf_write_to_file_ptr(gguf, f, false); });
}

}  // namespace mimir
