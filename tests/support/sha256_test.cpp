// SHA-256 through libcrypto: the standard's test vectors, and a file's digest equal to sha256sum's.
#include "support/sha256.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

namespace mimir {
namespace {

namespace fs = std::filesystem;

std::string sha256sum_of(const std::string& path) {
    std::unique_ptr<std::FILE, decltype(&pclose)> pipe(popen(("sha256sum '" + path + "'").c_str(), "r"),
                                                       &pclose);
    if (!pipe) return "";
    char digest[65] = {};
    return std::fread(digest, 1, 64, pipe.get()) == 64 ? std::string(digest) : "";
}

TEST(Sha256, MatchesTheStandardsTestVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    Sha256 pieces;
    pieces.update("ab");
    pieces.update("c");
    EXPECT_EQ(pieces.hex_digest(), sha256_hex("abc"));
}

TEST(Sha256, AFileHashesAsSha256sumPrintsIt) {
    const fs::path dir = fs::path(MIMIR_TEST_BINARY_DIR) / "test-tmp" / "Sha256.File";
    fs::create_directories(dir);
    const std::string path = (dir / "bytes.bin").string();
    {
        std::ofstream out(path, std::ios::binary);
        for (int i = 0; i < 3'000'000; ++i) out.put(static_cast<char>(i * 31 % 251));  // over several blocks
    }
    Result<std::string> digest = sha256_file(path);
    ASSERT_TRUE(digest.ok()) << digest.error().message;
    EXPECT_EQ(*digest, sha256sum_of(path));
    EXPECT_EQ(sha256_file((dir / "missing").string()).error().code, "not_found");
}

}  // namespace
}  // namespace mimir
