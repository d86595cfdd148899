// The three-tier fallback: each tier wins in turn, every failure carries its reason, quantized models load
// in every tier, the tokenizer is the base's everywhere, and no file can abort the process.
#include "model/model_manager.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <thread>

#include "support/test_models.h"

namespace fs = std::filesystem;

namespace mimir {
namespace {

TinyModelSpec spec_of(int n_embd, const std::string& type = "f32", uint32_t seed = 42,
                      const std::string& arch = "phi3") {
    TinyModelSpec spec;
    spec.arch = arch;
    spec.n_layer = 2;
    spec.n_embd = n_embd;
    spec.n_head = 4;
    spec.n_head_kv = 4;
    spec.n_ff = 256;
    spec.n_ctx = 512;
    spec.type = type;
    spec.seed = seed;
    return spec;
}

std::string base_model() {
    return test::tiny_model_path(spec_of(64));
}
std::string fine_tuned_model() {
    return test::tiny_model_path(spec_of(64, "f32", 7));
}

std::string adapter_for(const std::string& base, const std::string& dir) {
    const std::string path = dir + "/adapter-" + fs::path(base).stem().string() + ".gguf";
    EXPECT_TRUE(write_random_lora_adapter(base, 4, 8.0f, 5, path).ok());
    return path;
}

std::string copy_of(const std::string& from, const std::string& to) {
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    return to;
}

std::vector<std::string> codes(const ModelInfo& info) {
    std::vector<std::string> result;
    for (const TierAttempt& a : info.attempts) result.push_back(a.ok ? "ok" : a.error.code);
    return result;
}

// One decode step on the loaded model (with its adapter): the model runs, not just loads.
bool decodes(const LoadedModel& loaded) {
    llama_context_params params = llama_context_default_params();
    params.n_ctx = 64;
    params.n_threads = 2;
    params.n_threads_batch = 2;
    ContextHandle ctx(llama_init_from_model(loaded.model.get(), params));
    if (!ctx) return false;
    if (loaded.adapter) {
        llama_adapter_lora* adapter = loaded.adapter.get();
        float scale = loaded.adapter_scale;
        if (llama_set_adapters_lora(ctx.get(), &adapter, 1, &scale) != 0) return false;
    }
    llama_token tokens[] = {32010, 1724, 338, 32007, 32001};
    return llama_decode(ctx.get(), llama_batch_get_one(tokens, 5)) == 0 &&
           std::isfinite(llama_get_logits_ith(ctx.get(), -1)[0]);
}

TEST(ModelManager, FineTunedWinsFirst) {
    const std::string dir = test::scratch_dir();
    ModelManager manager({fine_tuned_model(), adapter_for(base_model(), dir), base_model()});
    ModelInfo info = manager.load_with_fallback();
    EXPECT_EQ(info.status, ModelStatus::Loaded);
    EXPECT_EQ(info.model_type(), "fine-tuned");
    EXPECT_FALSE(info.is_adapter());
    EXPECT_FALSE(info.using_fallback());
    EXPECT_EQ(codes(info), std::vector<std::string>{"ok"});
    auto current = manager.current();
    ASSERT_TRUE(current);
    EXPECT_EQ(current->tier, Tier::FineTuned);
    EXPECT_FALSE(current->adapter);
    EXPECT_EQ(current->summary.path, fine_tuned_model());
    EXPECT_TRUE(decodes(*current));
}

TEST(ModelManager, AdapterWinsWhenTheFineTunedFileIsMissing) {
    const std::string dir = test::scratch_dir();
    ModelManager manager({dir + "/missing.gguf", adapter_for(base_model(), dir), base_model()});
    ModelInfo info = manager.load_with_fallback();
    EXPECT_EQ(info.status, ModelStatus::Loaded);
    EXPECT_EQ(info.model_type(), "adapter");
    EXPECT_TRUE(info.is_adapter());
    EXPECT_FALSE(info.using_fallback());
    EXPECT_EQ(codes(info), (std::vector<std::string>{"not_found", "ok"}));
    EXPECT_NE(info.attempts[0].error.message.find("missing.gguf"), std::string::npos);
    auto current = manager.current();
    ASSERT_TRUE(current);
    EXPECT_TRUE(current->adapter);
    EXPECT_EQ(current->summary.path, base_model());
    EXPECT_TRUE(decodes(*current));
}

TEST(ModelManager, BaseWinsAloneAsTheFallback) {
    ModelManager manager({"", "", base_model()});
    ModelInfo info = manager.load_with_fallback();
    EXPECT_EQ(info.status, ModelStatus::Loaded);
    EXPECT_EQ(info.model_type(), "base");
    EXPECT_FALSE(info.is_adapter());
    EXPECT_TRUE(info.using_fallback());
    EXPECT_EQ(codes(info), (std::vector<std::string>{"not_configured", "not_configured", "ok"}));
    ASSERT_TRUE(manager.current());
    EXPECT_FALSE(manager.current()->adapter);
}

TEST(ModelManager, CorruptFineTunedFallsToTheAdapter) {
    const std::string dir = test::scratch_dir();
    const std::string adapter = adapter_for(base_model(), dir);
    const std::string truncated = copy_of(fine_tuned_model(), dir + "/truncated.gguf");
    fs::resize_file(truncated, fs::file_size(truncated) / 2);
    const std::string not_gguf = dir + "/notes.gguf";
    std::ofstream(not_gguf) << "these are my lecture notes, not a model\n";
    const std::string empty = dir + "/empty.gguf";
    std::ofstream{empty};
    const std::vector<std::pair<std::string, std::string>> cases = {
        {truncated, "truncated"}, {not_gguf, "not_gguf"}, {empty, "truncated"}, {dir, "not_found"}};
    for (const auto& [path, code] : cases) {
        ModelManager manager({path, adapter, base_model()});
        ModelInfo info = manager.load_with_fallback();
        EXPECT_EQ(info.model_type(), "adapter") << path;
        EXPECT_EQ(codes(info), (std::vector<std::string>{code, "ok"})) << path;
    }
}

TEST(ModelManager, AdapterForAnotherBaseFallsToTheBase) {
    const std::string dir = test::scratch_dir();
    const std::string other_base = test::tiny_model_path(spec_of(128));
    ModelManager manager({"", adapter_for(other_base, dir), base_model()});
    ModelInfo info = manager.load_with_fallback();
    EXPECT_EQ(info.model_type(), "base");
    EXPECT_TRUE(info.using_fallback());
    EXPECT_EQ(codes(info), (std::vector<std::string>{"not_configured", "adapter_mismatch", "ok"}));
    EXPECT_NE(info.attempts[1].error.message.find("blk.0."), std::string::npos)
        << info.attempts[1].error.message;
}

TEST(ModelManager, AdapterOfAnotherArchitectureIsAMismatch) {
    const std::string dir = test::scratch_dir();
    const std::string llama_base = test::tiny_model_path(spec_of(64, "f32", 42, "llama"));
    ModelManager manager({"", adapter_for(llama_base, dir), base_model()});
    EXPECT_EQ(codes(manager.load_with_fallback()),
              (std::vector<std::string>{"not_configured", "adapter_mismatch", "ok"}));
}

TEST(ModelManager, NothingLoadsIsAnErrorWithEveryReason) {
    const std::string dir = test::scratch_dir();
    ModelManager manager({dir + "/a.gguf", dir + "/b.gguf", dir + "/c.gguf"});
    ModelInfo info = manager.load_with_fallback();
    EXPECT_EQ(info.status, ModelStatus::Error);
    EXPECT_EQ(info.model_type(), "");
    EXPECT_FALSE(info.using_fallback());
    EXPECT_EQ(codes(info), (std::vector<std::string>{"not_found", "not_found", "not_found"}));
    EXPECT_EQ(info.error.rfind("no model could be loaded: base: ", 0), 0u)
        << info.error;  // base's reason first
    EXPECT_NE(info.error.find(info.attempts.back().error.message), std::string::npos) << info.error;
    EXPECT_FALSE(manager.current());
    EXPECT_EQ(manager.get_model_info().status, ModelStatus::Error);

    ModelManager unconfigured({"", "", ""});
    EXPECT_EQ(codes(unconfigured.load_with_fallback()),
              (std::vector<std::string>{"not_configured", "not_configured", "not_configured"}));
    EXPECT_NE(unconfigured.get_model_info().error.find("no model configured"), std::string::npos);
}

TEST(ModelManager, FineTunedWithAnotherVocabularyIsRefused) {
    const std::string dir = test::scratch_dir();
    TinyModelSpec altered = spec_of(64, "f32", 7);
    altered.vocab_path = default_phi3_vocab_path();
    altered.altered_token = 1234;
    ASSERT_TRUE(write_tiny_model(altered, dir + "/altered.gguf").ok());
    ModelManager manager({dir + "/altered.gguf", "", base_model()});
    ModelInfo info = manager.load_with_fallback();
    EXPECT_EQ(codes(info), (std::vector<std::string>{"vocab_mismatch", "not_configured", "ok"}));
    EXPECT_EQ(info.model_type(), "base");
}

TEST(ModelManager, WrongArchitectureAndAdapterInTheWrongPlace) {
    const std::string dir = test::scratch_dir();
    const std::string adapter = adapter_for(base_model(), dir);
    GgufHandle foreign(gguf_init_empty());
    gguf_set_val_str(foreign.get(), "general.architecture", "bert");
    ASSERT_TRUE(gguf_write_to_file(foreign.get(), (dir + "/bert.gguf").c_str(), false));
    ModelManager manager({adapter, base_model(), dir + "/bert.gguf"});
    ModelInfo info = manager.load_with_fallback();
    EXPECT_EQ(codes(info),
              (std::vector<std::string>{"wrong_architecture", "wrong_architecture", "wrong_architecture"}));
    EXPECT_EQ(info.status, ModelStatus::Error);
}

TEST(ModelManager, TooLargeForMemoryIsOutOfMemory) {
    LoadOptions options;
    options.memory_limit_bytes = 1 << 20;
    ModelManager manager({fine_tuned_model(), "", base_model()}, options);
    ModelInfo info = manager.load_with_fallback();
    EXPECT_EQ(codes(info), (std::vector<std::string>{"out_of_memory", "not_configured", "out_of_memory"}));
}

TEST(ModelManager, Q4KMModelsLoadAndRunInEveryTier) {
    const std::string dir = test::scratch_dir();
    const std::string base = test::tiny_model_path(spec_of(256, "q4_k_m"));
    const std::string fine_tuned = test::tiny_model_path(spec_of(256, "q4_k_m", 9));
    const std::string adapter = adapter_for(base, dir);
    const std::vector<std::pair<ModelPaths, std::string>> setups = {
        {{fine_tuned, adapter, base}, "fine-tuned"},
        {{"", adapter, base}, "adapter"},
        {{"", "", base}, "base"}};
    for (const auto& [paths, tier] : setups) {
        ModelManager manager(paths);
        ModelInfo info = manager.load_with_fallback();
        EXPECT_EQ(info.model_type(), tier);
        EXPECT_EQ(info.quantization, "Q4_K_M");
        ASSERT_TRUE(manager.current());
        EXPECT_TRUE(decodes(*manager.current())) << tier;
    }
}

TEST(ModelManager, EndAndPadTokensAreTheSameInEveryTier) {
    const std::string dir = test::scratch_dir();
    const std::string adapter = adapter_for(base_model(), dir);
    const std::vector<ModelPaths> setups = {
        {fine_tuned_model(), "", base_model()}, {"", adapter, base_model()}, {"", "", base_model()}};
    std::set<std::vector<llama_token>> seen;
    for (const ModelPaths& paths : setups) {
        ModelManager manager(paths);
        manager.load_with_fallback();
        ASSERT_TRUE(manager.current());
        const llama_vocab* vocab = manager.current()->vocab();
        llama_token end[4] = {};
        const int n = llama_tokenize(vocab, "<|end|>", 7, end, 4, false, true);
        seen.insert({n, end[0], llama_vocab_eot(vocab), llama_vocab_pad(vocab), llama_vocab_eos(vocab)});
        EXPECT_EQ(n, 1);
        EXPECT_EQ(end[0], 32007);
    }
    EXPECT_EQ(seen.size(), 1u);
}

TEST(ModelManager, InfoHasTheSeedFieldsAndDiagnostics) {
    const std::string dir = test::scratch_dir();
    ModelManager manager({dir + "/missing.gguf", "", base_model()});
    EXPECT_EQ(manager.get_model_info().status, ModelStatus::Loading);
    const ModelInfo info = manager.load_with_fallback();
    EXPECT_EQ(info.status, ModelStatus::Loaded);
    EXPECT_EQ(info.model_type(), "base");
    EXPECT_FALSE(info.is_adapter());
    EXPECT_TRUE(info.using_fallback());
    EXPECT_EQ(info.fine_tuned_path, dir + "/missing.gguf");
    EXPECT_EQ(info.adapter_path, "");
    EXPECT_EQ(info.base_model_path, base_model());
    ASSERT_EQ(info.attempts.size(), 3u);
    EXPECT_EQ(info.attempts[0].error.code, "not_found");
    EXPECT_EQ(info.attempts[1].error.code, "not_configured");
    EXPECT_TRUE(info.attempts[2].ok);
    EXPECT_GT(info.attempts[2].load_ms, 0.0);
    EXPECT_EQ(info.model_size_bytes, fs::file_size(base_model()));
    EXPECT_GT(info.n_params, 4000000u);
    EXPECT_EQ(info.architecture, "phi3");
    EXPECT_EQ(info.quantization, "F32");
    EXPECT_GT(info.resident_memory_bytes, 1000000u);
    EXPECT_EQ(manager.get_model_info().attempts.size(), info.attempts.size());
    EXPECT_EQ(manager.get_model_info().tier, info.tier);
}

TEST(ModelManager, LoadFailuresCarryLlamaCppsReason) {
    // A tensor shape that inspect_gguf cannot judge (it does not know the architecture's shapes) but
    // llama.cpp refuses: the reason reaches the attempt.
    const std::string dir = test::scratch_dir();
    std::ifstream in(fine_tuned_model(), std::ios::binary);
    std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const std::string name = "blk.0.attn_qkv.weight";
    const size_t at = bytes.find(name) + name.size() + 4;  // ne[0], ne[1] after n_dims
    const int64_t swapped[2] = {192, 64};                  // [64, 192] transposed: same size, wrong shape
    std::memcpy(bytes.data() + at, swapped, sizeof(swapped));
    std::ofstream(dir + "/shape.gguf", std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ModelManager manager({dir + "/shape.gguf", "", ""});
    ModelInfo info = manager.load_with_fallback();
    ASSERT_FALSE(info.attempts.empty());
    EXPECT_EQ(info.attempts[0].error.code, "load_failed");
    EXPECT_NE(info.attempts[0].error.message.find("attn_qkv.weight' has wrong shape"), std::string::npos)
        << info.attempts[0].error.message;
}

TEST(ModelManager, CountersTrackAttemptsFailuresWinsAndFallbacks) {
    const std::string dir = test::scratch_dir();
    ModelManager manager({dir + "/missing.gguf", adapter_for(base_model(), dir), base_model()});
    manager.load_with_fallback();
    manager.load_with_fallback();
    LoadCounters counters = manager.counters();
    EXPECT_EQ(counters.attempts_by_tier["fine-tuned"], 2u);
    EXPECT_EQ(counters.failures_by_tier["fine-tuned"], 2u);
    EXPECT_EQ(counters.wins_by_tier["adapter"], 2u);
    EXPECT_EQ(counters.attempts_by_tier["base"], 0u);
    EXPECT_EQ(counters.fallback_activations, 0u);
    EXPECT_GT(counters.last_load_ms_by_tier["adapter"], 0.0);

    ModelManager fallback({"", "", base_model()});
    fallback.load_with_fallback();
    EXPECT_EQ(fallback.counters().fallback_activations, 1u);
    EXPECT_EQ(fallback.counters().attempts_by_tier.count("fine-tuned"),
              0u);  // not configured: not an attempt

    ModelManager broken({"", "", dir + "/none.gguf"});
    broken.load_with_fallback();
    EXPECT_EQ(broken.counters().total_errors, 1u);
    EXPECT_EQ(broken.counters().failures_by_tier["base"], 1u);
}

TEST(ModelManager, ReadersSeeAModelWhileItReloads) {
    ModelManager manager({"", "", base_model()});
    manager.load_with_fallback();
    std::atomic<bool> done{false};
    std::atomic<int> reads{0};
    std::thread reader([&] {
        while (!done) {
            auto model = manager.current();
            EXPECT_TRUE(model && model->model);
            EXPECT_NE(manager.get_model_info().status, ModelStatus::Error);
            ++reads;
        }
    });
    for (int i = 0; i < 3; ++i) EXPECT_EQ(manager.load_with_fallback().status, ModelStatus::Loaded);
    done = true;
    reader.join();
    EXPECT_GT(reads.load(), 0);
}

TEST(ModelManager, PathsFromEnvironmentAndFlags) {
    setenv("MIMIR_FINE_TUNED", "/env/ft.gguf", 1);
    setenv("MIMIR_ADAPTER", "/env/adapter.gguf", 1);
    unsetenv("MIMIR_BASE");
    ModelPaths paths =
        ModelPaths::from_environment().overridden_by({"", "/flag/adapter.gguf", "/flag/base.gguf"});
    EXPECT_EQ(paths.fine_tuned, "/env/ft.gguf");
    EXPECT_EQ(paths.adapter, "/flag/adapter.gguf");
    EXPECT_EQ(paths.base, "/flag/base.gguf");
    unsetenv("MIMIR_FINE_TUNED");
    unsetenv("MIMIR_ADAPTER");
}

std::string read_file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// MIMIR_FUZZ_ROUNDS raises the count for a longer soak run; 60 keeps the suite fast.
int damage_rounds() {
    const char* rounds_env = std::getenv("MIMIR_FUZZ_ROUNDS");
    return rounds_env ? std::atoi(rounds_env) : 60;
}

// Round i of a damage run: every third round truncates at a random length, the others flip one bit at an
// offset drawn by `flip_offset`. Writes the damaged copy of `original` to `path`.
template <typename FlipOffset>
void write_damaged(const std::string& original, int round, std::mt19937_64& random, FlipOffset flip_offset,
                   const std::string& path) {
    std::string bytes = original;
    if (round % 3 == 0) {
        bytes.resize(random() % bytes.size());
    } else {
        const size_t at = flip_offset();
        bytes[at] = static_cast<char>(bytes[at] ^ (1 << (random() % 8)));
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Damaged fine-tuned files go through the whole chain, llama.cpp included: the chain never aborts, and it
// ends on the base whenever one is configured. Without a base, a damaged tokenizer is not caught by the
// vocabulary comparison and reaches llama.cpp's loader itself.
TEST(ModelManager, DamagedFilesNeverAbortTheChain) {
    const std::string dir = test::scratch_dir();
    const std::string original = read_file_bytes(fine_tuned_model());
    // Hyperparameters and the tensor table sit between the general.* keys and the first tensor's data.
    const size_t hparams = original.find("general.architecture");
    const size_t table_end = original.find("blk.1.ffn_down.weight") + 64;
    ASSERT_NE(hparams, std::string::npos);
    const std::string path = dir + "/damaged.gguf";
    const std::set<std::string> expected = {"ok",          "truncated",      "corrupt",
                                            "not_gguf",    "vocab_mismatch", "wrong_architecture",
                                            "load_failed", "out_of_memory"};
    std::mt19937_64 random(77);
    std::map<std::string, int> seen;
    for (int i = 0, rounds = damage_rounds(); i < rounds; ++i) {
        write_damaged(
            original, i, random,
            [&] { return i % 3 == 1 ? random() % table_end : hparams + random() % (table_end - hparams); },
            path);
        const bool with_base = i % 2 == 0;
        ModelManager manager({path, "", with_base ? base_model() : ""});
        ModelInfo info = manager.load_with_fallback();
        if (with_base) {
            EXPECT_EQ(info.status, ModelStatus::Loaded);
        }
        const std::string code = codes(info)[0];
        EXPECT_TRUE(expected.count(code)) << code;
        if (code == "ok") {
            EXPECT_TRUE(decodes(*manager.current()));
        }
        ++seen[code];
    }
    EXPECT_GT(seen["truncated"], 0);
    EXPECT_GT(seen["corrupt"] + seen["load_failed"], 0);
    for (const auto& [code, count] : seen)
        std::printf("damaged fine-tuned files: %s x%d\n", code.c_str(), count);
}

// Damaged adapters as well: the adapter tier refuses them (or applies a harmless flip) and the base serves.
TEST(ModelManager, DamagedAdaptersNeverAbortTheChain) {
    const std::string dir = test::scratch_dir();
    const std::string good = adapter_for(base_model(), dir);
    const std::string original = read_file_bytes(good);
    const size_t table_end = original.find("blk.1.ffn_down.weight.lora_b") + 64;
    ASSERT_LT(table_end, original.size());
    const std::string path = dir + "/damaged-adapter.gguf";
    std::mt19937_64 random(5);
    std::map<std::string, int> seen;
    for (int i = 0, rounds = damage_rounds(); i < rounds; ++i) {
        write_damaged(
            original, i, random, [&] { return random() % table_end; }, path);
        ModelManager manager({"", path, base_model()});
        ModelInfo info = manager.load_with_fallback();
        ASSERT_EQ(info.status, ModelStatus::Loaded);
        const std::string code = codes(info)[1];
        if (code == "ok") {
            EXPECT_TRUE(decodes(*manager.current()));
        }
        ++seen[code];
    }
    EXPECT_GT(seen["truncated"], 0);
    EXPECT_GT(seen["corrupt"] + seen["adapter_mismatch"] + seen["wrong_architecture"], 0);
    for (const auto& [code, count] : seen) std::printf("damaged adapters: %s x%d\n", code.c_str(), count);
}

}  // namespace
}  // namespace mimir
