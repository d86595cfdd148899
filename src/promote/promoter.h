// `mimir promote`: train a candidate on the data set, evaluate it and the current generation of a models
// folder on the same suite (paired, in this process, as `mimir eval` does), and install it as the new
// current generation only when the gate (promote/gate.h) says so; `--rollback` puts the previous generation
// back. Every decision is appended to DIR/promotions.jsonl, and a running server can be told to reload.
//
// Fault injection for the reliability tests: MIMIR_PROMOTE_CRASH_AT=<step> ends the process with _exit(86)
// at that step, as a kill would: "trained" (candidate written), "evaluated" (reports written), "installed"
// (generation folder in place, before the switch), "switched" (current switched, before reload and record).
#pragma once

#include <optional>
#include <string>

#include "eval/runner.h"
#include "model/engine.h"
#include "promote/gate.h"
#include "promote/promotion_log.h"
#include "support/result.h"
#include "train/trainer.h"

namespace mimir::promote {

// A running `mimir serve` to reload after the current generation changed (empty url = none).
struct ServerTarget {
    std::string url;      // http://host:port
    std::string api_key;  // its --api-key
};

struct PromoteOptions {
    std::string models_dir;
    // The training run: data_path, base_path, every hyperparameter and the system prompt (also the prompt
    // the evaluation puts before each case, as a server with the same flags would). out_dir is ignored:
    // the candidate is trained into DIR/candidates/<id>.
    TrainOptions train;
    std::string suite_path = "data/eval_suite.jsonl";
    std::string suite_csv;  // when set, this fine-tuning CSV's rows are the suite instead
    eval::RunOptions eval;  // samples, seed, sampling, checks and phrase lists
    EngineOptions engine{.n_parallel = 1};
    GateOptions gate;
    ServerTarget server;
};

// Trains, evaluates, decides and records. A refused candidate stays in DIR/candidates/<id>/ with its
// eval-report/ and nothing else changes. Errors (nothing recorded, nothing switched): "busy" (another
// promotion holds DIR), "invalid_models_dir", the suite's, the trainer's and the report writer's errors,
// "not_found" for the data set or base.
Result<PromotionRecord> run_promotion(const PromoteOptions& options);

// Makes the previous generation current again and records it. Errors: "busy", "nothing_to_roll_back",
// "invalid_models_dir", "write_failed".
Result<PromotionRecord> run_rollback(const std::string& models_dir, const ServerTarget& server);

// POST <url>/api/models/reload with the key as a Bearer token. Errors: "invalid_url", "unreachable",
// "reload_failed" (any status but 200, with the server's message).
Status reload_server(const ServerTarget& server);

}  // namespace mimir::promote
