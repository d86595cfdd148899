// mimir: one executable, one subcommand per capability.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
    CLI::App app{"Mimir: a tutoring assistant that fine-tunes, evaluates and serves small language models"};
    app.require_subcommand(1);
    app.get_formatter()->column_width(40);
    int exit_code = 0;
    mimir::cli::register_model_commands(app, exit_code);
    mimir::cli::register_chat_command(app, exit_code);
    mimir::cli::register_serve_command(app, exit_code);
    mimir::cli::register_train_commands(app, exit_code);
    mimir::cli::register_eval_command(app, exit_code);
    mimir::cli::register_dataset_commands(app, exit_code);
    CLI11_PARSE(app, argc, argv);
    return exit_code;
}
