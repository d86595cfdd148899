#include "train/checkpoint.h"

#include <cstring>
#include <filesystem>

#include "train/run_files.h"

namespace mimir {

namespace {

constexpr const char* kPrefix = "mimir.checkpoint.";

std::string key(const char* name) {
    return std::string(kPrefix) + name;
}

// Column `member` of the step records as one array.
template <typename Member>
std::vector<float> column(const std::vector<StepRecord>& rows, Member member) {
    std::vector<float> out;
    for (const StepRecord& r : rows) out.push_back(static_cast<float>(r.*member));
    return out;
}

void set_floats(gguf_context* gguf, const std::string& name, const std::vector<float>& values) {
    gguf_set_arr_data(gguf, name.c_str(), GGUF_TYPE_FLOAT32, values.data(), values.size());
}

std::vector<float> get_floats(const gguf_context* gguf, const std::string& name) {
    const int64_t id = gguf_find_key(gguf, name.c_str());
    if (id < 0 || gguf_get_kv_type(gguf, id) != GGUF_TYPE_ARRAY ||
        gguf_get_arr_type(gguf, id) != GGUF_TYPE_FLOAT32)
        return {};
    const float* data = static_cast<const float*>(gguf_get_arr_data(gguf, id));
    return std::vector<float>(data, data + gguf_get_arr_n(gguf, id));
}

int64_t get_int(const gguf_context* gguf, const char* name) {
    const int64_t id = gguf_find_key(gguf, key(name).c_str());
    return id >= 0 && gguf_get_kv_type(gguf, id) == GGUF_TYPE_INT64 ? gguf_get_val_i64(gguf, id) : -1;
}

// A tensor header pointing at `data` (not copied: gguf reads it when writing).
ggml_tensor* wrap(ggml_context* ctx, const std::string& name, const ggml_tensor* like, const float* data) {
    ggml_tensor* t = ggml_new_tensor(ctx, GGML_TYPE_F32, GGML_MAX_DIMS, like->ne);
    ggml_set_name(t, name.c_str());
    t->data = const_cast<float*>(data);
    return t;
}

}  // namespace

Status save_checkpoint(const std::string& path, const TrainingState& state,
                       const std::vector<ggml_tensor*>& parameters,
                       const std::vector<std::vector<float>>& first_moments,
                       const std::vector<std::vector<float>>& second_moments) {
    GgufHandle gguf(gguf_init_empty());
    gguf_set_val_str(gguf.get(), "general.type", "mimir-checkpoint");
    for (auto [name, value] : {std::pair{"step", int64_t{state.step}},
                               {"epoch", state.epoch},
                               {"next_sequence", state.next_sequence},
                               {"adam_steps", state.adam_steps},
                               {"best_epoch", state.best_epoch},
                               {"epochs_without_improvement", state.epochs_without_improvement},
                               {"skipped_steps", state.skipped_steps}}) {
        gguf_set_val_i64(gguf.get(), key(name).c_str(), value);
    }
    gguf_set_val_f32(gguf.get(), key("best_eval_loss").c_str(), state.best_eval_loss);
    set_floats(gguf.get(), key("recent_losses"), state.recent_losses);
    const auto& steps = state.log.steps;
    set_floats(gguf.get(), key("log.step"), column(steps, &StepRecord::step));
    set_floats(gguf.get(), key("log.epoch"), column(steps, &StepRecord::epoch));
    set_floats(gguf.get(), key("log.lr"), column(steps, &StepRecord::learning_rate));
    set_floats(gguf.get(), key("log.loss"), column(steps, &StepRecord::loss));
    set_floats(gguf.get(), key("log.grad_norm"), column(steps, &StepRecord::grad_norm));
    set_floats(gguf.get(), key("log.tokens_per_s"), column(steps, &StepRecord::tokens_per_s));
    set_floats(gguf.get(), key("log.skipped"), column(steps, &StepRecord::skipped));
    std::vector<float> eval_step, eval_epoch, eval_loss;
    for (const EvalRecord& r : state.log.evals) {
        eval_step.push_back(static_cast<float>(r.step));
        eval_epoch.push_back(static_cast<float>(r.epoch));
        eval_loss.push_back(r.loss);
    }
    set_floats(gguf.get(), key("eval.step"), eval_step);
    set_floats(gguf.get(), key("eval.epoch"), eval_epoch);
    set_floats(gguf.get(), key("eval.loss"), eval_loss);

    GgmlContextHandle headers(
        ggml_init({4 * parameters.size() * ggml_tensor_overhead() + 1024, nullptr, true}));
    for (size_t i = 0; i < parameters.size(); ++i) {
        const std::string id = std::to_string(i);
        gguf_add_tensor(gguf.get(),
                        wrap(headers.get(), "param." + id, parameters[i], ggml_get_data_f32(parameters[i])));
        gguf_add_tensor(gguf.get(),
                        wrap(headers.get(), "adam_m." + id, parameters[i], first_moments[i].data()));
        gguf_add_tensor(gguf.get(),
                        wrap(headers.get(), "adam_v." + id, parameters[i], second_moments[i].data()));
        if (!state.best_parameters.empty()) {
            gguf_add_tensor(gguf.get(), wrap(headers.get(), "best." + id, parameters[i],
                                             state.best_parameters[i].data()));
        }
    }
    return write_gguf_atomically(gguf.get(), path);
}

Result<TrainingState> load_checkpoint(const std::string& path, const std::vector<ggml_tensor*>& parameters,
                                      std::vector<std::vector<float>>& first_moments,
                                      std::vector<std::vector<float>>& second_moments) {
    using R = Result<TrainingState>;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        return R::failure("not_found", "no checkpoint at " + path);
    ggml_context* raw = nullptr;
    GgufHandle gguf(gguf_init_from_file(path.c_str(), {false, &raw}));
    GgmlContextHandle tensors(raw);
    if (!gguf || get_int(gguf.get(), "step") < 0)
        return R::failure("not_gguf", path + " is not a Mimir checkpoint");
    TrainingState state;
    state.step = static_cast<int>(get_int(gguf.get(), "step"));
    state.epoch = static_cast<int>(get_int(gguf.get(), "epoch"));
    state.next_sequence = static_cast<int>(get_int(gguf.get(), "next_sequence"));
    state.adam_steps = get_int(gguf.get(), "adam_steps");
    state.best_epoch = static_cast<int>(get_int(gguf.get(), "best_epoch"));
    state.epochs_without_improvement = static_cast<int>(get_int(gguf.get(), "epochs_without_improvement"));
    state.skipped_steps = static_cast<int>(get_int(gguf.get(), "skipped_steps"));
    state.best_eval_loss =
        gguf_get_val_f32(gguf.get(), gguf_find_key(gguf.get(), key("best_eval_loss").c_str()));
    state.recent_losses = get_floats(gguf.get(), key("recent_losses"));
    const auto step = get_floats(gguf.get(), key("log.step")),
               epoch = get_floats(gguf.get(), key("log.epoch")), lr = get_floats(gguf.get(), key("log.lr")),
               loss = get_floats(gguf.get(), key("log.loss")),
               norm = get_floats(gguf.get(), key("log.grad_norm")),
               speed = get_floats(gguf.get(), key("log.tokens_per_s")),
               skipped = get_floats(gguf.get(), key("log.skipped"));
    for (size_t i = 0; i < step.size() && i < skipped.size(); ++i) {
        state.log.steps.push_back(
            {static_cast<int>(step[i]), epoch[i], lr[i], loss[i], norm[i], speed[i], skipped[i] != 0});
    }
    const auto eval_step = get_floats(gguf.get(), key("eval.step")),
               eval_epoch = get_floats(gguf.get(), key("eval.epoch")),
               eval_loss = get_floats(gguf.get(), key("eval.loss"));
    for (size_t i = 0; i < eval_step.size() && i < eval_loss.size(); ++i) {
        state.log.evals.push_back(
            {static_cast<int>(eval_step[i]), static_cast<int>(eval_epoch[i]), eval_loss[i]});
    }
    for (size_t i = 0; i < parameters.size(); ++i) {
        const std::string id = std::to_string(i);
        const ggml_tensor* p = ggml_get_tensor(raw, ("param." + id).c_str());
        const ggml_tensor* m = ggml_get_tensor(raw, ("adam_m." + id).c_str());
        const ggml_tensor* v = ggml_get_tensor(raw, ("adam_v." + id).c_str());
        if (!p || !m || !v || ggml_nelements(p) != ggml_nelements(parameters[i])) {
            return R::failure("checkpoint_mismatch", path + " was written for different settings (tensor " +
                                                         std::string(ggml_get_name(parameters[i])) + ")");
        }
        std::memcpy(parameters[i]->data, p->data, ggml_nbytes(p));
        first_moments[i].assign(ggml_get_data_f32(m), ggml_get_data_f32(m) + ggml_nelements(m));
        second_moments[i].assign(ggml_get_data_f32(v), ggml_get_data_f32(v) + ggml_nelements(v));
        if (const ggml_tensor* best = ggml_get_tensor(raw, ("best." + id).c_str())) {
            state.best_parameters.emplace_back(ggml_get_data_f32(best),
                                               ggml_get_data_f32(best) + ggml_nelements(best));
        }
    }
    if (!state.best_parameters.empty() && state.best_parameters.size() != parameters.size()) {
        return R::failure("checkpoint_mismatch", path + " has an incomplete best snapshot");
    }
    if (gguf_find_tensor(gguf.get(), ("param." + std::to_string(parameters.size())).c_str()) >= 0) {
        return R::failure("checkpoint_mismatch", path + " holds more trained tensors than these settings");
    }
    return state;
}

}  // namespace mimir
