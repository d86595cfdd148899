#include "model/tiny_model.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <vector>

#include "model/gguf_inspect.h"
#include "model/gguf_stream_writer.h"
#include "model/llama_handles.h"
#include "support/system.h"

namespace fs = std::filesystem;

namespace mimir {

namespace {

constexpr float kWeightStddev = 0.02f;

struct StorageChoice {
    ggml_type matrix;  // the type most 2-D weights get
    int file_type;     // llama_ftype written to general.file_type
};

Result<StorageChoice> storage_for(const std::string& type) {
    static const std::map<std::string, StorageChoice> known = {
        {"f32", {GGML_TYPE_F32, LLAMA_FTYPE_ALL_F32}},
        {"f16", {GGML_TYPE_F16, LLAMA_FTYPE_MOSTLY_F16}},
        {"q8_0", {GGML_TYPE_Q8_0, LLAMA_FTYPE_MOSTLY_Q8_0}},
        {"q4_k_m", {GGML_TYPE_Q4_K, LLAMA_FTYPE_MOSTLY_Q4_K_M}},
    };
    auto found = known.find(type);
    if (found == known.end()) {
        return Result<StorageChoice>::failure("invalid_argument",
                                              "unknown model type '" + type + "' (f32, f16, q8_0, q4_k_m)");
    }
    return found->second;
}

// llama-quantize's Q4_K_M gives these layers more bits: the first and last eighth and every third between.
bool uses_more_bits(int layer, int n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// Storage of one weight matrix by its role ("output", "attn_qkv", "ffn_down", ...).
ggml_type matrix_type(const std::string& spec_type, ggml_type matrix, const std::string& role, int layer,
                      int n_layer) {
    if (spec_type != "q4_k_m") return matrix;
    if (role == "output") return GGML_TYPE_Q6_K;
    const bool more = layer >= 0 && uses_more_bits(layer, n_layer);
    if (role == "attn_qkv") return more ? GGML_TYPE_Q6_K : GGML_TYPE_Q5_K;
    if (role == "attn_v" || role == "ffn_down") return more ? GGML_TYPE_Q6_K : GGML_TYPE_Q4_K;
    return GGML_TYPE_Q4_K;
}

// FNV-1a of the name mixed with the seed: the same weights on every platform and standard library.
uint64_t tensor_seed(uint32_t seed, const std::string& name) {
    return fnv1a_64(name) ^ (static_cast<uint64_t>(seed) << 32 | seed);
}

std::vector<GeneratedTensor> model_tensors(const TinyModelSpec& spec, ggml_type matrix, int64_t n_vocab) {
    std::vector<GeneratedTensor> tensors;
    const int64_t n_embd = spec.n_embd;
    const int64_t n_embd_kv = n_embd / spec.n_head * spec.n_head_kv;
    auto norm = [&](const std::string& name) {
        tensors.push_back({name, GGML_TYPE_F32, {n_embd}, 0.0f, 1.0f, 0});
    };
    auto weight = [&](const std::string& name, const std::string& role, int layer, int64_t n_in,
                      int64_t n_out) {
        const ggml_type wanted = matrix_type(spec.type, matrix, role, layer, spec.n_layer);
        tensors.push_back({name,
                           storable_type(wanted, n_in),
                           {n_in, n_out},
                           kWeightStddev,
                           0.0f,
                           tensor_seed(spec.seed, name)});
    };
    weight("token_embd.weight", "token_embd", -1, n_embd, n_vocab);
    norm("output_norm.weight");
    weight("output.weight", "output", -1, n_embd, n_vocab);
    for (int layer = 0; layer < spec.n_layer; ++layer) {
        const std::string block = "blk." + std::to_string(layer) + ".";
        norm(block + "attn_norm.weight");
        if (spec.arch == "phi3") {
            weight(block + "attn_qkv.weight", "attn_qkv", layer, n_embd, n_embd + 2 * n_embd_kv);
        } else {
            weight(block + "attn_q.weight", "attn_q", layer, n_embd, n_embd);
            weight(block + "attn_k.weight", "attn_k", layer, n_embd, n_embd_kv);
            weight(block + "attn_v.weight", "attn_v", layer, n_embd, n_embd_kv);
        }
        weight(block + "attn_output.weight", "attn_output", layer, n_embd, n_embd);
        norm(block + "ffn_norm.weight");
        if (spec.arch == "phi3") {
            weight(block + "ffn_up.weight", "ffn_up", layer, n_embd, 2 * int64_t{spec.n_ff});
        } else {
            weight(block + "ffn_gate.weight", "ffn_gate", layer, n_embd, spec.n_ff);
            weight(block + "ffn_up.weight", "ffn_up", layer, n_embd, spec.n_ff);
        }
        weight(block + "ffn_down.weight", "ffn_down", layer, spec.n_ff, n_embd);
    }
    return tensors;
}

Status check_spec(const TinyModelSpec& spec) {
    auto invalid = [](const std::string& what) { return Status::failure("invalid_argument", what); };
    if (spec.arch != "phi3" && spec.arch != "llama")
        return invalid("arch must be phi3 or llama, not " + spec.arch);
    if (spec.n_layer < 1 || spec.n_layer > 512) return invalid("layers must be in [1, 512]");
    if (spec.n_head < 1 || spec.n_head_kv < 1 || spec.n_head % spec.n_head_kv != 0) {
        return invalid("heads must be positive and a multiple of heads-kv");
    }
    if (spec.n_embd < 1 || spec.n_embd > 65536 || spec.n_embd % spec.n_head != 0 ||
        (spec.n_embd / spec.n_head) % 2 != 0) {
        return invalid("embd must be in [1, 65536], a multiple of heads, with an even head size");
    }
    if (spec.n_ff < 1 || spec.n_ff > 262144) return invalid("ff must be in [1, 262144]");
    if (spec.n_ctx < 8 || spec.n_ctx > 1 << 20) return invalid("ctx must be in [8, 1048576]");
    return ok_status();
}

// The tokenizer.* key/values of the vocab file; `altered_token` (if >= 0) gets a different text.
Result<GgufHandle> tokenizer_kvs(const std::string& vocab_path, int altered_token) {
    using R = Result<GgufHandle>;
    if (vocab_path.empty()) return R::failure("not_found", "no Phi-3 vocab file (set MIMIR_PHI3_VOCAB)");
    if (Result<GgufSummary> checked = inspect_gguf(vocab_path); !checked.ok()) {
        return R::failure(checked.error().code, "vocab file: " + checked.error().message);
    }
    GgufHandle vocab(gguf_init_from_file(vocab_path.c_str(), {true, nullptr}));
    if (!vocab) return R::failure("not_gguf", "cannot read vocab file " + vocab_path);
    GgufHandle kvs(gguf_init_empty());
    gguf_set_kv(kvs.get(), vocab.get());
    for (int64_t i = gguf_get_n_kv(kvs.get()) - 1; i >= 0; --i) {
        const std::string key = gguf_get_key(kvs.get(), i);
        if (key.rfind("tokenizer.", 0) != 0) gguf_remove_key(kvs.get(), key.c_str());
    }
    const int64_t tokens_key = gguf_find_key(kvs.get(), "tokenizer.ggml.tokens");
    if (tokens_key < 0 || gguf_get_kv_type(kvs.get(), tokens_key) != GGUF_TYPE_ARRAY ||
        gguf_get_arr_type(kvs.get(), tokens_key) != GGUF_TYPE_STRING) {
        return R::failure("corrupt", "vocab file has no token list: " + vocab_path);
    }
    const size_t n_tokens = gguf_get_arr_n(kvs.get(), tokens_key);
    if (altered_token >= 0) {
        if (static_cast<size_t>(altered_token) >= n_tokens) {
            return R::failure("invalid_argument", "altered token id beyond the vocabulary");
        }
        std::vector<std::string> texts(n_tokens);
        for (size_t i = 0; i < n_tokens; ++i) texts[i] = gguf_get_arr_str(kvs.get(), tokens_key, i);
        texts[altered_token] += "~altered";
        std::vector<const char*> pointers;
        for (const std::string& t : texts) pointers.push_back(t.c_str());
        gguf_set_arr_str(kvs.get(), "tokenizer.ggml.tokens", pointers.data(), pointers.size());
    }
    return kvs;
}

void set_hparams(gguf_context* kvs, const TinyModelSpec& spec, int file_type) {
    const std::string a = spec.arch;
    auto key = [&](const char* suffix) { return a + "." + suffix; };
    gguf_set_val_str(kvs, "general.architecture", a.c_str());
    gguf_set_val_str(kvs, "general.type", "model");
    gguf_set_val_str(kvs, "general.name", ("mimir-tiny-" + a).c_str());
    gguf_set_val_u32(kvs, "general.file_type", static_cast<uint32_t>(file_type));
    gguf_set_val_u32(kvs, key("context_length").c_str(), spec.n_ctx);
    gguf_set_val_u32(kvs, key("embedding_length").c_str(), spec.n_embd);
    gguf_set_val_u32(kvs, key("feed_forward_length").c_str(), spec.n_ff);
    gguf_set_val_u32(kvs, key("block_count").c_str(), spec.n_layer);
    gguf_set_val_u32(kvs, key("attention.head_count").c_str(), spec.n_head);
    gguf_set_val_u32(kvs, key("attention.head_count_kv").c_str(), spec.n_head_kv);
    gguf_set_val_f32(kvs, key("attention.layer_norm_rms_epsilon").c_str(), 1e-5f);
    gguf_set_val_u32(kvs, key("rope.dimension_count").c_str(), spec.n_embd / spec.n_head);
    gguf_set_val_f32(kvs, key("rope.freq_base").c_str(), 10000.0f);
}

}  // namespace

TinyModelSpec TinyModelSpec::phi3_mini() {
    TinyModelSpec spec;
    spec.n_layer = 32;
    spec.n_embd = 3072;
    spec.n_head = 32;
    spec.n_head_kv = 32;
    spec.n_ff = 8192;
    spec.n_ctx = 4096;
    spec.type = "q4_k_m";
    return spec;
}

Status write_tiny_model(const TinyModelSpec& spec, const std::string& out_path) {
    if (Status valid = check_spec(spec); !valid.ok()) return valid;
    Result<StorageChoice> storage = storage_for(spec.type);
    if (!storage.ok()) return Status(storage.error());
    Result<GgufHandle> kvs = tokenizer_kvs(spec.vocab_path, spec.altered_token);
    if (!kvs.ok()) return Status(kvs.error());
    const int64_t tokens_key = gguf_find_key(kvs->get(), "tokenizer.ggml.tokens");
    const int64_t n_vocab = static_cast<int64_t>(gguf_get_arr_n(kvs->get(), tokens_key));
    set_hparams(kvs->get(), spec, storage->file_type);
    return write_generated_gguf(kvs->get(), model_tensors(spec, storage->matrix, n_vocab), out_path);
}

Status write_random_lora_adapter(const std::string& base_path, int rank, float alpha, uint32_t seed,
                                 const std::string& out_path) {
    if (rank < 1 || rank > 4096) return Status::failure("invalid_argument", "LoRA rank must be in [1, 4096]");
    if (Result<GgufSummary> checked = inspect_gguf(base_path); !checked.ok()) return Status(checked.error());
    GgufHandle base(gguf_init_from_file(base_path.c_str(), {true, nullptr}));
    if (!base) return Status::failure("not_gguf", "cannot read base model " + base_path);
    const int64_t arch_key = gguf_find_key(base.get(), "general.architecture");
    if (arch_key < 0 || gguf_get_kv_type(base.get(), arch_key) != GGUF_TYPE_STRING) {
        return Status::failure("corrupt", base_path + " has no general.architecture");
    }
    GgufHandle kvs(gguf_init_empty());
    gguf_set_val_str(kvs.get(), "general.architecture", gguf_get_val_str(base.get(), arch_key));
    gguf_set_val_str(kvs.get(), "general.type", "adapter");
    gguf_set_val_str(kvs.get(), "general.name", "mimir-random-lora");
    gguf_set_val_str(kvs.get(), "adapter.type", "lora");
    gguf_set_val_f32(kvs.get(), "adapter.lora.alpha", alpha);

    static const char* adapted[] = {"attn_qkv",    "attn_q",   "attn_k", "attn_v",
                                    "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    std::vector<GeneratedTensor> tensors;
    for (int64_t i = 0; i < gguf_get_n_tensors(base.get()); ++i) {
        const std::string name = gguf_get_tensor_name(base.get(), i);
        bool wanted = name.rfind("blk.", 0) == 0;
        bool matched = false;
        for (const char* role : adapted)
            matched |= name.find(std::string(".") + role + ".weight") != std::string::npos;
        if (!wanted || !matched) continue;
        const int64_t* ne = gguf_get_tensor_ne(base.get(), i);
        // A and B both get noise: B = 0 (the usual initialisation) would make the adapter a no-op.
        tensors.push_back(
            {name + ".lora_a", GGML_TYPE_F32, {ne[0], rank}, 0.1f, 0.0f, tensor_seed(seed, name + "a")});
        tensors.push_back(
            {name + ".lora_b", GGML_TYPE_F32, {rank, ne[1]}, 0.1f, 0.0f, tensor_seed(seed, name + "b")});
    }
    if (tensors.empty()) return Status::failure("corrupt", base_path + " has no attention or MLP weights");
    return write_generated_gguf(kvs.get(), tensors, out_path);
}

std::string default_phi3_vocab_path() {
    if (const char* env = std::getenv("MIMIR_PHI3_VOCAB"); env && *env && fs::is_regular_file(env))
        return env;
#ifdef MIMIR_DEFAULT_PHI3_VOCAB
    if (fs::is_regular_file(MIMIR_DEFAULT_PHI3_VOCAB)) return MIMIR_DEFAULT_PHI3_VOCAB;
#endif
    return {};
}

}  // namespace mimir
