#include "train/merge.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>

#include "support/system.h"
#include "train/run_files.h"

namespace mimir {

namespace {

std::vector<float> to_float(const ggml_tensor* t) {
    std::vector<float> out(static_cast<size_t>(ggml_nelements(t)));
    if (t->type == GGML_TYPE_F32) {
        std::memcpy(out.data(), t->data, out.size() * sizeof(float));
    } else {
        ggml_get_type_traits(t->type)->to_float(t->data, out.data(), ggml_nelements(t));
    }
    return out;
}

// W [n_in, n_out] += scale * B A, with A [n_in, r] and B [r, n_out] in ggml order.
void add_low_rank(std::vector<float>& w, const LoraPair& pair, float scale, int64_t n_in, int64_t n_out) {
    const int64_t rank = pair.a->ne[1];
    const float* a = ggml_get_data_f32(pair.a);
    const float* b = ggml_get_data_f32(pair.b);
    for (int64_t o = 0; o < n_out; ++o) {
        float* row = &w[static_cast<size_t>(o * n_in)];
        for (int64_t r = 0; r < rank; ++r) {
            const float coefficient = scale * b[o * rank + r];
            const float* a_row = a + r * n_in;
            for (int64_t i = 0; i < n_in; ++i) row[i] += coefficient * a_row[i];
        }
    }
}

void store_as(ggml_tensor* dst, const std::vector<float>& values) {
    if (dst->type == GGML_TYPE_F32) {
        std::memcpy(dst->data, values.data(), values.size() * sizeof(float));
        return;
    }
    if (dst->type == GGML_TYPE_F16) {
        ggml_fp32_to_fp16_row(values.data(), static_cast<ggml_fp16_t*>(dst->data),
                              static_cast<int64_t>(values.size()));
        return;
    }
    ggml_quantize_chunk(dst->type, values.data(), dst->data, 0, dst->ne[1], dst->ne[0], nullptr);
}

// llama.cpp's file type for a requantized merge; nullopt keeps each tensor's own type.
std::optional<llama_ftype> ftype_for(MergedType type) {
    switch (type) {
        case MergedType::AsBase:
            return std::nullopt;
        case MergedType::F16:
            return LLAMA_FTYPE_MOSTLY_F16;
        case MergedType::Q8_0:
            return LLAMA_FTYPE_MOSTLY_Q8_0;
        case MergedType::Q4_K_M:
            return LLAMA_FTYPE_MOSTLY_Q4_K_M;
    }
    throw std::logic_error("unknown MergedType");
}

Status quantize_file(const std::string& in_path, const std::string& out_path, llama_ftype ftype) {
    ensure_llama_backend();
    llama_model_quantize_params params = llama_model_quantize_default_params();
    params.ftype = ftype;
    params.nthread = default_thread_count();
    const std::string temp = out_path + ".quant-" + std::to_string(::getpid());
    if (llama_model_quantize(in_path.c_str(), temp.c_str(), &params) != 0) {
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        return Status::failure("quantize_failed", "llama.cpp could not quantize " + in_path);
    }
    return replace_file_with(temp, out_path);
}

}  // namespace

const char* merged_type_name(MergedType type) {
    switch (type) {
        case MergedType::AsBase:
            return "as-base";
        case MergedType::F16:
            return "f16";
        case MergedType::Q8_0:
            return "q8_0";
        case MergedType::Q4_K_M:
            return "q4_k_m";
    }
    return "?";
}

const std::map<std::string, MergedType>& merged_types_by_name() {
    static const std::map<std::string, MergedType> names = {
        {"f16", MergedType::F16}, {"q8_0", MergedType::Q8_0}, {"q4_k_m", MergedType::Q4_K_M}};
    return names;
}

Status write_merged_model(const BaseModel& model, const LoraAdapter* adapter, const std::string& out_path,
                          MergedType type) {
    const std::optional<llama_ftype> requantize = ftype_for(type);
    GgufHandle out(gguf_init_empty());
    gguf_set_kv(out.get(), model.gguf.get());
    size_t merged_bytes = 0;
    if (adapter) {
        for (const auto& [name, pair] : adapter->by_base)
            merged_bytes += ggml_nbytes(model.find(name)) + GGML_MEM_ALIGN;
    }
    GgmlContextHandle merged(
        ggml_init({(adapter ? adapter->by_base.size() : 0) * ggml_tensor_overhead() + merged_bytes + 1024,
                   nullptr, false}));
    for (int64_t i = 0; i < gguf_get_n_tensors(model.gguf.get()); ++i) {
        ggml_tensor* base = model.find(gguf_get_tensor_name(model.gguf.get(), i));
        const LoraPair* pair = adapter ? adapter->find(base) : nullptr;
        if (!pair) {
            gguf_add_tensor(out.get(), base);
            continue;
        }
        std::vector<float> values = to_float(base);
        add_low_rank(values, *pair, adapter->scale(), base->ne[0], base->ne[1]);
        ggml_tensor* result = ggml_dup_tensor(merged.get(), base);
        ggml_set_name(result, ggml_get_name(base));
        store_as(result, values);
        gguf_add_tensor(out.get(), result);
    }
    if (!requantize) return write_gguf_atomically(out.get(), out_path);
    const std::string staging = out_path + ".merged-" + std::to_string(::getpid());
    Status staged = write_gguf_atomically(out.get(), staging);
    if (!staged) return staged;
    Status quantized = quantize_file(staging, out_path, *requantize);
    std::filesystem::remove(staging);
    return quantized;
}

Status merge_files(const std::string& base_path, const std::string& adapter_path, const std::string& out_path,
                   MergedType type) {
    Result<std::unique_ptr<BaseModel>> model = load_base_model(base_path);
    if (!model) return Status(model.error());
    Result<std::unique_ptr<LoraAdapter>> adapter = load_lora(adapter_path, **model);
    if (!adapter) return Status(adapter.error());
    if ((*adapter)->architecture != (*model)->shape.arch) {
        return Status::failure("adapter_mismatch", adapter_path + " is for " + (*adapter)->architecture +
                                                       ", " + base_path + " is " + (*model)->shape.arch);
    }
    Status written = write_merged_model(**model, adapter->get(), out_path, type);
    if (written)
        spdlog::info("event=merged base={} adapter={} out={} type={}", base_path, adapter_path, out_path,
                     merged_type_name(type));
    return written;
}

}  // namespace mimir
