// Turns fine-tuning rows into token sequences the way inference will see them: the base model's chat
// template (tokenizer.chat_template, applied by llama.cpp) renders an optional system prompt, the prompt
// as the user turn and the ideal response as the assistant turn, ended by the end-of-turn token; the
// tokens up to the assistant header are the prompt, the rest is what the model learns.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/fine_tuning_data.h"
#include "model/llama_handles.h"
#include "support/result.h"
#include "train/training_graph.h"

namespace mimir {

// The base model's tokenizer and chat template (loaded vocab-only: no weights).
class ChatTokenizer {
  public:
    // Errors: "not_gguf" (llama.cpp cannot read the vocabulary), "no_chat_template".
    static Result<std::unique_ptr<ChatTokenizer>> open(const std::string& base_path);

    // Prompt part only, ending with the assistant header (what a server feeds before generating).
    Result<std::vector<int32_t>> prompt_tokens(const std::string& system_prompt,
                                               const std::string& prompt) const;
    // The whole chat; n_prompt marks where the reply starts. The last token is end_of_turn().
    Result<TokenSequence> chat_tokens(const std::string& system_prompt, const std::string& prompt,
                                      const std::string& reply) const;
    int32_t end_of_turn() const { return end_of_turn_; }
    bool is_end_of_generation(int32_t token) const;
    std::string detokenize(const std::vector<int32_t>& tokens) const;

  private:
    Result<std::string> render(const std::string& system_prompt, const std::string& prompt,
                               const std::string* reply) const;
    std::vector<int32_t> tokenize(const std::string& text) const;

    ModelHandle model_;
    const llama_vocab* vocab_ = nullptr;
    std::string template_;
    int32_t end_of_turn_ = -1;
};

struct TrainingExample {
    int row_number = 0;
    TokenSequence sequence;
};

struct PreparedExamples {
    std::vector<TrainingExample> examples;  // in row order
    std::vector<RowProblem> problems;       // rows skipped here (too long for the context)
};

// Tokenizes every row. A row longer than `n_ctx` tokens becomes a problem ("over the context"), or
// fails the whole call ("row_too_long") when `strict`.
Result<PreparedExamples> prepare_examples(const FineTuningData& data, const ChatTokenizer& tokenizer,
                                          const std::string& system_prompt, int n_ctx, bool strict);

}  // namespace mimir
