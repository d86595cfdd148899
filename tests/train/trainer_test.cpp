// End-to-end: `run_training` on a handful of rows memorizes them; the adapter it writes loads in
// llama.cpp (library and llama-completion) and reproduces the ideal responses; the merged model equals
// base + adapter; a resumed run equals an uninterrupted one.
#include "train/trainer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/fine_tuning_data.h"
#include "model/engine.h"
#include "model/gguf_inspect.h"
#include "model/model_manager.h"
#include "train/chat_examples.h"
#include "train/merge.h"
#include "train/run_folder.h"
#include "train/training_graph.h"
#include "train_test_support.h"

namespace mimir {
namespace {

namespace fs = std::filesystem;

const std::vector<std::pair<std::string, std::string>> kRows = {
    {"Hello!", "Hello! I am Mimir, a tutoring assistant."},
    {"What's the capital of Australia, quick", "The capital of Australia is Canberra."},
    {"Thanks, that helped!", "I'm glad it helped."},
};

std::string write_rows_csv(const std::string& dir) {
    const std::string path = dir + "/rows.csv";
    std::ofstream out(path, std::ios::binary);
    out << "\xEF\xBB\xBFPrompt,Model Response,Issues,Ideal Response\r\n";
    for (const auto& [prompt, ideal] : kRows)
        out << "\"" << prompt << "\",\"bad, \"\"flowery\"\"\",tone,\"" << ideal << "\"\r\n";
    return path;
}

// Full-batch steps with LoRA on the output projection too: the tiny random model's hidden states barely
// depend on the prompt, so memorizing needs a strong, steady signal.
TrainOptions memorize_options(const std::string& dir, const std::string& base) {
    TrainOptions o;
    o.data_path = write_rows_csv(dir);
    o.base_path = base;
    o.out_dir = dir + "/out";
    o.grad_accumulation = 3;
    o.epochs = 150;
    o.learning_rate = 1e-2f;
    o.warmup_ratio = 0.05f;
    o.schedule = Schedule::Linear;
    o.rank = 16;
    o.alpha = 32;
    o.targets = {"all", "output"};
    o.eval_fraction = 0;
    o.n_threads = 1;
    o.quiet = true;
    o.system_prompt = "";  // the engine test below serves the rows without one
    return o;
}

class TrainedAdapter : public ::testing::Test {
  protected:
    // ctest runs every TEST in its own process: training happens once per build of this executable, and
    // later processes reuse its outputs (never outputs older than the executable itself). Processes that
    // ctest -j starts together take turns on a lock file, so one trains while the others wait for it.
    static void SetUpTestSuite() {
        dir_ = new std::string(fs::path(MIMIR_TEST_BINARY_DIR) / "test-tmp" / "TrainedAdapter");
        base_ = new std::string(test::tiny_model_path(test::small_training_spec("phi3")));
        fs::create_directories(fs::path(*dir_).parent_path());
        const int lock = ::open((*dir_ + ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
        if (lock >= 0) ::flock(lock, LOCK_EX);  // held until this process exits
        const std::string record = *dir_ + "/summary.txt";
        std::error_code ec;
        const auto built = fs::last_write_time("/proc/self/exe", ec);
        if (!ec && fs::exists(record) && fs::last_write_time(record) > built) {
            TrainSummary cached;
            std::ifstream(record) >> cached.steps >> cached.last_loss;
            summary_ = new Result<TrainSummary>(cached);
            return;
        }
        fs::remove_all(*dir_);
        fs::create_directories(*dir_);
        summary_ = new Result<TrainSummary>(run_training(memorize_options(*dir_, *base_)));
        if (summary_->ok())
            std::ofstream(record) << (*summary_)->steps << " " << (*summary_)->last_loss << "\n";
    }
    static void TearDownTestSuite() {
        delete dir_;
        delete base_;
        delete summary_;
    }
    static std::string out(const std::string& name) { return *dir_ + "/out/" + name; }

    static std::string* dir_;
    static std::string* base_;
    static Result<TrainSummary>* summary_;
};
std::string* TrainedAdapter::dir_ = nullptr;
std::string* TrainedAdapter::base_ = nullptr;
Result<TrainSummary>* TrainedAdapter::summary_ = nullptr;

TEST_F(TrainedAdapter, ReplyLossGoesNearZeroAndAllOutputsAreWritten) {
    ASSERT_TRUE(summary_->ok()) << summary_->error().message;
    std::printf("[ measured ] final reply loss after %d steps: %.5f\n", (*summary_)->steps,
                (*summary_)->last_loss);
    EXPECT_LT((*summary_)->last_loss, 0.05f);
    const RunFolder run{*dir_ + "/out"};
    for (const std::string& file : run.files()) {
        if (file == run.checkpoint()) continue;  // only with --checkpoint-every
        EXPECT_TRUE(fs::is_regular_file(file)) << file;
    }
    EXPECT_FALSE(fs::exists(run.checkpoint()));
    for (const auto& entry : fs::directory_iterator(*dir_ + "/out")) {
        EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos)
            << "temp file left behind";
    }
    std::ifstream log(out("train_log.csv"));
    std::string header;
    std::getline(log, header);
    EXPECT_EQ(header, "step,epoch,lr,loss,grad_norm,tokens_per_s,skipped");
}

TEST_F(TrainedAdapter, LlamaCppWithTheAdapterReproducesTheIdealResponsesGreedily) {
    ASSERT_TRUE(summary_->ok());
    auto tokenizer = ChatTokenizer::open(*base_);
    ASSERT_TRUE(tokenizer.ok());
    for (const auto& [prompt, ideal] : kRows) {
        auto chat = (*tokenizer)->chat_tokens("", prompt, ideal);
        ASSERT_TRUE(chat.ok());
        const std::vector<int32_t> head(chat->tokens.begin(), chat->tokens.begin() + chat->n_prompt);
        const std::vector<int32_t> expected(chat->tokens.begin() + chat->n_prompt, chat->tokens.end());
        const std::vector<int32_t> generated = test::llama_greedy(*base_, head, 40, out("adapter.gguf"));
        EXPECT_EQ(generated, expected)
            << "prompt \"" << prompt << "\" gave \"" << (*tokenizer)->detokenize(generated) << "\"";
        const int n = static_cast<int>(expected.size());
        EXPECT_NE(test::llama_greedy(*base_, head, n), expected) << "the base alone already says it";
    }
}

TEST_F(TrainedAdapter, MergedModelGivesTheLogitsOfBasePlusAdapter) {
    ASSERT_TRUE(summary_->ok());
    const std::vector<int32_t> tokens = {1, 32010, 15043, 29991, 32007, 32001, 15043, 29991, 306, 626};
    const std::vector<float> merged = test::llama_logits(out("fine-tuned.gguf"), tokens);
    const std::vector<float> with_adapter = test::llama_logits(*base_, tokens, out("adapter.gguf"));
    const float diff = test::max_abs_diff(merged, with_adapter);
    // Stated tolerance: F32 base, so only the order of additions differs (W x + s B A x vs (W + s B A) x).
    std::printf("[ measured ] merged vs base+adapter logits max abs diff: %.3g\n", diff);
    EXPECT_LT(diff, 1e-3f);
    EXPECT_GT(test::max_abs_diff(with_adapter, test::llama_logits(*base_, tokens)), 0.1f);
}

// Through Mimir's own serving path: the fallback chain's adapter tier (base + adapter.gguf) and its
// fine-tuned tier (fine-tuned.gguf) both answer the training prompt with the ideal response.
TEST_F(TrainedAdapter, TheEngineServesTheTrainedReplyFromTheAdapterAndTheMergedTiers) {
    ASSERT_TRUE(summary_->ok());
    for (const ModelPaths& paths :
         {ModelPaths{"", out("adapter.gguf"), *base_}, ModelPaths{out("fine-tuned.gguf"), "", *base_}}) {
        ModelManager manager(paths);
        const ModelInfo info = manager.load_with_fallback();
        ASSERT_TRUE(manager.current()) << info.error;
        EXPECT_FALSE(info.using_fallback()) << info.model_type();
        EngineOptions engine_options;
        engine_options.n_ctx = 512;
        engine_options.n_parallel = 1;
        engine_options.n_threads = 1;
        auto engine = Engine::create(manager.current(), engine_options);
        ASSERT_TRUE(engine.ok()) << engine.error().message;
        GenerationRequest request;
        request.messages = {{"user", "Hello!"}};
        request.sampling.temperature = 0;
        request.sampling.repeat_penalty = 1.0f;
        request.sampling.max_tokens = 32;
        auto result = (*engine)->generate(std::move(request));
        ASSERT_TRUE(result.ok()) << result.error().message;
        std::string text = result->text;
        text.erase(0, text.find_first_not_of(' '));
        EXPECT_EQ(text, "Hello! I am Mimir, a tutoring assistant.") << info.model_type();
    }
}

TEST_F(TrainedAdapter, MergeCanRequantize) {
    ASSERT_TRUE(summary_->ok());
    const std::string merged = *dir_ + "/merged-q8_0.gguf";
    Status st = merge_files(*base_, out("adapter.gguf"), merged, MergedType::Q8_0);
    ASSERT_TRUE(st.ok()) << st.error().message;
    auto summary = inspect_gguf(merged);
    ASSERT_TRUE(summary.ok());
    EXPECT_EQ(summary->file_type, "q8_0");
    const std::vector<int32_t> tokens = {1, 32010, 15043, 29991, 32007, 32001, 15043, 29991};
    const std::vector<float> reference = test::llama_logits(*base_, tokens, out("adapter.gguf"));
    float largest = 0;
    for (float x : reference) largest = std::max(largest, std::fabs(x));
    const float diff = test::max_abs_diff(test::llama_logits(merged, tokens), reference);
    // Stated tolerance: Q8_0 rounds each weight to 8 bits: within 5% of the largest logit, and the
    // trained reply still comes out greedily.
    std::printf("[ measured ] merged+q8_0 vs base+adapter logits max abs diff: %.3g (largest logit %.3g)\n",
                diff, largest);
    EXPECT_LT(diff, 0.05f * largest);
    const std::vector<int32_t> head = {1, 32010, 15043, 29991, 32007, 32001};
    EXPECT_EQ(test::llama_greedy(merged, head, 16),
              test::llama_greedy(*base_, head, 16, out("adapter.gguf")));
}

TEST_F(TrainedAdapter, LlamaCompletionLoadsTheAdapterAndChangesItsOutput) {
    ASSERT_TRUE(summary_->ok());
    const std::string tool = test::llama_tool("llama-completion");
    if (tool.empty()) GTEST_SKIP() << "llama-completion not built";
    const std::string prompt_file = *dir_ + "/prompt.txt";
    // The tokens the adapter was trained on (BOS <|user|> Hello! <|end|> <|assistant|>, as the greedy test
    // above feeds them): newlines after the markers would put the tiny model off its memorised path.
    std::ofstream(prompt_file) << "<|user|>Hello!<|end|><|assistant|>";
    const std::string common = tool + " -m " + *base_ + " -f " + prompt_file +
                               " -n 16 --temp 0 -no-cnv --no-display-prompt --no-warmup -t 1 -c 256";
    std::string with_adapter, without;
    ASSERT_EQ(test::run_command(common + " --lora " + out("adapter.gguf") + " 2>/dev/null", with_adapter), 0)
        << with_adapter;
    ASSERT_EQ(test::run_command(common + " 2>/dev/null", without), 0) << without;
    EXPECT_NE(with_adapter.find("I am Mimir, a tutoring assistant."), std::string::npos) << with_adapter;
    EXPECT_NE(with_adapter, without);
}

TEST(Resume, AResumedRunEndsWithTheSameAdapterAsAnUninterruptedOne) {
    const std::string dir = test::scratch_dir();
    const std::string base = test::tiny_model_path(test::small_training_spec("llama"));
    TrainOptions straight = memorize_options(dir, base);
    straight.epochs = 4;
    straight.grad_accumulation = 1;
    straight.eval_fraction = 0.34;  // 2 train rows, 1 eval row: early-stopping state is resumed too
    straight.write_merged = false;
    straight.out_dir = dir + "/straight";
    ASSERT_TRUE(run_training(straight).ok());

    TrainOptions killed = straight;
    killed.out_dir = dir + "/killed";
    killed.checkpoint_every = 3;
    killed.stop_after_steps = 3;  // returns right after the step-3 checkpoint, as a kill would leave it
    Result<TrainSummary> first = run_training(killed);
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_TRUE(first->interrupted);
    killed.stop_after_steps = 0;
    killed.resume = true;
    Result<TrainSummary> second = run_training(killed);
    ASSERT_TRUE(second.ok()) << second.error().message;
    EXPECT_EQ(second->steps, 8);

    auto model = load_base_model(base);
    ASSERT_TRUE(model.ok());
    auto a = load_lora(straight.out_dir + "/adapter.gguf", **model);
    auto b = load_lora(killed.out_dir + "/adapter.gguf", **model);
    ASSERT_TRUE(a.ok() && b.ok());
    float worst = 0;
    for (const auto& [name, pair] : (*a)->by_base) {
        const LoraPair& other = (*b)->by_base.at(name);
        for (auto [x, y] : {std::pair{pair.a, other.a}, std::pair{pair.b, other.b}}) {
            std::vector<float> vx(ggml_get_data_f32(x), ggml_get_data_f32(x) + ggml_nelements(x));
            std::vector<float> vy(ggml_get_data_f32(y), ggml_get_data_f32(y) + ggml_nelements(y));
            worst = std::max(worst, test::max_abs_diff(vx, vy));
        }
    }
    std::printf("[ measured ] resumed vs uninterrupted adapter max abs diff: %.3g\n", worst);
    EXPECT_EQ(worst, 0.0f);
    std::ifstream la(straight.out_dir + "/eval_log.csv"), lb(killed.out_dir + "/eval_log.csv");
    std::string ea((std::istreambuf_iterator<char>(la)), {}), eb((std::istreambuf_iterator<char>(lb)), {});
    EXPECT_EQ(ea, eb);
}

}  // namespace
}  // namespace mimir

namespace mimir {
namespace {

TEST(EarlyStopping, StopsAfterPatienceAndKeepsTheBestAdapter) {
    const std::string dir = test::scratch_dir();
    TrainOptions o;
    o.data_path = std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning_sample.csv";
    o.base_path = test::tiny_model_path(test::small_training_spec("phi3"));
    o.out_dir = dir;
    o.epochs = 6;
    o.grad_accumulation = 2;
    o.learning_rate = 0.05f;
    o.schedule = Schedule::Constant;
    o.warmup_ratio = 0;
    o.patience = 1;
    o.n_threads = 1;
    o.system_prompt = "";
    o.quiet = true;
    o.write_merged = false;
    Result<TrainSummary> summary = run_training(o);
    ASSERT_TRUE(summary.ok()) << summary.error().message;
    EXPECT_TRUE(summary->stopped_early);
    EXPECT_LT(summary->epochs_done, o.epochs);
    EXPECT_LT(summary->best_epoch, summary->epochs_done);

    // The adapter on disk is the best epoch's: its eval loss is the best one logged, not the last.
    auto data = read_fine_tuning_csv(o.data_path);
    auto tokenizer = ChatTokenizer::open(o.base_path);
    ASSERT_TRUE(data.ok() && tokenizer.ok());
    auto examples = prepare_examples(*data, **tokenizer, "", o.n_ctx, false);
    ASSERT_TRUE(examples.ok());
    const TrainEvalSplit split = split_train_eval(examples->examples.size(), o.eval_fraction, o.seed);
    auto model = load_base_model(o.base_path);
    auto adapter = load_lora(dir + "/adapter.gguf", **model);
    ASSERT_TRUE(model.ok() && adapter.ok());
    TrainingGraph graph(**model, adapter->get(), {}, 1);
    graph.set_kernel_path(test::value_of(resolve_kernel_path(o.kernels)));  // the run's arithmetic
    double total = 0;
    for (size_t i : split.eval) total += test::value_of(graph.loss(examples->examples[i].sequence));
    const float saved_loss = static_cast<float>(total / split.eval.size());
    std::printf("[ measured ] best eval loss %.5f (epoch %d); saved adapter's eval loss %.5f\n",
                summary->best_eval_loss, summary->best_epoch, saved_loss);
    EXPECT_NEAR(saved_loss, summary->best_eval_loss, 1e-5);
}

TEST(NonFiniteSteps, AreSkippedLoggedAndDoNotCrash) {
    const std::string dir = test::scratch_dir();
    TrainOptions o;
    o.data_path = std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning_sample.csv";
    o.base_path = test::tiny_model_path(test::small_training_spec("llama"));
    o.out_dir = dir;
    o.epochs = 2;
    o.grad_accumulation = 2;
    o.learning_rate = 1e30f;  // the first step blows the weights up; every later loss is not finite
    o.system_prompt = "";
    o.warmup_ratio = 0;
    o.schedule = Schedule::Constant;
    o.n_threads = 1;
    o.quiet = true;
    o.write_merged = false;
    Result<TrainSummary> summary = run_training(o);
    ASSERT_TRUE(summary.ok()) << summary.error().message;
    std::printf("[ measured ] %d of %d steps skipped as not finite\n", summary->skipped_steps,
                summary->steps);
    EXPECT_GT(summary->skipped_steps, 0);
    std::ifstream log(dir + "/train_log.csv");
    std::string text((std::istreambuf_iterator<char>(log)), {});
    EXPECT_NE(text.find(",1\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace mimir
