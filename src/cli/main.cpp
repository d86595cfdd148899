// mimir: one executable, one subcommand per capability.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>

#include "cli/commands.h"

int main(int argc, char** argv) {
    // Debian's cpp-httplib writes without MSG_NOSIGNAL: a client that closes its socket mid-stream must
    // fail that write, not kill the server.
    std::signal(SIGPIPE, SIG_IGN);
    // stdout carries each command's output (a table, JSON, a reply); logs, one line per event, go to stderr.
    spdlog::set_default_logger(spdlog::stderr_color_mt("mimir"));
    CLI::App app{"Mimir: a tutoring assistant that fine-tunes, evaluates and serves small language models"};
    app.require_subcommand(1);
    app.get_formatter()->column_width(40);
    int exit_code = 0;
    mimir::cli::register_model_commands(app, exit_code);
    mimir::cli::register_chat_command(app, exit_code);
    mimir::cli::register_serve_command(app, exit_code);
    mimir::cli::register_train_commands(app, exit_code);
    mimir::cli::register_eval_command(app, exit_code);
    mimir::cli::register_promote_command(app, exit_code);
    mimir::cli::register_dataset_commands(app, exit_code);
    mimir::cli::register_demo_command(app, exit_code);
    mimir::cli::register_prompts_commands(app, exit_code);
    CLI11_PARSE(app, argc, argv);
    return exit_code;
}
