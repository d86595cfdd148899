// mimir prompts train: trains the snippet classifier from labelled prompts, prints its held-out accuracy
// (overall and per label) and writes it for `mimir serve --snippet-classifier`.
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "agent/snippet_classifier.h"
#include "cli/commands.h"
#include "cli/prompt_flags.h"
#include "eval/suite.h"

namespace mimir::cli {

namespace {

struct PromptsTrainFlags {
    std::string labels_file;
    std::string out;
    double test_share = 0.2;
    uint64_t seed = 42;
    std::string suite;  // optional: measure on the eval suite's prompts, labelled by their category
};

// Held out twice over: the suite's prompts are never in the labels file (a test checks it).
void print_suite_accuracy(const TrainedClassifier& trained, const std::string& path) {
    Result<eval::Suite> suite = eval::read_suite(path);
    if (!suite) {
        std::cerr << "mimir prompts train: " << suite.error().message << "\n";
        return;
    }
    std::vector<LabelledPrompt> rows;
    for (const eval::EvalCase& item : suite->cases) rows.push_back({item.prompt, item.category, item.line});
    std::cout << "suite " << path << ": "
              << describe_accuracy(measure_accuracy(trained.classifier, rows, trained.majority_label))
              << "\n";
}

int run_prompts_train(const PromptsTrainFlags& flags) {
    Result<std::vector<LabelledPrompt>> rows = read_labelled_prompts(flags.labels_file);
    if (!rows) {
        std::cerr << "mimir prompts train: " << rows.error().message << "\n";
        return 2;
    }
    TrainedClassifier trained = train_with_held_out(*rows, flags.test_share, flags.seed);
    std::cout << "trained on " << trained.train_rows << " of " << rows->size() << " prompts, "
              << trained.classifier.labels().size() << " labels (seed " << flags.seed << ")\n";
    if (trained.held_out.total > 0) std::cout << describe_accuracy(trained.held_out) << "\n";
    if (!flags.suite.empty()) print_suite_accuracy(trained, flags.suite);
    if (Status saved = trained.classifier.save(flags.out); !saved) {
        std::cerr << "mimir prompts train: " << saved.error().message << "\n";
        return 1;
    }
    std::cout << "wrote " << flags.out << "\n";
    return 0;
}

}  // namespace

void register_prompts_commands(CLI::App& app, int& exit_code) {
    CLI::App* prompts = app.add_subcommand("prompts", "The tutor prompt's snippets and their classifier");
    prompts->require_subcommand(1);
    auto flags = std::make_shared<PromptsTrainFlags>();
    CLI::App* train = prompts->add_subcommand(
        "train", "Train the classifier that chooses prompt snippets, print its held-out accuracy, write it");
    train->add_option("--labels", flags->labels_file, "CSV of labelled prompts (columns prompt,label)")
        ->required();
    train->add_option("--out", flags->out, "Classifier file to write (JSON)")->required();
    train->add_option("--test-share", flags->test_share, "Share of each label's prompts held out to measure")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.9));
    train->add_option("--seed", flags->seed, "Seed of the held-out split (training itself is deterministic)")
        ->capture_default_str();
    train->add_option("--suite", flags->suite,
                      "Also measure on an eval suite's prompts, labelled by their category (e.g. "
                      "data/eval_suite.jsonl)");
    train->callback([flags, &exit_code] { exit_code = run_prompts_train(*flags); });
}

}  // namespace mimir::cli
