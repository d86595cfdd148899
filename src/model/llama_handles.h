// RAII owners for every raw llama.cpp / ggml / gguf pointer Mimir holds. This is the one place that
// pairs an init with its free; code elsewhere owns these handles, never the raw pointers.
#pragma once

#include <memory>
#include <string>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml.h"
#include "gguf.h"
#include "llama.h"

namespace mimir {

struct LlamaModelFree {
    void operator()(llama_model* p) const { llama_model_free(p); }
};
struct LlamaContextFree {
    void operator()(llama_context* p) const { llama_free(p); }
};
struct LlamaSamplerFree {
    void operator()(llama_sampler* p) const { llama_sampler_free(p); }
};
struct LlamaAdapterFree {
    void operator()(llama_adapter_lora* p) const { llama_adapter_lora_free(p); }
};
struct GgufFree {
    void operator()(gguf_context* p) const { gguf_free(p); }
};
struct GgmlContextFree {
    void operator()(ggml_context* p) const { ggml_free(p); }
};

using ModelHandle = std::unique_ptr<llama_model, LlamaModelFree>;
using ContextHandle = std::unique_ptr<llama_context, LlamaContextFree>;
using SamplerHandle = std::unique_ptr<llama_sampler, LlamaSamplerFree>;
using AdapterHandle = std::unique_ptr<llama_adapter_lora, LlamaAdapterFree>;
using GgufHandle = std::unique_ptr<gguf_context, GgufFree>;
using GgmlContextHandle = std::unique_ptr<ggml_context, GgmlContextFree>;

// Compute side of ggml, used by training: a backend, its graph allocator and a buffer of tensors.
struct GgmlBackendFree {
    void operator()(ggml_backend* p) const { ggml_backend_free(p); }
};
struct GgmlGallocrFree {
    void operator()(ggml_gallocr* p) const { ggml_gallocr_free(p); }
};
struct GgmlBufferFree {
    void operator()(ggml_backend_buffer* p) const { ggml_backend_buffer_free(p); }
};
using GgmlBackendHandle = std::unique_ptr<ggml_backend, GgmlBackendFree>;
using GgmlGallocrHandle = std::unique_ptr<ggml_gallocr, GgmlGallocrFree>;
using GgmlBufferHandle = std::unique_ptr<ggml_backend_buffer, GgmlBufferFree>;

// A llama_batch sized once and reused; llama_batch_free on destruction.
class BatchOwner {
  public:
    BatchOwner(int32_t n_tokens, int32_t n_seq_max) : batch_(llama_batch_init(n_tokens, 0, n_seq_max)) {}
    ~BatchOwner() { llama_batch_free(batch_); }
    BatchOwner(const BatchOwner&) = delete;
    BatchOwner& operator=(const BatchOwner&) = delete;
    llama_batch& get() { return batch_; }

  private:
    llama_batch batch_;
};

// Calls llama_backend_init once per process and routes llama.cpp's own logging into spdlog at debug
// level (so a corrupt file's complaints show up as one line each, not as noise on stderr).
void ensure_llama_backend();

// The error lines llama.cpp logged on this thread since the last call, joined by "; " with unprintable
// bytes replaced by '?': the reason behind a nullptr from llama_model_load_from_file and friends.
std::string take_llama_errors();

}  // namespace mimir
