// A file listed in the manifest beside it is served only when its SHA-256 matches the record: one flipped
// byte in the weights refuses that tier with checksum_mismatch and the chain moves on. Every load reports
// the serving file's SHA-256 (ModelInfo::file_sha256), as sha256sum prints it.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "model/file_manifest.h"
#include "model/model_manager.h"
#include "support/sha256.h"
#include "support/test_models.h"

namespace mimir {
namespace {

namespace fs = std::filesystem;

// support's SHA-256, itself checked against coreutils' sha256sum in tests/support/sha256_test.cpp.
std::string sha256sum_of(const std::string& path) {
    Result<std::string> digest = sha256_file(path);
    return digest ? *digest : "";
}

// A folder as a promotion leaves it: fine-tuned and adapter files and a manifest recording both.
struct Generation {
    std::string dir, fine_tuned, adapter, base;
};

Generation make_generation() {
    Generation g;
    g.dir = test::scratch_dir() + "/generation";
    fs::create_directories(g.dir);
    g.base = test::tiny_model_path(test::small_spec());
    g.fine_tuned = g.dir + "/fine-tuned.gguf";
    g.adapter = g.dir + "/adapter.gguf";
    TinyModelSpec other = test::small_spec();
    other.seed = 7;
    fs::copy_file(test::tiny_model_path(other), g.fine_tuned);
    EXPECT_TRUE(write_random_lora_adapter(g.base, 4, 8.0f, 5, g.adapter).ok());
    Result<FileManifest> manifest = manifest_for_files(g.dir, {"fine-tuned.gguf", "adapter.gguf"});
    EXPECT_TRUE(manifest.ok());
    EXPECT_TRUE(write_manifest(g.dir, *manifest).ok());
    return g;
}

// Flips one byte of the tensor data (the end of a GGUF file holds the last tensor's weights).
void flip_weight_byte(const std::string& path) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-100, std::ios::end);
    const char byte = static_cast<char>(file.get());
    file.seekp(-100, std::ios::end);
    file.put(static_cast<char>(byte ^ 0x10));
}

TEST(Checksum, AnUnchangedGenerationServesAndReportsTheFilesSha256) {
    const Generation g = make_generation();
    ModelManager manager({.fine_tuned = g.fine_tuned, .adapter = g.adapter, .base = g.base});
    const ModelInfo info = manager.load_with_fallback();
    ASSERT_EQ(info.tier, Tier::FineTuned) << info.error;
    EXPECT_EQ(info.file_sha256, sha256sum_of(g.fine_tuned));
    EXPECT_EQ(info.file_sha256.size(), 64u);
}

TEST(Checksum, AFlippedWeightByteRefusesTheTierAndTheNextTierServes) {
    const Generation g = make_generation();
    flip_weight_byte(g.fine_tuned);
    ModelManager manager({.fine_tuned = g.fine_tuned, .adapter = g.adapter, .base = g.base});
    const ModelInfo info = manager.load_with_fallback();
    ASSERT_EQ(info.attempts.size(), 2u);
    EXPECT_EQ(info.attempts[0].error.code, "checksum_mismatch");
    EXPECT_NE(info.attempts[0].error.message.find(sha256sum_of(g.fine_tuned)), std::string::npos)
        << info.attempts[0].error.message;
    EXPECT_EQ(info.tier, Tier::Adapter);
    EXPECT_EQ(info.file_sha256, sha256sum_of(g.adapter)) << "the adapter is the file that serves";
}

TEST(Checksum, AFileTheManifestDoesNotListLoadsAsBefore) {
    const Generation g = make_generation();
    ModelManager manager({.base = g.base});  // the base's folder has no manifest
    const ModelInfo info = manager.load_with_fallback();
    ASSERT_EQ(info.tier, Tier::Base) << info.error;
    EXPECT_EQ(info.file_sha256, sha256sum_of(g.base));
    ASSERT_TRUE(write_manifest(g.dir, FileManifest{}).ok());  // a manifest that lists nothing
    ModelManager unlisted({.fine_tuned = g.fine_tuned, .base = g.base});
    EXPECT_EQ(unlisted.load_with_fallback().tier, Tier::FineTuned);
}

TEST(Checksum, AnUnreadableManifestRefusesTheFilesItShouldVouchFor) {
    const Generation g = make_generation();
    std::ofstream(g.dir + "/" + kManifestFileName) << "{not json";
    ModelManager manager({.fine_tuned = g.fine_tuned, .base = g.base});
    const ModelInfo info = manager.load_with_fallback();
    ASSERT_FALSE(info.attempts.empty());
    EXPECT_EQ(info.attempts[0].error.code, "checksum_mismatch");
    EXPECT_EQ(info.tier, Tier::Base);
}

}  // namespace
}  // namespace mimir
