#include "model/file_manifest.h"

#include <filesystem>
#include <system_error>

#include "support/files.h"
#include "support/sha256.h"

namespace mimir {

namespace fs = std::filesystem;

namespace {

std::string folder_of(const std::string& file) {
    const fs::path parent = fs::path(file).parent_path();
    return parent.empty() ? "." : parent.string();
}

Result<FileManifest> parse_manifest(const std::string& path, const std::string& text) {
    const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
    const auto invalid = [&](const std::string& why) {
        return Result<FileManifest>::failure("invalid_manifest", path + ": " + why);
    };
    if (json.is_discarded() || !json.is_object()) return invalid("not a JSON object");
    if (!json.contains("files") || !json["files"].is_object()) return invalid("no \"files\" object");
    FileManifest manifest;
    for (const auto& [name, entry] : json["files"].items()) {
        if (!entry.is_object() || !entry.contains("sha256") || !entry["sha256"].is_string() ||
            !entry.contains("bytes") || !entry["bytes"].is_number_unsigned())
            return invalid("files." + name + " needs \"sha256\" (text) and \"bytes\" (a count)");
        manifest.files[name] = {entry["sha256"].get<std::string>(), entry["bytes"].get<uint64_t>()};
    }
    for (const auto& [key, value] : json.items()) {
        if (key != "files") manifest.details[key] = value;
    }
    return manifest;
}

}  // namespace

Result<FileManifest> manifest_for_files(const std::string& dir, const std::vector<std::string>& names) {
    FileManifest manifest;
    for (const std::string& name : names) {
        const std::string path = dir + "/" + name;
        std::error_code error;
        if (!fs::is_regular_file(path, error)) continue;
        Result<std::string> digest = sha256_file(path);
        if (!digest) return Error{"read_failed", digest.error().message};
        manifest.files[name] = {*digest, static_cast<uint64_t>(fs::file_size(path, error))};
    }
    return manifest;
}

Status write_manifest(const std::string& dir, const FileManifest& manifest) {
    nlohmann::json json = manifest.details;
    json["files"] = nlohmann::json::object();
    for (const auto& [name, entry] : manifest.files)
        json["files"][name] = {{"sha256", entry.sha256}, {"bytes", entry.bytes}};
    return write_text_atomically(dir + "/" + kManifestFileName, json.dump(2) + "\n");
}

Result<std::optional<FileManifest>> read_manifest(const std::string& dir) {
    const std::string path = dir + "/" + kManifestFileName;
    std::error_code error;
    if (!fs::exists(path, error)) return std::optional<FileManifest>();
    Result<std::string> text = read_text_file(path);
    if (!text) return Error{"invalid_manifest", text.error().message};
    Result<FileManifest> manifest = parse_manifest(path, *text);
    if (!manifest) return manifest.error();
    return std::optional<FileManifest>(std::move(*manifest));
}

bool manifest_lists(const std::string& file) {
    Result<std::optional<FileManifest>> manifest = read_manifest(folder_of(file));
    return manifest.ok() && manifest->has_value() &&
           (*manifest)->files.count(fs::path(file).filename().string()) != 0;
}

Result<std::string> verified_sha256(const std::string& file) {
    Result<std::optional<FileManifest>> manifest = read_manifest(folder_of(file));
    if (!manifest) {
        return Error{"checksum_mismatch",
                     "checksum_mismatch: " + file +
                         " cannot be checked against its manifest: " + manifest.error().message};
    }
    Result<std::string> digest = sha256_file(file);
    if (!digest || !manifest->has_value()) return digest;
    const auto listed = (*manifest)->files.find(fs::path(file).filename().string());
    if (listed == (*manifest)->files.end()) return digest;
    std::error_code error;
    const uint64_t bytes = fs::file_size(file, error);
    if (*digest != listed->second.sha256 || bytes != listed->second.bytes) {
        return Error{"checksum_mismatch", "checksum_mismatch: " + file + " has SHA-256 " + *digest + " (" +
                                              std::to_string(bytes) + " bytes), its manifest records " +
                                              listed->second.sha256 + " (" +
                                              std::to_string(listed->second.bytes) + " bytes)"};
    }
    return digest;
}

}  // namespace mimir
