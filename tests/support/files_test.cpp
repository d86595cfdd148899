// write_file_atomically never leaves a half-written file or a temp file behind and keeps the old file
// on any failure; read_text_file and prepare_output_dir name the file in every error.
#include "support/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace mimir {
namespace {

namespace fs = std::filesystem;

// A fresh empty folder for this test (no model fixtures here: support does not know llama.cpp).
std::string scratch_dir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const fs::path dir = fs::path(MIMIR_TEST_BINARY_DIR) / "test-tmp" /
                         (std::string(info->test_suite_name()) + "." + info->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir.string();
}

std::string contents_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

TEST(WriteFileAtomically, WritesTheWholeFileAndLeavesNoTempFile) {
    const std::string dir = scratch_dir();
    const std::string target = dir + "/log.csv";
    ASSERT_TRUE(write_text_atomically(target, "first").ok());
    ASSERT_TRUE(write_text_atomically(target, "second, longer").ok());
    EXPECT_EQ(contents_of(target), "second, longer");
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"log.csv"});
}

TEST(WriteFileAtomically, AFailingBodyKeepsTheOldFileAndRemovesTheTempFile) {
    const std::string dir = scratch_dir();
    const std::string target = dir + "/adapter.gguf";
    ASSERT_TRUE(write_text_atomically(target, "old contents").ok());
    Status failed = write_file_atomically(target, [](std::FILE* file) {
        std::fputs("half of the new", file);
        errno = ENOSPC;  // as a full disk reports it
        return false;
    });
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, "write_failed");
    EXPECT_NE(failed.error().message.find(target), std::string::npos) << failed.error().message;
    EXPECT_NE(failed.error().message.find(std::strerror(ENOSPC)), std::string::npos)
        << failed.error().message;
    EXPECT_EQ(contents_of(target), "old contents");
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"adapter.gguf"});
}

TEST(WriteFileAtomically, AFolderAsTheTargetOrAMissingFolderIsAClearError) {
    const std::string dir = scratch_dir();
    Status onto_folder = write_text_atomically(dir, "x");
    ASSERT_FALSE(onto_folder.ok());
    EXPECT_NE(onto_folder.error().message.find("folder"), std::string::npos) << onto_folder.error().message;

    const std::string missing = dir + "/no-such-folder/file.csv";
    Status in_missing = write_text_atomically(missing, "x");
    ASSERT_FALSE(in_missing.ok());
    EXPECT_EQ(in_missing.error().code, "write_failed");
    EXPECT_NE(in_missing.error().message.find(missing), std::string::npos) << in_missing.error().message;
    EXPECT_NE(in_missing.error().message.find(std::strerror(ENOENT)), std::string::npos)
        << in_missing.error().message;
}

TEST(WriteFileAtomically, AFolderThatIsNotWritableIsAClearErrorAndKeepsTheOldFile) {
    if (::geteuid() == 0) GTEST_SKIP() << "root writes into read-only folders";
    const std::string dir = scratch_dir();
    const std::string target = dir + "/train_log.csv";
    ASSERT_TRUE(write_text_atomically(target, "old").ok());
    ASSERT_EQ(::chmod(dir.c_str(), 0555), 0);
    Status failed = write_text_atomically(target, "new");
    ::chmod(dir.c_str(), 0755);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, "write_failed");
    EXPECT_NE(failed.error().message.find(target), std::string::npos) << failed.error().message;
    EXPECT_NE(failed.error().message.find(std::strerror(EACCES)), std::string::npos)
        << failed.error().message;
    EXPECT_EQ(contents_of(target), "old");

    ASSERT_EQ(::chmod(dir.c_str(), 0555), 0);
    Status prepared = prepare_output_dir(dir);
    ::chmod(dir.c_str(), 0755);
    ASSERT_FALSE(prepared.ok());
    EXPECT_EQ(prepared.error().code, "bad_output_dir");
    EXPECT_NE(prepared.error().message.find(dir), std::string::npos) << prepared.error().message;
}

TEST(ReplaceFileWith, MovesAFinishedFileOverTheTargetOrRemovesIt) {
    const std::string dir = scratch_dir();
    const std::string target = dir + "/model.gguf";
    ASSERT_TRUE(write_text_atomically(target, "old").ok());
    std::ofstream(dir + "/quantized.part") << "new";
    ASSERT_TRUE(replace_file_with(dir + "/quantized.part", target).ok());
    EXPECT_EQ(contents_of(target), "new");
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"model.gguf"});

    std::ofstream(dir + "/other.part") << "newer";
    Status failed = replace_file_with(dir + "/other.part", dir + "/missing-folder/model.gguf");
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, "write_failed");
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"model.gguf"}) << "the written file was not removed";
}

TEST(ReadTextFile, ReadsBytesAndNamesTheFileInEveryError) {
    const std::string dir = scratch_dir();
    const std::string path = dir + "/prompt.txt";
    const std::string bytes = std::string("line one\r\nline two\n\0binary", 26);
    std::ofstream(path, std::ios::binary) << bytes;
    Result<std::string> read = read_text_file(path);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(*read, bytes);

    Result<std::string> missing = read_text_file(dir + "/missing.txt");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, "not_found");
    EXPECT_NE(missing.error().message.find(dir + "/missing.txt"), std::string::npos);
    EXPECT_NE(missing.error().message.find(std::strerror(ENOENT)), std::string::npos)
        << missing.error().message;

    Result<std::string> folder = read_text_file(dir);
    ASSERT_FALSE(folder.ok());
    EXPECT_EQ(folder.error().code, "not_a_file");
    EXPECT_NE(folder.error().message.find(dir), std::string::npos);
}

TEST(PrepareOutputDir, CreatesFoldersAndRefusesFiles) {
    const std::string dir = scratch_dir();
    ASSERT_TRUE(prepare_output_dir(dir + "/runs/first").ok());
    EXPECT_TRUE(fs::is_directory(dir + "/runs/first"));
    std::ofstream(dir + "/a-file") << "x";
    Status on_file = prepare_output_dir(dir + "/a-file");
    ASSERT_FALSE(on_file.ok());
    EXPECT_EQ(on_file.error().code, "bad_output_dir");
    EXPECT_NE(on_file.error().message.find(dir + "/a-file"), std::string::npos);
}

}  // namespace
}  // namespace mimir

namespace mimir {
namespace {

TEST(AppendLineDurably, AppendsLinesAndEndsALineCutByACrash) {
    const std::string dir = scratch_dir();
    const std::string log = dir + "/log.jsonl";
    ASSERT_TRUE(append_line_durably(log, "{\"a\":1}").ok());
    {
        std::ofstream cut(log, std::ios::app | std::ios::binary);
        cut << "{\"b\":";  // what a kill in the middle of a write leaves
    }
    ASSERT_TRUE(append_line_durably(log, "{\"c\":3}").ok());
    EXPECT_EQ(contents_of(log), "{\"a\":1}\n{\"b\":\n{\"c\":3}\n");
}

TEST(ReplaceSymlinkAtomically, PointsTheLinkAtTheNewTargetAndLeavesNoTemp) {
    const std::string dir = scratch_dir();
    fs::create_directories(dir + "/one");
    fs::create_directories(dir + "/two");
    ASSERT_TRUE(replace_symlink_atomically(dir + "/current", "one").ok());
    EXPECT_EQ(fs::read_symlink(dir + "/current"), "one");
    ASSERT_TRUE(replace_symlink_atomically(dir + "/current", "two").ok());
    EXPECT_EQ(fs::read_symlink(dir + "/current"), "two");
    EXPECT_EQ(names_in(dir), (std::vector<std::string>{"current", "one", "two"}));
}

TEST(RenameDurably, MovesAFolderAndNamesBothPathsOnFailure) {
    const std::string dir = scratch_dir();
    fs::create_directories(dir + "/from");
    ASSERT_TRUE(rename_durably(dir + "/from", dir + "/to").ok());
    EXPECT_TRUE(fs::is_directory(dir + "/to"));
    Status failed = rename_durably(dir + "/missing", dir + "/else");
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, "write_failed");
    EXPECT_NE(failed.error().message.find("missing"), std::string::npos);
}

}  // namespace
}  // namespace mimir
