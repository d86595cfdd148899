// The response guard: the last line of defence between the model and the student. It repairs the flaws
// the fine-tuned model may still produce (agent/reply_flaws.h detects them, as eval's checks do) in a
// reply as it streams, and whole:
//
// - Emoticons: ASCII faces and emoji are removed, with the whitespace they would leave doubled.
// - Dashes: a run of dashes ("--", "- -", "——") becomes one em dash; a dash used as punctuation beyond
//   what writing.dashes allows (a pair, one more per 50 words written before it) becomes a comma. List
//   bullets, Markdown rules and table rows, single hyphens ("well-known", "-5", "20 - 5") stay.
// - Exclamations: a run that shouts ("!!!", "?!") becomes one mark ('?' when it asks); exclamation marks
//   beyond kMaxExclamations become full stops.
// - Length: see GuardSettings::max_words.
// Code (fenced ``` blocks, inline `code`) and LaTeX ($...$, $$...$$) are copied untouched by the first
// three rules: a program's "--" or ":)" is not the model's flourish. Inline code and $ formulas end at
// the line's end when not closed (the guard cannot wait for a closing mark that may never come); a '$'
// before a digit is money ("$2.50"), not a formula. eval's checks look at code too, so a reply whose code
// holds "!!" or ":)" still fails tone checks after the guard. Removing a face adds no full stop.
// Invalid UTF-8 becomes U+FFFD, so what comes out is always valid UTF-8.
//
// Streaming: push() returns at once what can no longer change, and holds back only what may: trailing
// whitespace (a face may follow that takes it), a possible start of a face (a trailing ':'), an unfinished
// UTF-8 sequence, a dash, '!' or '?' that may continue a run, a line that may be a Markdown rule, and near
// the length limit the sentence in progress. Text returned is never taken back: pushing a reply in pieces,
// split anywhere, returns exactly guard_reply(reply).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mimir {

namespace guard_detail {
class CleaningPipeline;
}

enum class GuardRule { Emoticons, Dashes, Exclamations, Length };
inline constexpr std::array<GuardRule, 4> kGuardRules = {GuardRule::Emoticons, GuardRule::Dashes,
                                                         GuardRule::Exclamations, GuardRule::Length};
// "emoticons", "dashes", "exclamations", "length": metric and flag names.
const char* guard_rule_name(GuardRule rule);

struct GuardSettings {
    bool enabled = true;  // false: text passes through untouched
    bool emoticons = true;
    bool dashes = true;
    bool exclamations = true;
    // Length. Words are whitespace-separated, as eval counts them, code and formulas included, after the
    // other rules. A reply of more than max_words words is cut after its last complete sentence: the
    // sentence in progress at the limit is dropped when it started in the hold zone (its first word is one
    // of the last hold_words words before the limit), and that is why the guard holds back a sentence
    // started there until it ends. A sentence that started before the hold zone and runs past the limit is
    // cut after the limit's word instead (the same rule: holding it back would stall the stream for a whole
    // long sentence). A cut inside a code fence closes the fence. 0 = no limit.
    // The default is the largest word budget the evaluation suite gives a reply: the data set's ideal
    // replies stay well inside it and its hold zone, so the guard never delays or cuts the replies the
    // model was tuned to write, and a reply past it fails the suite anyway.
    int max_words = 90;
    int hold_words = 25;
};

// How often each rule changed the text (a face or emoji removed, a dash or run repaired, a reply cut), in
// the text returned so far.
struct GuardTally {
    std::array<uint64_t, 4> fired{};
    uint64_t of(GuardRule rule) const { return fired[static_cast<size_t>(rule)]; }
    bool changed() const;
    GuardTally& operator+=(const GuardTally& other);
};

// One reply's guard as it streams. Not thread-safe; one per reply.
class ResponseGuard {
  public:
    explicit ResponseGuard(GuardSettings settings);
    ~ResponseGuard();
    ResponseGuard(ResponseGuard&&) noexcept;
    ResponseGuard& operator=(ResponseGuard&&) noexcept;

    // Takes the next piece of the model's text; returns what may be sent now (maybe nothing).
    std::string push(std::string_view text);
    // The reply has ended: returns the rest that was held back.
    std::string finish();
    // The length rule cut the reply: nothing more will be returned, and the caller should cancel the
    // generation (and report finish_reason "length").
    bool stopped() const { return stopped_; }
    const GuardTally& tally() const { return tally_; }

  private:
    std::string advance(bool complete);

    GuardSettings settings_;
    std::unique_ptr<guard_detail::CleaningPipeline> pipeline_;
    std::string received_;  // everything pushed
    size_t sent_ = 0;       // bytes of the guarded text returned
    bool stopped_ = false;
    bool finished_ = false;
    GuardTally tally_;
};

// The whole reply, guarded: the same as pushing it in any pieces and finishing. Adds what each rule did to
// *tally when given (so a caller can total many replies).
std::string guard_reply(std::string_view reply, const GuardSettings& settings, GuardTally* tally = nullptr);

}  // namespace mimir
