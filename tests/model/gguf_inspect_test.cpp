// inspect_gguf on good files, and on missing, empty, truncated, bit-flipped and random files: every bad
// file gets an Error code and nothing aborts (the test process surviving is part of the assertion).
#include "model/gguf_inspect.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>

#include "support/test_models.h"

namespace fs = std::filesystem;

namespace mimir {
namespace {

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

// Overwrites `n` bytes at `at` in place (cheaper than rewriting a 16 MB model for every flip).
void patch(const std::string& path, size_t at, const void* value, size_t n) {
    std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(at));
    file.write(static_cast<const char*>(value), static_cast<std::streamsize>(n));
}

// Where tensor `name`'s info begins in the tensor table: right after its length-prefixed name.
size_t tensor_info_offset(const std::string& bytes, const std::string& name) {
    std::string prefixed(8, '\0');
    const uint64_t length = name.size();
    std::memcpy(prefixed.data(), &length, 8);
    prefixed += name;
    const size_t at = bytes.find(prefixed);
    EXPECT_NE(at, std::string::npos);
    return at + prefixed.size();
}

const std::set<std::string> kBadFileCodes = {"truncated", "corrupt", "not_gguf"};

TEST(GgufInspect, SummarisesATinyModel) {
    const std::string path = test::tiny_model_path();
    Result<GgufSummary> summary = inspect_gguf(path);
    ASSERT_TRUE(summary.ok()) << summary.error().message;
    EXPECT_EQ(summary->architecture, "phi3");
    EXPECT_FALSE(summary->is_adapter);
    EXPECT_EQ(summary->quantization, "F32");
    EXPECT_EQ(summary->file_type, "f32");
    EXPECT_EQ(summary->file_size, fs::file_size(path));
    EXPECT_EQ(summary->n_vocab, 32064);
    EXPECT_EQ(summary->n_layer, 4);
    EXPECT_EQ(summary->n_embd, 128);
    EXPECT_EQ(summary->n_head, 4);
    EXPECT_EQ(summary->n_ff, 512);
    EXPECT_EQ(summary->n_ctx_train, 4096);
    EXPECT_EQ(summary->n_tensors, 3 + 4 * 6);
    // token_embd + output: 2 x 32064 x 128; per layer 2 norms + qkv + out + up(2 ff) + down.
    const uint64_t per_layer = 2 * 128 + 128 * 384 + 128 * 128 + 128 * 1024 + 512 * 128;
    EXPECT_EQ(summary->n_params, 2ull * 32064 * 128 + 128 + 4 * per_layer);
    EXPECT_EQ(summary->vocab_hash.size(), 16u);
}

TEST(GgufInspect, QuantizedModelNamesItsMix) {
    Result<GgufSummary> summary =
        inspect_gguf(test::tiny_model_path(test::small_spec("llama", "q4_k_m", 256)));
    ASSERT_TRUE(summary.ok()) << summary.error().message;
    EXPECT_EQ(summary->quantization, "Q4_K_M");
    EXPECT_EQ(summary->file_type, "q4_K");
    EXPECT_EQ(summary->architecture, "llama");
}

TEST(GgufInspect, VocabHashFollowsTheTokenizerOnly) {
    const auto hash = [](const std::string& path) {
        Result<GgufSummary> s = inspect_gguf(path);
        EXPECT_TRUE(s.ok());
        return s.ok() ? s->vocab_hash : std::string();
    };
    const std::string phi3 = hash(test::tiny_model_path(test::small_spec()));
    EXPECT_EQ(phi3, hash(test::tiny_model_path()));
    EXPECT_EQ(phi3, hash(test::tiny_model_path(test::small_spec("llama", "q4_k_m", 256))));
    TinyModelSpec altered = test::small_spec();
    altered.vocab_path = default_phi3_vocab_path();
    altered.altered_token = 500;
    const std::string path = test::scratch_dir() + "/altered.gguf";
    ASSERT_TRUE(write_tiny_model(altered, path).ok());
    EXPECT_NE(phi3, hash(path));
}

TEST(GgufInspect, SummarisesAnAdapter) {
    const std::string path = test::scratch_dir() + "/adapter.gguf";
    ASSERT_TRUE(write_random_lora_adapter(test::tiny_model_path(test::small_spec()), 4, 16.0f, 3, path).ok());
    Result<GgufSummary> summary = inspect_gguf(path);
    ASSERT_TRUE(summary.ok()) << summary.error().message;
    EXPECT_TRUE(summary->is_adapter);
    EXPECT_EQ(summary->adapter_type, "lora");
    EXPECT_FLOAT_EQ(summary->lora_alpha, 16.0f);
    EXPECT_EQ(summary->architecture, "phi3");
    EXPECT_TRUE(summary->vocab_hash.empty());
    EXPECT_EQ(summary->n_tensors, 2 * 4 * 2);
}

TEST(GgufInspect, MissingDirectoryEmptyAndForeignFiles) {
    const std::string dir = test::scratch_dir();
    EXPECT_EQ(inspect_gguf(dir + "/nothing.gguf").error().code, "not_found");
    EXPECT_EQ(inspect_gguf(dir).error().code, "not_a_file");
    EXPECT_EQ(inspect_gguf(write_bytes(dir + "/empty.gguf", "")).error().code, "truncated");
    EXPECT_EQ(inspect_gguf(write_bytes(dir + "/text.gguf", "hello, this is not a model\n")).error().code,
              "not_gguf");
    EXPECT_EQ(inspect_gguf(write_bytes(dir + "/gg.gguf", "GG")).error().code, "truncated");
    EXPECT_EQ(inspect_gguf(write_bytes(dir + "/header.gguf", "GGUF\3\0\0\0")).error().code, "truncated");
    const Error error = inspect_gguf(dir + "/nothing.gguf").error();
    EXPECT_NE(error.message.find("nothing.gguf"), std::string::npos);
}

TEST(GgufInspect, EveryTruncationIsReportedAsTruncated) {
    const std::string original = read_bytes(test::tiny_model_path(test::small_spec()));
    ASSERT_GT(original.size(), 1000000u);
    const std::string path = write_bytes(test::scratch_dir() + "/cut.gguf", original);
    std::mt19937_64 random(11);
    std::vector<size_t> cuts = {1, 3, 4, 5, 8, 16, 23, 24, 25, 40, 100, 1000, original.size() - 1};
    // The metadata (tokenizer and tensor table) is about the first megabyte: cut it densely.
    for (int i = 0; i < 150; ++i) cuts.push_back(random() % 1200000);
    for (int i = 0; i < 20; ++i) cuts.push_back(random() % original.size());
    std::sort(cuts.rbegin(), cuts.rend());  // shrink one file step by step
    for (size_t cut : cuts) {
        fs::resize_file(path, cut);
        Result<GgufSummary> summary = inspect_gguf(path);
        ASSERT_FALSE(summary.ok()) << "cut at " << cut;
        EXPECT_EQ(summary.error().code, "truncated") << "cut at " << cut << ": " << summary.error().message;
    }
}

TEST(GgufInspect, BitFlipsNeverAbortAndAreMostlyCaught) {
    const std::string original = read_bytes(test::tiny_model_path(test::small_spec()));
    const std::string path = write_bytes(test::scratch_dir() + "/flipped.gguf", original);
    std::mt19937_64 random(2024);
    int refused = 0;
    const int flips = 400;
    for (int i = 0; i < flips; ++i) {
        // Half in the header and the start of the metadata, half anywhere in the metadata.
        const size_t at = i % 2 ? random() % 4096 : random() % 1200000;
        const char flipped = static_cast<char>(original[at] ^ (1 << (random() % 8)));
        patch(path, at, &flipped, 1);
        Result<GgufSummary> summary = inspect_gguf(path);
        patch(path, at, &original[at], 1);
        if (!summary.ok()) {
            ++refused;
            EXPECT_TRUE(kBadFileCodes.count(summary.error().code)) << summary.error().code;
        }
    }
    EXPECT_GT(refused, 0);
    // Flips in the magic and version are always caught (bit 32 turns version 3 into 2, which is valid).
    for (int bit = 0; bit < 8 * 8; ++bit) {
        if (bit == 32) continue;
        const char flipped = static_cast<char>(original[bit / 8] ^ (1 << (bit % 8)));
        patch(path, bit / 8, &flipped, 1);
        Result<GgufSummary> summary = inspect_gguf(path);
        patch(path, bit / 8, &original[bit / 8], 1);
        ASSERT_FALSE(summary.ok()) << "bit " << bit;
        EXPECT_EQ(summary.error().code, bit < 32 ? "not_gguf" : "corrupt") << "bit " << bit;
    }
}

TEST(GgufInspect, HostileTensorTablesAreCorrupt) {
    const std::string original = read_bytes(test::tiny_model_path(test::small_spec()));
    const std::string path = write_bytes(test::scratch_dir() + "/hostile.gguf", original);
    const size_t info = tensor_info_offset(original, "token_embd.weight");  // n_dims, ne[2], type, offset
    auto patched = [&](size_t at, const void* value, size_t n) {
        patch(path, at, value, n);
        Result<GgufSummary> summary = inspect_gguf(path);
        patch(path, at, &original[at], n);
        return summary;
    };
    const uint32_t five_dims = 5, unknown_type = 200, removed_type = 4;  // 4 was Q4_2
    const int64_t huge = int64_t{1} << 50, negative = -64;
    const uint64_t wrong_offset = 4096;
    const int64_t huge_count = int64_t{1} << 40;
    EXPECT_EQ(patched(info, &five_dims, 4).error().code, "corrupt");
    EXPECT_EQ(patched(info + 4, &huge, 8).error().code, "corrupt");
    EXPECT_EQ(patched(info + 4, &negative, 8).error().code, "corrupt");
    EXPECT_EQ(patched(info + 20, &unknown_type, 4).error().code, "corrupt");
    EXPECT_EQ(patched(info + 20, &removed_type, 4).error().code, "corrupt");
    EXPECT_EQ(patched(info + 24, &wrong_offset, 8).error().code, "corrupt");
    EXPECT_EQ(patched(8, &huge_count, 8).error().code, "corrupt");   // tensor count
    EXPECT_EQ(patched(16, &huge_count, 8).error().code, "corrupt");  // key/value count
    // A larger row count makes the tensor's data run past the end of the file.
    const int64_t more_rows = 32064 * 100;
    EXPECT_EQ(patched(info + 12, &more_rows, 8).error().code, "truncated");
    EXPECT_TRUE(inspect_gguf(path).ok());  // every patch was undone
}

TEST(GgufInspect, RandomBytesNeverAbort) {
    const std::string dir = test::scratch_dir();
    std::mt19937_64 random(99);
    for (int i = 0; i < 60; ++i) {
        std::string bytes(1 + random() % 5000, '\0');
        for (char& c : bytes) c = static_cast<char>(random());
        if (i % 2)
            bytes.replace(0, std::min<size_t>(4, bytes.size()), "GGUF", 0, std::min<size_t>(4, bytes.size()));
        if (i % 4 == 1 && bytes.size() >= 8) bytes.replace(4, 4, std::string("\3\0\0\0", 4));
        Result<GgufSummary> summary = inspect_gguf(write_bytes(dir + "/random.gguf", bytes));
        ASSERT_FALSE(summary.ok());
        EXPECT_TRUE(kBadFileCodes.count(summary.error().code)) << summary.error().code;
    }
}

TEST(GgufInspect, Formats) {
    EXPECT_EQ(format_count(3821079552ull), "3.82 B");
    EXPECT_EQ(format_count(9300000), "9.3 M");
    EXPECT_EQ(format_count(512), "512");
    EXPECT_EQ(format_bytes(2400000000ull), "2.40 GB");
    EXPECT_EQ(format_bytes(36700160), "36.7 MB");
    EXPECT_EQ(format_bytes(12), "12 B");
}

}  // namespace
}  // namespace mimir
