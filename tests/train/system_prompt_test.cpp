// Training renders every row with the system prompt serving uses, so the tokens the trainer learns from
// before each reply are exactly the tokens the engine feeds for the same conversation; the prompt is
// recorded in the run folder to be served with the model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/tutor_prompt.h"
#include "model/chat_prompt.h"
#include "model/llama_handles.h"
#include "train/chat_examples.h"
#include "train/run_folder.h"
#include "train/trainer.h"
#include "train_test_support.h"

namespace mimir {
namespace {

const std::vector<std::string> kPrompts = {"What is a prime number?", "Can you just do my homework, quick",
                                           "Explain recursion like I'm five.\nThanks!"};

// What Engine::Impl::prepare builds for a student's conversation under the tutor prompt.
std::vector<llama_token> engine_prompt_tokens(const llama_model* model, const std::string& system_prompt,
                                              const std::string& prompt) {
    const std::vector<ChatMessage> messages = with_tutor_system_prompt({{"user", prompt}}, system_prompt);
    Result<ChatPrompt> built = build_chat_prompt(model, messages, 4096, 4096);
    if (!built) throw std::runtime_error(built.error().message);
    EXPECT_EQ(built->dropped_messages, 0);
    return built->tokens;
}

class SystemPromptTokens : public ::testing::TestWithParam<std::string> {};

TEST_P(SystemPromptTokens, TheTrainerSeesTheTokensTheEngineFeedsBeforeTheReply) {
    const std::string path = test::tiny_model_path(test::small_training_spec(GetParam()));
    Result<std::unique_ptr<ChatTokenizer>> tokenizer = ChatTokenizer::open(path);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;
    ensure_llama_backend();
    llama_model_params params = llama_model_default_params();
    params.vocab_only = true;
    ModelHandle model(llama_model_load_from_file(path.c_str(), params));
    ASSERT_TRUE(model);

    const TrainOptions defaults;
    ASSERT_EQ(defaults.system_prompt, default_tutor_system_prompt())
        << "training defaults to the tutor prompt";
    for (const std::string& system_prompt : {defaults.system_prompt, std::string()}) {
        for (const std::string& prompt : kPrompts) {
            const std::vector<llama_token> served = engine_prompt_tokens(model.get(), system_prompt, prompt);
            EXPECT_EQ(test::value_of((*tokenizer)->prompt_tokens(system_prompt, prompt)), served) << prompt;
            const TokenSequence trained =
                test::value_of((*tokenizer)->chat_tokens(system_prompt, prompt, "A reply to learn."));
            const std::vector<int32_t> before_reply(trained.tokens.begin(),
                                                    trained.tokens.begin() + trained.n_prompt);
            EXPECT_EQ(before_reply, served) << prompt;
        }
    }
    // The control: the tutor prompt is really in those tokens.
    EXPECT_GT(engine_prompt_tokens(model.get(), defaults.system_prompt, kPrompts[0]).size(),
              engine_prompt_tokens(model.get(), "", kPrompts[0]).size() + 50);
}

INSTANTIATE_TEST_SUITE_P(Architectures, SystemPromptTokens, ::testing::Values("phi3", "llama"));

TrainOptions one_epoch_options(const std::string& dir) {
    TrainOptions o;
    o.data_path = dir + "/rows.csv";
    std::ofstream(o.data_path) << "prompt,ideal response\nHello!,Hello! How can I help?\nWhat is 2+2?,4.\n";
    o.base_path = test::tiny_model_path(test::small_training_spec("phi3"));
    o.out_dir = dir + "/run";
    o.epochs = 1;
    o.eval_fraction = 0;
    o.n_threads = 1;
    o.quiet = true;
    o.write_merged = false;
    return o;
}

std::string contents_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(SystemPromptFile, TheRunFolderRecordsThePromptTheRowsWereRenderedWith) {
    const std::string dir = test::scratch_dir();
    TrainOptions o = one_epoch_options(dir);
    Result<TrainSummary> with_default = run_training(o);
    ASSERT_TRUE(with_default.ok()) << with_default.error().message;
    const RunFolder run{o.out_dir};
    EXPECT_EQ(contents_of(run.system_prompt()), default_tutor_system_prompt());

    o.system_prompt = "";
    Result<TrainSummary> without = run_training(o);
    ASSERT_TRUE(without.ok()) << without.error().message;
    EXPECT_TRUE(std::filesystem::exists(run.system_prompt()));
    EXPECT_EQ(contents_of(run.system_prompt()), "");
}

// A graph too large for memory is the user's --ctx / --recompute choice: a Result error naming those
// flags, not an exception. The memory limit makes the allocation fail deterministically.
TEST(OutOfMemory, AGraphTooLargeIsAnErrorNamingCtxAndRecompute) {
    const std::string path = test::tiny_model_path(test::small_training_spec("phi3"));
    auto model = load_base_model(path);
    ASSERT_TRUE(model.ok());
    TrainingGraph graph(**model, nullptr, {(*model)->output_norm}, 1);
    const TokenSequence sequence{.tokens = {1, 32010, 15043, 29991, 32007, 32001, 6324, 29892},
                                 .n_prompt = 6};
    graph.set_memory_limit(1024);
    for (int recompute : {0, 2}) {
        graph.set_recompute_layers(recompute);
        Result<float> loss = graph.accumulate_gradients(sequence);
        ASSERT_FALSE(loss.ok());
        EXPECT_EQ(loss.error().code, "out_of_memory");
        EXPECT_NE(loss.error().message.find("--ctx"), std::string::npos) << loss.error().message;
        EXPECT_NE(loss.error().message.find("--recompute"), std::string::npos) << loss.error().message;
    }
    EXPECT_EQ(graph.loss(sequence).error().code, "out_of_memory");
    graph.set_memory_limit(0);  // the control: the same graph fits without the limit
    EXPECT_TRUE(graph.accumulate_gradients(sequence).ok());

    const std::string dir = test::scratch_dir();
    TrainOptions o = one_epoch_options(dir);
    o.system_prompt = "";
    o.memory_limit_bytes = 1024;
    Result<TrainSummary> trained = run_training(o);
    ASSERT_FALSE(trained.ok());
    EXPECT_EQ(trained.error().code, "out_of_memory");
    EXPECT_NE(trained.error().message.find("--ctx"), std::string::npos) << trained.error().message;
}

}  // namespace
}  // namespace mimir
