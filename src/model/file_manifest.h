// manifest.json: the SHA-256 and size of each file in a folder of model files, recorded when the folder was
// written (a promoted generation, see promote/models_folder.h). GGUF carries no checksum of its own, and
// a bit flipped in the weights loads as if nothing were wrong; the fallback chain compares a file listed in
// the manifest beside it with its record before serving it (verified_sha256), and refuses it on mismatch.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/result.h"

namespace mimir {

inline constexpr const char* kManifestFileName = "manifest.json";

struct ManifestEntry {
    std::string sha256;  // hex, as sha256sum prints it
    uint64_t bytes = 0;
};

struct FileManifest {
    std::map<std::string, ManifestEntry> files;         // by file name within the folder
    nlohmann::json details = nlohmann::json::object();  // what else the writer records (data and base hashes)
};

// Hashes the files `names` of `dir` (a name that does not exist is left out). Errors: "read_failed".
Result<FileManifest> manifest_for_files(const std::string& dir, const std::vector<std::string>& names);

// <dir>/manifest.json, written atomically. Error: "write_failed".
Status write_manifest(const std::string& dir, const FileManifest& manifest);

// The manifest of `dir`, or nullopt when it has none. Error: "invalid_manifest" naming the file.
Result<std::optional<FileManifest>> read_manifest(const std::string& dir);

// The SHA-256 of `file`; when the manifest in its folder lists it, also checked against the record:
// "checksum_mismatch" when the digest or size differs or the manifest cannot be read, naming both digests.
// Other errors: "not_found", "read_failed".
Result<std::string> verified_sha256(const std::string& file);

// Whether the manifest in the folder of `file` lists it (false when there is no readable manifest).
bool manifest_lists(const std::string& file);

}  // namespace mimir
