// mimir demo: builds (or finds in its cache) the demo's base, adapter and fine-tuned models from the data
// set alone; see train/demo_models.h.
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "train/demo_models.h"

namespace mimir::cli {

namespace {

struct DemoFlags {
    std::string data_path = "data/mimir_fine_tuning.csv";
    std::string cache_dir;
    int n_threads = 0;
    bool quick = false;
    SystemPromptFlags system_prompt;
};

int run_demo(const DemoFlags& flags) {
    Result<std::string> system_prompt = chosen_system_prompt(flags.system_prompt);
    if (!system_prompt) {
        std::cerr << "mimir demo: " << system_prompt.error().message << "\n";
        return 2;
    }
    DemoOptions options{.data_path = flags.data_path,
                        .cache_dir = flags.cache_dir.empty() ? default_demo_cache_dir() : flags.cache_dir,
                        .recipe = flags.quick ? DemoRecipe::quick() : DemoRecipe::standard(),
                        .system_prompt = *system_prompt,
                        .n_threads = flags.n_threads,
                        .on_progress = [last = -1](const DemoProgress& p) mutable {
                            const int percent = static_cast<int>(p.fraction * 100);
                            if (percent == last) return;
                            last = percent;
                            std::cerr << "demo: " << to_string(p.stage) << " epoch " << p.epoch << "/"
                                      << p.epochs << ", " << percent << "% of the build\n";
                        }};
    Result<DemoModels> models = build_demo_models(options);
    if (!models) {
        std::cerr << "mimir demo: " << models.error().code << ": " << models.error().message << "\n";
        return 1;
    }
    std::cout << (models->reused ? "reused" : "built") << " demo models " << models->key << "\n"
              << "base:       " << models->base_path << "\n"
              << "adapter:    " << models->adapter_path << "\n"
              << "fine-tuned: " << models->fine_tuned_path << "\n";
    return 0;
}

}  // namespace

void register_demo_command(CLI::App& app, int& exit_code) {
    auto flags = std::make_shared<DemoFlags>();
    CLI::App* demo = app.add_subcommand(
        "demo",
        "Build the demo models from the data set alone (a base trained from scratch on the bad replies, a "
        "LoRA adapter on the ideal ones, and the two merged), cached by data and recipe");
    demo->add_option("--data", flags->data_path, "Fine-tuning CSV")->capture_default_str();
    demo->add_option("--cache", flags->cache_dir, "Cache folder (default ~/.cache/mimir/demo)");
    demo->add_option("--threads", flags->n_threads, "CPU threads (0 = all cores)")->capture_default_str();
    demo->add_flag("--quick", flags->quick, "The tests' short recipe: fast, but the models learn little");
    add_system_prompt_flags(*demo, flags->system_prompt);
    demo->callback([flags, &exit_code] { exit_code = run_demo(*flags); });
}

}  // namespace mimir::cli
