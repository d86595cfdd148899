#include "agent/tutor_prompt.h"

#include <gtest/gtest.h>

namespace mimir {
namespace {

TEST(TutorPrompt, PrependsSystemPromptToStudentConversation) {
    auto messages = with_tutor_system_prompt({{"user", "What is a prime number?"}}, "Be a tutor.");
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0].role, "system");
    EXPECT_EQ(messages[0].content, "Be a tutor.");
    EXPECT_EQ(messages[1].content, "What is a prime number?");
}

TEST(TutorPrompt, KeepsClientSystemPrompt) {
    auto messages = with_tutor_system_prompt({{"system", "Mine."}, {"user", "Hi"}}, "Be a tutor.");
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0].content, "Mine.");
}

TEST(TutorPrompt, EmptySystemPromptAddsNothing) {
    EXPECT_EQ(with_tutor_system_prompt({{"user", "Hi"}}, "").size(), 1u);
}

TEST(TutorPrompt, DefaultPromptForbidsEmoticonsAndAsksForBrevity) {
    const std::string& prompt = default_tutor_system_prompt();
    EXPECT_NE(prompt.find("no emoticons"), std::string::npos);
    EXPECT_NE(prompt.find("brief"), std::string::npos);
}

}  // namespace
}  // namespace mimir
