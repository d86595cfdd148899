#include "train/training_graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "ggml-cpu.h"
#include "train/forward_builder.h"
#include "train/projection_ops.h"

namespace mimir {

namespace {

size_t graph_size_for(const BaseModel& model) {
    return 4096 + 1024 * static_cast<size_t>(model.shape.n_layer);
}

bool row_has_nonzero(const ggml_tensor* t, int64_t row) {
    const auto* bytes = static_cast<const uint8_t*>(t->data) + row * t->nb[1];
    if (t->type == GGML_TYPE_F32) {
        const auto* values = reinterpret_cast<const float*>(bytes);
        return std::any_of(values, values + t->ne[0], [](float v) { return v != 0.0f; });
    }
    const auto* values = reinterpret_cast<const ggml_fp16_t*>(bytes);  // F16: +0 and -0 only
    return std::any_of(values, values + t->ne[0], [](ggml_fp16_t v) { return (v & 0x7fff) != 0; });
}

}  // namespace

std::vector<int32_t> output_rows_in_use(const BaseModel& model, const LoraAdapter* lora) {
    std::vector<int32_t> rows;
    const ggml_tensor* output = model.output;
    const LoraPair* pair = lora ? lora->find(output) : nullptr;
    const bool readable = output != model.token_embd &&
                          (output->type == GGML_TYPE_F32 || output->type == GGML_TYPE_F16) &&
                          (!pair || pair->b->type == GGML_TYPE_F32);
    for (int64_t row = 0; row < output->ne[1]; ++row) {
        if (!readable || row_has_nonzero(output, row) || (pair && row_has_nonzero(pair->b, row)))
            rows.push_back(static_cast<int32_t>(row));
    }
    return rows;
}

struct TrainingGraph::Built {
    GgmlContextHandle ctx;
    ggml_cgraph* graph = nullptr;
    // Inputs, null when the graph has no use for them.
    ggml_tensor* tokens = nullptr;
    ggml_tensor* positions = nullptr;
    ggml_tensor* target_rows = nullptr;      // positions whose next token is a reply token (or all positions)
    ggml_tensor* labels = nullptr;           // one-hot [n_vocab or head vocabulary, n_targets]
    ggml_tensor* head_vocabulary = nullptr;  // set_head_vocabulary's ids
    ggml_tensor* head_bias = nullptr;        // [ids + 1, n_targets]: 0, and log(rows left out) last
    ggml_tensor* logits = nullptr;
    ggml_tensor* loss = nullptr;
};

TrainingGraph::TrainingGraph(const BaseModel& model, const LoraAdapter* lora,
                             std::vector<ggml_tensor*> parameters, int n_threads)
    : model_(model), lora_(lora), parameters_(std::move(parameters)) {
    size_t bytes = sizeof(float) + GGML_MEM_ALIGN;
    for (const ggml_tensor* p : parameters_) bytes += ggml_nelements(p) * sizeof(float) + GGML_MEM_ALIGN;
    gradient_ctx_.reset(
        ggml_init({(parameters_.size() + 1) * ggml_tensor_overhead() + bytes, nullptr, false}));
    for (ggml_tensor* p : parameters_) {
        if (p->type != GGML_TYPE_F32) throw std::invalid_argument("trained tensors must be F32");
        ggml_set_param(p);
        ggml_tensor* g = ggml_new_tensor(gradient_ctx_.get(), GGML_TYPE_F32, GGML_MAX_DIMS, p->ne);
        ggml_format_name(g, "grad_acc.%s", ggml_get_name(p));
        gradients_.push_back(g);
    }
    std::vector<ggml_tensor*> projections = model.projection_weights();
    projections.push_back(model.output);  // the head; token_embd when the file ties them
    for (const ggml_tensor* w : projections) {
        const bool trained = std::find(parameters_.begin(), parameters_.end(), w) != parameters_.end();
        (trained ? trained_projections_ : frozen_projections_).push_back(w);
    }
    loss_seed_ = ggml_new_tensor_1d(gradient_ctx_.get(), GGML_TYPE_F32, 1);
    ggml_set_f32(loss_seed_, 1.0f);
    zero_gradients();
    backend_.reset(ggml_backend_cpu_init());
    ggml_backend_cpu_set_n_threads(backend_.get(), n_threads);
    allocator_.reset(ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend_.get())));
    compute_meta_.resize(graph_size_for(model) * 4 * ggml_tensor_overhead() +
                         ggml_graph_overhead_custom(graph_size_for(model) * 4, true));
}

size_t TrainingGraph::compute_buffer_bytes() const {
    return ggml_gallocr_get_buffer_size(allocator_.get(), 0);
}

void TrainingGraph::zero_gradients() {
    for (ggml_tensor* g : gradients_) std::memset(g->data, 0, ggml_nbytes(g));
}

TrainingGraph::Built TrainingGraph::begin(const TokenSequence& sequence, bool with_tokens) {
    Built b;
    b.ctx.reset(ggml_init({compute_meta_.size(), compute_meta_.data(), true}));
    const int64_t n_tokens = static_cast<int64_t>(sequence.tokens.size());
    b.positions = ggml_new_tensor_1d(b.ctx.get(), GGML_TYPE_I32, n_tokens);
    ggml_set_input(b.positions);
    if (with_tokens) {
        b.tokens = ggml_new_tensor_1d(b.ctx.get(), GGML_TYPE_I32, n_tokens);
        ggml_set_input(b.tokens);
    }
    return b;
}

ggml_tensor* TrainingGraph::add_head(Built& b, const TokenSequence& sequence, ggml_tensor* hidden,
                                     bool all_logits) {
    ggml_context* ctx = b.ctx.get();
    const int64_t n_rows = all_logits ? static_cast<int64_t>(sequence.tokens.size()) : sequence.n_targets();
    b.target_rows = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_rows);
    ggml_set_input(b.target_rows);
    ggml_tensor* rows = ggml_get_rows(ctx, hidden, b.target_rows);
    ForwardBuilder forward(ctx, model_, lora_);
    const bool restricted = !all_logits && !head_vocabulary_.empty();
    if (!restricted) {
        b.logits = forward.head(rows);
        if (all_logits) return b.logits;
    } else {
        b.head_vocabulary =
            ggml_new_tensor_1d(ctx, GGML_TYPE_I32, static_cast<int64_t>(head_vocabulary_.size()));
        ggml_set_input(b.head_vocabulary);
        // One more logit after the kept ones: log(count) for the left-out rows, a constant (no weight
        // behind it, so no gradient goes anywhere from it).
        b.head_bias = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, b.head_vocabulary->ne[0] + 1, n_rows);
        ggml_set_input(b.head_bias);
        b.logits = ggml_acc(ctx, b.head_bias, forward.head_for(rows, b.head_vocabulary), b.head_bias->nb[1],
                            b.head_bias->nb[2], b.head_bias->nb[3], 0);
    }
    b.labels = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, b.logits->ne[0], n_rows);
    ggml_set_input(b.labels);
    b.loss = ggml_cross_entropy_loss(ctx, b.logits, b.labels);
    return b.loss;
}

void TrainingGraph::use_projections(ggml_context* ctx, ggml_cgraph* graph) const {
    use_projection_ops(ctx, graph, frozen_projections_, kernel_path_);
    use_projection_ops(ctx, graph, trained_projections_, best_f32_kernel_path());
}

void TrainingGraph::finish(Built& b, ggml_tensor* result, bool backward,
                           const std::vector<std::pair<ggml_tensor*, ggml_tensor*>>& extra_accumulators) {
    ggml_context* ctx = b.ctx.get();
    b.graph = ggml_new_graph_custom(ctx, graph_size_for(model_) * (backward ? 4 : 1), backward);
    ggml_set_output(result);
    if (!backward) {
        ggml_build_forward_expand(b.graph, result);
        use_projections(ctx, b.graph);
        return;
    }
    ggml_set_loss(result);
    ggml_build_forward_expand(b.graph, result);
    // ggml keys gradient accumulators by forward-node index: ours for the parameters (and for any input
    // whose gradient the caller wants), the seed for the loss.
    std::vector<ggml_tensor*> accumulators(static_cast<size_t>(ggml_graph_n_nodes(b.graph)), nullptr);
    for (int i = 0; i < ggml_graph_n_nodes(b.graph); ++i) {
        ggml_tensor* node = ggml_graph_node(b.graph, i);
        if (node == result) accumulators[i] = loss_seed_;
        for (size_t p = 0; p < parameters_.size(); ++p) {
            if (node == parameters_[p]) accumulators[i] = gradients_[p];
        }
        for (const auto& [tensor, accumulator] : extra_accumulators) {
            if (node == tensor) accumulators[i] = accumulator;
        }
    }
    ggml_build_backward_expand(ctx, b.graph, accumulators.data());
    use_projections(ctx, b.graph);
}

Status TrainingGraph::allocate(Built& b, size_t n_tokens) {
    size_t needed = 0;
    if (memory_limit_bytes_ > 0)
        ggml_gallocr_reserve_n_size(allocator_.get(), b.graph, nullptr, nullptr, &needed);
    const bool fits = memory_limit_bytes_ == 0 || needed <= memory_limit_bytes_;
    if (fits && ggml_gallocr_alloc_graph(allocator_.get(), b.graph)) return ok_status();
    return Status::failure(
        "out_of_memory",
        "the training graph for a sequence of " + std::to_string(n_tokens) +
            " tokens does not fit in memory" +
            (needed > 0 ? " (needs " + std::to_string(needed >> 20) + " MiB)" : std::string()) +
            ": lower --ctx (longer rows are skipped) or recompute more layers (--recompute all)");
}

void TrainingGraph::fill_labels(Built& b, const TokenSequence& sequence, int64_t first) const {
    std::memset(b.labels->data, 0, ggml_nbytes(b.labels));
    auto* labels = static_cast<float*>(b.labels->data);
    const int64_t width = b.labels->ne[0];
    for (int64_t i = 0; i < b.labels->ne[1]; ++i) {
        int32_t label = sequence.label_at(static_cast<size_t>(first + i));
        if (!head_vocabulary_.empty()) {
            label = head_index_.at(static_cast<size_t>(label));
            if (label < 0) throw std::logic_error("a label outside the head vocabulary");
        }
        labels[i * width + label] = 1.0f;
    }
}

void TrainingGraph::set_head_vocabulary(std::vector<int32_t> vocabulary) {
    head_vocabulary_.clear();
    head_index_.clear();
    const int64_t n_vocab = model_.shape.n_vocab;
    std::sort(vocabulary.begin(), vocabulary.end());
    vocabulary.erase(std::unique(vocabulary.begin(), vocabulary.end()), vocabulary.end());
    // Nothing left out: the plain head is the same and cheaper.
    if (vocabulary.empty() || static_cast<int64_t>(vocabulary.size()) >= n_vocab) return;
    head_index_.assign(static_cast<size_t>(n_vocab), -1);
    for (int32_t id : vocabulary) {
        if (id < 0 || id >= n_vocab) throw std::out_of_range("head vocabulary id out of range");
        head_index_[static_cast<size_t>(id)] = static_cast<int32_t>(head_vocabulary_.size());
        head_vocabulary_.push_back(id);
    }
    // Every left-out row is zero, so its logit is 0: together they add count * exp(0) to the softmax's
    // denominator, which one extra logit of log(count) does.
    left_out_log_count_ = std::log(static_cast<float>(n_vocab - static_cast<int64_t>(vocabulary.size())));
}

Status TrainingGraph::compute(Built& b, const TokenSequence& sequence) {
    if (Status allocated = allocate(b, sequence.tokens.size()); !allocated) return allocated;
    const int64_t n_tokens = static_cast<int64_t>(sequence.tokens.size());
    // An input the graph never reads (positions in the head's graph) has no memory.
    if (b.tokens && b.tokens->data)
        std::memcpy(b.tokens->data, sequence.tokens.data(), n_tokens * sizeof(int32_t));
    if (b.positions->data) {
        auto* positions = static_cast<int32_t*>(b.positions->data);
        for (int64_t i = 0; i < n_tokens; ++i) positions[i] = static_cast<int32_t>(i);
    }
    if (b.target_rows) {
        auto* rows = static_cast<int32_t*>(b.target_rows->data);
        const int64_t n_rows = b.target_rows->ne[0];
        const int64_t first = b.labels ? sequence.n_prompt - 1 : 0;
        for (int64_t i = 0; i < n_rows; ++i) rows[i] = static_cast<int32_t>(first + i);
        if (b.labels) fill_labels(b, sequence, first);
    }
    if (b.head_vocabulary) {
        std::memcpy(b.head_vocabulary->data, head_vocabulary_.data(), ggml_nbytes(b.head_vocabulary));
        auto* bias = static_cast<float*>(b.head_bias->data);
        const int64_t width = b.head_bias->ne[0];
        std::fill(bias, bias + ggml_nelements(b.head_bias), 0.0f);
        for (int64_t column = 0; column < b.head_bias->ne[1]; ++column)
            bias[column * width + width - 1] = left_out_log_count_;
    }
    if (ggml_backend_graph_compute(backend_.get(), b.graph) != GGML_STATUS_SUCCESS) {
        throw std::runtime_error("ggml graph compute failed");
    }
    return ok_status();
}

Result<std::vector<float>> TrainingGraph::logits(const std::vector<int32_t>& tokens) {
    TokenSequence sequence{.tokens = tokens, .n_prompt = 0};
    Built b = begin(sequence, true);
    ggml_tensor* hidden = ForwardBuilder(b.ctx.get(), model_, lora_).blocks(b.tokens, b.positions);
    finish(b, add_head(b, sequence, hidden, /*all_logits=*/true), /*backward=*/false);
    if (Status computed = compute(b, sequence); !computed) return computed.error();
    std::vector<float> out(ggml_nelements(b.logits));
    std::memcpy(out.data(), b.logits->data, out.size() * sizeof(float));
    return out;
}

Result<float> TrainingGraph::loss(const TokenSequence& sequence) {
    Built b = begin(sequence, true);
    ggml_tensor* hidden = ForwardBuilder(b.ctx.get(), model_, lora_).blocks(b.tokens, b.positions);
    finish(b, add_head(b, sequence, hidden, false), false);
    if (Status computed = compute(b, sequence); !computed) return computed.error();
    return ggml_get_f32_1d(b.loss, 0);
}

Result<float> TrainingGraph::accumulate_gradients(const TokenSequence& sequence) {
    if (parameters_.empty()) throw std::logic_error("accumulate_gradients with nothing to train");
    if (recompute_layers_ > 0) return accumulate_recomputing(sequence);
    Built b = begin(sequence, true);
    ggml_tensor* hidden = ForwardBuilder(b.ctx.get(), model_, lora_).blocks(b.tokens, b.positions);
    finish(b, add_head(b, sequence, hidden, false), true);
    if (Status computed = compute(b, sequence); !computed) return computed.error();
    return ggml_get_f32_1d(b.loss, 0);
}

namespace {

// The lowest layer whose weights or adapter tensors are trained: backward passes stop there. -1 when the
// embeddings are trained, n_layer when only the head is.
int64_t lowest_trained_layer(const std::vector<ggml_tensor*>& parameters, int64_t n_layer) {
    int64_t lowest = n_layer;
    for (const ggml_tensor* p : parameters) {
        const std::string name = ggml_get_name(p);
        if (name.rfind("token_embd", 0) == 0) return -1;
        if (name.rfind("blk.", 0) == 0) lowest = std::min<int64_t>(lowest, std::stoll(name.substr(4)));
    }
    return lowest;
}

}  // namespace

// Gradient checkpointing by layer: a forward pass without gradients through the lowest k layers keeps
// only each one's input ([n_embd, n_tokens]); then the layers above and the head run forward and backward
// in one graph (activations kept), and each of the k layers, from the top down, is recomputed from its
// input and backpropagated alone, its output gradient seeded through sum(output * gradient).
Result<float> TrainingGraph::accumulate_recomputing(const TokenSequence& sequence) {
    const int64_t n_layer = model_.shape.n_layer, n_embd = model_.shape.n_embd;
    const int64_t k = std::min<int64_t>(recompute_layers_, n_layer);
    const int64_t n_tokens = static_cast<int64_t>(sequence.tokens.size());
    const int64_t lowest = lowest_trained_layer(parameters_, n_layer);
    const size_t state_bytes = static_cast<size_t>(n_embd * n_tokens) * sizeof(float) + GGML_MEM_ALIGN;
    GgmlContextHandle states(ggml_init({(k + 3) * (ggml_tensor_overhead() + state_bytes), nullptr, false}));
    std::vector<ggml_tensor*> layer_inputs(static_cast<size_t>(k + 1), nullptr);  // [0] is recomputed
    for (int64_t l = 1; l <= k; ++l)
        layer_inputs[l] = ggml_new_tensor_2d(states.get(), GGML_TYPE_F32, n_embd, n_tokens);
    ggml_tensor* gradient_out = ggml_new_tensor_2d(states.get(), GGML_TYPE_F32, n_embd, n_tokens);
    ggml_tensor* gradient_in = ggml_new_tensor_2d(states.get(), GGML_TYPE_F32, n_embd, n_tokens);

    {
        Built b = begin(sequence, true);
        ForwardBuilder forward(b.ctx.get(), model_, lora_);
        ggml_tensor* x = forward.embed(b.tokens);
        for (int64_t l = 0; l < k; ++l) {
            x = ggml_cpy(b.ctx.get(), forward.layer(model_.blocks[l], x, b.positions), layer_inputs[l + 1]);
        }
        finish(b, x, /*backward=*/false);
        if (Status computed = compute(b, sequence); !computed) return computed.error();
    }
    float loss = 0;
    {
        Built b = begin(sequence, false);
        ForwardBuilder forward(b.ctx.get(), model_, lora_);
        ggml_tensor* input = layer_inputs[k];
        std::vector<std::pair<ggml_tensor*, ggml_tensor*>> wanted;
        if (lowest < k) {
            ggml_set_param(input);
            wanted.emplace_back(input, gradient_out);
            std::memset(gradient_out->data, 0, ggml_nbytes(gradient_out));
        }
        ggml_tensor* hidden = input;
        for (int64_t l = k; l < n_layer; ++l) hidden = forward.layer(model_.blocks[l], hidden, b.positions);
        finish(b, add_head(b, sequence, hidden, false), true, wanted);
        if (Status computed = compute(b, sequence); !computed) return computed.error();
        loss = ggml_get_f32_1d(b.loss, 0);
    }
    for (int64_t l = k - 1; l >= std::max<int64_t>(lowest, 0); --l) {
        Built b = begin(sequence, l == 0);
        ForwardBuilder forward(b.ctx.get(), model_, lora_);
        ggml_tensor* input = l == 0 ? forward.embed(b.tokens) : layer_inputs[l];
        std::vector<std::pair<ggml_tensor*, ggml_tensor*>> wanted;
        if (l > 0 && l > lowest) {
            ggml_set_param(input);
            wanted.emplace_back(input, gradient_in);
            std::memset(gradient_in->data, 0, ggml_nbytes(gradient_in));
        }
        ggml_tensor* output = forward.layer(model_.blocks[l], input, b.positions);
        finish(b, ggml_sum(b.ctx.get(), ggml_mul(b.ctx.get(), output, gradient_out)), true, wanted);
        if (Status computed = compute(b, sequence); !computed) return computed.error();
        std::swap(gradient_in, gradient_out);
    }
    return loss;
}

}  // namespace mimir
