#include "cli/train_flags.h"

namespace mimir::cli {

namespace {

// "all" | "none" | N, checked while parsing so a typo fails like any other bad flag value.
CLI::Validator recompute_validator() {
    return CLI::Validator(
        [](std::string& text) {
            Result<Recompute> parsed = parse_recompute(text);
            return parsed ? std::string() : parsed.error().message;
        },
        "all|none|N");
}

}  // namespace

void add_training_flags(CLI::App& command, TrainOptions& o) {
    CLI::App* train = &command;
    train->add_option("--batch", o.batch_size, "Sequences per micro-step")->capture_default_str();
    train->add_option("--grad-accumulation", o.grad_accumulation, "Micro-steps per optimizer step")
        ->capture_default_str();
    train->add_option("--epochs", o.epochs, "Passes over the training rows")->capture_default_str();
    train->add_option("--lr", o.learning_rate, "Peak learning rate (AdamW)")->capture_default_str();
    train->add_option("--warmup-ratio", o.warmup_ratio, "Fraction of steps with linear warmup")
        ->capture_default_str();
    add_enum_option(train, "--schedule", o.schedule, schedules_by_name(), "Learning rate decay after warmup")
        ->default_str(schedule_name(o.schedule));
    train->add_option("--weight-decay", o.weight_decay, "Decoupled AdamW weight decay")
        ->capture_default_str();
    train->add_option("--max-grad-norm", o.max_grad_norm, "Clip the gradient norm to this (0 = off)")
        ->capture_default_str();
    train->add_option("--rank", o.rank, "LoRA rank r")->capture_default_str();
    train->add_option("--alpha", o.alpha, "LoRA alpha (scale alpha / r)")->capture_default_str();
    train
        ->add_option(
            "--targets", o.targets,
            "LoRA targets: all (every attention and MLP projection) or any of attn_qkv attn_q attn_k attn_v "
            "attn_output ffn_gate ffn_up ffn_down output")
        ->delimiter(',')
        ->capture_default_str();
    train->add_flag("--full", o.full, "Train all weights instead of LoRA (F32 base; writes only the model)");
    train->add_option("--eval-fraction", o.eval_fraction, "Rows held out for eval loss (seeded shuffle)")
        ->capture_default_str();
    train->add_option("--seed", o.seed, "Seed for the split, the order and LoRA init")->capture_default_str();
    train->add_option("--ctx", o.n_ctx, "Longest row in tokens; longer rows are skipped")
        ->capture_default_str();
    train->add_option("--threads", o.n_threads, "CPU threads (0 = all cores)")->capture_default_str();
    train
        ->add_option_function<std::string>(
            "--recompute", [&o](const std::string& text) { o.recompute = *parse_recompute(text); },
            "Gradient checkpointing: all, none, or N = recompute the lowest N layers in the backward "
            "pass. Each recomputed layer keeps only its input (Phi-3-mini, 512 tokens: ~137 MiB less) "
            "for one more layer forward; all: ~1/2 more work, none: fastest, most memory")
        ->check(recompute_validator())
        ->default_str(o.recompute.name());
    add_enum_option(train, "--kernels", o.kernels, kernel_paths_by_name(),
                    "Instructions of the frozen weights' products: auto (the best this CPU runs: amx, "
                    "avx512bf16, avx512, avx2, generic in that order), or force one (an error where it "
                    "cannot run). amx and avx512bf16 round the products' operands to BF16")
        ->envname("MIMIR_KERNELS")
        ->default_str(kernel_path_name(o.kernels));
    train->add_option("--patience", o.patience, "Stop after N epochs without eval improvement (0 = never)")
        ->capture_default_str();
    train->add_flag("--strict", o.strict, "Stop at the first bad row instead of skipping it");
    add_enum_option(train, "--merged-type", o.merged_type, merged_types_by_name(),
                    "Type of the merged model (default: each tensor's type in the base)");
}

}  // namespace mimir::cli
