// mimir train: LoRA (or full) fine-tuning on the Mimir CSV data set; mimir merge: fold an adapter into
// its base model. Flags are declared once here, with their defaults shown in --help.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "support/files.h"
#include "train/merge.h"
#include "train/run_folder.h"
#include "train/trainer.h"

namespace mimir::cli {

namespace {

int report_failure(const char* command, const Error& error) {
    std::cerr << "mimir " << command << ": " << error.code << ": " << error.message << "\n";
    return 1;
}

int run_train(TrainOptions options, const SystemPromptFlags& prompt_flags) {
    Result<std::string> system_prompt = chosen_system_prompt(prompt_flags);
    if (!system_prompt) return report_failure("train", system_prompt.error());
    options.system_prompt = std::move(*system_prompt);
    Result<TrainSummary> summary = run_training(options);
    if (!summary) return report_failure("train", summary.error());
    std::cout << "trained " << summary->steps << " steps over " << summary->epochs_done << " epochs ("
              << summary->train_rows << " train rows, " << summary->eval_rows << " eval rows, "
              << summary->skipped_rows << " rows skipped); last loss " << summary->last_loss;
    if (summary->best_eval_loss >= 0) {
        std::cout << ", best eval loss " << summary->best_eval_loss << " after epoch " << summary->best_epoch;
    }
    if (summary->stopped_early) std::cout << " (stopped early)";
    std::cout << "; " << static_cast<int>(summary->tokens_per_s) << " tokens/s\n"
              << "outputs in " << options.out_dir << "\n";
    return 0;
}

// A flag naming one state of an enum: accepts exactly the names in `names` (listed in --help) and stores
// the state, so the rest of the program never compares strings.
template <typename Enum>
CLI::Option* add_enum_option(CLI::App* command, const std::string& flag, Enum& target,
                             const std::map<std::string, Enum>& names, const std::string& help) {
    std::vector<std::string> keys;
    for (const auto& entry : names) keys.push_back(entry.first);
    return command
        ->add_option_function<std::string>(
            flag, [&target, &names](const std::string& name) { target = names.at(name); }, help)
        ->check(CLI::IsMember(keys));
}

// "all" | "none" | N, checked while parsing so a typo fails like any other bad flag value.
CLI::Validator recompute_validator() {
    return CLI::Validator(
        [](std::string& text) {
            Result<Recompute> parsed = parse_recompute(text);
            return parsed ? std::string() : parsed.error().message;
        },
        "all|none|N");
}

// The run folder's files as --help shows them: "--out/adapter.gguf", ...
const RunFolder kOut{"--out"};

std::string run_file_names() {
    std::string names;
    for (const std::string& file : kOut.files()) {
        names += (names.empty() ? "" : ", ") + std::filesystem::path(file).filename().string();
    }
    return names;
}

void register_train(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<TrainOptions>();
    auto prompt_flags = std::make_shared<SystemPromptFlags>();
    CLI::App* train = app.add_subcommand(
        "train",
        "Fine-tune a phi3/llama GGUF on the Mimir CSV (prompt, model response, issues, ideal response) with "
        "LoRA; writes its run folder --out: " +
            run_file_names());
    train->add_option("--data", o->data_path, "Training CSV (Google Sheets export)")->required();
    train->add_option("--base", o->base_path, "Base model GGUF (F32, F16, Q8_0 or Q4_K_M)")->required();
    train->add_option("--out", o->out_dir, "Output folder (created if missing)")->required();
    train->add_option("--batch", o->batch_size, "Sequences per micro-step")->capture_default_str();
    train->add_option("--grad-accumulation", o->grad_accumulation, "Micro-steps per optimizer step")
        ->capture_default_str();
    train->add_option("--epochs", o->epochs, "Passes over the training rows")->capture_default_str();
    train->add_option("--lr", o->learning_rate, "Peak learning rate (AdamW)")->capture_default_str();
    train->add_option("--warmup-ratio", o->warmup_ratio, "Fraction of steps with linear warmup")
        ->capture_default_str();
    add_enum_option(train, "--schedule", o->schedule, schedules_by_name(), "Learning rate decay after warmup")
        ->default_str(schedule_name(o->schedule));
    train->add_option("--weight-decay", o->weight_decay, "Decoupled AdamW weight decay")
        ->capture_default_str();
    train->add_option("--max-grad-norm", o->max_grad_norm, "Clip the gradient norm to this (0 = off)")
        ->capture_default_str();
    train->add_option("--rank", o->rank, "LoRA rank r")->capture_default_str();
    train->add_option("--alpha", o->alpha, "LoRA alpha (scale alpha / r)")->capture_default_str();
    train
        ->add_option(
            "--targets", o->targets,
            "LoRA targets: all (every attention and MLP projection) or any of attn_qkv attn_q attn_k attn_v "
            "attn_output ffn_gate ffn_up ffn_down output")
        ->delimiter(',')
        ->capture_default_str();
    train->add_flag(
        "--full", o->full,
        "Train all weights instead of LoRA (F32 base; writes " + kOut.fine_tuned() + ", no adapter)");
    train->add_option("--eval-fraction", o->eval_fraction, "Rows held out for eval loss (seeded shuffle)")
        ->capture_default_str();
    train->add_option("--seed", o->seed, "Seed for the split, the order and LoRA init")
        ->capture_default_str();
    train->add_option("--ctx", o->n_ctx, "Longest row in tokens; longer rows are skipped")
        ->capture_default_str();
    train->add_option("--threads", o->n_threads, "CPU threads (0 = all cores)")->capture_default_str();
    train
        ->add_option_function<std::string>(
            "--recompute", [o](const std::string& text) { o->recompute = *parse_recompute(text); },
            "Gradient checkpointing: all, none, or N = recompute the lowest N layers in the backward "
            "pass. Each recomputed layer keeps only its input (Phi-3-mini, 512 tokens: ~137 MiB less) "
            "for one more layer forward; all: ~1/2 more work, none: fastest, most memory")
        ->check(recompute_validator())
        ->default_str(o->recompute.name());
    train
        ->add_option("--checkpoint-every", o->checkpoint_every,
                     "Write " + kOut.checkpoint() + " every N steps (0 = never)")
        ->capture_default_str();
    train->add_flag("--resume", o->resume, "Continue from " + kOut.checkpoint());
    train->add_option("--patience", o->patience, "Stop after N epochs without eval improvement (0 = never)")
        ->capture_default_str();
    train->add_flag("--strict", o->strict, "Stop at the first bad row instead of skipping it");
    add_system_prompt_flags(*train, *prompt_flags);
    add_enum_option(train, "--merged-type", o->merged_type, merged_types_by_name(),
                    "Type of " + kOut.fine_tuned() + " (default: each tensor's type in the base)");
    train->callback([o, prompt_flags, &exit_code] { exit_code = run_train(*o, *prompt_flags); });
}

void register_merge(CLI::App& app, int& exit_code) {
    struct MergeOptions {
        std::string base, run, adapter, out;
        MergedType type = MergedType::AsBase;
    };
    auto o = std::make_shared<MergeOptions>();
    CLI::App* merge = app.add_subcommand(
        "merge", "Fold a LoRA adapter into its base model: one GGUF llama.cpp loads alone");
    merge->add_option("--base", o->base, "Base model GGUF")->required();
    CLI::Option* run =
        merge->add_option("--run", o->run,
                          "A mimir train --out folder RUN: --adapter defaults to " +
                              RunFolder{"RUN"}.adapter() + ", --out to " + RunFolder{"RUN"}.fine_tuned());
    CLI::Option* adapter =
        merge->add_option("--adapter", o->adapter, "LoRA adapter GGUF (from mimir train or llama.cpp)");
    CLI::Option* out = merge->add_option("--out", o->out, "Merged model GGUF to write");
    add_enum_option(merge, "--type", o->type, merged_types_by_name(),
                    "Requantize the merged model (default: keep the base's types)");
    adapter->needs(out);
    run->excludes(adapter);
    merge->callback([o, &exit_code] {
        if (!o->run.empty()) {
            const RunFolder folder{o->run};
            o->adapter = folder.adapter();
            if (o->out.empty()) o->out = folder.fine_tuned();
        }
        if (o->adapter.empty()) {
            exit_code = report_failure("merge", {"bad_option", "give --adapter and --out, or --run"});
            return;
        }
        Status merged = merge_files(o->base, o->adapter, o->out, o->type);
        exit_code = merged ? 0 : report_failure("merge", merged.error());
        if (merged) std::cout << "wrote " << o->out << "\n";
    });
}

}  // namespace

void register_train_commands(CLI::App& app, int& exit_code) {
    register_train(app, exit_code);
    register_merge(app, exit_code);
}

}  // namespace mimir::cli
