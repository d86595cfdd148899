#include "train/trainer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

#include "data/fine_tuning_data.h"
#include "model/gguf_inspect.h"
#include "support/files.h"
#include "support/system.h"
#include "train/chat_examples.h"
#include "train/checkpoint.h"
#include "train/lora.h"
#include "train/merge.h"
#include "train/optimizer.h"
#include "train/progress.h"
#include "train/training_graph.h"

namespace mimir {

namespace {

using SummaryResult = Result<TrainSummary>;

Status bad_option(const std::string& message) {
    return Status::failure("bad_option", message);
}

Status validate(const TrainOptions& o) {
    if (o.data_path.empty()) return bad_option("--data is required");
    if (o.base_path.empty()) return bad_option("--base is required");
    if (o.out_dir.empty()) return bad_option("--out is required");
    if (!o.full && o.rank < 1)
        return bad_option("--rank must be at least 1 (got " + std::to_string(o.rank) + ")");
    if (!o.full && !(o.alpha > 0)) return bad_option("--alpha must be positive");
    if (o.epochs < 1) return bad_option("--epochs must be at least 1");
    if (o.batch_size < 1) return bad_option("--batch must be at least 1");
    if (o.grad_accumulation < 1) return bad_option("--grad-accumulation must be at least 1");
    if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate)) return bad_option("--lr must be positive");
    if (!(o.warmup_ratio >= 0 && o.warmup_ratio <= 1)) return bad_option("--warmup-ratio must be in [0, 1]");
    if (!(o.eval_fraction >= 0 && o.eval_fraction < 1))
        return bad_option("--eval-fraction must be in [0, 1)");
    if (!(o.weight_decay >= 0 && o.weight_decay <= 1)) return bad_option("--weight-decay must be in [0, 1]");
    if (!(o.max_grad_norm >= 0)) return bad_option("--max-grad-norm must be >= 0");
    if (o.n_ctx < 16) return bad_option("--ctx must be at least 16");
    if (o.recompute.layers < 0) return bad_option("--recompute must not be negative");
    if (Result<KernelPath> kernels = resolve_kernel_path(o.kernels); !kernels) return Status(kernels.error());
    if (o.n_threads < 0 || o.checkpoint_every < 0 || o.patience < 0) {
        return bad_option("--threads, --checkpoint-every and --patience must be >= 0");
    }
    return RunFolder{o.out_dir}.prepare();
}

// The system prompt goes with the model (serve it with --system-prompt-file): a model trained with one
// prompt answers best when served with the same one.
Status record_system_prompt(const TrainOptions& o) {
    const std::string& prompt = o.system_prompt;
    spdlog::info("event=system_prompt which={} chars={} fnv1a={:016x} file={}",
                 prompt.empty()                            ? "none"
                 : prompt == default_tutor_system_prompt() ? "default_tutor"
                                                           : "custom",
                 prompt.size(), fnv1a_64(prompt), RunFolder{o.out_dir}.system_prompt());
    return write_text_atomically(RunFolder{o.out_dir}.system_prompt(), prompt);
}

// Rows -> tokenized train/eval examples, reporting every skipped row.
struct Examples {
    std::vector<TrainingExample> train, eval;
    int skipped_rows = 0;
    std::vector<int32_t> model_response_tokens;  // with zero_unused_output_rows: the bad replies' tokens
};

// The tokens of every row's model response, as a reply (what zero_unused_output_rows keeps besides labels).
Result<std::vector<int32_t>> model_response_tokens(const FineTuningData& data, const ChatTokenizer& tokenizer,
                                                   const std::string& system_prompt) {
    std::vector<int32_t> tokens;
    for (const FineTuningRow& row : data.rows) {
        if (row.model_response.empty()) continue;
        Result<TokenSequence> chat = tokenizer.chat_tokens(system_prompt, row.prompt, row.model_response);
        if (!chat) return Result<std::vector<int32_t>>(chat.error());
        tokens.insert(tokens.end(), chat->tokens.begin() + chat->n_prompt, chat->tokens.end());
    }
    return tokens;
}

Result<Examples> load_examples(const TrainOptions& o) {
    Result<FineTuningData> data = read_fine_tuning_csv(o.data_path);
    if (!data) return Result<Examples>(data.error());
    if (o.strict && !data->problems.empty()) {
        return Result<Examples>::failure("bad_row", o.data_path + ": " + describe(data->problems.front()));
    }
    Result<std::unique_ptr<ChatTokenizer>> tokenizer = ChatTokenizer::open(o.base_path);
    if (!tokenizer) return Result<Examples>(tokenizer.error());
    Result<PreparedExamples> prepared =
        prepare_examples(*data, **tokenizer, o.system_prompt, o.n_ctx, o.strict);
    if (!prepared)
        return Result<Examples>::failure(prepared.error().code,
                                         o.data_path + ": " + prepared.error().message);
    std::vector<RowProblem> problems = data->problems;
    problems.insert(problems.end(), prepared->problems.begin(), prepared->problems.end());
    for (const RowProblem& p : problems) {
        spdlog::warn("event=row_skipped file={} row={} line={} reason=\"{}\"", o.data_path, p.row_number,
                     p.line, p.reason);
    }
    if (prepared->examples.empty())
        return Result<Examples>::failure("no_rows", o.data_path + ": no usable rows");
    Examples examples;
    examples.skipped_rows = static_cast<int>(problems.size());
    if (o.zero_unused_output_rows) {
        Result<std::vector<int32_t>> tokens = model_response_tokens(*data, **tokenizer, o.system_prompt);
        if (!tokens) return Result<Examples>(tokens.error());
        examples.model_response_tokens = std::move(*tokens);
    }
    const TrainEvalSplit split = split_train_eval(prepared->examples.size(), o.eval_fraction, o.seed);
    for (size_t i : split.train) examples.train.push_back(prepared->examples[i]);
    for (size_t i : split.eval) examples.eval.push_back(prepared->examples[i]);
    return examples;
}

float median(std::vector<float> values) {
    std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
    return values[values.size() / 2];
}

std::vector<std::vector<float>> snapshot(const std::vector<ggml_tensor*>& parameters) {
    std::vector<std::vector<float>> out;
    for (const ggml_tensor* p : parameters)
        out.emplace_back(ggml_get_data_f32(p), ggml_get_data_f32(p) + ggml_nelements(p));
    return out;
}

void restore(const std::vector<ggml_tensor*>& parameters, const std::vector<std::vector<float>>& values) {
    for (size_t i = 0; i < parameters.size(); ++i)
        std::copy(values[i].begin(), values[i].end(), ggml_get_data_f32(parameters[i]));
}

// One run: owns the model, adapter, graph and optimizer and walks the epochs.
class TrainingRun {
  public:
    TrainingRun(const TrainOptions& options, Examples examples)
        : o_(options), examples_(std::move(examples)) {}

    Status setup() {
        Result<std::unique_ptr<BaseModel>> model = load_base_model(o_.base_path);
        if (!model) return Status(model.error());
        model_ = std::move(*model);
        if (o_.full) {
            for (int64_t i = 0; i < gguf_get_n_tensors(model_->gguf.get()); ++i) {
                ggml_tensor* t = model_->find(gguf_get_tensor_name(model_->gguf.get(), i));
                if (t->type != GGML_TYPE_F32) {
                    return bad_option("--full needs an F32 base: " + std::string(ggml_get_name(t)) + " is " +
                                      ggml_type_name(t->type));
                }
                parameters_.push_back(t);
            }
        } else {
            Result<std::vector<ggml_tensor*>> targets = select_lora_targets(*model_, o_.targets);
            if (!targets) return Status(targets.error());
            Result<std::unique_ptr<LoraAdapter>> adapter =
                create_lora(*model_, *targets, o_.rank, o_.alpha, o_.seed);
            if (!adapter) return Status(adapter.error());
            adapter_ = std::move(*adapter);
            parameters_ = adapter_->parameters();
        }
        const int threads = o_.n_threads > 0 ? o_.n_threads : default_thread_count();
        graph_ = std::make_unique<TrainingGraph>(*model_, adapter_.get(), parameters_, threads);
        graph_->set_recompute_layers(o_.recompute.layer_count(model_->shape.n_layer));
        graph_->set_memory_limit(o_.memory_limit_bytes);
        const KernelPath kernels = *resolve_kernel_path(o_.kernels);  // checked by validate
        graph_->set_kernel_path(kernels);
        spdlog::info("event=kernels path={} requested={} trained_weights_path={}", kernel_path_name(kernels),
                     kernel_path_name(o_.kernels), kernel_path_name(best_f32_kernel_path()));
        settings_ = OptimizerSettings{.learning_rate = o_.learning_rate,
                                      .weight_decay = o_.weight_decay,
                                      .max_grad_norm = o_.max_grad_norm,
                                      .warmup_ratio = o_.warmup_ratio,
                                      .schedule = o_.schedule};
        optimizer_ = std::make_unique<AdamW>(parameters_, settings_, threads);
        const int per_step = o_.batch_size * o_.grad_accumulation;
        const int n_train = static_cast<int>(examples_.train.size());
        total_steps_ = o_.epochs * ((n_train + per_step - 1) / per_step);
        if (o_.resume) {
            if (Status resumed = resume(); !resumed) return resumed;
        }
        restrict_head();
        return ok_status();
    }

    // The head's softmax over the rows that can be non-zero and the labels (exact, see
    // set_head_vocabulary); with zero_unused_output_rows, the other rows are zeroed first.
    void restrict_head() {
        std::vector<int32_t> labels = examples_.model_response_tokens;
        for (const auto* split : {&examples_.train, &examples_.eval}) {
            for (const TrainingExample& example : *split) {
                const TokenSequence& s = example.sequence;
                for (int i = std::max(0, s.n_prompt - 1); i + 1 < static_cast<int>(s.tokens.size()); ++i)
                    labels.push_back(s.label_at(static_cast<size_t>(i)));
            }
        }
        if (o_.full && o_.zero_unused_output_rows) zero_output_rows_except(labels);
        std::vector<int32_t> vocabulary = output_rows_in_use(*model_, adapter_.get());
        vocabulary.insert(vocabulary.end(), labels.begin(), labels.end());
        graph_->set_head_vocabulary(vocabulary);
        spdlog::info("event=head_vocabulary rows={} n_vocab={}", graph_->head_vocabulary_size(),
                     model_->shape.n_vocab);
    }

    void zero_output_rows_except(const std::vector<int32_t>& kept) {
        ggml_tensor* output = model_->output;
        if (output == model_->token_embd || output->type != GGML_TYPE_F32) return;
        std::vector<bool> keep(static_cast<size_t>(output->ne[1]), false);
        for (int32_t id : kept) keep.at(static_cast<size_t>(id)) = true;
        for (int64_t row = 0; row < output->ne[1]; ++row) {
            if (!keep[static_cast<size_t>(row)])
                std::memset(static_cast<uint8_t*>(output->data) + row * output->nb[1], 0, output->nb[1]);
        }
    }

    SummaryResult run() {
        ProgressDisplay progress(total_steps_, o_.epochs, o_.quiet);
        const auto started = std::chrono::steady_clock::now();
        double trained_tokens = 0;
        const int n_train = static_cast<int>(examples_.train.size());
        for (; state_.epoch < o_.epochs; ++state_.epoch, state_.next_sequence = 0) {
            const std::vector<size_t> order = epoch_order(state_.epoch);
            while (state_.next_sequence < n_train) {
                Result<double> tokens = train_step(order, progress);
                if (!tokens) return SummaryResult(tokens.error());
                trained_tokens += *tokens;
                if (stop_requested_) {
                    summary_.interrupted = true;
                    return finish_summary();
                }
                if (o_.checkpoint_every > 0 && state_.step % o_.checkpoint_every == 0) {
                    Status saved = checkpoint();
                    if (!saved) return SummaryResult(saved.error());
                    if (o_.stop_after_steps > 0 && state_.step >= o_.stop_after_steps) {
                        summary_.interrupted = true;
                        return finish_summary();
                    }
                }
            }
            Status evaluated = evaluate(progress);
            if (!evaluated) return SummaryResult(evaluated.error());
            if (o_.patience > 0 && state_.epochs_without_improvement >= o_.patience) {
                summary_.stopped_early = true;
                progress.note(fmt::format("event=early_stop epoch={} best_epoch={} best_eval_loss={:.4f}",
                                          state_.epoch + 1, state_.best_epoch, state_.best_eval_loss));
                ++state_.epoch;
                break;
            }
        }
        progress.finish();
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        summary_.tokens_per_s = seconds > 0 ? trained_tokens / seconds : 0;
        Status written = write_outputs();
        if (!written) return SummaryResult(written.error());
        return finish_summary();
    }

  private:
    std::vector<size_t> epoch_order(int epoch) const {
        std::vector<size_t> order(examples_.train.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        seeded_shuffle(order, o_.seed * 0x100000001B3ull + static_cast<uint64_t>(epoch) + 1);
        return order;
    }

    // One optimizer step over the next batch * accumulation sequences; returns the tokens it trained on.
    Result<double> train_step(const std::vector<size_t>& order, ProgressDisplay& progress) {
        const auto t0 = std::chrono::steady_clock::now();
        const int n_train = static_cast<int>(order.size());
        const int group = std::min(o_.batch_size * o_.grad_accumulation, n_train - state_.next_sequence);
        graph_->zero_gradients();
        double loss_sum = 0, tokens = 0;
        for (int k = 0; k < group; ++k) {
            const TokenSequence& sequence =
                examples_.train[order[static_cast<size_t>(state_.next_sequence + k)]].sequence;
            Result<float> sequence_loss = graph_->accumulate_gradients(sequence);
            if (!sequence_loss) return Result<double>(sequence_loss.error());
            loss_sum += *sequence_loss;
            tokens += static_cast<double>(sequence.tokens.size());
        }
        const float loss = static_cast<float>(loss_sum / group);
        const float lr = learning_rate_at(settings_, state_.step, total_steps_);
        StepOutcome outcome{.grad_norm = NAN, .applied = false};
        if (std::isfinite(loss)) outcome = optimizer_->step(graph_->gradients(), group, lr);
        state_.next_sequence += group;
        ++state_.step;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        StepRecord record{
            .step = state_.step,
            .epoch = static_cast<float>(state_.epoch) + static_cast<float>(state_.next_sequence) / n_train,
            .learning_rate = lr,
            .loss = loss,
            .grad_norm = outcome.grad_norm,
            .tokens_per_s = static_cast<float>(tokens / seconds),
            .skipped = !outcome.applied};
        state_.log.steps.push_back(record);
        note_anomalies(record, progress);
        progress.step(state_.step, state_.epoch + 1, loss, record.tokens_per_s);
        if (o_.on_step && !o_.on_step(state_.step, total_steps_, state_.epoch + 1)) stop_requested_ = true;
        return tokens;
    }

    void note_anomalies(const StepRecord& r, ProgressDisplay& progress) {
        if (r.skipped) {
            ++state_.skipped_steps;
            progress.note(fmt::format("event=step_skipped step={} loss={} grad_norm={} reason=not_finite",
                                      r.step, r.loss, r.grad_norm));
            return;
        }
        if (state_.recent_losses.size() >= 5 && r.loss > 3.0f * median(state_.recent_losses)) {
            ++summary_.spikes;
            progress.note(fmt::format("event=loss_spike step={} loss={:.4f} running_median={:.4f}", r.step,
                                      r.loss, median(state_.recent_losses)));
        }
        state_.recent_losses.push_back(r.loss);
        if (state_.recent_losses.size() > 32) state_.recent_losses.erase(state_.recent_losses.begin());
    }

    Status evaluate(ProgressDisplay& progress) {
        if (examples_.eval.empty()) return state_.log.write_to(run_);
        double total = 0;
        for (const TrainingExample& e : examples_.eval) {
            Result<float> example_loss = graph_->loss(e.sequence);
            if (!example_loss) return Status(example_loss.error());
            total += *example_loss;
        }
        const float loss = static_cast<float>(total / examples_.eval.size());
        state_.log.evals.push_back({.step = state_.step, .epoch = state_.epoch + 1, .loss = loss});
        const bool improved =
            std::isfinite(loss) && (state_.best_eval_loss < 0 || loss < state_.best_eval_loss);
        progress.note(fmt::format("event=eval epoch={} step={} eval_loss={:.4f} best={}", state_.epoch + 1,
                                  state_.step, loss, improved ? "yes" : "no"));
        if (improved) {
            state_.best_eval_loss = loss;
            state_.best_epoch = state_.epoch + 1;
            state_.epochs_without_improvement = 0;
            state_.best_parameters = snapshot(parameters_);
            if (adapter_) {
                Status saved = save_lora(*adapter_, run_.adapter());
                if (!saved) return saved;
            }
        } else {
            ++state_.epochs_without_improvement;
        }
        return state_.log.write_to(run_);
    }

    Status checkpoint() {
        state_.adam_steps = optimizer_->steps_taken();
        Status saved = save_checkpoint(run_.checkpoint(), state_, parameters_, optimizer_->first_moments(),
                                       optimizer_->second_moments());
        if (saved) saved = state_.log.write_to(run_);
        if (saved) spdlog::debug("event=checkpoint step={} path={}", state_.step, run_.checkpoint());
        return saved;
    }

    Status resume() {
        Result<TrainingState> state = load_checkpoint(
            run_.checkpoint(), parameters_, optimizer_->first_moments(), optimizer_->second_moments());
        if (!state) return Status(state.error());
        state_ = std::move(*state);
        optimizer_->set_steps_taken(state_.adam_steps);
        spdlog::info("event=resume step={} epoch={} next_sequence={}", state_.step, state_.epoch + 1,
                     state_.next_sequence);
        return ok_status();
    }

    Status write_outputs() {
        if (!state_.best_parameters.empty()) restore(parameters_, state_.best_parameters);
        Status st = state_.log.write_to(run_);
        if (st && adapter_) st = save_lora(*adapter_, run_.adapter());
        if (st && o_.write_merged)
            st = write_merged_model(*model_, adapter_.get(), run_.fine_tuned(), o_.merged_type);
        return st;
    }

    SummaryResult finish_summary() {
        summary_.steps = state_.step;
        summary_.epochs_done = state_.epoch;
        summary_.skipped_steps = state_.skipped_steps;
        summary_.train_rows = static_cast<int>(examples_.train.size());
        summary_.eval_rows = static_cast<int>(examples_.eval.size());
        summary_.skipped_rows = examples_.skipped_rows;
        summary_.last_loss = state_.log.steps.empty() ? NAN : state_.log.steps.back().loss;
        summary_.best_eval_loss = state_.best_eval_loss;
        summary_.best_epoch = state_.best_epoch;
        return summary_;
    }

    const TrainOptions& o_;
    const RunFolder run_{o_.out_dir};
    Examples examples_;
    std::unique_ptr<BaseModel> model_;
    std::unique_ptr<LoraAdapter> adapter_;
    std::vector<ggml_tensor*> parameters_;
    std::unique_ptr<TrainingGraph> graph_;
    OptimizerSettings settings_;
    std::unique_ptr<AdamW> optimizer_;
    int total_steps_ = 0;
    TrainingState state_;
    TrainSummary summary_;
    bool stop_requested_ = false;  // on_step returned false
};

}  // namespace

SummaryResult run_training(const TrainOptions& options) {
    Status valid = validate(options);
    if (!valid) return SummaryResult(valid.error());
    Result<GgufSummary> base = inspect_gguf(options.base_path);  // clear errors before llama.cpp reads it
    if (!base) return SummaryResult(base.error());
    if (base->is_adapter)
        return SummaryResult::failure("not_a_model", options.base_path + " is an adapter, not a base model");
    Result<Examples> examples = load_examples(options);
    if (!examples) return SummaryResult(examples.error());
    spdlog::info(
        "event=train_start base={} rows_train={} rows_eval={} rows_skipped={} mode={} rank={} alpha={} "
        "schedule={} recompute={}",
        options.base_path, examples->train.size(), examples->eval.size(), examples->skipped_rows,
        options.full ? "full" : "lora", options.rank, options.alpha, schedule_name(options.schedule),
        options.recompute.name());
    if (Status recorded = record_system_prompt(options); !recorded) return SummaryResult(recorded.error());
    TrainingRun run(options, std::move(*examples));
    Status ready = run.setup();
    if (!ready) return SummaryResult(ready.error());
    return run.run();
}

int Recompute::layer_count(int64_t n_layer) const {
    switch (mode) {
        case Mode::All:
            return static_cast<int>(n_layer);
        case Mode::None:
            return 0;
        case Mode::Lowest:
            return std::min<int>(layers, static_cast<int>(n_layer));
    }
    return 0;
}

std::string Recompute::name() const {
    switch (mode) {
        case Mode::All:
            return "all";
        case Mode::None:
            return "none";
        case Mode::Lowest:
            return std::to_string(layers);
    }
    return "?";
}

Result<Recompute> parse_recompute(const std::string& text) {
    if (text == "all") return Recompute{.mode = Recompute::Mode::All};
    if (text == "none") return Recompute{.mode = Recompute::Mode::None};
    int count = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (error != std::errc() || end != text.data() + text.size() || count < 0) {
        return Result<Recompute>::failure(
            "bad_option", "--recompute must be all, none or a number of layers (got \"" + text + "\")");
    }
    return Recompute{.mode = Recompute::Mode::Lowest, .layers = count};
}

}  // namespace mimir
