#include "train/chat_examples.h"

#include <algorithm>

#include "model/chat_prompt.h"

namespace mimir {

Result<std::unique_ptr<ChatTokenizer>> ChatTokenizer::open(const std::string& base_path) {
    using R = Result<std::unique_ptr<ChatTokenizer>>;
    ensure_llama_backend();
    llama_model_params params = llama_model_default_params();
    params.vocab_only = true;
    auto tokenizer = std::unique_ptr<ChatTokenizer>(new ChatTokenizer());
    tokenizer->model_.reset(llama_model_load_from_file(base_path.c_str(), params));
    if (!tokenizer->model_)
        return R::failure("not_gguf", base_path + ": llama.cpp cannot read its vocabulary");
    tokenizer->vocab_ = llama_model_get_vocab(tokenizer->model_.get());
    const char* tmpl = llama_model_chat_template(tokenizer->model_.get(), nullptr);
    if (!tmpl) return R::failure("no_chat_template", base_path + " has no tokenizer.chat_template");
    tokenizer->template_ = tmpl;
    tokenizer->end_of_turn_ = llama_vocab_eot(tokenizer->vocab_);
    if (tokenizer->end_of_turn_ == LLAMA_TOKEN_NULL)
        tokenizer->end_of_turn_ = llama_vocab_eos(tokenizer->vocab_);
    return tokenizer;
}

Result<std::string> ChatTokenizer::render(const std::string& system_prompt, const std::string& prompt,
                                          const std::string* reply) const {
    // The same template code the engine serves with, so training sees exactly the text it will serve.
    std::vector<ChatMessage> messages;
    if (!system_prompt.empty()) messages.push_back({"system", system_prompt});
    messages.push_back({"user", prompt});
    if (reply) messages.push_back({"assistant", *reply});
    return apply_chat_template(template_, messages, /*add_assistant=*/reply == nullptr);
}

std::vector<int32_t> ChatTokenizer::tokenize(const std::string& text) const {
    return mimir::tokenize(vocab_, text);
}

Result<std::vector<int32_t>> ChatTokenizer::prompt_tokens(const std::string& system_prompt,
                                                          const std::string& prompt) const {
    Result<std::string> text = render(system_prompt, prompt, nullptr);
    if (!text) return Result<std::vector<int32_t>>(text.error());
    return tokenize(*text);
}

Result<TokenSequence> ChatTokenizer::chat_tokens(const std::string& system_prompt, const std::string& prompt,
                                                 const std::string& reply) const {
    Result<std::vector<int32_t>> head = prompt_tokens(system_prompt, prompt);
    if (!head) return Result<TokenSequence>(head.error());
    Result<std::string> full_text = render(system_prompt, prompt, &reply);
    if (!full_text) return Result<TokenSequence>(full_text.error());
    std::vector<int32_t> full = tokenize(*full_text);
    const bool shares_prefix =
        full.size() > head->size() && std::equal(head->begin(), head->end(), full.begin());
    if (!shares_prefix) {
        // The template does not render the prompt as a prefix of the chat: use the header tokens plus the
        // reply tokenized on its own.
        full = *head;
        const std::vector<int32_t> body = tokenize(reply);
        full.insert(full.end(), body.begin(), body.end());
    }
    // End at the first end-of-turn after the prompt (templates add a newline after it); add one if the
    // template has none.
    auto eot = std::find(full.begin() + static_cast<long>(head->size()), full.end(), end_of_turn_);
    if (eot == full.end()) {
        full.push_back(end_of_turn_);
    } else {
        full.erase(eot + 1, full.end());
    }
    return TokenSequence{.tokens = std::move(full), .n_prompt = static_cast<int32_t>(head->size())};
}

bool ChatTokenizer::is_end_of_generation(int32_t token) const {
    return llama_vocab_is_eog(vocab_, token);
}

std::string ChatTokenizer::detokenize(const std::vector<int32_t>& tokens) const {
    std::string text(tokens.size() * 8 + 16, '\0');
    int32_t n = llama_detokenize(vocab_, tokens.data(), static_cast<int32_t>(tokens.size()), text.data(),
                                 static_cast<int32_t>(text.size()), /*remove_special=*/true,
                                 /*unparse_special=*/false);
    if (n < 0) {
        text.resize(static_cast<size_t>(-n));
        n = llama_detokenize(vocab_, tokens.data(), static_cast<int32_t>(tokens.size()), text.data(),
                             static_cast<int32_t>(text.size()), true, false);
    }
    text.resize(static_cast<size_t>(std::max(n, 0)));
    return text;
}

Result<PreparedExamples> prepare_examples(const FineTuningData& data, const ChatTokenizer& tokenizer,
                                          const std::string& system_prompt, int n_ctx, bool strict) {
    PreparedExamples prepared;
    for (const FineTuningRow& row : data.rows) {
        Result<TokenSequence> sequence = tokenizer.chat_tokens(system_prompt, row.prompt, row.ideal_response);
        if (!sequence) return Result<PreparedExamples>(sequence.error());
        const size_t n_tokens = sequence->tokens.size();
        if (n_tokens > static_cast<size_t>(n_ctx)) {
            RowProblem problem{.row_number = row.row_number,
                               .line = row.line,
                               .reason = "over the context: " + std::to_string(n_tokens) +
                                         " tokens > --ctx " + std::to_string(n_ctx)};
            if (strict) return Result<PreparedExamples>::failure("row_too_long", describe(problem));
            prepared.problems.push_back(problem);
            continue;
        }
        prepared.examples.push_back({row.row_number, std::move(*sequence)});
    }
    return prepared;
}

}  // namespace mimir
