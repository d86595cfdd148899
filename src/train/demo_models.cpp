#include "train/demo_models.h"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <system_error>

#include "data/csv.h"
#include "data/fine_tuning_data.h"
#include "model/tiny_model.h"
#include "support/files.h"
#include "support/system.h"
#include "train/merge.h"
#include "train/run_files.h"
#include "train/run_folder.h"
#include "train/trainer.h"

namespace mimir {
namespace {

namespace fs = std::filesystem;

// Shares of the whole build each stage stands for in DemoProgress::fraction (merging is quick).
constexpr double kBaseShare = 0.5;
constexpr double kAdapterShare = 0.45;

// A build folder's models: the adapter and the merged model keep a training run's names.
DemoServePaths demo_files_in(const std::string& dir) {
    const RunFolder run{dir};
    return {.fine_tuned = run.fine_tuned(), .adapter = run.adapter(), .base = dir + "/base.gguf"};
}

// The data set as the base model learns it: the bad reply stands in the ideal reply's column, so the
// trainer (which learns that column) learns the original model's style.
Status write_base_csv(const FineTuningData& data, const std::string& path) {
    std::vector<FineTuningRow> rows;
    for (const FineTuningRow& row : data.rows) {
        if (row.model_response.empty()) continue;
        // The base learns the bad reply; the good one rides along in the column training does not read,
        // so zero_unused_output_rows keeps its tokens' output rows for the adapter to use.
        rows.push_back({.prompt = row.prompt,
                        .model_response = row.ideal_response,
                        .ideal_response = row.model_response});
    }
    if (rows.empty()) return Status::failure("no_rows", "no row of the data set has a model response");
    return write_fine_tuning_csv(path, rows, false);
}

// Points <cache>/current at `key` by renaming a fresh symlink over it (readers never see it missing).
Status point_current_at(const std::string& cache_dir, const std::string& key) {
    return replace_symlink_atomically((fs::path(cache_dir) / "current").string(), key);
}

class DemoBuilder {
  public:
    DemoBuilder(const DemoOptions& options, DemoModels models) : o_(options), models_(std::move(models)) {}

    Result<DemoModels> build(const FineTuningData& data) {
        const std::string work = models_.dir + "/work";
        Status st = prepare_output_dir(work);
        if (st && !fs::exists(models_.base_path)) st = train_base(data, work);
        if (st && !fs::exists(models_.adapter_path)) st = train_adapter(work);
        if (st && !fs::exists(models_.fine_tuned_path)) {
            report(DemoStage::fine_tuned, 0, 1, kBaseShare + kAdapterShare);
            st = merge_files(models_.base_path, models_.adapter_path, models_.fine_tuned_path,
                             MergedType::AsBase);
        }
        if (st) st = write_text_atomically(models_.dir + "/complete", models_.key + "\n");
        if (!st) return Result<DemoModels>(st.error());
        std::error_code ignored;
        fs::remove_all(work, ignored);
        report(DemoStage::done, 1, 1, 1.0);
        return models_;
    }

  private:
    TrainOptions train_options(const std::string& data_path, const std::string& base_path,
                               const std::string& out_dir) const {
        const DemoRecipe& r = o_.recipe;
        TrainOptions t;
        t.data_path = data_path;
        t.base_path = base_path;
        t.out_dir = out_dir;
        t.eval_fraction = 0;
        t.seed = r.seed;
        t.n_ctx = r.n_ctx;
        t.n_threads = o_.n_threads;
        t.recompute =
            Recompute{.mode = Recompute::Mode::None};  // tiny models: memory is no concern, speed is
        t.system_prompt = o_.system_prompt;
        t.quiet = true;
        return t;
    }

    void on_steps(TrainOptions& t, DemoStage stage, double start, double share) {
        t.on_step = [this, stage, start, share, epochs = t.epochs](int step, int total, int epoch) {
            report(stage, epoch, epochs, start + share * step / std::max(1, total));
            return !(o_.stop && o_.stop->load());
        };
    }

    Status train_base(const FineTuningData& data, const std::string& work) {
        const DemoRecipe& r = o_.recipe;
        report(DemoStage::base, 0, r.base_epochs, 0);
        TinyModelSpec spec{.n_layer = r.n_layer,
                           .n_embd = r.n_embd,
                           .n_head = r.n_head,
                           .n_head_kv = r.n_head,
                           .n_ff = r.n_ff,
                           .n_ctx = 4096,
                           .seed = r.seed,
                           .vocab_path = default_phi3_vocab_path()};
        if (spec.vocab_path.empty())
            return Status::failure("no_vocab",
                                   "the Phi-3 vocabulary file was not found (set MIMIR_PHI3_VOCAB)");
        const std::string random_base = work + "/random-base.gguf";
        Status st = write_tiny_model(spec, random_base);
        if (st) st = write_base_csv(data, work + "/base.csv");
        if (!st) return st;
        TrainOptions t = train_options(work + "/base.csv", random_base, work + "/base");
        t.full = true;
        t.zero_unused_output_rows = true;
        t.epochs = r.base_epochs;
        t.learning_rate = r.base_learning_rate;
        t.grad_accumulation = r.base_grad_accumulation;
        t.warmup_ratio = 0.05f;
        on_steps(t, DemoStage::base, 0, kBaseShare);
        Result<TrainSummary> trained = run_training(t);
        if (!trained) return Status(trained.error());
        if (trained->interrupted) return stopped();
        spdlog::info("event=demo_base_trained steps={} last_loss={:.4f}", trained->steps, trained->last_loss);
        return replace_file_with(RunFolder{work + "/base"}.fine_tuned(), models_.base_path);
    }

    Status train_adapter(const std::string& work) {
        const DemoRecipe& r = o_.recipe;
        report(DemoStage::adapter, 0, r.adapter_epochs, kBaseShare);
        TrainOptions t = train_options(o_.data_path, models_.base_path, work + "/adapter");
        t.epochs = r.adapter_epochs;
        t.learning_rate = r.adapter_learning_rate;
        t.grad_accumulation = r.adapter_grad_accumulation;
        t.warmup_ratio = 0.05f;
        t.schedule = Schedule::Linear;
        t.rank = r.rank;
        t.alpha = r.alpha;
        t.targets = r.targets;
        t.write_merged = false;  // merged as its own stage, so the adapter is served while it runs
        on_steps(t, DemoStage::adapter, kBaseShare, kAdapterShare);
        Result<TrainSummary> trained = run_training(t);
        if (!trained) return Status(trained.error());
        if (trained->interrupted) return stopped();
        spdlog::info("event=demo_adapter_trained steps={} last_loss={:.4f}", trained->steps,
                     trained->last_loss);
        return replace_file_with(RunFolder{work + "/adapter"}.adapter(), models_.adapter_path);
    }

    static Status stopped() {
        return Status::failure("stopped", "the demo build was stopped before it finished");
    }

    void report(DemoStage stage, int epoch, int epochs, double fraction) const {
        if (o_.on_progress) o_.on_progress(DemoProgress{stage, epoch, epochs, fraction});
    }

    const DemoOptions& o_;
    DemoModels models_;
};

}  // namespace

DemoRecipe DemoRecipe::standard() {
    return DemoRecipe{};
}

DemoRecipe DemoRecipe::quick() {
    DemoRecipe r;
    r.n_layer = 1;
    r.n_embd = 32;
    r.n_head = 2;
    r.n_ff = 64;
    r.base_epochs = 1;
    r.adapter_epochs = 1;
    r.rank = 4;
    r.alpha = 8;
    r.targets = {"all"};
    return r;
}

std::string DemoRecipe::fingerprint() const {
    std::ostringstream out;
    out << "layers=" << n_layer << " embd=" << n_embd << " heads=" << n_head << " ff=" << n_ff
        << " ctx=" << n_ctx << " seed=" << seed << " base_epochs=" << base_epochs
        << " base_lr=" << base_learning_rate << " base_accumulation=" << base_grad_accumulation
        << " adapter_epochs=" << adapter_epochs << " adapter_lr=" << adapter_learning_rate
        << " adapter_accumulation=" << adapter_grad_accumulation << " rank=" << rank << " alpha=" << alpha
        << " targets=";
    for (const std::string& target : targets) out << target << ",";
    return out.str();
}

const char* to_string(DemoStage stage) {
    switch (stage) {
        case DemoStage::base:
            return "base";
        case DemoStage::adapter:
            return "adapter";
        case DemoStage::fine_tuned:
            return "fine-tuned";
        case DemoStage::done:
            return "done";
    }
    return "unknown";
}

std::string default_demo_cache_dir() {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : ".") + "/.cache/mimir/demo";
}

DemoServePaths demo_serve_paths(const std::string& cache_dir) {
    return demo_files_in(cache_dir + "/current");
}

std::string demo_cache_key(const std::string& csv_bytes, const DemoOptions& options) {
    // One text of every input, hashed once: the same on every machine.
    const uint64_t hash =
        fnv1a_64("mimir-demo-v" + std::to_string(kDemoCodeVersion) + "\n" + options.recipe.fingerprint() +
                 "\n" + options.system_prompt + "\n" + csv_bytes);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
    return hex;
}

Result<DemoModels> build_demo_models(const DemoOptions& options) {
    Result<std::string> bytes = read_text_file(options.data_path);
    if (!bytes) return Result<DemoModels>(bytes.error());
    DemoModels models;
    models.key = demo_cache_key(*bytes, options);
    models.dir = options.cache_dir + "/" + models.key;
    const DemoServePaths files = demo_files_in(models.dir);
    models.base_path = files.base;
    models.adapter_path = files.adapter;
    models.fine_tuned_path = files.fine_tuned;
    if (fs::exists(models.dir + "/complete")) {
        models.reused = true;
        Status pointed = point_current_at(options.cache_dir, models.key);
        if (!pointed) return Result<DemoModels>(pointed.error());
        return models;
    }
    Result<FineTuningData> data = parse_fine_tuning_csv(*bytes, options.data_path);
    if (!data) return Result<DemoModels>(data.error());
    Status ready = prepare_output_dir(models.dir);
    if (ready) ready = point_current_at(options.cache_dir, models.key);
    if (!ready) return Result<DemoModels>(ready.error());
    spdlog::info("event=demo_build key={} dir={} rows={}", models.key, models.dir, data->rows.size());
    return DemoBuilder(options, models).build(*data);
}

}  // namespace mimir
