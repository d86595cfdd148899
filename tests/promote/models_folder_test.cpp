// The models folder's links: a switch keeps the replaced generation as previous, a rollback swaps them (a
// second one undoes the first), ids count up, and a link that points anywhere else is an error.
#include "promote/models_folder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/test_models.h"

namespace mimir::promote {
namespace {

namespace fs = std::filesystem;

ModelsFolder with_generations(int count) {
    ModelsFolder folder(test::scratch_dir() + "/models");
    EXPECT_TRUE(folder.create().ok());
    for (int i = 0; i < count; ++i)
        fs::create_directories(folder.generation_dir(folder.next_generation_id()));
    return folder;
}

std::string current_of(const ModelsFolder& folder) {
    auto current = folder.current();
    return current.ok() && current->has_value() ? **current : "";
}
std::string previous_of(const ModelsFolder& folder) {
    auto previous = folder.previous();
    return previous.ok() && previous->has_value() ? **previous : "";
}

TEST(ModelsFolder, GenerationIdsCountUpFromOne) {
    ModelsFolder folder(test::scratch_dir() + "/models");
    ASSERT_TRUE(folder.create().ok());
    EXPECT_EQ(folder.next_generation_id(), "0001");
    fs::create_directories(folder.generation_dir("0009"));
    EXPECT_EQ(folder.next_generation_id(), "0010");
}

TEST(ModelsFolder, ASwitchKeepsTheReplacedGenerationAsPrevious) {
    const ModelsFolder folder = with_generations(2);
    EXPECT_EQ(current_of(folder), "");
    ASSERT_TRUE(folder.switch_to("0001").ok());
    EXPECT_EQ(current_of(folder), "0001");
    EXPECT_EQ(previous_of(folder), "") << "nothing was current before the first";
    ASSERT_TRUE(folder.switch_to("0002").ok());
    EXPECT_EQ(current_of(folder), "0002");
    EXPECT_EQ(previous_of(folder), "0001");
    EXPECT_EQ(fs::read_symlink(folder.current_link()), "generations/0002") << "relative: DIR may move";
    EXPECT_EQ(folder.served_paths("base.gguf").fine_tuned, folder.dir() + "/current/fine-tuned.gguf");
}

TEST(ModelsFolder, ARollbackSwapsCurrentAndPreviousAndASecondUndoesIt) {
    const ModelsFolder folder = with_generations(2);
    ASSERT_TRUE(folder.switch_to("0001").ok());
    ASSERT_TRUE(folder.switch_to("0002").ok());
    Result<std::string> back = folder.roll_back();
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, "0001");
    EXPECT_EQ(current_of(folder), "0001");
    EXPECT_EQ(previous_of(folder), "0002");
    ASSERT_TRUE(folder.roll_back().ok());
    EXPECT_EQ(current_of(folder), "0002");
}

TEST(ModelsFolder, NothingToRollBackToIsAClearError) {
    const ModelsFolder folder = with_generations(1);
    EXPECT_EQ(folder.roll_back().error().code, "nothing_to_roll_back");
    ASSERT_TRUE(folder.switch_to("0001").ok());
    Result<std::string> back = folder.roll_back();
    ASSERT_FALSE(back.ok());
    EXPECT_EQ(back.error().code, "nothing_to_roll_back");
    EXPECT_NE(back.error().message.find("0001"), std::string::npos) << back.error().message;
}

TEST(ModelsFolder, ALinkToAnythingButAGenerationIsRefused) {
    const ModelsFolder folder = with_generations(1);
    fs::create_symlink("/tmp", folder.current_link());
    EXPECT_EQ(folder.current().error().code, "invalid_models_dir");
    fs::remove(folder.current_link());
    fs::create_symlink("generations/0042", folder.current_link());
    EXPECT_EQ(folder.current().error().code, "invalid_models_dir") << "a generation that does not exist";
}

TEST(ModelsFolder, InstallingMovesTheCandidateFolderWhole) {
    const ModelsFolder folder = with_generations(0);
    fs::create_directories(folder.candidate_dir("c1"));
    std::ofstream(folder.candidate_dir("c1") + "/fine-tuned.gguf") << "weights";
    ASSERT_TRUE(folder.install_candidate("c1", "0001").ok());
    EXPECT_TRUE(fs::is_regular_file(folder.generation_dir("0001") + "/fine-tuned.gguf"));
    EXPECT_FALSE(fs::exists(folder.candidate_dir("c1")));
}

}  // namespace
}  // namespace mimir::promote
