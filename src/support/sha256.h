// SHA-256 from OpenSSL's libcrypto: the fingerprint of model files (promotion records, manifests, the hash a
// server reports for the file it serves) and of data sets. Hex digests are lower case, as sha256sum prints.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "support/result.h"

namespace mimir {

// Incremental hashing, for callers that already read the bytes for another purpose.
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, size_t size);
    void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
    // The digest of everything given so far, as 64 hex digits; the hasher is finished afterwards.
    std::string hex_digest();

  private:
    struct Context;
    std::unique_ptr<Context> context_;
};

std::string sha256_hex(std::string_view bytes);

// The digest of the file's bytes, read in blocks. Errors name the file: "not_found", "read_failed".
Result<std::string> sha256_file(const std::string& path);

}  // namespace mimir
