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
#include "cli/train_flags.h"
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
    add_training_flags(*train, *o);
    train
        ->add_option("--checkpoint-every", o->checkpoint_every,
                     "Write " + kOut.checkpoint() + " every N steps (0 = never)")
        ->capture_default_str();
    train->add_flag("--resume", o->resume, "Continue from " + kOut.checkpoint());
    add_system_prompt_flags(*train, *prompt_flags);
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
