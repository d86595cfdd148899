// GGUF files of a training run (adapter, checkpoint, merged model), written through the shared atomic
// writer (support/files.h): a crash or a full disk never leaves a half-written one behind.
#pragma once

#include <string>

#include "model/llama_handles.h"
#include "support/files.h"
#include "support/result.h"

namespace mimir {

// Error code "write_failed", naming `path` and the OS reason.
Status write_gguf_atomically(const gguf_context* gguf, const std::string& path);

}  // namespace mimir
