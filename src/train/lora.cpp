#include "train/lora.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "model/gguf_inspect.h"
#include "support/system.h"
#include "train/run_files.h"

namespace mimir {

namespace {

using AdapterResult = Result<std::unique_ptr<LoraAdapter>>;

const std::vector<std::string>& all_projection_kinds() {
    static const std::vector<std::string> kinds = {"attn_qkv",    "attn_q",   "attn_k", "attn_v",
                                                   "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    return kinds;
}

// "blk.3.ffn_up.weight" -> "ffn_up"; "output.weight" -> "output".
std::string kind_of(const std::string& name) {
    std::string rest = name;
    if (rest.rfind("blk.", 0) == 0) rest = rest.substr(rest.find('.', 4) + 1);
    const size_t dot = rest.find('.');
    return dot == std::string::npos ? rest : rest.substr(0, dot);
}

GgmlContextHandle new_tensor_context(size_t n_tensors, size_t data_bytes) {
    ggml_init_params params{n_tensors * ggml_tensor_overhead() + data_bytes + 1024, nullptr, false};
    return GgmlContextHandle(ggml_init(params));
}

}  // namespace

const LoraPair* LoraAdapter::find(const ggml_tensor* base) const {
    auto it = by_base.find(ggml_get_name(base));
    return it == by_base.end() ? nullptr : &it->second;
}

std::vector<ggml_tensor*> LoraAdapter::parameters() const {
    std::vector<ggml_tensor*> out;
    for (const auto& [name, pair] : by_base) {
        out.push_back(pair.a);
        out.push_back(pair.b);
    }
    return out;
}

Result<std::vector<ggml_tensor*>> select_lora_targets(const BaseModel& model,
                                                      const std::vector<std::string>& names) {
    std::set<std::string> wanted;
    for (const std::string& n : names) {
        if (n == "all") {
            wanted.insert(all_projection_kinds().begin(), all_projection_kinds().end());
            continue;
        }
        const auto& kinds = all_projection_kinds();
        if (n != "output" && std::find(kinds.begin(), kinds.end(), n) == kinds.end()) {
            return Result<std::vector<ggml_tensor*>>::failure(
                "bad_targets",
                "unknown LoRA target \"" + n +
                    "\" (use all, attn_qkv, attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, "
                    "ffn_down, output)");
        }
        wanted.insert(n);
    }
    std::vector<ggml_tensor*> targets;
    std::set<std::string> found;
    for (ggml_tensor* t : model.projection_weights()) {
        const std::string kind = kind_of(ggml_get_name(t));
        if (wanted.count(kind)) {
            targets.push_back(t);
            found.insert(kind);
        }
    }
    if (wanted.count("output")) {
        targets.push_back(model.output);
        found.insert("output");
    }
    const bool all = std::find(names.begin(), names.end(), "all") != names.end();
    for (const std::string& n : wanted) {
        if (!found.count(n) && !(all && n != "output")) {
            return Result<std::vector<ggml_tensor*>>::failure(
                "bad_targets",
                "LoRA target \"" + n + "\" does not exist in a " + model.shape.arch + " model");
        }
    }
    if (targets.empty())
        return Result<std::vector<ggml_tensor*>>::failure("bad_targets", "no LoRA targets selected");
    return targets;
}

AdapterResult create_lora(const BaseModel& model, const std::vector<ggml_tensor*>& targets, int rank,
                          float alpha, uint64_t seed) {
    if (rank < 1)
        return AdapterResult::failure("bad_rank",
                                      "LoRA rank must be at least 1 (got " + std::to_string(rank) + ")");
    auto adapter = std::make_unique<LoraAdapter>();
    adapter->rank = rank;
    adapter->alpha = alpha;
    adapter->architecture = model.shape.arch;
    size_t bytes = 0;
    for (const ggml_tensor* t : targets)
        bytes += sizeof(float) * rank * (t->ne[0] + t->ne[1]) + 2 * GGML_MEM_ALIGN;
    adapter->tensors = new_tensor_context(2 * targets.size(), bytes);
    SplitMix64 random(seed);
    for (const ggml_tensor* t : targets) {
        const std::string name = ggml_get_name(t);
        LoraPair pair;
        pair.a = ggml_new_tensor_2d(adapter->tensors.get(), GGML_TYPE_F32, t->ne[0], rank);
        pair.b = ggml_new_tensor_2d(adapter->tensors.get(), GGML_TYPE_F32, rank, t->ne[1]);
        ggml_set_name(pair.a, (name + ".lora_a").c_str());
        ggml_set_name(pair.b, (name + ".lora_b").c_str());
        const float bound = 1.0f / std::sqrt(static_cast<float>(t->ne[0]));
        float* a = ggml_get_data_f32(pair.a);
        for (int64_t i = 0; i < ggml_nelements(pair.a); ++i) {
            a[i] = static_cast<float>((2.0 * random.unit() - 1.0) * bound);
        }
        std::fill_n(ggml_get_data_f32(pair.b), ggml_nelements(pair.b), 0.0f);
        adapter->by_base[name] = pair;
    }
    return adapter;
}

Status save_lora(const LoraAdapter& adapter, const std::string& path) {
    GgufHandle gguf(gguf_init_empty());
    gguf_set_val_str(gguf.get(), "general.architecture", adapter.architecture.c_str());
    gguf_set_val_str(gguf.get(), "general.type", "adapter");
    gguf_set_val_str(gguf.get(), "adapter.type", "lora");
    gguf_set_val_f32(gguf.get(), "adapter.lora.alpha", adapter.alpha);
    for (ggml_tensor* t : adapter.parameters()) gguf_add_tensor(gguf.get(), t);
    return write_gguf_atomically(gguf.get(), path);
}

AdapterResult load_lora(const std::string& path, const BaseModel& model) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return AdapterResult::failure("not_found", path + " does not exist");
    if (!std::filesystem::is_regular_file(path, ec)) {
        return AdapterResult::failure("not_a_file", path + " is not a regular file");
    }
    Result<GgufSummary> summary = inspect_gguf(path);
    if (!summary) return AdapterResult(summary.error());
    auto adapter = std::make_unique<LoraAdapter>();
    ggml_context* tensors = nullptr;
    GgufHandle gguf(gguf_init_from_file(path.c_str(), gguf_init_params{false, &tensors}));
    adapter->tensors.reset(tensors);
    if (!gguf) return AdapterResult::failure("not_gguf", path + " is not a readable GGUF file");
    auto str = [&](const char* key) {
        const int64_t id = gguf_find_key(gguf.get(), key);
        return id >= 0 && gguf_get_kv_type(gguf.get(), id) == GGUF_TYPE_STRING
                   ? std::string(gguf_get_val_str(gguf.get(), id))
                   : std::string();
    };
    if (str("general.type") != "adapter" || str("adapter.type") != "lora") {
        return AdapterResult::failure("not_an_adapter", path + " is not a LoRA adapter");
    }
    adapter->architecture = str("general.architecture");
    const int64_t alpha_id = gguf_find_key(gguf.get(), "adapter.lora.alpha");
    adapter->alpha = alpha_id >= 0 ? gguf_get_val_f32(gguf.get(), alpha_id) : 0.0f;
    for (int64_t i = 0; i < gguf_get_n_tensors(gguf.get()); ++i) {
        const std::string name = gguf_get_tensor_name(gguf.get(), i);
        const std::string suffix = ".lora_a";
        if (name.size() <= suffix.size() ||
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        const std::string base_name = name.substr(0, name.size() - suffix.size());
        LoraPair pair{ggml_get_tensor(tensors, name.c_str()),
                      ggml_get_tensor(tensors, (base_name + ".lora_b").c_str())};
        const ggml_tensor* base = model.find(base_name);
        if (!pair.b || !base || pair.a->type != GGML_TYPE_F32 || pair.b->type != GGML_TYPE_F32 ||
            pair.a->ne[0] != base->ne[0] || pair.b->ne[1] != base->ne[1] || pair.a->ne[1] != pair.b->ne[0]) {
            return AdapterResult::failure("adapter_mismatch",
                                          path + ": " + base_name + " does not fit the base model");
        }
        adapter->rank = static_cast<int>(pair.a->ne[1]);
        adapter->by_base[base_name] = pair;
    }
    if (adapter->by_base.empty())
        return AdapterResult::failure("not_an_adapter", path + " holds no LoRA tensors");
    if (adapter->alpha == 0.0f) adapter->alpha = static_cast<float>(adapter->rank);
    return adapter;
}

}  // namespace mimir
