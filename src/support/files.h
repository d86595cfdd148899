// Files written so that a crash, a full disk or a kill never leaves a half-written one behind, and text
// files read with errors that name the file. Every Mimir writer (models, adapters, checkpoints, logs)
// goes through write_file_atomically: there is one place that syncs and renames.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "support/result.h"

namespace mimir {

// Writes `path` through a temp file in the same folder: `write_body` fills it (and returns false when a
// write failed), then it is flushed, fsynced, closed and renamed over `path`, and the folder is fsynced so
// the rename itself survives a power cut. On any failure the temp file is removed and `path` is untouched.
// Error code "write_failed", naming `path` and the OS reason.
Status write_file_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write_body);

Status write_text_atomically(const std::string& path, const std::string& text);

// For a file another library wrote itself at `written_path` (llama.cpp's quantizer): fsyncs it and
// renames it over `path` in the same way; on failure removes `written_path`. Error code "write_failed".
Status replace_file_with(const std::string& written_path, const std::string& path);

// Points the symlink `link` at `target` (taken as is: relative to the link's folder when relative) by
// renaming a fresh symlink over it, then syncs the folder: a reader sees the old target or the new one,
// never no link. Error code "write_failed".
Status replace_symlink_atomically(const std::string& link, const std::string& target);

// Renames `from` (a file or a folder) to `to` and syncs both folders, so the move survives a power cut.
// Error code "write_failed" naming both.
Status rename_durably(const std::string& from, const std::string& to);

// Appends `line` and a newline to `path` (created when missing) and fsyncs it before returning, for logs
// whose every record must survive a crash once acknowledged. A line cut by an earlier crash is ended
// first, so it stays one unreadable line rather than spoiling this one. Error code "write_failed".
Status append_line_durably(const std::string& path, const std::string& line);

// The whole file as bytes. Errors name the file: "not_found" (with the OS reason), "not_a_file" (a
// folder), "read_failed".
Result<std::string> read_text_file(const std::string& path);

// Creates `dir` (and parents) if needed and checks it is a writable folder ("bad_output_dir").
Status prepare_output_dir(const std::string& dir);

}  // namespace mimir
