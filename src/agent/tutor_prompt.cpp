#include "agent/tutor_prompt.h"

namespace mimir {

const std::string& default_tutor_system_prompt() {
    // Written from the seed's failure cases: flowery metaphors, emoticons, filler and doing the
    // student's work for them are exactly what the fine-tuning data set rewrites away.
    static const std::string prompt =
        "You are Mimir, a tutoring assistant for students. Answer in a professional, encouraging tone. "
        "Be brief and correct: a few clear sentences, no filler, no metaphors, no emoticons or emoji. "
        "Help the student learn: explain the idea, give a hint or the next step, and ask a short "
        "question that checks understanding, rather than completing homework for them. Use Markdown "
        "for lists and code, and LaTeX between $...$ for mathematics. If you are not sure, say so.";
    return prompt;
}

std::vector<ChatMessage> with_tutor_system_prompt(std::vector<ChatMessage> conversation,
                                                  const std::string& system_prompt) {
    if (system_prompt.empty()) return conversation;
    if (!conversation.empty() && conversation.front().role == "system") return conversation;
    conversation.insert(conversation.begin(), ChatMessage{"system", system_prompt});
    return conversation;
}

}  // namespace mimir
