#include "agent/snippet_library.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/dataset_checks.h"  // count_words: words stand in for tokens here
#include "support/test_models.h"

namespace mimir {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& text) {
    std::ofstream(path) << text;
}

// A folder with an identity snippet (always) and two chosen ones, listed out of order on purpose.
std::string write_library(const std::string& manifest_override = "") {
    const fs::path dir = test::scratch_dir();
    write(dir / "identity.txt", "You are a tutor.\n");
    write(dir / "math.txt", "Work step by step.");
    write(dir / "essay.txt", "Give feedback on the thesis first.");
    write(
        dir / "manifest.json",
        manifest_override.empty()
            ? R"({"format": "mimir-prompt-snippets", "version": 1, "labels": ["math", "writing", "greeting"],
                    "follow_up_labels": [],
                    "snippets": [
                      {"name": "essay", "file": "essay.txt", "order": 20, "labels": ["writing"]},
                      {"name": "math", "file": "math.txt", "order": 10, "labels": ["math"]},
                      {"name": "identity", "file": "identity.txt", "always": true, "order": 99}]})"
            : manifest_override);
    return dir.string();
}

TEST(SnippetLibrary, LoadsTextsTokensAndPutsAlwaysPresentSnippetsFirst) {
    Result<SnippetLibrary> library = load_snippet_library(write_library(), count_words, 100);
    ASSERT_TRUE(library) << library.error().message;
    ASSERT_EQ(library->snippets.size(), 3u);
    EXPECT_EQ(library->snippets[0].name, "identity");
    EXPECT_EQ(library->snippets[1].name, "math");
    EXPECT_EQ(library->snippets[2].name, "essay");
    EXPECT_EQ(library->snippets[0].text, "You are a tutor.");  // trailing line end dropped
    EXPECT_EQ(library->snippets[2].tokens, 6);
    EXPECT_EQ(library->labels.size(), 3u);
}

TEST(SnippetLibrary, MissingSnippetFileIsNamed) {
    const std::string dir = write_library();
    fs::remove(fs::path(dir) / "math.txt");
    Result<SnippetLibrary> library = load_snippet_library(dir, count_words, 100);
    ASSERT_FALSE(library);
    EXPECT_EQ(library.error().code, "snippet_missing");
    EXPECT_NE(library.error().message.find("math.txt"), std::string::npos) << library.error().message;
}

TEST(SnippetLibrary, EmptySnippetIsRefused) {
    const std::string dir = write_library();
    write(fs::path(dir) / "essay.txt", " \n\n");
    Result<SnippetLibrary> library = load_snippet_library(dir, count_words, 100);
    ASSERT_FALSE(library);
    EXPECT_EQ(library.error().code, "snippet_empty");
    EXPECT_NE(library.error().message.find("essay.txt"), std::string::npos) << library.error().message;
}

TEST(SnippetLibrary, SnippetOverTheBudgetOnItsOwnIsRefused) {
    Result<SnippetLibrary> library = load_snippet_library(write_library(), count_words, 5);
    ASSERT_FALSE(library);
    EXPECT_EQ(library.error().code, "snippet_over_budget");
    EXPECT_NE(library.error().message.find("essay.txt"), std::string::npos) << library.error().message;
}

TEST(SnippetLibrary, MalformedManifestsAreRefusedNamingTheManifest) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{ not json", "not a JSON object"},
        {R"({"format": "mimir-prompt-snippets", "version": 2, "snippets": []})", "version"},
        {R"({"format": "other", "version": 1, "snippets": []})", "format"},
        {R"({"format": "mimir-prompt-snippets", "version": 1, "labels": [],
             "snippets": [{"name": "identity", "file": "identity.txt", "always": true, "labels": ["math"]}]})",
         "\"math\" is not in"},
        {R"({"format": "mimir-prompt-snippets", "version": 1, "labels": ["math"],
             "snippets": [{"name": "math", "file": "math.txt", "labels": ["math"]}]})",
         "always present"},
        {R"({"format": "mimir-prompt-snippets", "version": 1,
             "snippets": [{"name": "identity", "always": "yes", "file": "identity.txt"}]})",
         "always must be"},
        {R"({"format": "mimir-prompt-snippets", "version": 1,
             "snippets": [{"name": "identity", "file": "identity.txt", "always": true},
                          {"name": "identity", "file": "math.txt"}]})",
         "used twice"},
    };
    for (const auto& [manifest, expected] : cases) {
        const std::string dir = write_library(manifest);
        Result<SnippetLibrary> library = load_snippet_library(dir, count_words, 100);
        ASSERT_FALSE(library) << manifest;
        EXPECT_EQ(library.error().code, "manifest_invalid") << manifest;
        EXPECT_NE(library.error().message.find("manifest.json"), std::string::npos)
            << library.error().message;
        EXPECT_NE(library.error().message.find(expected), std::string::npos) << library.error().message;
    }
}

TEST(SnippetLibrary, MissingManifestIsRefused) {
    Result<SnippetLibrary> library = load_snippet_library(test::scratch_dir(), count_words, 100);
    ASSERT_FALSE(library);
    EXPECT_EQ(library.error().code, "manifest_invalid");
    EXPECT_NE(library.error().message.find("manifest.json"), std::string::npos);
}

TEST(SnippetLibrary, ShippedSnippetsLoadWithThePhi3Tokenizer) {
    Result<TokenCounter> count = vocabulary_token_counter(default_phi3_vocab_path());
    ASSERT_TRUE(count) << count.error().message;
    Result<SnippetLibrary> library =
        load_snippet_library(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/prompts", *count, 256);
    ASSERT_TRUE(library) << library.error().message;
    EXPECT_TRUE(library->snippets.front().always);
    for (const Snippet& snippet : library->snippets) {
        EXPECT_GT(snippet.tokens, 0) << snippet.name;
        if (!snippet.always) {
            EXPECT_FALSE(snippet.labels.empty()) << snippet.name << " can never be chosen";
        }
    }
}

}  // namespace
}  // namespace mimir
