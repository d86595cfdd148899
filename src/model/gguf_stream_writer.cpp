#include "model/gguf_stream_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <thread>

#include "model/llama_handles.h"
#include "support/files.h"
#include "support/system.h"

namespace fs = std::filesystem;

namespace mimir {

namespace {

// Good enough for weights nobody trains from: tiny and fast.
class NoiseSource {
  public:
    explicit NoiseSource(uint64_t seed) : random_(seed) {}
    // Sum of three uniforms on [-1, 1): variance 1; scaled to `stddev`. Bell-shaped, bounded, fast.
    float next(float stddev) {
        const float sum = uniform() + uniform() + uniform();
        return sum * stddev;
    }

  private:
    float uniform() {
        return static_cast<float>(random_.next() >> 40) / static_cast<float>(1ull << 24) * 2.0f - 1.0f;
    }
    SplitMix64 random_;
};

bool is_k_quant(ggml_type type) {
    return type == GGML_TYPE_Q2_K || type == GGML_TYPE_Q3_K || type == GGML_TYPE_Q4_K ||
           type == GGML_TYPE_Q5_K || type == GGML_TYPE_Q6_K;
}

// Converts `n_rows` rows of F32 into `type` at `out` (which has room for them). K-quantization is the slow
// part of writing a Phi-3-mini-sized model, so rows are split across the cores.
void convert_rows(ggml_type type, const float* rows, int64_t n_rows, int64_t row_length, void* out) {
    if (type == GGML_TYPE_F32) {
        std::copy(rows, rows + n_rows * row_length, static_cast<float*>(out));
        return;
    }
    if (type == GGML_TYPE_F16) {
        ggml_fp32_to_fp16_row(rows, static_cast<ggml_fp16_t*>(out), n_rows * row_length);
        return;
    }
    const int64_t n_threads = std::clamp<int64_t>(default_thread_count(), 1, std::min<int64_t>(n_rows, 16));
    const int64_t rows_per_thread = (n_rows + n_threads - 1) / n_threads;
    std::vector<std::thread> workers;
    for (int64_t first = 0; first < n_rows; first += rows_per_thread) {
        const int64_t count = std::min(rows_per_thread, n_rows - first);
        workers.emplace_back([=] {
            // `start` is an element index into both `rows` and `out`.
            ggml_quantize_chunk(type, rows, out, first * row_length, count, row_length, nullptr);
        });
    }
    for (std::thread& worker : workers) worker.join();
}

bool write_tensor(std::FILE* out, const GeneratedTensor& tensor, size_t alignment) {
    const int64_t row_length = tensor.shape.at(0);
    int64_t n_rows = 1;
    for (size_t i = 1; i < tensor.shape.size(); ++i) n_rows *= tensor.shape[i];
    const size_t row_bytes = ggml_row_size(tensor.type, row_length);
    // About 4 M values per chunk: big enough to be fast, small enough for a 3072 x 32064 embedding.
    const int64_t rows_per_chunk =
        std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(1, row_length));

    NoiseSource noise(tensor.seed);
    std::vector<float> values;
    std::vector<uint8_t> encoded;
    for (int64_t first = 0; first < n_rows; first += rows_per_chunk) {
        const int64_t count = std::min(rows_per_chunk, n_rows - first);
        values.resize(static_cast<size_t>(count * row_length));
        for (float& v : values) v = tensor.stddev == 0.0f ? tensor.constant : noise.next(tensor.stddev);
        encoded.resize(static_cast<size_t>(count) * row_bytes);
        convert_rows(tensor.type, values.data(), count, row_length, encoded.data());
        if (std::fwrite(encoded.data(), 1, encoded.size(), out) != encoded.size()) return false;
    }
    const size_t total = static_cast<size_t>(n_rows) * row_bytes;
    const size_t padding = GGML_PAD(total, alignment) - total;
    static const char zeros[256] = {};
    return std::fwrite(zeros, 1, padding, out) == padding;
}

}  // namespace

ggml_type storable_type(ggml_type wanted, int64_t row_length) {
    if (row_length % ggml_blck_size(wanted) == 0) return wanted;
    if (is_k_quant(wanted)) {
        const ggml_type fallback = wanted == GGML_TYPE_Q6_K ? GGML_TYPE_Q8_0 : GGML_TYPE_Q5_0;
        return storable_type(fallback, row_length);
    }
    return GGML_TYPE_F16;
}

Status write_generated_gguf(gguf_context* kvs, const std::vector<GeneratedTensor>& tensors,
                            const std::string& out_path) {
    const ggml_init_params params{tensors.size() * ggml_tensor_overhead() + 1024, nullptr, true};
    GgmlContextHandle shapes(ggml_init(params));
    if (!shapes) return Status::failure("out_of_memory", "cannot allocate tensor descriptions");
    for (const GeneratedTensor& t : tensors) {
        if (t.shape.empty() || t.shape.size() > GGML_MAX_DIMS || t.shape[0] % ggml_blck_size(t.type) != 0) {
            return Status::failure("invalid_shape",
                                   "tensor " + t.name + " cannot be stored as " + ggml_type_name(t.type));
        }
        ggml_tensor* described =
            ggml_new_tensor(shapes.get(), t.type, static_cast<int>(t.shape.size()), t.shape.data());
        ggml_set_name(described, t.name.c_str());
        gguf_add_tensor(kvs, described);
    }

    std::vector<uint8_t> meta(gguf_get_meta_size(kvs));
    gguf_get_meta_data(kvs, meta.data());

    const fs::path final_path(out_path);
    if (final_path.has_parent_path()) {
        std::error_code ignored;
        fs::create_directories(final_path.parent_path(), ignored);
    }
    const size_t alignment = gguf_get_alignment(kvs);
    return write_file_atomically(out_path, [&](std::FILE* out) {
        if (std::fwrite(meta.data(), 1, meta.size(), out) != meta.size()) return false;
        return std::all_of(tensors.begin(), tensors.end(),
                           [&](const GeneratedTensor& t) { return write_tensor(out, t, alignment); });
    });
}

}  // namespace mimir
