// mimir promote: flags -> PromoteOptions, then the promote module trains, evaluates, gates and installs;
// --rollback and --history work on the same models folder.
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "cli/train_flags.h"
#include "eval/checks.h"
#include "model/sampling_limits.h"
#include "promote/models_folder.h"
#include "promote/promoter.h"

namespace mimir::cli {

namespace {

struct PromoteFlags {
    promote::PromoteOptions options;
    SystemPromptFlags system_prompt;
    std::string phrases = "data/checks";
    std::vector<std::string> checks;
    bool rollback = false;
    bool history = false;
    bool json = false;
};

int fail(const Error& error) {
    std::cerr << "mimir promote: " << error.code << ": " << error.message << "\n";
    return error.code == "nothing_to_roll_back" ? 1 : 2;
}

void print_record(const promote::PromotionRecord& record, const std::string& models_dir) {
    std::cout << promote::decision_name(record.decision) << ": " << record.reason << "\n";
    if (!record.generation.empty())
        std::cout << "current generation: " << record.generation << " (" << models_dir << "/current)\n";
    if (!record.report.empty()) std::cout << "eval report: " << models_dir << "/" << record.report << "\n";
    if (record.reload == promote::ReloadOutcome::Reloaded) std::cout << "server reloaded\n";
    if (record.reload == promote::ReloadOutcome::Failed)
        std::cout << "server NOT reloaded (the promotion stands): " << record.reload_error << "\n";
}

int run_history(const PromoteFlags& flags) {
    auto history = promote::read_history(promote::ModelsFolder(flags.options.models_dir).promotions_log());
    if (!history) return fail(history.error());
    if (!flags.json) {
        std::cout << promote::format_history(*history);
        return 0;
    }
    nlohmann::json records = nlohmann::json::array();
    for (const promote::PromotionRecord& record : history->records) records.push_back(record_to_json(record));
    std::cout << records.dump(2) << "\n";
    return 0;
}

int run_promote(PromoteFlags& flags) {
    if (flags.history) return run_history(flags);
    promote::PromoteOptions& o = flags.options;
    if (flags.rollback) {
        auto record = promote::run_rollback(o.models_dir, o.server);
        if (!record) return fail(record.error());
        print_record(*record, o.models_dir);
        return 0;
    }
    if (o.train.data_path.empty() || o.train.base_path.empty())
        return fail({"bad_option", "a promotion needs --data and --base (or --rollback / --history)"});
    Result<std::string> prompt = chosen_system_prompt(flags.system_prompt);
    if (!prompt) return fail(prompt.error());
    o.train.system_prompt = *prompt;
    auto phrases = eval::load_phrase_lists(flags.phrases);
    if (!phrases) return fail(phrases.error());
    o.eval.phrases = std::move(*phrases);
    o.eval.checks = flags.checks;
    o.engine.n_threads = o.train.n_threads;
    auto record = promote::run_promotion(o);
    if (!record) return fail(record.error());
    print_record(*record, o.models_dir);
    return record->decision == promote::Decision::Promoted ? 0 : 1;
}

void add_eval_flags(CLI::App& cmd, PromoteFlags& flags) {
    promote::PromoteOptions& o = flags.options;
    cmd.add_option("--suite", o.suite_path, "Suite of cases both models answer (JSON Lines)")
        ->capture_default_str();
    cmd.add_option("--suite-from-csv", o.suite_csv, "Use this fine-tuning CSV's rows as the suite instead");
    cmd.add_option("--checks", flags.checks, "Only these checks (comma-separated names)")->delimiter(',');
    cmd.add_option("--phrases", flags.phrases, "Directory of the checks' phrase lists")
        ->capture_default_str();
    cmd.add_option("--samples", o.eval.samples, "Replies per case: greedy, then seeded samples")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    cmd.add_option("--eval-seed", o.eval.seed, "Seed of the sampled replies")->capture_default_str();
    cmd.add_option("--temperature", o.eval.sampling.temperature, "Temperature of the sampled replies")
        ->check(CLI::Range(SamplingLimits::kMinTemperature, SamplingLimits::kMaxTemperature))
        ->capture_default_str();
    cmd.add_option("--max-tokens", o.eval.sampling.max_tokens, "Longest reply in tokens")
        ->capture_default_str()
        ->check(CLI::Range(SamplingLimits::kMinMaxTokens, 1 << 20));
    cmd.add_option("--eval-ctx", o.engine.n_ctx, "Context of the evaluation's engine in tokens")
        ->capture_default_str()
        ->check(CLI::Range(256, 1 << 20));
}

}  // namespace

void register_promote_command(CLI::App& app, int& exit_code) {
    auto flags = std::make_shared<PromoteFlags>();
    promote::PromoteOptions& o = flags->options;
    CLI::App* cmd = app.add_subcommand(
        "promote",
        "Train a candidate, evaluate it against the current generation of --models on the same suite, and "
        "install it only if it passes the gate. Gate: the candidate's accuracy must reach --min-accuracy, "
        "and "
        "on no gating check (nor on whole cases) may the current generation win more paired cases with an "
        "exact McNemar p < 0.05; with no current generation only the accuracy gates. Exit 0 promoted, 1 "
        "refused (the candidate stays in DIR/candidates/<id> with its report), 2 error");
    cmd->add_option("--models", o.models_dir,
                    "Models folder: generations/, current and previous links, candidates/, promotions.jsonl")
        ->required();
    cmd->add_option("--data", o.train.data_path, "Training CSV");
    cmd->add_option("--base", o.train.base_path,
                    "Base model GGUF the candidate is trained on and served with");
    cmd->add_option("--min-accuracy", o.gate.min_accuracy, "Accuracy the candidate must reach")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--server", o.server.url,
                    "Running mimir serve to reload after a change (http://host:port)");
    cmd->add_option("--api-key", o.server.api_key, "The server's --api-key")->envname("MIMIR_API_KEY");
    CLI::Option* rollback = cmd->add_flag("--rollback", flags->rollback,
                                          "Make the previous generation current again, and record it");
    CLI::Option* history = cmd->add_flag("--history", flags->history, "List the promotion records");
    cmd->add_flag("--json", flags->json, "With --history: the records as JSON");
    rollback->excludes(history);
    add_training_flags(*cmd, o.train);
    add_system_prompt_flags(*cmd, flags->system_prompt);
    add_eval_flags(*cmd, *flags);
    cmd->callback([flags, &exit_code] { exit_code = run_promote(*flags); });
}

}  // namespace mimir::cli
