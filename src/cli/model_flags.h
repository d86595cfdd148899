// Flags shared by the commands that open a model (chat, serve, model load, eval) or render the tutor
// prompt (train): declared once here, so their names, help and ranges agree in every command.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "agent/response_guard.h"
#include "model/engine.h"
#include "model/model_manager.h"
#include "support/result.h"

namespace mimir::cli {

// --fine-tuned, --adapter, --base (each falls back to its MIMIR_* variable, see ModelPaths).
void add_model_path_flags(CLI::App& command, ModelPaths& paths);

// --ctx and --threads; with `with_parallel` also --parallel (conversations decoded together).
void add_engine_flags(CLI::App& command, EngineOptions& engine, bool with_parallel);

// --history-budget auto|N: tokens of conversation history kept per request, oldest turns dropped first
// (agent/history_budget.h); 0 turns it off (the engine alone fits the context).
void add_history_budget_flag(CLI::App& command, std::string& budget);

// The budget the flag chooses: N, or for "auto" default_history_budget of the engine's context and slots.
int chosen_history_budget(const std::string& budget, const EngineOptions& engine);

// --temperature, --top-p, --top-k, --repeat-penalty, --seed, --max-tokens.
void add_sampling_flags(CLI::App& command, SamplingParams& sampling);

// --system-prompt TEXT|none and --system-prompt-file FILE; without either, the default tutor prompt. Serving
// and training take the same flags, so a model is trained on the prompt it is served with.
struct SystemPromptFlags {
    std::string text;
    std::string file;
};
void add_system_prompt_flags(CLI::App& command, SystemPromptFlags& flags);

// --response-guard on|off and --guard-max-words N: the response guard on each reply (agent/response_guard.h).
void add_response_guard_flags(CLI::App& command, GuardSettings& guard);

// The prompt the flags choose: the file's text, "" for `--system-prompt none`, the given text, or the
// default tutor prompt. Errors name the file that cannot be read.
Result<std::string> chosen_system_prompt(const SystemPromptFlags& flags);

}  // namespace mimir::cli
