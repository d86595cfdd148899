#include "serve/static_assets.h"

#include <algorithm>
#include <span>

namespace mimir::serve {

namespace generated {
// Defined in the web_assets.cpp that the build writes from web/.
extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;
}  // namespace generated

namespace {

std::string content_type_of(std::string_view path) {
    auto ends_with = [&](std::string_view suffix) { return path.ends_with(suffix); };
    if (ends_with(".html")) return "text/html; charset=utf-8";
    if (ends_with(".js")) return "text/javascript; charset=utf-8";
    if (ends_with(".css")) return "text/css; charset=utf-8";
    if (ends_with(".woff2")) return "font/woff2";
    if (ends_with(".svg")) return "image/svg+xml";
    if (ends_with(".json")) return "application/json";
    return "application/octet-stream";
}

bool is_safe_path(std::string_view path) {
    if (path.empty() || path.front() != '/') return false;
    if (path.find("..") != std::string_view::npos || path.find("//") != std::string_view::npos) return false;
    return std::none_of(path.begin(), path.end(), [](char c) {
        return c == '\\' || c == '%' || c == '\0' || static_cast<unsigned char>(c) < 0x20;
    });
}

}  // namespace

Result<StaticAsset> find_static_asset(std::string_view path) {
    if (!is_safe_path(path))
        return Error{"invalid_path", "path is not allowed: it must be a plain absolute path"};
    if (path == "/") path = "/index.html";
    if (path == "/review") path = "/review.html";
    std::span files(generated::kEmbeddedFiles, generated::kEmbeddedFileCount);
    auto found =
        std::find_if(files.begin(), files.end(), [&](const EmbeddedFile& f) { return path == f.path; });
    if (found == files.end()) return Error{"not_found", "no such page: " + std::string(path)};
    // The page itself must pick up a new build at once; the versioned libraries may be cached.
    std::string cache = path.starts_with("/vendor/") ? "public, max-age=86400" : "no-cache";
    return StaticAsset{std::string_view(reinterpret_cast<const char*>(found->data), found->size),
                       content_type_of(path), cache};
}

}  // namespace mimir::serve
