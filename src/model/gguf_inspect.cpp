#include "model/gguf_inspect.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "model/llama_handles.h"

namespace fs = std::filesystem;

namespace mimir {

namespace {

// Bounds beyond which a field is called corrupt rather than truncated: no real GGUF comes near them, and a
// bit flip in a length or count lands far beyond them almost always.
constexpr uint64_t kMaxStringBytes = 64ull << 20;
constexpr uint64_t kMaxArrayElements = 256ull << 20;
constexpr int64_t kMaxCount = 1 << 20;  // tensors or key/values in one file
constexpr int64_t kMaxDimension = int64_t{1} << 40;

// Walks the header, key/values and tensor table of a GGUF file by itself, with every length checked
// against the file size, so that gguf_init_from_file only ever sees files whose metadata reads cleanly.
class LayoutWalker {
  public:
    LayoutWalker(const std::string& path, uint64_t file_size)
        : path_(path), size_(file_size), in_(path, std::ios::binary) {}

    Status walk() {
        if (!in_) return failure("not_found", "cannot open");
        if (Status s = header(); !s.ok()) return s;
        for (int64_t i = 0; i < n_kv_; ++i) {
            if (Status s = key_value(i); !s.ok()) return s;
        }
        for (int64_t i = 0; i < n_tensors_; ++i) {
            if (Status s = tensor_info(i); !s.ok()) return s;
        }
        return data_ranges();
    }

  private:
    struct TensorRange {
        std::string name;
        uint64_t offset;
        uint64_t bytes;
    };

    Status failure(const std::string& code, const std::string& what) const {
        return Status::failure(code, path_ + ": " + what);
    }
    Status past_end(const std::string& what) const {
        return failure("truncated",
                       what + " runs past the end of the file (" + std::to_string(size_) + " bytes)");
    }

    bool read(void* out, uint64_t n) {
        if (n > size_ - position_) return false;
        in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n));
        if (!in_) return false;
        position_ += n;
        return true;
    }
    bool skip(uint64_t n) {
        if (n > size_ - position_) return false;
        position_ += n;
        in_.seekg(static_cast<std::streamoff>(position_));
        return static_cast<bool>(in_);
    }
    template <typename T>
    bool read(T& value) {
        return read(&value, sizeof(T));
    }

    // A length-prefixed string; `keep` receives it when given, else it is skipped.
    Status string(const std::string& what, uint64_t max_bytes, std::string* keep) {
        uint64_t length = 0;
        if (!read(length)) return past_end(what);
        if (length > max_bytes)
            return failure("corrupt", what + " claims " + std::to_string(length) + " bytes");
        if (keep) {
            if (length > size_ - position_) return past_end(what);
            keep->resize(length);
            return read(keep->data(), length) ? ok_status() : past_end(what);
        }
        return skip(length) ? ok_status() : past_end(what);
    }

    Status header() {
        std::array<char, 4> magic{};
        const uint64_t have = std::min<uint64_t>(size_, 4);
        if (!read(magic.data(), have)) return failure("not_gguf", "cannot read the file");
        if (std::memcmp(magic.data(), "GGUF", have) != 0)
            return failure("not_gguf", "not a GGUF file (bad magic)");
        if (have < 4 || size_ < 24) return failure("truncated", "ends inside the GGUF header");
        uint32_t version = 0;
        read(version);
        read(n_tensors_);
        read(n_kv_);
        if (version < 2 || version > GGUF_VERSION) {
            return failure("corrupt", "unsupported GGUF version " + std::to_string(version));
        }
        if (n_tensors_ < 0 || n_tensors_ > kMaxCount || n_kv_ < 0 || n_kv_ > kMaxCount) {
            return failure("corrupt", "absurd counts: " + std::to_string(n_tensors_) + " tensors, " +
                                          std::to_string(n_kv_) + " key/values");
        }
        return ok_status();
    }

    static uint64_t scalar_size(uint32_t type) {
        switch (type) {
            case GGUF_TYPE_UINT8:
            case GGUF_TYPE_INT8:
            case GGUF_TYPE_BOOL:
                return 1;
            case GGUF_TYPE_UINT16:
            case GGUF_TYPE_INT16:
                return 2;
            case GGUF_TYPE_UINT32:
            case GGUF_TYPE_INT32:
            case GGUF_TYPE_FLOAT32:
                return 4;
            case GGUF_TYPE_UINT64:
            case GGUF_TYPE_INT64:
            case GGUF_TYPE_FLOAT64:
                return 8;
            default:
                return 0;  // strings, arrays and unknown types
        }
    }

    Status key_value(int64_t index) {
        std::string key;
        const std::string where = "key/value " + std::to_string(index);
        if (Status s = string(where + " key", 1 << 16, &key); !s.ok()) return s;
        uint32_t type = 0;
        if (!read(type)) return past_end(where);
        uint64_t count = 1;
        const bool is_array = type == GGUF_TYPE_ARRAY;
        if (is_array) {
            if (!read(type) || !read(count)) return past_end(where);
            if (count > kMaxArrayElements)
                return failure("corrupt", "key " + key + " claims " + std::to_string(count) + " elements");
        }
        if (type == GGUF_TYPE_STRING) {
            for (uint64_t i = 0; i < count; ++i) {
                if (Status s = string("key " + key, kMaxStringBytes, nullptr); !s.ok()) return s;
            }
            return ok_status();
        }
        const uint64_t element = scalar_size(type);
        if (element == 0)
            return failure("corrupt", "key " + key + " has unknown type " + std::to_string(type));
        if (key == "general.alignment" && !is_array && type == GGUF_TYPE_UINT32) {
            uint32_t alignment = 0;
            if (!read(alignment)) return past_end("key " + key);
            if (alignment == 0 || (alignment & (alignment - 1)) != 0)
                return failure("corrupt", "alignment is not a power of 2");
            alignment_ = alignment;
            return ok_status();
        }
        if (key == "general.alignment") return failure("corrupt", "general.alignment is not a u32");
        return skip(count * element) ? ok_status() : past_end("key " + key);
    }

    Status tensor_info(int64_t index) {
        std::string name;
        const std::string where = "tensor " + std::to_string(index);
        if (Status s = string(where + " name", GGML_MAX_NAME - 1, &name); !s.ok()) return s;
        uint32_t n_dims = 0;
        if (!read(n_dims)) return past_end(where);
        if (n_dims < 1 || n_dims > GGML_MAX_DIMS)
            return failure("corrupt", "tensor " + name + " has " + std::to_string(n_dims) + " dimensions");
        std::array<int64_t, GGML_MAX_DIMS> shape{1, 1, 1, 1};
        uint64_t elements = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            if (!read(shape[d])) return past_end(where);
            if (shape[d] < 0 || shape[d] > kMaxDimension)
                return failure("corrupt",
                               "tensor " + name + " has an absurd dimension " + std::to_string(shape[d]));
            elements = shape[d] == 0 ? 0 : elements;
            if (elements != 0 &&
                elements > static_cast<uint64_t>(kMaxDimension) / static_cast<uint64_t>(shape[d])) {
                return failure("corrupt", "tensor " + name + " has an absurd element count");
            }
            elements *= static_cast<uint64_t>(shape[d]);
        }
        uint32_t type = 0;
        uint64_t offset = 0;
        if (!read(type) || !read(offset)) return past_end(where);
        if (type >= GGML_TYPE_COUNT || ggml_blck_size(ggml_type(type)) == 0 ||
            ggml_type_size(ggml_type(type)) == 0) {
            return failure("corrupt", "tensor " + name + " has unknown type " + std::to_string(type));
        }
        const auto block = static_cast<int64_t>(ggml_blck_size(ggml_type(type)));
        if (shape[0] % block != 0)
            return failure("corrupt", "tensor " + name + " rows do not fit its type's blocks");
        const uint64_t bytes = elements / static_cast<uint64_t>(block) * ggml_type_size(ggml_type(type));
        ranges_.push_back({name, offset, bytes});
        return ok_status();
    }

    Status data_ranges() {
        const uint64_t data_start = GGML_PAD(position_, alignment_);
        uint64_t expected = 0;
        for (const TensorRange& t : ranges_) {
            if (t.offset != expected)
                return failure("corrupt", "tensor " + t.name + " has offset " + std::to_string(t.offset) +
                                              ", expected " + std::to_string(expected));
            if (data_start > size_ || t.offset > size_ - data_start ||
                t.bytes > size_ - data_start - t.offset) {
                return failure("truncated", "tensor " + t.name + " data ends beyond the end of the file (" +
                                                std::to_string(size_) + " bytes)");
            }
            expected = t.offset + GGML_PAD(t.bytes, alignment_);
        }
        return ok_status();
    }

    std::string path_;
    uint64_t size_;
    std::ifstream in_;
    uint64_t position_ = 0;
    int64_t n_tensors_ = 0, n_kv_ = 0;
    uint64_t alignment_ = GGUF_DEFAULT_ALIGNMENT;
    std::vector<TensorRange> ranges_;
};

std::optional<int64_t> integer_value(const gguf_context* gguf, const std::string& key) {
    const int64_t id = gguf_find_key(gguf, key.c_str());
    if (id < 0) return std::nullopt;
    switch (gguf_get_kv_type(gguf, id)) {
        case GGUF_TYPE_UINT8:
            return gguf_get_val_u8(gguf, id);
        case GGUF_TYPE_INT8:
            return gguf_get_val_i8(gguf, id);
        case GGUF_TYPE_UINT16:
            return gguf_get_val_u16(gguf, id);
        case GGUF_TYPE_INT16:
            return gguf_get_val_i16(gguf, id);
        case GGUF_TYPE_UINT32:
            return gguf_get_val_u32(gguf, id);
        case GGUF_TYPE_INT32:
            return gguf_get_val_i32(gguf, id);
        case GGUF_TYPE_UINT64:
            return static_cast<int64_t>(gguf_get_val_u64(gguf, id));
        case GGUF_TYPE_INT64:
            return gguf_get_val_i64(gguf, id);
        default:
            return std::nullopt;
    }
}

std::string string_value(const gguf_context* gguf, const std::string& key) {
    const int64_t id = gguf_find_key(gguf, key.c_str());
    if (id < 0 || gguf_get_kv_type(gguf, id) != GGUF_TYPE_STRING) return {};
    return gguf_get_val_str(gguf, id);
}

// An array key of the expected element type, or -1.
int64_t array_key(const gguf_context* gguf, const char* key, gguf_type element) {
    const int64_t id = gguf_find_key(gguf, key);
    if (id < 0 || gguf_get_kv_type(gguf, id) != GGUF_TYPE_ARRAY || gguf_get_arr_type(gguf, id) != element)
        return -1;
    return id;
}

class Fnv1a {
  public:
    void add(const void* data, size_t n) {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (size_t i = 0; i < n; ++i) hash_ = (hash_ ^ bytes[i]) * 0x100000001b3ull;
    }
    template <typename T>
    void add(const T& value) {
        add(&value, sizeof(T));
    }
    std::string hex() const {
        char text[17];
        std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash_));
        return text;
    }

  private:
    uint64_t hash_ = 0xcbf29ce484222325ull;
};

const char* const kSpecialTokens[] = {"bos", "eos", "eot", "pad", "unk"};

// Checks what llama.cpp's tokenizer loader trusts (array types and lengths, special ids in range) and hashes
// the vocabulary. Leaves the summary's vocab fields empty for files without one.
Status read_vocab(const gguf_context* gguf, GgufSummary& summary) {
    if (gguf_find_key(gguf, "tokenizer.ggml.tokens") < 0) return ok_status();
    auto corrupt = [&](const std::string& what) {
        return Status::failure("corrupt", summary.path + ": " + what);
    };
    const int64_t tokens = array_key(gguf, "tokenizer.ggml.tokens", GGUF_TYPE_STRING);
    if (tokens < 0) return corrupt("tokenizer.ggml.tokens is not a string array");
    const auto n_vocab = static_cast<int64_t>(gguf_get_arr_n(gguf, tokens));
    if (n_vocab == 0) return corrupt("the vocabulary is empty");
    const int64_t types = gguf_find_key(gguf, "tokenizer.ggml.token_type");
    if (types >= 0 && (array_key(gguf, "tokenizer.ggml.token_type", GGUF_TYPE_INT32) < 0 ||
                       static_cast<int64_t>(gguf_get_arr_n(gguf, types)) != n_vocab)) {
        return corrupt("tokenizer.ggml.token_type does not match the token list");
    }
    const int64_t scores = gguf_find_key(gguf, "tokenizer.ggml.scores");
    if (scores >= 0 && (array_key(gguf, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32) < 0 ||
                        static_cast<int64_t>(gguf_get_arr_n(gguf, scores)) != n_vocab)) {
        return corrupt("tokenizer.ggml.scores does not match the token list");
    }
    const int64_t merges = gguf_find_key(gguf, "tokenizer.ggml.merges");
    if (merges >= 0 && array_key(gguf, "tokenizer.ggml.merges", GGUF_TYPE_STRING) < 0) {
        return corrupt("tokenizer.ggml.merges is not a string array");
    }
    Fnv1a hash;
    hash.add(n_vocab);
    for (int64_t i = 0; i < n_vocab; ++i) {
        const char* text = gguf_get_arr_str(gguf, tokens, static_cast<size_t>(i));
        const uint64_t length = std::strlen(text);
        hash.add(length);
        hash.add(text, length);
    }
    if (types >= 0) hash.add(gguf_get_arr_data(gguf, types), static_cast<size_t>(n_vocab) * sizeof(int32_t));
    for (const char* special : kSpecialTokens) {
        const std::string key = std::string("tokenizer.ggml.") + special + "_token_id";
        const int64_t id = integer_value(gguf, key).value_or(-1);
        if (id < -1 || id >= n_vocab)
            return corrupt(key + " " + std::to_string(id) + " is outside the vocabulary");
        hash.add(id);
    }
    summary.n_vocab = n_vocab;
    summary.vocab_hash = hash.hex();
    return ok_status();
}

std::string quantization_name(const gguf_context* gguf, const std::string& dominant) {
    static const std::map<int64_t, std::string> names = {
        {0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
        {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
        {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {32, "BF16"}};
    const auto file_type = integer_value(gguf, "general.file_type");
    if (file_type) {
        auto found = names.find(*file_type);
        if (found != names.end()) return found->second;
    }
    std::string upper = dominant;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return upper;
}

void read_tensors(const gguf_context* gguf, GgufSummary& summary) {
    std::map<std::string, uint64_t> elements_by_type;
    summary.n_tensors = gguf_get_n_tensors(gguf);
    for (int64_t i = 0; i < summary.n_tensors; ++i) {
        const int64_t* ne = gguf_get_tensor_ne(gguf, i);
        const uint64_t n = static_cast<uint64_t>(ne[0] * ne[1] * ne[2] * ne[3]);
        summary.n_params += n;
        elements_by_type[ggml_type_name(gguf_get_tensor_type(gguf, i))] += n;
    }
    uint64_t most = 0;
    for (const auto& [type, n] : elements_by_type) {
        if (n > most) most = n, summary.file_type = type;
    }
    summary.quantization = quantization_name(gguf, summary.file_type);
}

void read_hparams(const gguf_context* gguf, GgufSummary& summary) {
    const std::string a = summary.architecture + ".";
    auto get = [&](const char* key) { return integer_value(gguf, a + key).value_or(0); };
    summary.n_layer = get("block_count");
    summary.n_embd = get("embedding_length");
    summary.n_head = get("attention.head_count");
    summary.n_head_kv = get("attention.head_count_kv");
    summary.n_ff = get("feed_forward_length");
    summary.n_ctx_train = get("context_length");
}

}  // namespace

Result<GgufSummary> inspect_gguf(const std::string& path) {
    using R = Result<GgufSummary>;
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (ec || !fs::exists(status)) return R::failure("not_found", path + ": no such file");
    if (!fs::is_regular_file(status)) return R::failure("not_a_file", path + ": not a regular file");
    const uint64_t size = fs::file_size(path, ec);
    if (ec) return R::failure("not_found", path + ": cannot read its size");
    if (size == 0) return R::failure("truncated", path + ": empty file (0 bytes)");

    if (Status layout = LayoutWalker(path, size).walk(); !layout.ok()) return R(layout.error());

    GgufHandle gguf(gguf_init_from_file(path.c_str(), {true, nullptr}));
    if (!gguf) return R::failure("corrupt", path + ": llama.cpp's GGUF reader refuses it");
    GgufSummary summary;
    summary.path = path;
    summary.file_size = size;
    summary.architecture = string_value(gguf.get(), "general.architecture");
    if (summary.architecture.empty()) return R::failure("corrupt", path + ": no general.architecture");
    summary.is_adapter = string_value(gguf.get(), "general.type") == "adapter";
    summary.adapter_type = string_value(gguf.get(), "adapter.type");
    const int64_t alpha = gguf_find_key(gguf.get(), "adapter.lora.alpha");
    if (alpha >= 0 && gguf_get_kv_type(gguf.get(), alpha) == GGUF_TYPE_FLOAT32) {
        summary.lora_alpha = gguf_get_val_f32(gguf.get(), alpha);
    }
    read_tensors(gguf.get(), summary);
    if (!summary.is_adapter) read_hparams(gguf.get(), summary);
    if (Status vocab = read_vocab(gguf.get(), summary); !vocab.ok()) return R(vocab.error());
    return summary;
}

namespace {
// n with a thousands-scale letter: `billion` is "B" for counts and "G" for bytes.
std::string format_scaled(uint64_t n, const char* billion, const char* unit) {
    char text[32];
    if (n >= 1000000000ull)
        std::snprintf(text, sizeof(text), "%.2f %s%s", n / 1e9, billion, unit);
    else if (n >= 1000000ull)
        std::snprintf(text, sizeof(text), "%.1f M%s", n / 1e6, unit);
    else if (n >= 1000ull)
        std::snprintf(text, sizeof(text), "%.1f K%s", n / 1e3, unit);
    else
        std::snprintf(text, sizeof(text), "%llu%s%s", static_cast<unsigned long long>(n), *unit ? " " : "",
                      unit);
    return text;
}
}  // namespace

std::string format_count(uint64_t n) {
    return format_scaled(n, "B", "");
}
std::string format_bytes(uint64_t n) {
    return format_scaled(n, "G", "B");
}

}  // namespace mimir
