// mimir model tiny|tiny-adapter|info|load: write a random-weight model or LoRA adapter, describe a GGUF file,
// dry-run the fallback chain.
#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "model/adapter_check.h"
#include "model/gguf_inspect.h"
#include "model/model_manager.h"
#include "model/tiny_model.h"
#include "serve/status_button.h"

namespace mimir::cli {

namespace {

struct TinyOptions {
    TinyModelSpec spec;
    std::string out;
    std::string shape = "tiny";
};

// Flags given on the command line override the chosen shape's values; others keep the shape's.
TinyModelSpec spec_from_flags(const TinyOptions& options, const CLI::App& command) {
    if (options.shape != "phi3-mini") return options.spec;
    TinyModelSpec spec = TinyModelSpec::phi3_mini();
    const TinyModelSpec& flags = options.spec;
    auto given = [&](const char* flag) { return command.get_option(flag)->count() > 0; };
    if (given("--arch")) spec.arch = flags.arch;
    if (given("--layers")) spec.n_layer = flags.n_layer;
    if (given("--embd")) spec.n_embd = flags.n_embd;
    if (given("--heads")) spec.n_head = flags.n_head;
    if (given("--heads-kv")) spec.n_head_kv = flags.n_head_kv;
    if (given("--ff")) spec.n_ff = flags.n_ff;
    if (given("--ctx")) spec.n_ctx = flags.n_ctx;
    if (given("--seed")) spec.seed = flags.seed;
    if (given("--type")) spec.type = flags.type;
    spec.vocab_path = flags.vocab_path;
    return spec;
}

int run_tiny(const TinyOptions& options, const CLI::App& command) {
    TinyModelSpec spec = spec_from_flags(options, command);
    if (spec.vocab_path.empty()) spec.vocab_path = default_phi3_vocab_path();
    if (command.get_option("--heads")->count() > 0 && command.get_option("--heads-kv")->count() == 0) {
        spec.n_head_kv = spec.n_head;  // heads-kv follows heads unless given
    }
    const auto start = std::chrono::steady_clock::now();
    Status written = write_tiny_model(spec, options.out);
    if (!written.ok()) {
        std::cerr << "mimir model tiny: " << written.error().code << ": " << written.error().message << "\n";
        return 1;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Result<GgufSummary> summary = inspect_gguf(options.out);
    if (!summary.ok()) {
        std::cerr << "mimir model tiny: wrote " << options.out
                  << " but it does not read back: " << summary.error().message << "\n";
        return 1;
    }
    std::cout << "wrote " << options.out << ": " << summary->architecture << ", "
              << format_count(summary->n_params) << " parameters, " << summary->quantization << ", "
              << format_bytes(summary->file_size) << " in " << static_cast<int>(seconds * 1000) << " ms\n";
    return 0;
}

nlohmann::json summary_json(const GgufSummary& s) {
    nlohmann::json json = {{"path", s.path},
                           {"kind", s.is_adapter ? "lora_adapter" : "model"},
                           {"architecture", s.architecture},
                           {"n_params", s.n_params},
                           {"quantization", s.quantization},
                           {"dominant_tensor_type", s.file_type},
                           {"file_size", s.file_size},
                           {"n_tensors", s.n_tensors}};
    if (s.is_adapter) {
        json["adapter_type"] = s.adapter_type;
        json["lora_alpha"] = s.lora_alpha;
    } else {
        json["vocab_hash"] = s.vocab_hash;
        json["n_vocab"] = s.n_vocab;
        json["n_layer"] = s.n_layer;
        json["n_embd"] = s.n_embd;
        json["n_head"] = s.n_head;
        json["n_head_kv"] = s.n_head_kv;
        json["n_ff"] = s.n_ff;
        json["n_ctx_train"] = s.n_ctx_train;
    }
    return json;
}

void print_summary(const GgufSummary& s) {
    std::cout << "file:          " << s.path << "\n"
              << "kind:          " << (s.is_adapter ? "LoRA adapter" : "model") << "\n"
              << "architecture:  " << s.architecture << "\n"
              << "parameters:    " << format_count(s.n_params) << " (" << s.n_params << ")\n"
              << "quantization:  " << s.quantization << " (most weights " << s.file_type << ")\n"
              << "size:          " << format_bytes(s.file_size) << " (" << s.file_size << " bytes)\n"
              << "tensors:       " << s.n_tensors << "\n";
    if (s.is_adapter) {
        std::cout << "adapter:       " << s.adapter_type << ", alpha " << s.lora_alpha << "\n";
        return;
    }
    std::cout << "vocab:         " << s.n_vocab << " tokens, hash " << s.vocab_hash << "\n"
              << "shape:         " << s.n_layer << " layers, " << s.n_embd << " wide, " << s.n_head
              << " heads (" << s.n_head_kv << " kv), ff " << s.n_ff << ", trained context " << s.n_ctx_train
              << "\n";
}

int run_info(const std::string& path, bool as_json) {
    Result<GgufSummary> summary = inspect_gguf(path);
    if (!summary.ok()) {
        std::cerr << "mimir model info: " << summary.error().code << ": " << summary.error().message << "\n";
        return 1;
    }
    if (as_json) {
        std::cout << summary_json(*summary).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
    } else {
        print_summary(*summary);
    }
    return 0;
}

int run_load(const ModelPaths& flags, bool verbose) {
    spdlog::set_level(verbose ? spdlog::level::info : spdlog::level::warn);
    ModelManager manager(ModelPaths::from_environment().overridden_by(flags));
    const ModelInfo info = manager.load_with_fallback();
    std::cout << serve::model_info_json(info).dump(2) << "\n";
    return info.status == ModelStatus::Loaded ? 0 : 1;
}

void register_tiny(CLI::App& model, int& exit_code) {
    auto options = std::make_shared<TinyOptions>();
    TinyModelSpec& spec = options->spec;
    CLI::App* tiny = model.add_subcommand(
        "tiny", "Write a GGUF model with random weights and the real Phi-3 tokenizer and chat template");
    tiny->add_option("--out", options->out, "Where to write the .gguf file")->required();
    tiny->add_option("--shape", options->shape,
                     "tiny (the flags below) or phi3-mini (Phi-3-mini-4k's exact shape, "
                     "Q4_K_M unless --type; flags given override it)")
        ->check(CLI::IsMember({"tiny", "phi3-mini"}))
        ->capture_default_str();
    tiny->add_option("--arch", spec.arch, "phi3 (fused qkv and gate/up) or llama (split tensors)")
        ->check(CLI::IsMember({"phi3", "llama"}))
        ->capture_default_str();
    tiny->add_option("--layers", spec.n_layer, "Transformer blocks")->capture_default_str();
    tiny->add_option("--embd", spec.n_embd, "Embedding width")->capture_default_str();
    tiny->add_option("--heads", spec.n_head, "Attention heads")->capture_default_str();
    tiny->add_option("--heads-kv", spec.n_head_kv, "Key/value heads (default: same as --heads)")
        ->capture_default_str();
    tiny->add_option("--ff", spec.n_ff, "Feed-forward width")->capture_default_str();
    tiny->add_option("--ctx", spec.n_ctx, "Trained context length")->capture_default_str();
    tiny->add_option("--seed", spec.seed, "Seed of the random weights")->capture_default_str();
    tiny->add_option("--type", spec.type,
                     "Weight storage; q4_k_m needs widths divisible by 256, else those "
                     "tensors fall back to Q5_0/Q8_0")
        ->check(CLI::IsMember({"f32", "f16", "q8_0", "q4_k_m"}))
        ->capture_default_str();
    tiny->add_option("--vocab", spec.vocab_path,
                     "Phi-3 vocab GGUF (default: MIMIR_PHI3_VOCAB or the pinned "
                     "llama.cpp's models/ggml-vocab-phi-3.gguf)");
    tiny->callback([options, tiny, &exit_code] { exit_code = run_tiny(*options, *tiny); });
}

struct TinyAdapterOptions {
    std::string base, out;
    int rank = 4;
    float alpha = 8.0f;
    uint32_t seed = 7;
};

// Writes the adapter, then checks it the way the fallback chain will: a file that would not load as
// `--adapter` for this base is an error here, not a surprise at serve time.
int run_tiny_adapter(const TinyAdapterOptions& options) {
    Status written =
        write_random_lora_adapter(options.base, options.rank, options.alpha, options.seed, options.out);
    if (written.ok()) written = check_adapter_fits_base(options.out, options.base);
    if (!written.ok()) {
        std::cerr << "mimir model tiny-adapter: " << written.error().code << ": " << written.error().message
                  << "\n";
        return 1;
    }
    std::cout << "wrote " << options.out << ": LoRA adapter (rank " << options.rank << ") for "
              << options.base << "\n";
    return 0;
}

void register_tiny_adapter(CLI::App& model, int& exit_code) {
    auto options = std::make_shared<TinyAdapterOptions>();
    CLI::App* command = model.add_subcommand(
        "tiny-adapter",
        "Write a random LoRA adapter for a base GGUF: tries the \"base + adapter\" tier without "
        "training");
    command->add_option("--base", options->base, "The base model the adapter is for")
        ->required()
        ->check(CLI::ExistingFile);
    command->add_option("--out", options->out, "Where to write the adapter .gguf")->required();
    command->add_option("--rank", options->rank, "LoRA rank")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    command->add_option("--alpha", options->alpha, "LoRA alpha (scale = alpha / rank)")
        ->capture_default_str();
    command->add_option("--seed", options->seed, "Seed of the random weights")->capture_default_str();
    command->callback([options, &exit_code] { exit_code = run_tiny_adapter(*options); });
}

void register_info(CLI::App& model, int& exit_code) {
    auto path = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    CLI::App* info = model.add_subcommand(
        "info",
        "Describe a GGUF file: architecture, parameters, quantization, size, vocab hash, model or adapter");
    info->add_option("file", *path, "The .gguf file")->required();
    info->add_flag("--json", *as_json, "Print JSON instead of text");
    info->callback([path, as_json, &exit_code] { exit_code = run_info(*path, *as_json); });
}

void register_load(CLI::App& model, int& exit_code) {
    auto paths = std::make_shared<ModelPaths>();
    auto verbose = std::make_shared<bool>(false);
    CLI::App* load = model.add_subcommand(
        "load",
        "Run the fallback chain once (fine-tuned -> base + adapter -> base) and print get_model_info() "
        "as JSON; exit status 1 when no tier loads");
    add_model_path_flags(*load, *paths);
    load->add_flag("--verbose", *verbose, "Log every tier's attempt to stderr");
    load->callback([paths, verbose, &exit_code] { exit_code = run_load(*paths, *verbose); });
}

}  // namespace

void register_model_commands(CLI::App& app, int& exit_code) {
    CLI::App* model = app.add_subcommand("model", "Generate, inspect and dry-run-load GGUF models");
    model->require_subcommand(1);
    register_tiny(*model, exit_code);
    register_tiny_adapter(*model, exit_code);
    register_info(*model, exit_code);
    register_load(*model, exit_code);
}

}  // namespace mimir::cli
