#include "agent/response_guard.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "agent/reply_flaws.h"
#include "data/fine_tuning_data.h"
#include "model/utf8_stream.h"

namespace mimir {
namespace {

const GuardSettings kDefaults{};

std::string guarded(std::string_view text, GuardTally* tally = nullptr, GuardSettings settings = {}) {
    return guard_reply(text, settings, tally);
}

// Pushes `pieces` in order, then finishes; stops pushing once the guard has stopped (as serve does).
std::string streamed(const std::vector<std::string_view>& pieces, const GuardSettings& settings,
                     GuardTally* tally = nullptr) {
    ResponseGuard guard(settings);
    std::string out;
    for (std::string_view piece : pieces) {
        if (guard.stopped()) break;
        out += guard.push(piece);
    }
    out += guard.finish();
    if (tally) *tally = guard.tally();
    return out;
}

const std::vector<std::string>& data_set_replies() {
    static const std::vector<std::string> replies = [] {
        auto data = read_fine_tuning_csv(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning.csv");
        std::vector<std::string> all;
        if (!data) return all;
        for (const auto& row : data->rows) {
            all.push_back(row.model_response);
            all.push_back(row.ideal_response);
        }
        return all;
    }();
    return replies;
}

// Replies with every flaw, and texts where the rules must keep away (code, formulas, Markdown).
const std::vector<std::string> kHandWritten = {
    "Great question!!! Let's dive in :) -- the answer is close \xF0\x9F\x98\x8A",
    "Wow!?! That is SO cool :D\n\xF0\x9F\x8E\x89\xF0\x9F\x8E\x89 Let's go!!!",
    "Here - you see - it works - every time - like magic; right?! ;-)",
    "Steps:\n- read the problem\n- write the equation\n  - nested item\n\n---\n\nDone.",
    "| a | b |\n|---|---|\n| 1 | 2 |\n\nThat is the table.",
    "Run it:\n```\nls --all # :)\necho \"hi!!!\"\n```\nThen look at `--verbose` and `:)`.",
    "The formula $a - b - c - d$ and $$x -- y$$ stay; 20 - 5 - 3 - 2 = 10 too.",
    "Yes! Good! Great! Super! Done! Really!",
    "if (a != b) return; \xE2\x80\x94 one \xE2\x80\x94 two \xE2\x80\x94 three \xE2\x80\x94 four.",
    "Hi \xF0\x9F\x91\x8B\xF0\x9F\x8F\xBD! I'm here :P <3 xD ^_^ -_- =)",
    "\xF0\x9F\x98\x8A Welcome back.\n:) Ready?",
    "Broken \xC3 bytes \xE2\x82 and \xF0\x9F here\xFF.",
    "A well-known two-step method: 1990\xE2\x80\x93"
    "2000, -5 and x - y.",
    "",
    "   ",
    ":",
    "--",
    "Is it 3:4 or a[:3] or f(x) or http://example.org?",
};

std::vector<std::string> all_texts() {
    std::vector<std::string> texts = kHandWritten;
    const auto& replies = data_set_replies();
    texts.insert(texts.end(), replies.begin(), replies.end());
    // Random mixes of the characters the rules look at, emoji, and bytes that are not UTF-8.
    const std::vector<std::string> atoms = {" ",
                                            "  ",
                                            "\n",
                                            "a",
                                            "word",
                                            ".",
                                            "!",
                                            "?",
                                            ":",
                                            ";",
                                            ")",
                                            "(",
                                            "-",
                                            "--",
                                            "\xE2\x80\x94",
                                            "\xE2\x80\x93",
                                            "`",
                                            "```",
                                            "$",
                                            "\"",
                                            "D",
                                            "P",
                                            "3",
                                            "<",
                                            "^",
                                            "_",
                                            "x",
                                            "\xF0\x9F\x98\x8A",
                                            "\xE2\x9C\x85",
                                            "\xEF\xB8\x8F",
                                            "\xE2\x80\x8D",
                                            "\xC3",
                                            "\xA9",
                                            "\xF0\x9F",
                                            "|",
                                            "=",
                                            "1",
                                            "*",
                                            "'"};
    std::mt19937 random(12);
    for (int i = 0; i < 300; ++i) {
        std::string text;
        const int n = std::uniform_int_distribution<int>(1, 40)(random);
        for (int j = 0; j < n; ++j)
            text += atoms[std::uniform_int_distribution<size_t>(0, atoms.size() - 1)(random)];
        texts.push_back(text);
    }
    return texts;
}

GuardSettings short_limit() {
    return GuardSettings{.max_words = 12, .hold_words = 5};
}

TEST(ResponseGuard, RemovesEmoticonsAndEmojiWithTheirSpace) {
    GuardTally tally;
    EXPECT_EQ(guarded("Great job :) How about the next one?", &tally), "Great job How about the next one?");
    EXPECT_EQ(guarded("X marks the spot :D"), "X marks the spot");
    EXPECT_EQ(guarded("Hi \xF0\x9F\x98\x8A!"), "Hi!");
    EXPECT_EQ(guarded("\xF0\x9F\x98\x8A Welcome."), "Welcome.");
    EXPECT_EQ(guarded("Nice \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD work ;-) really"), "Nice work really");
    EXPECT_EQ(guarded("Love it <3 and xD too ^_^"), "Love it and too");
    EXPECT_EQ(tally.of(GuardRule::Emoticons), 1u);
    GuardTally many;
    guarded("a :) b :( c \xF0\x9F\x8E\x89", &many);
    EXPECT_EQ(many.of(GuardRule::Emoticons), 3u);
    EXPECT_TRUE(many.changed());
}

TEST(ResponseGuard, LeavesTextThatOnlyLooksLikeFaces) {
    for (const char* text : {"Is it 3:4 or a[:3]?", "Call f(x) at http://example.org.", "Note: done.",
                             "Use `:)` or\n```\nprint(\":)\")\n```\nin code.", "The ratio x:y = 2:3."}) {
        GuardTally tally;
        EXPECT_EQ(guarded(text, &tally), text);
        EXPECT_FALSE(tally.changed()) << text;
    }
}

TEST(ResponseGuard, TamesDashRunsAndTooManyDashes) {
    GuardTally tally;
    EXPECT_EQ(guarded("Wait -- this is wrong.", &tally), "Wait \xE2\x80\x94 this is wrong.");
    EXPECT_EQ(tally.of(GuardRule::Dashes), 1u);
    EXPECT_EQ(guarded("Here - you see - it works - every time."), "Here - you see - it works, every time.");
    EXPECT_EQ(guarded("a\xE2\x80\x94"
                      "b\xE2\x80\x94"
                      "c\xE2\x80\x94"
                      "d."),
              "a\xE2\x80\x94"
              "b\xE2\x80\x94"
              "c, d.");
    for (const char* kept : {"A well-known two-step method.", "Steps:\n- one\n  - two\n  - three\n  - four",
                             "Text\n\n---\n\nMore.", "| a | b |\n|---|---|\n| 1 | 2 |", "Run `ls --all` now.",
                             "So 20 - 5 - 3 - 2 = 10 and -5 < 0.",
                             "From 1990\xE2\x80\x93"
                             "2000.",
                             "The formula $a - b - c - d$ holds."}) {
        GuardTally none;
        EXPECT_EQ(guarded(kept, &none), kept);
        EXPECT_FALSE(none.changed()) << kept;
    }
}

TEST(ResponseGuard, TamesExclamationRuns) {
    GuardTally tally;
    EXPECT_EQ(guarded("Absolutely!!! The answer is 5!!", &tally), "Absolutely! The answer is 5!");
    EXPECT_EQ(tally.of(GuardRule::Exclamations), 2u);
    EXPECT_EQ(guarded("Really?! Yes."), "Really? Yes.");
    EXPECT_EQ(guarded("Yes! Good! Great! Super! Done!"), "Yes! Good! Great! Super. Done.");
    EXPECT_EQ(guarded("Why?? Because a != b."), "Why?? Because a != b.");
}

TEST(ResponseGuard, CutsALongReplyAtItsLastCompleteSentence) {
    const GuardSettings settings = short_limit();  // 12 words, the last 5 are the hold zone
    GuardTally tally;
    // The third sentence starts at word 10 (in the hold zone) and runs past 12: it is dropped.
    EXPECT_EQ(guard_reply("One two three four five. Six seven eight nine. Ten eleven twelve thirteen.",
                          settings, &tally),
              "One two three four five. Six seven eight nine.");
    EXPECT_EQ(tally.of(GuardRule::Length), 1u);
    // A sentence that started before the hold zone is cut at the limit's word.
    EXPECT_EQ(
        guard_reply("One. Two three four five six seven eight nine ten eleven twelve thirteen.", settings),
        "One. Two three four five six seven eight nine ten eleven twelve");
    // Exactly the limit is not cut.
    const std::string twelve = "One two three four five six. Seven eight nine ten eleven twelve.";
    EXPECT_EQ(guard_reply(twelve, settings), twelve);
    // A cut inside a code fence closes it.
    EXPECT_EQ(guard_reply("Look:\n```\na b c d e f g h i j k l m\n```", settings),
              "Look:\n```\na b c d e f g h i j\n```");  // "Look:" and "```" are words too
    // 0 = no limit.
    const std::string long_text(2000, 'a');
    EXPECT_EQ(guard_reply(long_text + " b", GuardSettings{.max_words = 0}), long_text + " b");
}

TEST(ResponseGuard, StopsWhenTheLimitIsPassed) {
    ResponseGuard guard(short_limit());
    std::string out = guard.push("One two three four five. Six seven eight nine. Ten eleven");
    EXPECT_FALSE(guard.stopped());
    EXPECT_EQ(out, "One two three four five. Six seven eight nine.");  // the sentence in the hold zone waits
    out += guard.push(" twelve thirteen");
    EXPECT_TRUE(guard.stopped());
    EXPECT_EQ(guard.push(" more"), "");
    EXPECT_EQ(guard.finish(), "");
    EXPECT_EQ(guard.tally().of(GuardRule::Length), 1u);
}

TEST(ResponseGuard, SplittingAnywhereGivesTheWholeTextsResult) {
    for (const GuardSettings& settings :
         {kDefaults, short_limit(), GuardSettings{.max_words = 30, .hold_words = 30}}) {
        for (const std::string& text : all_texts()) {
            GuardTally whole_tally;
            const std::string whole = guard_reply(text, settings, &whole_tally);
            for (size_t at = 0; at <= text.size(); ++at) {
                const std::string_view view(text);
                GuardTally tally;
                ASSERT_EQ(streamed({view.substr(0, at), view.substr(at)}, settings, &tally), whole)
                    << "split at " << at << " of \"" << text << "\"";
                ASSERT_EQ(tally.fired, whole_tally.fired) << text;
            }
        }
    }
}

TEST(ResponseGuard, RandomMultiWaySplitsAndBytesOneByOne) {
    std::mt19937 random(7);
    for (const std::string& text : all_texts()) {
        const std::string whole = guard_reply(text, short_limit());
        std::vector<std::string_view> bytes;
        for (size_t i = 0; i < text.size(); ++i) bytes.push_back(std::string_view(text).substr(i, 1));
        ASSERT_EQ(streamed(bytes, short_limit()), whole) << text;
        for (int round = 0; round < 5; ++round) {
            std::vector<std::string_view> pieces;
            for (size_t at = 0; at < text.size();) {
                const size_t n = std::uniform_int_distribution<size_t>(0, 6)(random);
                pieces.push_back(std::string_view(text).substr(at, n));
                at += n;
            }
            ASSERT_EQ(streamed(pieces, short_limit()), whole) << text;
        }
    }
}

TEST(ResponseGuard, OutputIsValidUtf8AndIdempotent) {
    for (const GuardSettings& settings : {kDefaults, short_limit()}) {
        for (const std::string& text : all_texts()) {
            const std::string once = guard_reply(text, settings);
            EXPECT_TRUE(is_valid_utf8(once)) << text;
            EXPECT_EQ(guard_reply(once, settings), once) << text;
        }
    }
}

TEST(ResponseGuard, IdealRepliesOfTheDataSetPassUnchanged) {
    auto data = read_fine_tuning_csv(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning.csv");
    ASSERT_TRUE(data) << data.error().message;
    ASSERT_FALSE(data->rows.empty());
    int bad_changed = 0;
    for (const auto& row : data->rows) {
        GuardTally tally;
        EXPECT_EQ(guard_reply(row.ideal_response, kDefaults, &tally), row.ideal_response) << row.row_number;
        EXPECT_FALSE(tally.changed()) << row.row_number;
        if (guard_reply(row.model_response, kDefaults) != row.model_response) ++bad_changed;
    }
    EXPECT_GT(bad_changed, static_cast<int>(data->rows.size()) / 3);  // the bad replies' flaws are repaired
}

TEST(ResponseGuard, PlainSentencesFarFromTheLimitAreNotHeldBack) {
    ResponseGuard guard(kDefaults);
    EXPECT_EQ(guard.push("Photosynthesis turns light into sugar."), "Photosynthesis turns light into sugar.");
    EXPECT_EQ(guard.push(" What"), " What");
    EXPECT_EQ(guard.push(" do plants need"), " do plants need");
    EXPECT_EQ(guard.push("? Think"), "? Think");
    EXPECT_EQ(guard.finish(), "");
    EXPECT_FALSE(guard.tally().changed());
}

TEST(ResponseGuard, HoldsBackOnlyWhatMayChange) {
    ResponseGuard guard(kDefaults);
    EXPECT_EQ(guard.push("Well done "), "Well done");   // a face may take the space
    EXPECT_EQ(guard.push(":"), "");                     // the start of a face
    EXPECT_EQ(guard.push(")"), "");                     // a face, unless more mouth follows
    EXPECT_EQ(guard.push(" Next -"), " Next");          // a dash run may follow
    EXPECT_EQ(guard.push(" step\xF0\x9F"), " - step");  // an unfinished character
    EXPECT_EQ(guard.push("\x98\x8A"), "");              // an emoji, more may follow
    EXPECT_EQ(guard.push("!"), "");                     // a run may follow
    EXPECT_EQ(guard.push(" Go."), "! Go.");
    EXPECT_EQ(guard.finish(), "");
    EXPECT_EQ(guard.tally().of(GuardRule::Emoticons), 2u);
}

TEST(ResponseGuard, RepairedBadRepliesPassTheSharedDetectors) {
    for (const std::string& text : data_set_replies()) {
        const std::string out = guard_reply(text, kDefaults);
        for (size_t at = 0; at < out.size(); ++at) {
            if (at == 0 || may_precede_emoticon(out[at - 1])) {
                EXPECT_NE(emoticon_at(out, at, true).match, Match::yes) << out;
            }
            EXPECT_NE(shouting_run_at(out, at, true).match, Match::yes) << out;
            EXPECT_NE(dash_run_at(out, at, true).match, Match::yes) << out;
        }
    }
}

TEST(ResponseGuard, DisabledPassesEverythingThrough) {
    const GuardSettings off{.enabled = false};
    const std::string text = "Wow!!! :) -- \xFF";
    EXPECT_EQ(guard_reply(text, off), text);
    ResponseGuard guard(off);
    EXPECT_EQ(guard.push(text), text);
    EXPECT_EQ(guard.finish(), "");
}

TEST(ResponseGuard, EachRuleCanBeSwitchedOff) {
    const std::string text = "Wow!!! :) a -- b";
    EXPECT_EQ(guard_reply(text, GuardSettings{.emoticons = false}), "Wow! :) a \xE2\x80\x94 b");
    EXPECT_EQ(guard_reply(text, GuardSettings{.dashes = false}), "Wow! a -- b");
    EXPECT_EQ(guard_reply(text, GuardSettings{.exclamations = false}), "Wow!!! a \xE2\x80\x94 b");
    EXPECT_STREQ(guard_rule_name(GuardRule::Emoticons), "emoticons");
    EXPECT_STREQ(guard_rule_name(GuardRule::Length), "length");
}

}  // namespace
}  // namespace mimir
