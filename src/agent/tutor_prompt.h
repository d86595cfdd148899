// How Mimir prompts the model as a tutor: the system prompt that sets tone and teaching style, and the
// assembly of a student's conversation into the messages the engine receives.
#pragma once

#include <string>
#include <vector>

#include "model/engine.h"

namespace mimir {

// The default system prompt: short, correct, professional, encouraging, no emoticons, guides the student
// to the answer rather than doing the work for them. Overridable per deployment (--system-prompt-file).
const std::string& default_tutor_system_prompt();

// Prepends `system_prompt` unless the conversation already starts with a system message (a client that
// sends its own system prompt keeps it). An empty `system_prompt` adds nothing.
std::vector<ChatMessage> with_tutor_system_prompt(std::vector<ChatMessage> conversation,
                                                  const std::string& system_prompt);

}  // namespace mimir
