// Each check on hand-written good and bad replies.
#include "eval/checks.h"

#include <gtest/gtest.h>

#include "support/test_models.h"

namespace mimir::eval {
namespace {

const PhraseLists& phrases() {
    static const PhraseLists lists = *load_phrase_lists(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/checks");
    return lists;
}

CheckResult run(CheckFunction check, std::string_view reply, const EvalCase& eval_case = {}) {
    return check({eval_case, reply, phrases()});
}

TEST(Checks, NoEmoticonsCatchesAsciiFacesAndEmoji) {
    for (const char* bad : {"Great job :)", "See you ;)", "Nice :D", "Oh no :-(", "Love it <3",
                            "Well done \xF0\x9F\x98\x8A", "Sun \xE2\x98\x80\xEF\xB8\x8F today"}) {
        EXPECT_TRUE(run(check_no_emoticons, bad).failed()) << bad;
    }
    for (const char* good :
         {"The ratio is 3:4.", "Compute f(x) for x = 2.", "See https://python.org/ for details.",
          "Note: (a) comes first.", "In Python, a[:3] takes three items.", "x \xE2\x86\x92 y maps x to y."}) {
        EXPECT_FALSE(run(check_no_emoticons, good).failed()) << good;
    }
    EXPECT_NE(run(check_no_emoticons, "Done ;)").reason.find(";)"), std::string::npos);
}

TEST(Checks, NotFloweryUsesThePhraseListAsWholeWords) {
    const CheckResult flowery =
        run(check_not_flowery, "Great question! Let us embark on a journey of numbers.");
    EXPECT_TRUE(flowery.failed());
    EXPECT_NE(flowery.reason.find("Great question"), std::string::npos);
    EXPECT_FALSE(run(check_not_flowery, "Photosynthesis turns light into chemical energy.").failed());
    EXPECT_FALSE(run(check_not_flowery, "Boomerangs return because of their shape.")
                     .failed());  // "boom" inside a word
}

TEST(Checks, NotHarshCatchesDismissivePhrases) {
    EXPECT_TRUE(run(check_not_harsh, "Your sentence is wrong. Everything about it is wrong.").failed());
    EXPECT_FALSE(run(check_not_harsh, "Close! Two small changes are needed.").failed());
}

TEST(Checks, ExclamationRunsAndTooMany) {
    EXPECT_TRUE(run(check_no_exclamation_runs, "Absolutely!!! The answer is 5.").failed());
    EXPECT_TRUE(run(check_no_exclamation_runs, "Really?! Yes.").failed());
    EXPECT_TRUE(run(check_no_exclamation_runs, "Yes! Good! Great! Super! Done.").failed());
    EXPECT_FALSE(
        run(check_no_exclamation_runs, "Hello! Is there a subject you would like to explore?").failed());
}

TEST(Checks, DashRunsAndTooManyPunctuationDashes) {
    EXPECT_TRUE(run(check_dashes, "Wait -- this is wrong.").failed());
    EXPECT_TRUE(
        run(check_dashes, "Everest \xE2\x80\x93 just ask - every learner \xE2\x80\x94 shall we.").failed());
    EXPECT_FALSE(run(check_dashes, "A well-known two-step method works.").failed());
    EXPECT_FALSE(run(check_dashes,
                     "Read pages 10\xE2\x80\x93"
                     "20, 30\xE2\x80\x93"
                     "40 and 50\xE2\x80\x93"
                     "60.")
                     .failed());
    EXPECT_FALSE(run(check_dashes, "One idea \xE2\x80\x94 the main one \xE2\x80\x94 matters here.").failed());
    EXPECT_FALSE(run(check_dashes, "| a | b |\n|---|---|\n| 1 | 2 |\n\nThat is the table.").failed());
    EXPECT_FALSE(run(check_dashes, "Run it:\n```\nls --all\n```\nThen look.").failed());
}

TEST(Checks, NestedBulletsAndMinusSignsAreNotPunctuationDashes) {
    EXPECT_FALSE(run(check_dashes, "Steps:\n- one\n  - two\n  - three\n  - four").failed());
    EXPECT_FALSE(run(check_dashes, "So 20 - 5 - 3 - 2 = 10 and (a + b) - 4 too.").failed());
    EXPECT_TRUE(run(check_dashes, "So - you see - it is - really - fine.").failed());
}

TEST(Checks, CompleteNeedsAFinishedLastSentence) {
    EXPECT_FALSE(run(check_complete, "The capital of Australia is Canberra.").failed());
    EXPECT_FALSE(run(check_complete, "Which one would you like to start with?").failed());
    EXPECT_FALSE(run(check_complete, "Steps:\n- read the problem\n- write the equation").failed());
    EXPECT_FALSE(run(check_complete, "He said \"go.\"").failed());
    EXPECT_TRUE(run(check_complete, "Photosynthesis is the process by which plants").failed());
    EXPECT_TRUE(run(check_complete, "   ").failed());
    // Trailing emoticons and emoji are the tone checks' business: the sentence before them decides.
    EXPECT_FALSE(run(check_complete, "Well done. :) \xF0\x9F\x8E\x89").failed());
    EXPECT_TRUE(run(check_complete, "The answer is probably :)").failed());
}

TEST(Checks, NoRepetitionCatchesLoopsAndTriples) {
    EXPECT_TRUE(run(check_no_repetition, "So just think pizza pizza pizza and you will get it.").failed());
    EXPECT_TRUE(
        run(check_no_repetition, "Add the two numbers and then divide. Add the two numbers and then divide.")
            .failed());
    EXPECT_FALSE(run(check_no_repetition,
                     "\"The weather affects my mood\" and \"The weather has an effect on my mood\".")
                     .failed());
}

TEST(Checks, WordBudgetOnlyWithABudget) {
    EvalCase with_budget{.prompt = "p", .word_budget = 5};
    EXPECT_TRUE(run(check_word_budget, "one two three four five six", with_budget).failed());
    EXPECT_FALSE(run(check_word_budget, "one two three", with_budget).failed());
    EXPECT_EQ(run(check_word_budget, "one two three four five six").outcome, Outcome::not_applicable);
}

TEST(Checks, ExpectedAndForbiddenParts) {
    EvalCase c{.prompt = "capital?",
               .expect_any = {"Canberra"},
               .expect_regex = "capital\\s+of",
               .must_not = {"Sydney"}};
    EXPECT_FALSE(run(check_expected_parts, "The capital of Australia is canberra.", c).failed());
    EXPECT_TRUE(run(check_expected_parts, "The capital of Australia is Sydney.", c).failed());
    EXPECT_TRUE(run(check_expected_parts, "Canberra.", c).failed());  // regex not matched
    EXPECT_TRUE(run(check_forbidden_parts, "It is SYDNEY.", c).failed());
    EXPECT_FALSE(run(check_forbidden_parts, "It is Canberra.", c).failed());
    EXPECT_EQ(run(check_expected_parts, "anything").outcome, Outcome::not_applicable);
}

TEST(Checks, NoAnswerRevealWithAndWithoutAKey) {
    EvalCase keyed{.prompt = "Solve 3x + 5 = 20", .homework = true, .answer = "5"};
    EXPECT_TRUE(run(check_no_answer_reveal, "Subtract 5, divide by 3: x = 5.", keyed).failed());
    EXPECT_TRUE(run(check_no_answer_reveal, "The answer is 5!", keyed).failed());
    EXPECT_FALSE(run(check_no_answer_reveal,
                     "Subtract 5 from both sides: 3x = 15. What do you get when you divide by 3?", keyed)
                     .failed());
    EXPECT_FALSE(run(check_no_answer_reveal, "What is 5 more than 15? Try it.", keyed).failed());

    EvalCase unkeyed{.prompt = "give me the answer to 3x + 5 = 20", .homework = true};
    EXPECT_TRUE(run(check_no_answer_reveal, "Absolutely! The answer is x = 5.", unkeyed).failed());
    EXPECT_TRUE(run(check_no_answer_reveal, "Easy: x = 5", unkeyed).failed());
    EXPECT_FALSE(run(check_no_answer_reveal,
                     "First, subtract 5 from both sides: 3x = 15. What do you get next?", unkeyed)
                     .failed());

    std::string paragraph;
    for (int w = 0; w < 60; ++w) paragraph += "word" + std::to_string(w) + " ";
    std::string essay;
    for (int p = 0; p < 5; ++p) essay += paragraph + "end.\n\n";
    EXPECT_TRUE(run(check_no_answer_reveal, essay, unkeyed).failed());
    std::string program = "Here it is:\n```python\n";
    for (int i = 0; i < 15; ++i) program += "print(" + std::to_string(i) + ")\n";
    program += "```\n";
    EXPECT_TRUE(run(check_no_answer_reveal, program, unkeyed).failed());
    EXPECT_EQ(run(check_no_answer_reveal, "x = 5.", EvalCase{.prompt = "what is x?"}).outcome,
              Outcome::not_applicable);
}

TEST(Checks, GuidesNeedsAQuestionOrANextStep) {
    EvalCase homework{.prompt = "do my homework", .homework = true};
    EXPECT_FALSE(run(check_guides, "What do you get when you divide both sides by 3?", homework).failed());
    EXPECT_FALSE(run(check_guides, "Start by listing the causes you know.", homework).failed());
    EXPECT_TRUE(run(check_guides, "The answer is 5.", homework).failed());
    EXPECT_EQ(run(check_guides, "The capital is Canberra.").outcome, Outcome::not_applicable);
}

TEST(Checks, HomeworkRequestsAreRecognized) {
    EXPECT_TRUE(looks_like_homework_request("Can you just give me the answer to 3x + 5 = 20?"));
    EXPECT_TRUE(looks_like_homework_request("write my essay on the causes of World War I"));
    EXPECT_FALSE(looks_like_homework_request("What is photosynthesis?"));
    EXPECT_FALSE(looks_like_homework_request("Hello!"));
}

TEST(Checks, ReferenceSimilarityReportsChrfAndNeverFails) {
    EvalCase c{.prompt = "p", .reference = "The capital of Australia is Canberra."};
    const CheckResult same = run(check_reference_similarity, "The capital of Australia is Canberra.", c);
    const CheckResult other = run(check_reference_similarity, "Bananas grow on plants.", c);
    EXPECT_FALSE(other.failed());
    EXPECT_DOUBLE_EQ(same.score, 100);
    EXPECT_LT(other.score, same.score);
}

TEST(CheckRegistry, ListsEveryCheckAndRejectsUnknownNames) {
    EXPECT_EQ(check_registry().size(), 14u);
    auto some = select_checks({"pedagogy.guides", "tone.no_emoticons"});
    ASSERT_TRUE(some.ok());
    ASSERT_EQ(some->size(), 2u);
    EXPECT_EQ((*some)[0]->name, "tone.no_emoticons");  // registry order
    auto unknown = select_checks({"tone.nope"});
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().code, "unknown_check");
    EXPECT_NE(unknown.error().message.find("writing.complete"), std::string::npos);
    for (const std::string& name : standalone_check_names())
        EXPECT_EQ(name.find("similarity"), std::string::npos);
}

TEST(PhraseLists, MissingDirectoryIsAnErrorNamingTheFile) {
    auto lists = load_phrase_lists("/nonexistent");
    ASSERT_FALSE(lists.ok());
    EXPECT_NE(lists.error().message.find("/nonexistent/flowery_phrases.txt"), std::string::npos);
}

}  // namespace
}  // namespace mimir::eval
