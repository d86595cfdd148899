// Each subcommand registers its flags (name, default, help: declared once) on the CLI11 app and returns
// the exit code through `exit_code` when it runs. The mains stay thin: parse flags, call a module.
#pragma once

#include <CLI/CLI.hpp>

namespace mimir::cli {

void register_model_commands(CLI::App& app, int& exit_code);    // mimir model tiny|info|load
void register_chat_command(CLI::App& app, int& exit_code);      // mimir chat
void register_serve_command(CLI::App& app, int& exit_code);     // mimir serve
void register_train_commands(CLI::App& app, int& exit_code);    // mimir train, mimir merge
void register_demo_command(CLI::App& app, int& exit_code);      // mimir demo
void register_eval_command(CLI::App& app, int& exit_code);      // mimir eval
void register_promote_command(CLI::App& app, int& exit_code);   // mimir promote
void register_prompts_commands(CLI::App& app, int& exit_code);  // mimir prompts train

// mimir dataset validate|stats|split|export
void register_dataset_commands(CLI::App& app, int& exit_code);

}  // namespace mimir::cli
