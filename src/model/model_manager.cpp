#include "model/model_manager.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <system_error>

#include "model/adapter_check.h"
#include "model/file_manifest.h"

namespace mimir {

namespace {

const char* const kSupportedArchitectures[] = {"phi3", "llama"};

std::string env_or_empty(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

// Bytes the kernel says it can still hand out (MemAvailable), or 0 when unknown.
uint64_t available_memory_bytes() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    std::string unit;
    while (meminfo >> key >> kb >> unit) {
        if (key == "MemAvailable:") return kb * 1024;
    }
    return 0;
}

bool supported_architecture(const std::string& arch) {
    for (const char* known : kSupportedArchitectures) {
        if (arch == known) return true;
    }
    return false;
}

Error error_of(const std::string& code, const std::string& message) {
    return Error{code, message};
}

// inspect_gguf's codes as the chain reports them (a directory is as good as missing).
Error file_error(const Error& inspected) {
    return inspected.code == "not_a_file" ? Error{"not_found", inspected.message} : inspected;
}

// The file a path names now, symlinks followed (unchanged when it cannot be resolved, e.g. missing).
std::string resolved(const std::string& path) {
    if (path.empty()) return path;
    std::error_code error;
    const std::filesystem::path real = std::filesystem::canonical(path, error);
    return error ? path : real.string();
}

// A digest that could not be computed is a load failure in the chain's own terms.
Error digest_error(const Error& error) {
    return error.code == "checksum_mismatch" ? error : Error{"load_failed", error.message};
}

// What a tier needs from one validated model file: a supported architecture and enough memory.
std::optional<Error> check_model_file(const GgufSummary& summary, uint64_t memory_limit) {
    if (summary.is_adapter) {
        return error_of("wrong_architecture", summary.path + " is a LoRA adapter, not a model");
    }
    if (!supported_architecture(summary.architecture)) {
        return error_of("wrong_architecture", summary.path + " has architecture '" + summary.architecture +
                                                  "' (Mimir runs phi3, llama)");
    }
    if (summary.vocab_hash.empty()) return error_of("corrupt", summary.path + " has no tokenizer");
    const uint64_t limit = memory_limit ? memory_limit : available_memory_bytes();
    if (limit != 0 && summary.file_size > limit) {
        return error_of("out_of_memory", summary.path + " needs " + format_bytes(summary.file_size) +
                                             ", only " + format_bytes(limit) + " available");
    }
    return std::nullopt;
}

}  // namespace

const char* tier_name(Tier tier) {
    switch (tier) {
        case Tier::FineTuned:
            return "fine-tuned";
        case Tier::Adapter:
            return "adapter";
        case Tier::Base:
            return "base";
    }
    return "unknown";
}

ModelPaths ModelPaths::from_environment() {
    return {env_or_empty("MIMIR_FINE_TUNED"), env_or_empty("MIMIR_ADAPTER"), env_or_empty("MIMIR_BASE")};
}

ModelPaths ModelPaths::overridden_by(const ModelPaths& flags) const {
    ModelPaths merged = *this;
    if (!flags.fine_tuned.empty()) merged.fine_tuned = flags.fine_tuned;
    if (!flags.adapter.empty()) merged.adapter = flags.adapter;
    if (!flags.base.empty()) merged.base = flags.base;
    return merged;
}

const char* model_status_name(ModelStatus status) {
    switch (status) {
        case ModelStatus::Loading:
            return "loading";
        case ModelStatus::Loaded:
            return "loaded";
        case ModelStatus::Error:
            return "error";
    }
    return "error";
}

ModelManager::ModelManager(ModelPaths paths, LoadOptions options)
    : paths_(std::move(paths)), options_(options) {
    info_.fine_tuned_path = paths_.fine_tuned;
    info_.adapter_path = paths_.adapter;
    info_.base_model_path = paths_.base;
}

namespace {

// One run of the chain. Kept apart from ModelManager so the members stay few: it only reads the paths and
// options and produces the attempts and the winning model.
class FallbackChain {
  public:
    FallbackChain(const ModelPaths& paths, const LoadOptions& options)
        : paths_{resolved(paths.fine_tuned), resolved(paths.adapter), resolved(paths.base)},
          options_(options) {}

    std::vector<TierAttempt> attempts;
    std::shared_ptr<LoadedModel> winner;

    void run() {
        ensure_llama_backend();
        base_ = paths_.base.empty() ? std::nullopt : std::optional(inspect_gguf(paths_.base));
        if (try_tier(Tier::FineTuned, paths_.fine_tuned, [&](TierAttempt& a) { return load_fine_tuned(a); }))
            return;
        if (try_tier(Tier::Adapter, paths_.adapter, [&](TierAttempt& a) { return load_adapter(a); })) return;
        try_tier(Tier::Base, paths_.base, [&](TierAttempt& a) { return load_base(a); });
    }

  private:
    template <typename Load>
    bool try_tier(Tier tier, const std::string& path, Load load) {
        TierAttempt attempt{tier, path};
        const auto start = std::chrono::steady_clock::now();
        if (path.empty()) {
            attempt.error = error_of("not_configured", std::string("no ") + tier_name(tier) + " path given");
        } else {
            std::optional<Error> failed = load(attempt);
            attempt.ok = !failed;
            if (failed) attempt.error = *failed;
        }
        attempt.load_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (attempt.ok || attempt.error.code == "not_configured") {
            spdlog::info("event=model_load tier={} path=\"{}\" ok={} ms={:.1f}", tier_name(tier), path,
                         attempt.ok, attempt.load_ms);
        } else {
            spdlog::warn("event=model_load tier={} path=\"{}\" ok=false code={} ms={:.1f} error=\"{}\"",
                         tier_name(tier), path, attempt.error.code, attempt.load_ms, attempt.error.message);
        }
        attempts.push_back(attempt);
        return attempt.ok;
    }

    // The base model's summary, or why the base cannot serve as one.
    Result<GgufSummary> base_summary() const {
        if (!base_) return Result<GgufSummary>::failure("not_configured", "no base model path given");
        if (!base_->ok()) return Result<GgufSummary>(file_error(base_->error()));
        if (auto bad = check_model_file(base_->value(), options_.memory_limit_bytes))
            return Result<GgufSummary>(*bad);
        return base_->value();
    }

    Result<ModelHandle> load_weights(const std::string& path) const {
        llama_model_params params = llama_model_default_params();
        params.load_mode = options_.use_mmap ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
        params.use_extra_bufts = options_.use_extra_buffer_types;
        take_llama_errors();
        ModelHandle model(llama_model_load_from_file(path.c_str(), params));
        if (!model) {
            const std::string reason = take_llama_errors();
            const bool memory =
                reason.find("alloc") != std::string::npos || reason.find("memory") != std::string::npos;
            return Result<ModelHandle>::failure(memory ? "out_of_memory" : "load_failed",
                                                "llama.cpp could not load " + path + ": " + reason);
        }
        return model;
    }

    // Loads the weights while another thread hashes the same file (and checks it against its manifest), so
    // the two reads overlap and one of them is served from the page cache (llama.cpp reads the file itself,
    // so the bytes cannot be hashed as they pass). `digest` receives the file's SHA-256. A mismatch wins
    // over a load error: it says more.
    Result<ModelHandle> load_checked(const std::string& path, std::string& digest) const {
        auto hashing = std::async(std::launch::async, [path] { return verified_sha256(path); });
        Result<ModelHandle> model = load_weights(path);
        Result<std::string> checked = hashing.get();
        if (!checked) return digest_error(checked.error());
        digest = *checked;
        return model;
    }

    std::optional<Error> finish(Tier tier, const GgufSummary& summary, Result<ModelHandle> model,
                                std::string file_sha256, AdapterHandle adapter = {}) {
        if (!model.ok()) return model.error();
        auto loaded = std::make_shared<LoadedModel>();
        loaded->model = std::move(model).value();
        loaded->adapter = std::move(adapter);
        loaded->tier = tier;
        loaded->summary = summary;
        loaded->file_sha256 = std::move(file_sha256);
        winner = std::move(loaded);
        return std::nullopt;
    }

    std::optional<Error> load_fine_tuned(TierAttempt& attempt) {
        Result<GgufSummary> summary = inspect_gguf(attempt.path);
        if (!summary.ok()) return file_error(summary.error());
        if (auto bad = check_model_file(*summary, options_.memory_limit_bytes)) return bad;
        // The tokenizer is always the base's: a fine-tune with another vocabulary would mis-tokenise.
        if (base_ && base_->ok() && (*base_)->vocab_hash != summary->vocab_hash) {
            return error_of("vocab_mismatch", attempt.path + " has vocabulary " + summary->vocab_hash +
                                                  ", the base " + paths_.base + " has " +
                                                  (*base_)->vocab_hash);
        }
        std::string digest;
        Result<ModelHandle> model = load_checked(attempt.path, digest);
        return finish(Tier::FineTuned, *summary, std::move(model), digest);
    }

    std::optional<Error> load_adapter(TierAttempt& attempt) {
        Result<GgufSummary> adapter = inspect_gguf(attempt.path);
        if (!adapter.ok()) return file_error(adapter.error());
        if (!adapter->is_adapter || adapter->adapter_type != "lora") {
            return error_of("wrong_architecture", attempt.path + " is not a LoRA adapter");
        }
        Result<GgufSummary> base = base_summary();
        if (!base.ok()) {
            return error_of(base.error().code, "the adapter's base cannot load: " + base.error().message);
        }
        if (Status fits = check_adapter_fits_base(attempt.path, paths_.base); !fits.ok()) return fits.error();
        // The adapter is what serves (and is small): always hashed. The base only when a manifest lists it.
        Result<std::string> adapter_digest = verified_sha256(attempt.path);
        if (!adapter_digest) return digest_error(adapter_digest.error());
        std::string base_digest;
        Result<ModelHandle> model =
            manifest_lists(paths_.base) ? load_checked(paths_.base, base_digest) : load_weights(paths_.base);
        if (!model.ok()) return model.error();
        take_llama_errors();
        AdapterHandle lora(llama_adapter_lora_init(model->get(), attempt.path.c_str()));
        if (!lora)
            return error_of("load_failed",
                            "llama.cpp could not apply " + attempt.path + ": " + take_llama_errors());
        return finish(Tier::Adapter, *base, std::move(model), *adapter_digest, std::move(lora));
    }

    std::optional<Error> load_base(TierAttempt& attempt) {
        Result<GgufSummary> base = base_summary();
        if (!base.ok()) return base.error();
        std::string digest;
        Result<ModelHandle> model = load_checked(attempt.path, digest);
        return finish(Tier::Base, *base, std::move(model), digest);
    }

    const ModelPaths paths_;  // resolved once, so every read of a run sees the same files
    const LoadOptions& options_;
    std::optional<Result<GgufSummary>> base_;
};

}  // namespace

ModelInfo ModelManager::load_with_fallback() {
    std::lock_guard<std::mutex> one_load_at_a_time(load_mutex_);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        info_.status = ModelStatus::Loading;
    }
    FallbackChain chain(paths_, options_);
    chain.run();

    ModelInfo info;
    info.fine_tuned_path = paths_.fine_tuned;
    info.adapter_path = paths_.adapter;
    info.base_model_path = paths_.base;
    info.attempts = chain.attempts;
    if (chain.winner) {
        const LoadedModel& won = *chain.winner;
        info.status = ModelStatus::Loaded;
        info.tier = won.tier;
        info.architecture = won.summary.architecture;
        info.quantization = won.summary.quantization;
        info.n_params = llama_model_n_params(won.model.get());
        info.model_size_bytes = won.summary.file_size;
        info.file_sha256 = won.file_sha256;
    } else {
        info.status = ModelStatus::Error;
        // The status tooltip shows only the first 50 characters: the base tier's failure (why nothing serves
        // at all) comes first, and tiers that were never configured are left out.
        std::ostringstream summary;
        for (auto it = chain.attempts.rbegin(); it != chain.attempts.rend(); ++it) {
            const TierAttempt& a = *it;
            if (a.error.code != "not_configured")
                summary << " " << tier_name(a.tier) << ": " << a.error.message << ";";
        }
        info.error = summary.str().empty() ? std::string("no model configured: set --base or MIMIR_BASE")
                                           : "no model could be loaded:" + summary.str();
        if (info.error.back() == ';') info.error.pop_back();
    }
    info.resident_memory_bytes = resident_memory_bytes();

    std::lock_guard<std::mutex> lock(mutex_);
    for (const TierAttempt& a : chain.attempts) {
        if (a.error.code == "not_configured") continue;
        const std::string name = tier_name(a.tier);
        ++counters_.attempts_by_tier[name];
        ++(a.ok ? counters_.wins_by_tier[name] : counters_.failures_by_tier[name]);
        counters_.last_load_ms_by_tier[name] = a.load_ms;
    }
    if (chain.winner && chain.winner->tier == Tier::Base) ++counters_.fallback_activations;
    if (!chain.winner) ++counters_.total_errors;
    // A failed reload keeps nothing serving: the paths now say "error", and a model that no longer
    // matches them must not keep answering as if it did.
    current_ = chain.winner;
    info_ = info;
    spdlog::info("event=model_ready status={} model_type={} using_fallback={} rss_mb={:.1f}",
                 model_status_name(info.status), info.tier ? tier_name(*info.tier) : "none",
                 info.using_fallback(), info.resident_memory_bytes / 1048576.0);
    return info;
}

std::shared_ptr<const LoadedModel> ModelManager::current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_;
}

ModelInfo ModelManager::get_model_info() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return info_;
}

LoadCounters ModelManager::counters() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return counters_;
}

uint64_t resident_memory_bytes() {
    std::ifstream statm("/proc/self/statm");
    uint64_t total_pages = 0, resident_pages = 0;
    if (!(statm >> total_pages >> resident_pages)) return 0;
    return resident_pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

uint64_t peak_resident_memory_bytes() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
    }
    return 0;
}

}  // namespace mimir
