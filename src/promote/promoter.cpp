#include "promote/promoter.h"

#include <fcntl.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "eval/model_reply_source.h"
#include "eval/report.h"
#include "eval/suite.h"
#include "model/file_manifest.h"
#include "promote/models_folder.h"
#include "support/sha256.h"
#include "train/run_folder.h"

namespace mimir::promote {

namespace fs = std::filesystem;

namespace {

constexpr const char* kReportDir = "eval-report";

// MIMIR_PROMOTE_CRASH_AT: the reliability tests' stand-in for a kill at `step`.
void crash_point(const char* step) {
    const char* wanted = std::getenv("MIMIR_PROMOTE_CRASH_AT");
    if (wanted == nullptr || std::string_view(wanted) != step) return;
    spdlog::warn("event=promote_crash_injected step={}", step);
    spdlog::default_logger()->flush();
    ::_exit(86);
}

// An exclusive flock on DIR/promote.lock for as long as it lives (released by the kernel if killed).
class FolderLock {
  public:
    static Result<std::unique_ptr<FolderLock>> take(const ModelsFolder& folder) {
        const int fd = ::open(folder.lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return Error{"invalid_models_dir", "cannot open " + folder.lock_file()};
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd);
            return Error{"busy", "another promotion or rollback is running on " + folder.dir()};
        }
        return std::unique_ptr<FolderLock>(new FolderLock(fd));
    }
    ~FolderLock() { ::close(fd_); }
    FolderLock(const FolderLock&) = delete;
    FolderLock& operator=(const FolderLock&) = delete;

  private:
    explicit FolderLock(int fd) : fd_(fd) {}
    int fd_;
};

// A tier under the name the report gives it ("candidate", "current"): both are fine-tuned tiers.
class NamedSource : public eval::ReplySource {
  public:
    NamedSource(std::string name, std::unique_ptr<eval::ReplySource> inner)
        : name_(std::move(name)), inner_(std::move(inner)) {}
    std::string name() const override { return name_; }
    Result<std::string> reply(const std::vector<ChatMessage>& conversation,
                              const SamplingParams& sampling) override {
        return inner_->reply(conversation, sampling);
    }

  private:
    std::string name_;
    std::unique_ptr<eval::ReplySource> inner_;
};

std::unique_ptr<eval::ReplySource> open_tier(const std::string& name, const std::string& fine_tuned,
                                             const PromoteOptions& options) {
    auto source = eval::ModelReplySource::open(
        {.tier = Tier::FineTuned,
         .paths = {.fine_tuned = fine_tuned, .base = options.train.base_path},
         .session = {.engine = options.engine, .system_prompt = options.train.system_prompt}});
    if (!source) {
        spdlog::error("event=promote_tier_failed tier={} reason=\"{}\"", name, source.error().message);
        return std::make_unique<NamedSource>(
            name, std::make_unique<eval::UnavailableReplySource>(name, source.error()));
    }
    return std::make_unique<NamedSource>(name, std::move(*source));
}

// "20261201T193000Z-1234": sorts by time, unique per process.
std::string candidate_id() {
    std::string time = utc_now();
    std::erase(time, '-');
    std::erase(time, ':');
    return time + "-" + std::to_string(::getpid());
}

// The fine-tuned file's hash as the generation's manifest records it ("" when unknown).
std::string recorded_sha256(const std::string& generation_dir) {
    Result<std::optional<FileManifest>> manifest = read_manifest(generation_dir);
    if (!manifest || !manifest->has_value()) return "";
    const auto entry = (*manifest)->files.find(fs::path(RunFolder{""}.fine_tuned()).filename().string());
    return entry == (*manifest)->files.end() ? "" : entry->second.sha256;
}

Status write_candidate_manifest(const std::string& dir, const PromoteOptions& options,
                                const PromotionRecord& record) {
    std::vector<std::string> names;
    for (const std::string& file : RunFolder{dir}.files())
        names.push_back(fs::path(file).filename().string());
    Result<FileManifest> manifest = manifest_for_files(dir, names);
    if (!manifest) return manifest.error();
    manifest->details = {{"created_at", record.time},
                         {"data", options.train.data_path},
                         {"data_sha256", record.data_sha256},
                         {"base", options.train.base_path},
                         {"base_sha256", record.base_sha256}};
    return write_manifest(dir, *manifest);
}

void reload_into(PromotionRecord& record, const ServerTarget& server) {
    if (server.url.empty()) return;
    Status reloaded = reload_server(server);
    record.reload = reloaded ? ReloadOutcome::Reloaded : ReloadOutcome::Failed;
    if (!reloaded) {
        record.reload_error = reloaded.error().message;
        spdlog::error("event=promote_reload_failed url={} reason=\"{}\"", server.url, record.reload_error);
    }
}

Result<eval::Suite> load_suite(const PromoteOptions& options) {
    return options.suite_csv.empty() ? eval::read_suite(options.suite_path)
                                     : eval::suite_from_csv(options.suite_csv);
}

// Trains the candidate into DIR/candidates/<id> and writes its manifest.
Status train_candidate(const PromoteOptions& options, const std::string& dir, const PromotionRecord& record) {
    TrainOptions train = options.train;
    train.out_dir = dir;
    train.write_merged = true;
    Result<TrainSummary> trained = run_training(train);
    if (!trained) return trained.error();
    spdlog::info("event=promote_trained dir={} steps={} last_loss={}", dir, trained->steps,
                 trained->last_loss);
    return write_candidate_manifest(dir, options, record);
}

}  // namespace

Status reload_server(const ServerTarget& server) {
    const size_t scheme = server.url.find("://");
    if (scheme == std::string::npos || server.url.compare(0, scheme, "http") != 0)
        return Status::failure("invalid_url", "--server " + server.url + " is not http://host:port");
    const std::string origin = server.url.substr(0, server.url.find('/', scheme + 3));
    httplib::Client client(origin);
    client.set_connection_timeout(10, 0);
    client.set_read_timeout(600, 0);  // the server answers once the new model has loaded
    httplib::Headers headers;
    if (!server.api_key.empty()) headers.emplace("Authorization", "Bearer " + server.api_key);
    httplib::Result response = client.Post("/api/models/reload", headers, "", "application/json");
    if (!response)
        return Status::failure("unreachable",
                               server.url + " did not answer: " + httplib::to_string(response.error()));
    if (response->status != 200) {
        return Status::failure("reload_failed", server.url + "/api/models/reload answered " +
                                                    std::to_string(response->status) + ": " + response->body);
    }
    return ok_status();
}

Result<PromotionRecord> run_promotion(const PromoteOptions& options) {
    const ModelsFolder folder(options.models_dir);
    if (Status created = folder.create(); !created) return created.error();
    auto lock = FolderLock::take(folder);
    if (!lock) return lock.error();
    Result<std::optional<std::string>> current = folder.current();
    if (!current) return current.error();
    Result<eval::Suite> suite = load_suite(options);
    if (!suite) return suite.error();

    PromotionRecord record{.time = utc_now()};
    Result<std::string> data_sha = sha256_file(options.train.data_path);
    if (!data_sha) return Error{"not_found", "data set " + data_sha.error().message};
    Result<std::string> base_sha = sha256_file(options.train.base_path);
    if (!base_sha) return Error{"not_found", "base model " + base_sha.error().message};
    record.data_sha256 = *data_sha;
    record.base_sha256 = *base_sha;
    record.replaced_generation = current->value_or("");
    record.generation = record.replaced_generation;
    if (current->has_value()) record.current_sha256 = recorded_sha256(folder.generation_dir(**current));

    const std::string id = candidate_id();
    const std::string dir = folder.candidate_dir(id);
    if (Status trained = train_candidate(options, dir, record); !trained) return trained.error();
    record.candidate_sha256 = recorded_sha256(dir);
    crash_point("trained");

    std::vector<std::unique_ptr<eval::ReplySource>> tiers;
    tiers.push_back(open_tier("candidate", RunFolder{dir}.fine_tuned(), options));
    if (current->has_value())
        tiers.push_back(
            open_tier("current", RunFolder{folder.generation_dir(**current)}.fine_tuned(), options));
    std::vector<eval::ReplySource*> sources;
    for (auto& tier : tiers) sources.push_back(tier.get());
    Result<eval::EvalReport> report = eval::run_eval(*suite, sources, options.eval);
    tiers.clear();
    if (!report) return report.error();
    if (Status written = eval::write_reports(*report, dir + "/" + kReportDir); !written)
        return written.error();
    crash_point("evaluated");

    const GateDecision decision = decide_promotion(
        *report, 0, current->has_value() ? std::optional<size_t>(1) : std::nullopt, options.gate);
    record.reason = decision.reason;
    record.summary = decision.summary(options.gate);
    std::string where = "candidates/" + id;
    if (decision.promote) {
        const std::string generation = folder.next_generation_id();
        if (Status installed = folder.install_candidate(id, generation); !installed) return installed.error();
        crash_point("installed");
        if (Status switched = folder.switch_to(generation); !switched) return switched.error();
        crash_point("switched");
        record.decision = Decision::Promoted;
        record.generation = generation;
        where = "generations/" + generation;
        reload_into(record, options.server);
    }
    record.candidate_dir = where;
    record.report = where + "/" + kReportDir + "/report.json";
    if (Status appended = append_record(folder.promotions_log(), record); !appended) return appended.error();
    spdlog::info("event=promote_decided decision={} generation={} reason=\"{}\"",
                 decision_name(record.decision), record.generation, record.reason);
    return record;
}

Result<PromotionRecord> run_rollback(const std::string& models_dir, const ServerTarget& server) {
    const ModelsFolder folder(models_dir);
    std::error_code error;
    if (!fs::is_directory(models_dir, error))
        return Error{"invalid_models_dir", models_dir + " is not a folder of promoted models"};
    auto lock = FolderLock::take(folder);
    if (!lock) return lock.error();
    Result<std::optional<std::string>> before = folder.current();
    if (!before) return before.error();
    Result<std::string> now = folder.roll_back();
    if (!now) return now.error();

    PromotionRecord record{.time = utc_now(), .decision = Decision::RolledBack};
    record.generation = *now;
    record.replaced_generation = before->value_or("");
    record.candidate_sha256 = recorded_sha256(folder.generation_dir(*now));
    if (before->has_value()) record.current_sha256 = recorded_sha256(folder.generation_dir(**before));
    record.candidate_dir = "generations/" + *now;
    record.reason = "rolled back from generation " +
                    (before->has_value() ? **before : std::string("(none)")) + " to " + *now;
    reload_into(record, server);
    if (Status appended = append_record(folder.promotions_log(), record); !appended) return appended.error();
    spdlog::info("event=promote_rolled_back generation={} replaced={}", record.generation,
                 record.replaced_generation);
    return record;
}

}  // namespace mimir::promote
