// Measures Mimir's training step the way bench/run_train_bench.sh compares it with llama.cpp: forward +
// backward + AdamW on one sequence of --seq tokens, either LoRA on a frozen base (vs llama-bench pp512,
// forward only) or full fine-tuning of every weight (vs llama-finetune on the same text). Prints one
// `key=value` line per figure; the best of --repetitions runs, since load from elsewhere only slows a run.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "support/files.h"
#include "support/system.h"
#include "train/base_model.h"
#include "train/chat_examples.h"
#include "train/lora.h"
#include "train/optimizer.h"
#include "train/projection_kernels.h"
#include "train/trainer.h"
#include "train/training_graph.h"

namespace mimir {
namespace {

struct BenchOptions {
    std::string model_path;
    std::string text_path;  // full mode: train on this text, cut into --seq windows like llama-finetune
    std::string mode = "lora";
    int seq = 512;
    int n_threads = 0;
    int repetitions = 3;
    int rank = 8;
    std::string recompute = "all";
    int max_sequences = 0;  // 0 = all windows; a Phi-3-mini step takes minutes on 2 cores
    KernelPath kernels = KernelPath::Auto;
};

[[noreturn]] void fail(const std::string& message) {
    std::cerr << "train_bench: " << message << "\n";
    std::exit(1);
}

// Windows of `seq` tokens from the text (stride seq / 2, as llama-finetune's dataset), or random ids.
std::vector<TokenSequence> make_sequences(const BenchOptions& o, int64_t n_vocab) {
    std::vector<int32_t> tokens;
    if (!o.text_path.empty()) {
        Result<std::string> text = read_text_file(o.text_path);
        if (!text) fail(text.error().message);
        auto tokenizer = ChatTokenizer::open(o.model_path);
        if (!tokenizer) fail(tokenizer.error().message);
        auto chat = (*tokenizer)->chat_tokens("", "x", *text);  // its tokenizer; only the reply part is used
        if (!chat) fail(chat.error().message);
        tokens.assign(chat->tokens.begin() + chat->n_prompt, chat->tokens.end());
    } else {
        uint32_t state = 12345;
        for (int i = 0; i < 4 * o.seq; ++i) {
            state = state * 1664525u + 1013904223u;
            tokens.push_back(static_cast<int32_t>(state % static_cast<uint32_t>(n_vocab)));
        }
    }
    std::vector<TokenSequence> out;
    for (size_t start = 0; start + o.seq <= tokens.size(); start += o.seq / 2) {
        // Full mode: loss on every position but the first, as llama-finetune computes it. LoRA mode: a chat
        // whose second half is the reply.
        const int32_t n_prompt = o.mode == "full" ? 1 : o.seq / 2;
        out.push_back(
            {std::vector<int32_t>(tokens.begin() + start, tokens.begin() + start + o.seq), n_prompt, {}});
    }
    if (out.empty()) fail("not enough tokens for one sequence of " + std::to_string(o.seq));
    if (o.max_sequences > 0 && out.size() > static_cast<size_t>(o.max_sequences)) out.resize(o.max_sequences);
    return out;
}

int run(const BenchOptions& o) {
    spdlog::set_level(spdlog::level::warn);
    auto model = load_base_model(o.model_path);
    if (!model) fail(model.error().message);
    std::unique_ptr<LoraAdapter> adapter;
    std::vector<ggml_tensor*> parameters;
    if (o.mode == "full") {
        for (int64_t i = 0; i < gguf_get_n_tensors((*model)->gguf.get()); ++i) {
            parameters.push_back((*model)->find(gguf_get_tensor_name((*model)->gguf.get(), i)));
        }
    } else {
        auto targets = select_lora_targets(**model, {"all"});
        if (!targets) fail(targets.error().message);
        auto created = create_lora(**model, *targets, o.rank, 2.0f * o.rank, 1);
        if (!created) fail(created.error().message);
        adapter = std::move(*created);
        parameters = adapter->parameters();
    }
    const int threads = o.n_threads > 0 ? o.n_threads : default_thread_count();
    TrainingGraph graph(**model, adapter.get(), parameters, threads);
    Result<Recompute> recompute_flag = parse_recompute(o.recompute);
    if (!recompute_flag) fail(recompute_flag.error().message);
    const int recompute = recompute_flag->layer_count((*model)->shape.n_layer);
    graph.set_recompute_layers(recompute);
    Result<KernelPath> kernels = resolve_kernel_path(o.kernels);
    if (!kernels) fail(kernels.error().message);
    graph.set_kernel_path(*kernels);
    AdamW optimizer(parameters, OptimizerSettings{}, threads);
    const std::vector<TokenSequence> sequences = make_sequences(o, (*model)->shape.n_vocab);
    graph.zero_gradients();
    // Warm-up: first-touch allocation, as llama-bench's warmup.
    if (Result<float> warm = graph.accumulate_gradients(sequences[0]); !warm) fail(warm.error().message);
    double best = 0, total_tokens = 0, total_seconds = 0;
    for (int r = 0; r < o.repetitions; ++r) {
        for (const TokenSequence& s : sequences) {
            const auto t0 = std::chrono::steady_clock::now();
            graph.zero_gradients();
            if (Result<float> loss = graph.accumulate_gradients(s); !loss) fail(loss.error().message);
            optimizer.step(graph.gradients(), 1, 1e-5f);
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            best = std::max(best, s.tokens.size() / seconds);
            total_tokens += static_cast<double>(s.tokens.size());
            total_seconds += seconds;
        }
    }
    std::printf("kernels=%s\n", kernel_path_name(*kernels).c_str());
    std::printf(
        "mode=%s\nrecompute_layers=%d\nseq=%d\nthreads=%d\nsequences=%zu\ntrain_tokens_per_s_best=%."
        "1f\ntrain_tokens_per_s_mean=%."
        "1f\ncompute_buffer_mb=%.1f\n",
        o.mode.c_str(), recompute, o.seq, threads, sequences.size(), best, total_tokens / total_seconds,
        static_cast<double>(graph.compute_buffer_bytes()) / (1024.0 * 1024.0));
    return 0;
}

}  // namespace
}  // namespace mimir

int main(int argc, char** argv) {
    mimir::BenchOptions o;
    CLI::App app{"Training step throughput (forward + backward + AdamW) of Mimir's ggml training graph"};
    app.add_option("--model", o.model_path, "Base GGUF")->required();
    app.add_option("--mode", o.mode, "lora (frozen base) or full (every weight, F32 base)")
        ->capture_default_str();
    app.add_option("--text", o.text_path, "Text to train on (default: random token ids)");
    app.add_option("--seq", o.seq, "Tokens per sequence")->capture_default_str();
    app.add_option("--threads", o.n_threads, "CPU threads (0 = all cores)")->capture_default_str();
    app.add_option("--repetitions", o.repetitions, "Passes over the sequences")->capture_default_str();
    app.add_option("--rank", o.rank, "LoRA rank")->capture_default_str();
    app.add_option("--recompute", o.recompute,
                   "all, none or N lowest layers recomputed (as mimir train --recompute)")
        ->capture_default_str();
    app.add_option("--max-sequences", o.max_sequences, "Train on at most this many sequences (0 = all)")
        ->capture_default_str();
    std::vector<std::string> kernel_names;
    for (const auto& entry : mimir::kernel_paths_by_name()) kernel_names.push_back(entry.first);
    app.add_option_function<std::string>(
           "--kernels", [&o](const std::string& name) { o.kernels = mimir::kernel_paths_by_name().at(name); },
           "Kernel path of the frozen weights' products (as mimir train --kernels; default auto)")
        ->check(CLI::IsMember(kernel_names));
    CLI11_PARSE(app, argc, argv);
    return mimir::run(o);
}
