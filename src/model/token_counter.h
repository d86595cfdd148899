// Counting tokens of text with a model's own tokenizer, for budgets decided before the engine sees a
// conversation (the tutor prompt's snippets, a conversation's history). Counts are of the text alone, as a
// message's content: the chat template's own tokens around it are not included.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "model/model_manager.h"
#include "support/result.h"

namespace mimir {

// Returns how many tokens `text` takes. Thread-safe; cheap enough to call per request.
using TokenCounter = std::function<int(const std::string& text)>;

// A counter over `model`'s tokenizer; it keeps the model alive.
TokenCounter token_counter_of(std::shared_ptr<const LoadedModel> model);

// A counter that loads only the vocabulary of the GGUF at `path` (no weights: milliseconds), for budgets
// checked before a model is serving. Every tier shares the base's tokenizer, so the base file will do.
// Errors: "not_gguf" naming the file when llama.cpp cannot read its vocabulary.
Result<TokenCounter> vocabulary_token_counter(const std::string& path);

}  // namespace mimir
