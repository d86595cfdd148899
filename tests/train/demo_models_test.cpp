// build_demo_models on a 6-row data set with the quick recipe: writes the three models and the marker,
// reuses them on a second call without training, and keys a changed data set or recipe anew.
#include "train/demo_models.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/csv.h"
#include "support/test_models.h"

namespace mimir {
namespace {

namespace fs = std::filesystem;

std::string write_csv(const std::string& dir, const std::string& last_ideal) {
    const std::string path = dir + "/rows.csv";
    std::ofstream out(path, std::ios::binary);
    out << "Prompt,Model Response,Issues,Ideal Response\n"
        << "Hello!,\"Greetings, dear seeker of wisdom :)\",tone,Hello! I am Mimir. What shall we study?\n"
        << "What is 2 + 2?,\"Oh, the dance of numbers!!! It is 4 :D\",emoticon,What do you get counting on?\n"
        << "Define a noun.,\"A noun, like a star, names things ;)\",metaphor,A noun names a thing.\n"
        << "Thanks!,\"You're SO welcome!!!\",filler,You are welcome.\n"
        << "Solve x + 1 = 3.,\"x = 2, easy peasy :)\",answer given,What can you subtract from both sides?\n"
        << "Bye,\"Farewell, brave learner!!!\",tone," << last_ideal << "\n";
    return path;
}

DemoOptions quick_options(const std::string& dir, const std::string& data_path) {
    return DemoOptions{.data_path = data_path,
                       .cache_dir = dir + "/cache",
                       .recipe = DemoRecipe::quick(),
                       .system_prompt = "You are Mimir, a tutor.",
                       .n_threads = 2};
}

TEST(DemoModels, BuildsThreeModelsThenReusesThem) {
    const std::string dir = test::scratch_dir();
    DemoOptions options = quick_options(dir, write_csv(dir, "Goodbye."));
    std::vector<DemoStage> stages;
    options.on_progress = [&stages](const DemoProgress& p) {
        if (stages.empty() || stages.back() != p.stage) stages.push_back(p.stage);
        EXPECT_GE(p.fraction, 0.0);
        EXPECT_LE(p.fraction, 1.0);
    };
    Result<DemoModels> first = build_demo_models(options);
    ASSERT_TRUE(first) << first.error().code << ": " << first.error().message;
    EXPECT_FALSE(first->reused);
    EXPECT_EQ(stages, (std::vector<DemoStage>{DemoStage::base, DemoStage::adapter, DemoStage::fine_tuned,
                                              DemoStage::done}));
    std::map<std::string, fs::file_time_type> written;
    for (const std::string& path : {first->base_path, first->adapter_path, first->fine_tuned_path}) {
        ASSERT_TRUE(fs::is_regular_file(path)) << path;
        EXPECT_GT(fs::file_size(path), 0u) << path;
        written[path] = fs::last_write_time(path);
    }
    EXPECT_TRUE(fs::exists(first->dir + "/complete"));
    EXPECT_EQ(fs::read_symlink(options.cache_dir + "/current"), fs::path(first->key));

    stages.clear();
    Result<DemoModels> second = build_demo_models(options);
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_TRUE(second->reused);
    EXPECT_TRUE(stages.empty());
    EXPECT_EQ(second->key, first->key);
    for (const auto& [path, time] : written) EXPECT_EQ(fs::last_write_time(path), time) << path;
}

TEST(DemoModels, KeyChangesWithDataRecipeAndPrompt) {
    const std::string dir = test::scratch_dir();
    const DemoOptions options = quick_options(dir, write_csv(dir, "Goodbye."));
    Result<std::string> bytes = read_text_file(options.data_path);
    ASSERT_TRUE(bytes);
    const std::string key = demo_cache_key(*bytes, options);
    EXPECT_EQ(demo_cache_key(*bytes, options), key);
    EXPECT_NE(demo_cache_key(*bytes + "Hi,x,y,z\n", options), key);
    DemoOptions other_recipe = options;
    other_recipe.recipe.adapter_epochs += 1;
    EXPECT_NE(demo_cache_key(*bytes, other_recipe), key);
    DemoOptions other_prompt = options;
    other_prompt.system_prompt = "You are a tutor.";
    EXPECT_NE(demo_cache_key(*bytes, other_prompt), key);
}

TEST(DemoModels, ChangedDataBuildsUnderANewKey) {
    const std::string dir = test::scratch_dir();
    DemoOptions options = quick_options(dir, write_csv(dir, "Goodbye."));
    Result<DemoModels> first = build_demo_models(options);
    ASSERT_TRUE(first) << first.error().message;
    write_csv(dir, "Goodbye, see you next time.");
    Result<DemoModels> second = build_demo_models(options);
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_FALSE(second->reused);
    EXPECT_NE(second->key, first->key);
    EXPECT_TRUE(fs::exists(second->fine_tuned_path));
    EXPECT_EQ(fs::read_symlink(options.cache_dir + "/current"), fs::path(second->key));
}

TEST(DemoModels, MissingDataFailsNamingTheFile) {
    const std::string dir = test::scratch_dir();
    Result<DemoModels> models = build_demo_models(quick_options(dir, dir + "/missing.csv"));
    ASSERT_FALSE(models);
    EXPECT_NE(models.error().message.find("missing.csv"), std::string::npos) << models.error().message;
}

TEST(DemoModels, AStopRequestEndsTheBuildAfterAStepAndLeavesNoCompleteMarker) {
    const std::string dir = test::scratch_dir();
    DemoOptions options = quick_options(dir, write_csv(dir, "Goodbye."));
    std::atomic<bool> stop{false};
    int steps_seen = 0;
    options.stop = &stop;
    options.on_progress = [&](const DemoProgress& p) {
        if (p.epoch > 0 && ++steps_seen == 2) stop = true;  // a server shutting down mid-training
    };
    Result<DemoModels> stopped = build_demo_models(options);
    ASSERT_FALSE(stopped.ok());
    EXPECT_EQ(stopped.error().code, "stopped");
    EXPECT_EQ(steps_seen, 2) << "no step may run after the stop request";

    options.stop = nullptr;
    options.on_progress = nullptr;
    Result<DemoModels> resumed = build_demo_models(options);
    ASSERT_TRUE(resumed.ok()) << resumed.error().message;
    EXPECT_TRUE(fs::exists(resumed->dir + "/complete"));
}

}  // namespace
}  // namespace mimir
