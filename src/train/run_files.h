// Writing training outputs safely: every file goes to a temp file in the same folder, is flushed and
// synced, and only then renamed over the target, so a crash or a full disk never leaves a half-written
// adapter, checkpoint or log behind. Every failure names the file and the OS reason.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "model/llama_handles.h"
#include "support/result.h"

namespace mimir {

// Calls `write_body` on a temp file next to `path` (it returns false when a write failed), then flushes,
// fsyncs, closes and renames. On any failure the temp file is removed and the target is untouched.
// Error code "write_failed".
Status write_file_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write_body);

Status write_text_atomically(const std::string& path, const std::string& text);
Status write_gguf_atomically(const gguf_context* gguf, const std::string& path);

// Flushes, fsyncs and checks `file` (opened on `path`): the step where a full disk shows up.
Status finish_writing(std::FILE* file, const std::string& path);

// Creates `dir` (and parents) if needed and checks it is a writable folder ("bad_output_dir").
Status prepare_output_dir(const std::string& dir);

}  // namespace mimir
