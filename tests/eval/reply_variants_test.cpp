// Variants of one tier: the request and reply changes apply, names say which variant, and variants that
// send the same request share one generation.
#include "eval/reply_variants.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace mimir::eval {
namespace {

// Replies with the system prompt it saw (or "none") and the seed, and counts generations.
class EchoSource : public ReplySource {
  public:
    std::string name() const override { return "base"; }
    Result<std::string> reply(const std::vector<ChatMessage>& conversation,
                              const SamplingParams& sampling) override {
        ++generations;
        if (conversation.back().content == "fail") return Error{"unreachable", "down"};
        const std::string system =
            conversation.front().role == "system" ? conversation.front().content : "none";
        return system + " :) " + std::to_string(sampling.seed);
    }
    int generations = 0;
};

std::vector<ChatMessage> with_system(const std::vector<ChatMessage>& conversation) {
    std::vector<ChatMessage> prepared{{"system", "chosen"}};
    prepared.insert(prepared.end(), conversation.begin(), conversation.end());
    return prepared;
}

std::string without_smiles(const std::string& reply) {
    std::string out = reply;
    out.erase(std::remove(out.begin(), out.end(), ')'), out.end());
    return out;
}

TEST(ReplyVariants, ApplyTheirChangesAndNameThemselves) {
    EchoSource source;
    auto shared = std::make_shared<SharedReplies>(source);
    VariantReplySource raw(shared, {});
    VariantReplySource snippets(shared, {.label = "snippets", .prepare = with_system});
    VariantReplySource guarded(
        shared, {.label = "snippets guarded", .prepare = with_system, .rewrite = without_smiles});
    EXPECT_EQ(raw.name(), "base");
    EXPECT_EQ(snippets.name(), "base snippets");
    EXPECT_EQ(guarded.name(), "base snippets guarded");

    const std::vector<ChatMessage> conversation{{"user", "hi"}};
    SamplingParams sampling;
    sampling.seed = 7;
    EXPECT_EQ(*raw.reply(conversation, sampling), "none :) 7");
    EXPECT_EQ(*snippets.reply(conversation, sampling), "chosen :) 7");
    EXPECT_EQ(*guarded.reply(conversation, sampling), "chosen : 7");
}

TEST(ReplyVariants, SameRequestIsGeneratedOnce) {
    EchoSource source;
    auto shared = std::make_shared<SharedReplies>(source);
    VariantReplySource raw(shared, {});
    VariantReplySource guarded(shared, {.label = "guarded", .rewrite = without_smiles});
    const std::vector<ChatMessage> conversation{{"user", "hi"}};
    SamplingParams first, second;
    first.seed = 1;
    second.seed = 2;
    ASSERT_TRUE(raw.reply(conversation, first).ok());
    ASSERT_TRUE(guarded.reply(conversation, first).ok());
    EXPECT_EQ(source.generations, 1);
    ASSERT_TRUE(guarded.reply(conversation, second).ok());
    EXPECT_EQ(source.generations, 2) << "another seed is another request";
    ASSERT_TRUE(raw.reply({{"user", "other"}}, first).ok());
    EXPECT_EQ(source.generations, 3);
}

TEST(ReplyVariants, ErrorsPassThroughUnrewritten) {
    EchoSource source;
    VariantReplySource guarded(std::make_shared<SharedReplies>(source),
                               {.label = "guarded", .rewrite = without_smiles});
    Result<std::string> reply = guarded.reply({{"user", "fail"}}, SamplingParams{});
    ASSERT_FALSE(reply.ok());
    EXPECT_EQ(reply.error().code, "unreachable");
}

}  // namespace
}  // namespace mimir::eval
