#include "model/token_counter.h"

#include "model/llama_handles.h"

namespace mimir {
namespace {

int count_tokens(const llama_vocab* vocab, const std::string& text) {
    if (text.empty()) return 0;
    // A negative result is the number of tokens that did not fit: asking with no room answers the count.
    const int32_t n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), nullptr, 0,
                                     /*add_special=*/false, /*parse_special=*/false);
    return n < 0 ? -n : n;
}

}  // namespace

TokenCounter token_counter_of(std::shared_ptr<const LoadedModel> model) {
    return [model = std::move(model)](const std::string& text) { return count_tokens(model->vocab(), text); };
}

Result<TokenCounter> vocabulary_token_counter(const std::string& path) {
    ensure_llama_backend();
    llama_model_params params = llama_model_default_params();
    params.vocab_only = true;
    std::shared_ptr<llama_model> model(llama_model_load_from_file(path.c_str(), params), LlamaModelFree{});
    if (!model)
        return Result<TokenCounter>::failure("not_gguf", path + ": llama.cpp cannot read its vocabulary");
    return TokenCounter(
        [model](const std::string& text) { return count_tokens(llama_model_get_vocab(model.get()), text); });
}

}  // namespace mimir
