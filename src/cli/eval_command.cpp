// mimir eval: flags -> a suite and tiers, then run_eval and the reports; or --check-data, which validates
// the checks against the fine-tuning CSV's human labels.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>

#include "agent/response_guard.h"
#include "cli/commands.h"
#include "cli/model_flags.h"
#include "cli/prompt_flags.h"
#include "eval/agreement.h"
#include "eval/model_reply_source.h"
#include "eval/progress.h"
#include "eval/reply_variants.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "model/sampling_limits.h"

namespace mimir::cli {

namespace {

struct EvalFlags {
    std::string suite = "data/eval_suite.jsonl";
    std::string suite_from_csv;
    std::string check_data;
    std::string out = "eval-report";
    std::vector<std::string> urls;
    std::vector<std::string> names;
    std::vector<std::string> checks;
    std::string phrases = "data/checks";
    int samples = 3;
    uint64_t seed = 0;
    float temperature = 0.7f;
    int max_tokens = 512;
    int timeout_s = 300;
    double min_accuracy = -1;  // < 0: no threshold
    std::string gate_tier;
    // Local tiers: each file given becomes a tier (base, base + adapter, fine-tuned), opened as serve would.
    ModelPaths models;
    EngineOptions engine{.n_parallel = 1};
    SystemPromptFlags system_prompt;
    // Each tier asked in these ways, side by side: "fixed" (the tier's fixed tutor prompt, raw replies),
    // "snippets" (the prompt snippets chosen per case), "+guarded" after either (the response guard applied).
    std::vector<std::string> variants{"fixed"};
    TutorPromptFlags snippets;  // the snippet files and classifier of the "snippets" variants
    GuardSettings guard;        // the guard of the "+guarded" variants
};

const std::vector<std::string> kVariants = {"fixed", "fixed+guarded", "snippets", "snippets+guarded"};

std::atomic<bool> g_stop_requested{false};

extern "C" void request_stop(int) {
    g_stop_requested.store(true);
    std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

int fail(const Error& error) {
    spdlog::error("event=eval_failed code={} reason=\"{}\"", error.code, error.message);
    return 2;
}

int run_check_data(const EvalFlags& flags, const eval::PhraseLists& phrases) {
    auto report = eval::check_agreement(flags.check_data, phrases, flags.checks);
    if (!report) return fail(report.error());
    std::cout << eval::format_agreement(*report);
    const bool met = report->ideal_pass_share() >= eval::kIdealPassGoal &&
                     report->bad_caught_share() >= eval::kBadCaughtGoal;
    return met ? 0 : 1;
}

// Base, adapter and fine-tuned tiers in that order, each opened on its own; one that does not load is
// reported as failed by the run, and the others still run.
Result<std::vector<std::unique_ptr<eval::ReplySource>>> local_tiers(const EvalFlags& flags) {
    std::vector<std::unique_ptr<eval::ReplySource>> tiers;
    const ModelPaths files = ModelPaths::from_environment().overridden_by(flags.models);
    if (files.base.empty() && !files.adapter.empty()) {
        return Error{"invalid_options", "--adapter needs --base (the model the adapter was trained on)"};
    }
    Result<std::string> system_prompt = chosen_system_prompt(flags.system_prompt);
    if (!system_prompt) return system_prompt.error();
    const SessionOptions session{.engine = flags.engine, .system_prompt = *system_prompt};
    const std::pair<Tier, const std::string*> wanted[] = {
        {Tier::Base, &files.base}, {Tier::Adapter, &files.adapter}, {Tier::FineTuned, &files.fine_tuned}};
    for (const auto& [tier, file] : wanted) {
        if (file->empty()) continue;
        auto source = eval::ModelReplySource::open(
            {.tier = tier, .paths = eval::paths_for_tier(tier, files), .session = session});
        if (source) {
            tiers.push_back(std::move(*source));
        } else {
            spdlog::error("event=tier_failed tier={} reason=\"{}\"", tier_name(tier), source.error().message);
            tiers.push_back(std::make_unique<eval::UnavailableReplySource>(tier_name(tier), source.error()));
        }
    }
    return tiers;
}

Result<std::vector<std::unique_ptr<eval::ReplySource>>> make_tiers(const EvalFlags& flags) {
    std::vector<std::unique_ptr<eval::ReplySource>> tiers;
    for (size_t i = 0; i < flags.urls.size(); ++i) {
        auto source = eval::OpenAiReplySource::create({.url = flags.urls[i],
                                                       .name = i < flags.names.size() ? flags.names[i] : "",
                                                       .read_timeout_s = flags.timeout_s});
        if (!source) return source.error();
        tiers.push_back(std::move(*source));
    }
    Result<std::vector<std::unique_ptr<eval::ReplySource>>> local = local_tiers(flags);
    if (!local) return local.error();
    for (auto& tier : *local) tiers.push_back(std::move(tier));
    if (tiers.empty()) {
        return Error{
            "invalid_options",
            "no tier to evaluate: pass --base (with --adapter / --fine-tuned) or --url, or --check-data"};
    }
    return tiers;
}

// A tier per (tier, variant); the variants of one tier share its generations. `owned` keeps them alive.
Result<std::vector<std::unique_ptr<eval::ReplySource>>> with_variants(
    const EvalFlags& flags, std::vector<std::unique_ptr<eval::ReplySource>> tiers,
    std::vector<std::shared_ptr<eval::ReplySource>>& owned) {
    if (flags.variants == std::vector<std::string>{"fixed"}) return tiers;
    std::shared_ptr<const TutorPrompter> prompter;
    if (std::any_of(flags.variants.begin(), flags.variants.end(),
                    [](const std::string& v) { return v.rfind("snippets", 0) == 0; })) {
        const ModelPaths files = ModelPaths::from_environment().overridden_by(flags.models);
        TutorPromptFlags snippets = flags.snippets;
        snippets.mode = "snippets";
        auto made = tutor_prompter_for(snippets, "", false, tokenizer_path_for(files));
        if (!made) return made.error();
        prompter = *made;
    }
    std::vector<std::unique_ptr<eval::ReplySource>> variants;
    for (auto& tier : tiers) {
        owned.push_back(std::move(tier));
        auto shared = std::make_shared<eval::SharedReplies>(*owned.back());
        for (const std::string& name : flags.variants) {
            eval::ReplyVariant variant;
            const bool guarded = name.find("+guarded") != std::string::npos;
            if (name.rfind("snippets", 0) == 0) {
                variant.label = "snippets";
                variant.prepare = [prompter](const std::vector<ChatMessage>& conversation) {
                    return with_prompt_choice(conversation, prompter->choose(conversation));
                };
            }
            if (guarded) {
                variant.label += variant.label.empty() ? "guarded" : " guarded";
                variant.rewrite = [guard = flags.guard](const std::string& reply) {
                    return guard_reply(reply, guard);
                };
            }
            variants.push_back(std::make_unique<eval::VariantReplySource>(shared, std::move(variant)));
        }
    }
    return variants;
}

int run_eval_command(const EvalFlags& flags) {
    auto phrases = eval::load_phrase_lists(flags.phrases);
    if (!phrases) return fail(phrases.error());
    if (auto checks = eval::select_checks(flags.checks); !checks) return fail(checks.error());
    if (!flags.check_data.empty()) return run_check_data(flags, *phrases);

    auto suite = flags.suite_from_csv.empty() ? eval::read_suite(flags.suite)
                                              : eval::suite_from_csv(flags.suite_from_csv);
    if (!suite) return fail(suite.error());
    std::vector<std::shared_ptr<eval::ReplySource>> owned_tiers;
    auto made = make_tiers(flags);
    if (!made) return fail(made.error());
    auto tiers = with_variants(flags, std::move(*made), owned_tiers);
    if (!tiers) return fail(tiers.error());
    std::vector<eval::ReplySource*> sources;
    for (auto& tier : *tiers) sources.push_back(tier.get());

    eval::EvalProgress progress;
    eval::RunOptions options{
        .samples = flags.samples,
        .seed = flags.seed,
        .sampling = {.temperature = flags.temperature, .max_tokens = flags.max_tokens},
        .checks = flags.checks,
        .phrases = std::move(*phrases),
        .stop = &g_stop_requested,
        .on_progress = [&progress](int done, int total) { progress.update(done, total); }};
    std::signal(SIGINT, request_stop);
    auto report = eval::run_eval(*suite, sources, options);
    std::signal(SIGINT, SIG_DFL);
    progress.finish();
    if (!report) return fail(report.error());
    for (const eval::TierResult& tier : report->tiers) {
        if (!tier.error.empty())
            spdlog::error("event=tier_failed tier=\"{}\" reason=\"{}\"", tier.name, tier.error);
    }
    std::cout << eval::format_table(*report);
    if (Status written = eval::write_reports(*report, flags.out); !written) return fail(written.error());
    spdlog::info("event=eval_reports dir={} partial={}", flags.out, report->partial);
    if (flags.min_accuracy < 0) return 0;
    auto below = eval::tiers_below(*report, flags.min_accuracy, flags.gate_tier);
    if (!below) return fail(below.error());
    for (const std::string& name : *below)
        spdlog::error("event=below_min_accuracy tier=\"{}\" min={}", name, flags.min_accuracy);
    return below->empty() ? 0 : 1;
}

}  // namespace

void register_eval_command(CLI::App& app, int& exit_code) {
    auto flags = std::make_shared<EvalFlags>();
    CLI::App* cmd =
        app.add_subcommand("eval", "Score tutoring replies with named checks, per tier, into reports");
    cmd->add_option("--suite", flags->suite, "Suite of cases (JSON Lines)")->capture_default_str();
    cmd->add_option(
        "--suite-from-csv", flags->suite_from_csv,
        "Use the fine-tuning CSV as the suite (ideal response = reference; style and pedagogy checks)");
    cmd->add_option("--check-data", flags->check_data,
                    "Validate the checks against the CSV's human labels and exit (1 when a goal is missed)");
    cmd->add_option("--out", flags->out, "Directory for report.json, report.md, report.html, junit.xml")
        ->capture_default_str();
    cmd->add_option("--url", flags->urls, "OpenAI-compatible server of a tier (repeat for more tiers)");
    cmd->add_option("--name", flags->names,
                    "Name of the tier of the --url in the same position (repeatable)");
    cmd->add_option("--checks", flags->checks, "Only these checks (comma-separated names)")->delimiter(',');
    cmd->add_option("--phrases", flags->phrases,
                    "Directory of the phrase lists (flowery, harsh, hedging_phrases.txt)")
        ->capture_default_str();
    cmd->add_option("--samples", flags->samples, "Replies per case: greedy, then seeded samples")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    cmd->add_option("--seed", flags->seed, "Seed of the sampled replies")->capture_default_str();
    cmd->add_option("--temperature", flags->temperature, "Temperature of the sampled replies")
        ->check(CLI::Range(SamplingLimits::kMinTemperature, SamplingLimits::kMaxTemperature))
        ->capture_default_str();
    cmd->add_option("--max-tokens", flags->max_tokens, "Longest reply in tokens")
        ->capture_default_str()
        ->check(CLI::Range(SamplingLimits::kMinMaxTokens, 1 << 20));
    cmd->add_option("--timeout", flags->timeout_s, "Seconds a server may take for one reply")
        ->capture_default_str();
    cmd->add_option("--min-accuracy", flags->min_accuracy, "Exit 1 when a tier's accuracy is below this")
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--gate-tier", flags->gate_tier, "Apply --min-accuracy to this tier only");
    add_model_path_flags(*cmd, flags->models);
    add_engine_flags(*cmd, flags->engine, false);
    add_system_prompt_flags(*cmd, flags->system_prompt);
    cmd->add_option("--variants", flags->variants,
                    "Ask each tier these ways, side by side: fixed (its tutor prompt, raw replies), snippets "
                    "(prompt snippets chosen per case), and either with +guarded (the response guard on)")
        ->delimiter(',')
        ->check(CLI::IsMember(kVariants))
        ->capture_default_str();
    cmd->add_option("--prompts", flags->snippets.prompts_dir, "Snippet folder of the snippets variants");
    cmd->add_option("--snippet-classifier", flags->snippets.classifier_file,
                    "Classifier of the snippets variants (default: trained from --prompt-labels)");
    cmd->add_option("--prompt-labels", flags->snippets.labels_file, "Labelled prompts to train it from");
    cmd->add_option("--prompt-budget", flags->snippets.prompt_budget, "Tokens the system prompt may take")
        ->capture_default_str();
    cmd->add_option("--guard-max-words", flags->guard.max_words,
                    "The guarded variants cut a longer reply after its last complete sentence (0 = no limit)")
        ->capture_default_str();
    cmd->callback([flags, &exit_code] { exit_code = run_eval_command(*flags); });
}

}  // namespace mimir::cli
