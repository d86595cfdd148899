// The system prompt a conversation gets: either one fixed text (default_tutor_system_prompt() or a
// deployment's own), or the always-present snippets followed by the ones a classifier chooses for the
// conversation's last turns, within a token budget.
//
// The system prompt text is ALWAYS shared_prefix() followed, for each chosen snippet, by "\n\n" + its text
// (a fixed prompt: shared_prefix() is the whole prompt). The engine computes the KV of shared_prefix() once
// (SessionOptions::system_prompt), so only the chosen snippets are new tokens for a new conversation.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/snippet_classifier.h"
#include "agent/snippet_library.h"
#include "model/engine.h"
#include "model/token_counter.h"
#include "support/result.h"

namespace mimir {

// What choose() decided for one conversation, for the engine, the log line and the debug field.
struct PromptChoice {
    std::string system_prompt;                           // empty when the client sent its own
    std::vector<std::string> snippets;                   // chosen, in prompt order (always-present first)
    std::vector<std::pair<std::string, double>> scores;  // each selectable snippet's score, highest first
    std::string label;           // the classifier's top label ("" with a fixed prompt)
    int tokens = 0;              // of system_prompt (0 when no counter is known)
    bool fallback = false;       // the fixed prompt serves because the snippets failed
    bool client_prompt = false;  // the conversation came with its own system message
};

struct PrompterSettings {
    int prompt_budget = 256;  // tokens the whole system prompt may take
    double threshold = 0.2;   // a snippet scoring below this is not chosen
};

class TutorPrompter {
  public:
    // One fixed prompt for every conversation; `count_tokens` (optional) fills PromptChoice::tokens.
    static TutorPrompter fixed(std::string system_prompt, TokenCounter count_tokens = {});
    // The fixed prompt, serving because the snippets could not be loaded (`why`): choices say fallback.
    static TutorPrompter fallback(std::string system_prompt, Error why, TokenCounter count_tokens = {});
    // Snippets chosen by `classifier`. Errors: "classifier_labels" when the classifier knows a label the
    // library does not.
    static Result<TutorPrompter> from_snippets(SnippetLibrary library, SnippetClassifier classifier,
                                               TokenCounter count_tokens, PrompterSettings settings = {});

    const std::string& shared_prefix() const { return shared_prefix_; }
    bool uses_snippets() const { return uses_snippets_; }
    bool is_fallback() const { return fallback_.has_value(); }
    const Error* fallback_reason() const { return fallback_ ? &*fallback_ : nullptr; }

    // The prompt for `conversation`: scores the last user turn (and the one before it when the last is a
    // vague follow-up), keeps the always-present snippets, then adds the best-scoring snippets above the
    // threshold while the whole prompt fits the budget. Never fails.
    PromptChoice choose(const std::vector<ChatMessage>& conversation) const;

  private:
    std::vector<double> label_scores(const std::vector<ChatMessage>& conversation,
                                     std::string* top_label) const;

    std::string shared_prefix_;
    bool uses_snippets_ = false;
    std::optional<Error> fallback_;
    TokenCounter count_tokens_;
    SnippetLibrary library_;
    std::vector<SnippetClassifier> classifier_;  // one, or none for a fixed prompt
    PrompterSettings settings_;
};

// The messages the engine receives: the choice's system prompt first, unless the client sent its own
// (with_tutor_system_prompt's rule).
std::vector<ChatMessage> with_prompt_choice(std::vector<ChatMessage> conversation,
                                            const PromptChoice& choice);

// One log line's fields: "snippets=identity_tone,math_steps label=math top=math_steps:0.91,... tokens=97
// fallback=false".
std::string describe_choice(const PromptChoice& choice);

}  // namespace mimir
