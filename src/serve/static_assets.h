// The chat page and its libraries (marked, DOMPurify, KaTeX with its CSS and fonts), embedded in the
// binary at build time from web/ and web/node_modules/ (see src/serve/CMakeLists.txt), so the server
// needs no files on disk and no CDN. Lookup is by exact path in a fixed table: nothing a client sends
// reaches the filesystem.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "support/result.h"

namespace mimir::serve {

struct EmbeddedFile {
    const char* path;  // URL path, e.g. "/vendor/katex.min.css"
    const unsigned char* data;
    size_t size;
};

struct StaticAsset {
    std::string_view body;
    std::string content_type;
    std::string cache_control;
};

// "/" means "/index.html", "/review" means "/review.html" (the review view). Errors: "invalid_path" (a
// path with "..", a backslash, a NUL, an encoded character left after decoding, or not starting with "/")
// and "not_found".
Result<StaticAsset> find_static_asset(std::string_view path);

// Every response carries this policy: scripts, styles and fonts only from this server, no inline script,
// no plugins; inline style attributes are allowed because KaTeX positions glyphs with them. Framing is
// allowed only by Hugging Face, which shows Spaces in an iframe.
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "font-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "object-src 'none'; frame-ancestors 'self' https://huggingface.co https://*.hf.space";

}  // namespace mimir::serve
