#include "train/base_model.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "model/gguf_inspect.h"

namespace mimir {

namespace {

using ModelResult = Result<std::unique_ptr<BaseModel>>;

// Integer hparams are u32 in files written by llama.cpp's converter, but other writers use i32/u64.
bool read_int(const gguf_context* gguf, const std::string& key, int64_t& out) {
    const int64_t id = gguf_find_key(gguf, key.c_str());
    if (id < 0) return false;
    switch (gguf_get_kv_type(gguf, id)) {
        case GGUF_TYPE_UINT32:
            out = gguf_get_val_u32(gguf, id);
            return true;
        case GGUF_TYPE_INT32:
            out = gguf_get_val_i32(gguf, id);
            return true;
        case GGUF_TYPE_UINT64:
            out = static_cast<int64_t>(gguf_get_val_u64(gguf, id));
            return true;
        case GGUF_TYPE_INT64:
            out = gguf_get_val_i64(gguf, id);
            return true;
        case GGUF_TYPE_UINT16:
            out = gguf_get_val_u16(gguf, id);
            return true;
        default:
            return false;
    }
}

bool read_float(const gguf_context* gguf, const std::string& key, float& out) {
    const int64_t id = gguf_find_key(gguf, key.c_str());
    if (id < 0 || gguf_get_kv_type(gguf, id) != GGUF_TYPE_FLOAT32) return false;
    out = gguf_get_val_f32(gguf, id);
    return true;
}

Result<ModelShape> read_shape(const gguf_context* gguf, const std::string& path) {
    ModelShape shape;
    const int64_t arch_id = gguf_find_key(gguf, "general.architecture");
    if (arch_id < 0 || gguf_get_kv_type(gguf, arch_id) != GGUF_TYPE_STRING) {
        return Result<ModelShape>::failure("unsupported_architecture", path + ": no general.architecture");
    }
    shape.arch = gguf_get_val_str(gguf, arch_id);
    if (shape.arch != "phi3" && shape.arch != "llama") {
        return Result<ModelShape>::failure(
            "unsupported_architecture",
            path + ": architecture \"" + shape.arch + "\" (training supports phi3, llama)");
    }
    const std::string p = shape.arch + ".";
    struct Required {
        const char* key;
        int64_t* out;
    };
    for (Required r :
         {Required{"embedding_length", &shape.n_embd}, Required{"block_count", &shape.n_layer},
          Required{"attention.head_count", &shape.n_head}, Required{"feed_forward_length", &shape.n_ff}}) {
        if (!read_int(gguf, p + r.key, *r.out) || *r.out <= 0) {
            return Result<ModelShape>::failure("bad_shape", path + ": missing or invalid " + p + r.key);
        }
    }
    shape.n_head_kv = shape.n_head;
    read_int(gguf, p + "attention.head_count_kv", shape.n_head_kv);
    read_int(gguf, p + "context_length", shape.n_ctx_train);
    shape.n_rot = shape.n_embd / shape.n_head;
    read_int(gguf, p + "rope.dimension_count", shape.n_rot);
    read_float(gguf, p + "attention.layer_norm_rms_epsilon", shape.rms_eps);
    read_float(gguf, p + "rope.freq_base", shape.rope_freq_base);
    shape.rope_mode = shape.arch == "phi3" ? GGML_ROPE_TYPE_NEOX : 0;
    if (shape.n_embd % shape.n_head != 0 || shape.n_head_kv <= 0 || shape.n_head % shape.n_head_kv != 0) {
        return Result<ModelShape>::failure("bad_shape", path + ": head counts do not divide the width");
    }
    return shape;
}

// Looks up a tensor and checks its 2-D shape [ne0, ne1] (ne1 = 1 for vectors).
Status take(const BaseModel& model, const std::string& name, int64_t ne0, int64_t ne1, ggml_tensor*& out,
            bool required = true) {
    out = model.find(name);
    if (!out) {
        if (!required) return ok_status();
        return Status::failure("missing_tensor", model.path + ": tensor " + name + " is missing");
    }
    if (out->ne[0] != ne0 || out->ne[1] != ne1 || out->ne[2] != 1 || out->ne[3] != 1) {
        return Status::failure("bad_shape", model.path + ": tensor " + name + " has shape [" +
                                                std::to_string(out->ne[0]) + ", " +
                                                std::to_string(out->ne[1]) + "], expected [" +
                                                std::to_string(ne0) + ", " + std::to_string(ne1) + "]");
    }
    return ok_status();
}

Status bind_block(BaseModel& model, int il) {
    const ModelShape& s = model.shape;
    BlockWeights& b = model.blocks[il];
    const std::string pre = "blk." + std::to_string(il) + ".";
    auto need = [&](const char* name, int64_t ne0, int64_t ne1, ggml_tensor*& out) {
        return take(model, pre + name + ".weight", ne0, ne1, out);
    };
    Status st = need("attn_norm", s.n_embd, 1, b.attn_norm);
    if (st) st = need("attn_output", s.n_embd, s.n_embd, b.attn_output);
    if (st) st = need("ffn_norm", s.n_embd, 1, b.ffn_norm);
    if (st) st = need("ffn_down", s.n_ff, s.n_embd, b.ffn_down);
    if (!st) return st;
    if (s.arch == "phi3") {
        st = need("attn_qkv", s.n_embd, s.n_embd + 2 * s.n_embd_kv(), b.attn_qkv);
        if (st) st = need("ffn_up", s.n_embd, 2 * s.n_ff, b.ffn_up);
        return st;
    }
    st = need("attn_q", s.n_embd, s.n_embd, b.attn_q);
    if (st) st = need("attn_k", s.n_embd, s.n_embd_kv(), b.attn_k);
    if (st) st = need("attn_v", s.n_embd, s.n_embd_kv(), b.attn_v);
    if (st) st = need("ffn_gate", s.n_embd, s.n_ff, b.ffn_gate);
    if (st) st = need("ffn_up", s.n_embd, s.n_ff, b.ffn_up);
    return st;
}

}  // namespace

ggml_tensor* BaseModel::find(const std::string& name) const {
    return weights ? ggml_get_tensor(weights.get(), name.c_str()) : nullptr;
}

std::vector<ggml_tensor*> BaseModel::projection_weights() const {
    std::vector<ggml_tensor*> out;
    for (const BlockWeights& b : blocks) {
        for (ggml_tensor* t :
             {b.attn_qkv, b.attn_q, b.attn_k, b.attn_v, b.attn_output, b.ffn_gate, b.ffn_up, b.ffn_down}) {
            if (t) out.push_back(t);
        }
    }
    return out;
}

ModelResult load_base_model(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return ModelResult::failure("not_found", path + " does not exist");
    if (!std::filesystem::is_regular_file(path, ec)) {
        return ModelResult::failure("not_a_file", path + " is not a regular file");
    }
    Result<GgufSummary> summary = inspect_gguf(path);  // gguf_init_from_file trusts sizes a hostile file sets
    if (!summary) return ModelResult(summary.error());
    auto model = std::make_unique<BaseModel>();
    model->path = path;
    ggml_context* weights = nullptr;
    gguf_init_params params{.no_alloc = false, .ctx = &weights};
    model->gguf.reset(gguf_init_from_file(path.c_str(), params));
    model->weights.reset(weights);
    if (!model->gguf || !model->weights) {
        return ModelResult::failure("not_gguf", path + " is not a readable GGUF model");
    }
    Result<ModelShape> shape = read_shape(model->gguf.get(), path);
    if (!shape) return ModelResult(shape.error());
    model->shape = *shape;
    ggml_tensor* embd = model->find("token_embd.weight");
    if (!embd) return ModelResult::failure("missing_tensor", path + ": tensor token_embd.weight is missing");
    model->shape.n_vocab = embd->ne[1];
    const ModelShape& s = model->shape;
    Status st = take(*model, "token_embd.weight", s.n_embd, s.n_vocab, model->token_embd);
    if (st) st = take(*model, "output_norm.weight", s.n_embd, 1, model->output_norm);
    if (st) st = take(*model, "output.weight", s.n_embd, s.n_vocab, model->output, /*required=*/false);
    if (!st) return ModelResult(st.error());
    if (!model->output) model->output = model->token_embd;
    model->blocks.resize(static_cast<size_t>(s.n_layer));
    for (int il = 0; il < s.n_layer; ++il) {
        st = bind_block(*model, il);
        if (!st) return ModelResult(st.error());
    }
    spdlog::info("event=base_loaded path={} arch={} n_layer={} n_embd={} n_vocab={}", path, s.arch, s.n_layer,
                 s.n_embd, s.n_vocab);
    return model;
}

}  // namespace mimir
