#include "model/adapter_check.h"

#include <map>

#include "model/llama_handles.h"

namespace mimir {

namespace {

struct Shape {
    int64_t rows_in = 0, rows_out = 0;
};

std::map<std::string, Shape> shapes_of(const gguf_context* gguf) {
    std::map<std::string, Shape> shapes;
    for (int64_t i = 0; i < gguf_get_n_tensors(gguf); ++i) {
        const int64_t* ne = gguf_get_tensor_ne(gguf, i);
        shapes[gguf_get_tensor_name(gguf, i)] = {ne[0], ne[1]};
    }
    return shapes;
}

std::string architecture_of(const gguf_context* gguf) {
    const int64_t key = gguf_find_key(gguf, "general.architecture");
    return key >= 0 && gguf_get_kv_type(gguf, key) == GGUF_TYPE_STRING ? gguf_get_val_str(gguf, key) : "";
}

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() > suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Status check_adapter_fits_base(const std::string& adapter_path, const std::string& base_path) {
    auto mismatch = [&](const std::string& why) {
        return Status::failure("adapter_mismatch",
                               adapter_path + " does not fit the base " + base_path + ": " + why);
    };
    GgufHandle adapter(gguf_init_from_file(adapter_path.c_str(), {true, nullptr}));
    GgufHandle base(gguf_init_from_file(base_path.c_str(), {true, nullptr}));
    if (!adapter || !base)
        return Status::failure("corrupt", "cannot read " + (adapter ? base_path : adapter_path));
    if (architecture_of(adapter.get()) != architecture_of(base.get())) {
        return mismatch("architecture " + architecture_of(adapter.get()) + " vs " +
                        architecture_of(base.get()));
    }
    const std::map<std::string, Shape> adapter_shapes = shapes_of(adapter.get());
    const std::map<std::string, Shape> base_shapes = shapes_of(base.get());
    int pairs = 0;
    for (const auto& [name, a] : adapter_shapes) {
        if (ends_with(name, ".lora_b")) {
            if (!adapter_shapes.count(name.substr(0, name.size() - 7) + ".lora_a"))
                return mismatch(name + " has no lora_a");
            continue;
        }
        if (!ends_with(name, ".lora_a")) return mismatch("unexpected tensor " + name);
        const std::string weight = name.substr(0, name.size() - 7);
        auto b = adapter_shapes.find(weight + ".lora_b");
        if (b == adapter_shapes.end()) return mismatch(name + " has no lora_b");
        auto target = base_shapes.find(weight);
        if (target == base_shapes.end()) return mismatch("the base has no tensor " + weight);
        const Shape& w = target->second;
        if (a.rows_in != w.rows_in || b->second.rows_out != w.rows_out || a.rows_out != b->second.rows_in) {
            return mismatch(weight + " is [" + std::to_string(w.rows_in) + ", " + std::to_string(w.rows_out) +
                            "] but the adapter has lora_a [" + std::to_string(a.rows_in) + ", " +
                            std::to_string(a.rows_out) + "], lora_b [" + std::to_string(b->second.rows_in) +
                            ", " + std::to_string(b->second.rows_out) + "]");
        }
        ++pairs;
    }
    if (pairs == 0) return mismatch("the adapter has no LoRA tensors");
    return ok_status();
}

}  // namespace mimir
