#include "agent/guard_cleaner.h"

#include <cctype>
#include <cstring>

#include "agent/reply_flaws.h"

namespace mimir::guard_detail {

namespace {

enum class Mode { prose, fence, inline_code, inline_math, display_math };

bool is_horizontal_space(char c) {
    return c == ' ' || c == '\t';
}

// After these, a removed face leaves no space before it ("Hi :)!" -> "Hi!").
bool closes_phrase(char c) {
    return c != '\0' && std::strchr(".,;:!?)]\"'", c) != nullptr;
}

size_t utf8_length(char lead) {
    const auto byte = static_cast<unsigned char>(lead);
    return byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2;
}

uint32_t decode(std::string_view text, size_t at) {
    const size_t n = utf8_length(text[at]);
    auto value = static_cast<uint32_t>(static_cast<unsigned char>(text[at]) & (n == 1 ? 0x7F : 0x7F >> n));
    for (size_t i = 1; i < n; ++i) value = (value << 6) | (static_cast<unsigned char>(text[at + i]) & 0x3F);
    return value;
}

}  // namespace

// One left-to-right pass. Each step decides the unit at `at_` or finds it cannot yet (more text may change
// it); the pass then stops, what it wrote so far is final, and the next feed continues from there. A step
// that stops changes nothing but what it would change again when it runs.
class Cleaner {
  public:
    enum class Pass { emoji, faces, punctuation };
    Cleaner(const GuardSettings& settings, Pass pass) : settings_(settings), pass_(pass) {}

    // `input` extends what the last call saw; `earlier` are an earlier pass's events, at offsets of `input`.
    const CleanText& feed(std::string_view input, bool complete,
                          const std::vector<std::pair<GuardRule, size_t>>* earlier = nullptr) {
        in_ = input;
        complete_ = complete;
        earlier_ = earlier;
        if (finished_) return out_;
        while (at_ < in_.size()) {
            carry_earlier_events(at_);
            if (!step()) return out_;
        }
        if (complete_) {
            carry_earlier_events(in_.size());
            if (space_droppable_) space_.clear();
            flush_space();
            if (mode_ == Mode::fence) out_.fences.back().second = out_.text.size();
            finished_ = true;
        }
        return out_;
    }

  private:
    bool step() {
        switch (mode_) {
            case Mode::prose:
                return prose_step();
            case Mode::fence:
                return code_step("```", false);
            case Mode::inline_code:
                return code_step("`", true);
            case Mode::inline_math:
                return code_step("$", true);
            case Mode::display_math:
                return code_step("$$", false);
        }
        return false;
    }

    // Code and formulas: copied as they are up to the closing mark (inline ones end with their line).
    bool code_step(std::string_view close, bool ends_with_line) {
        const std::string_view rest = in_.substr(at_);
        if (rest.starts_with(close)) {
            if (mode_ == Mode::fence) out_.fences.back().second = out_.text.size();
            write(close);
            at_ += close.size();
            mode_ = Mode::prose;
            return true;
        }
        if (!complete_ && rest.size() < close.size() && close.starts_with(rest)) return false;
        if (ends_with_line && in_[at_] == '\n') {
            mode_ = Mode::prose;
            return true;
        }
        write(in_.substr(at_, 1));
        ++at_;
        return true;
    }

    bool prose_step() {
        const char c = in_[at_];
        if (c == '`' || c == '$') return open_code(c);
        if (is_horizontal_space(c)) {
            if (space_droppable_) {
                space_.clear();
                space_droppable_ = false;
            }
            if (!drop_next_space_) space_ += c;
            ++at_;
            return true;
        }
        drop_next_space_ = false;
        if (settings_.emoticons && pass_ != Pass::punctuation) {
            const int decoration = decoration_at();
            if (decoration < 0) return false;
            if (decoration > 0) {
                remove_decoration(static_cast<size_t>(decoration));
                return true;
            }
        }
        after_decoration_ = false;
        if (settings_.dashes && dash_at(in_, at_) > 0) return dash_step();
        if (settings_.exclamations && (c == '!' || c == '?')) return exclamation_step();
        const size_t length = utf8_length(c);
        plain(in_.substr(at_, length));
        at_ += length;
        return true;
    }

    bool open_code(char c) {
        const std::string_view fence = c == '`' ? "```" : "$$";
        const std::string_view rest = in_.substr(at_);
        if (!complete_ && rest.size() < fence.size() && fence.starts_with(rest)) return false;
        if (c == '$' && rest.size() > 1 && rest[1] != '$' &&
            std::isdigit(static_cast<unsigned char>(rest[1]))) {
            plain("$");  // an amount of money ("$2.50"), not a formula
            ++at_;
            return true;
        }
        settle_space(c);
        if (rest.starts_with(fence)) {
            mode_ = c == '`' ? Mode::fence : Mode::display_math;
            write(fence);
            at_ += fence.size();
            if (mode_ == Mode::fence) out_.fences.emplace_back(out_.text.size(), std::string::npos);
        } else {
            mode_ = c == '`' ? Mode::inline_code : Mode::inline_math;
            write(in_.substr(at_, 1));
            ++at_;
        }
        in_prose_word_ = false;
        return true;
    }

    // Bytes of the face or emoji run at at_ (0 when none), or -1 when that is not known yet.
    int decoration_at() {
        const char c = in_[at_];
        if (pass_ == Pass::emoji) {
            if (static_cast<unsigned char>(c) < 0x80) return 0;
            size_t end = at_;
            while (end < in_.size() && is_emoji(decode(in_, end))) end += utf8_length(in_[end]);
            if (end == at_) return 0;
            if (end == in_.size() && !complete_) return -1;  // more emoji may follow
            return static_cast<int>(end - at_);
        }
        if (static_cast<unsigned char>(c) >= 0x80) return 0;
        if (at_ > 0 && !may_precede_emoticon(in_[at_ - 1]) && !after_decoration_) return 0;
        const SpanMatch face = emoticon_at(in_, at_, complete_, /*emoji_or_dash_may_follow=*/true);
        if (face.match == Match::need_more) return -1;
        if (face.match == Match::yes) return static_cast<int>(face.length);
        return face_before_removed_emoji();
    }

    // A face that ends where the emoji pass removed something was followed by an emoji
    // ("<3\xF0\x9F\x98\x8A<3").
    int face_before_removed_emoji() const {
        constexpr size_t kLongestFace = 16;
        for (size_t i = next_earlier_; earlier_ && i < earlier_->size(); ++i) {
            const size_t end = (*earlier_)[i].second;
            if (end > at_ + kLongestFace) break;
            if (end <= at_ + 1) continue;
            const SpanMatch face = emoticon_at(in_.substr(0, end), at_, /*complete=*/true, true);
            if (face.match == Match::yes && at_ + face.length == end) return static_cast<int>(face.length);
        }
        return 0;
    }

    // The whitespace before a face goes with it, unless a word follows ("Great :) job" -> "Great job");
    // at a line's start, the whitespace after it goes.
    void remove_decoration(size_t length) {
        if (!space_.empty()) space_droppable_ = true;
        // "``\xF0\x9F\x98\x8A``" must not become a code fence, nor "$x$\xF0\x9F\x98\x8A$y$" a display
        // formula.
        const std::string& text = out_.text;
        if (space_.empty() && !text.empty() && (text.back() == '`' || text.back() == '$'))
            keep_mark_ = text.back();
        if (!line_has_text_) drop_next_space_ = true;
        at_ += length;
        after_decoration_ = true;
        event(GuardRule::Emoticons);
    }

    bool dash_step() {
        // A Markdown rule or table separator row keeps its dashes: decided when the line is whole.
        size_t line_start = in_.rfind('\n', at_ == 0 ? 0 : at_ - 1);
        line_start = at_ == 0 || line_start == std::string_view::npos ? 0 : line_start + 1;
        if (is_rule_or_table_line(in_.substr(line_start, at_ - line_start))) {
            const size_t line_end = in_.find('\n', at_);
            if (line_end == std::string_view::npos && !complete_) return false;
            const size_t end = line_end == std::string_view::npos ? in_.size() : line_end;
            if (is_rule_or_table_line(in_.substr(line_start, end - line_start))) {
                plain(in_.substr(at_, end - at_));
                at_ = end;
                return true;
            }
        }
        const SpanMatch run = dash_run_at(in_, at_, complete_);
        if (run.match == Match::need_more) return false;
        if (run.match == Match::yes) {
            const size_t length = whole_run(run.length);
            return length == 0 ? false : punctuation_dash(length, "\xE2\x80\x94");
        }
        const SpanMatch dash = punctuation_dash_at(in_, at_, complete_);
        if (dash.match == Match::need_more) return false;
        if (dash.match == Match::yes) return punctuation_dash(dash.length, in_.substr(at_, dash.length));
        const size_t length = dash_at(in_, at_);
        plain(in_.substr(at_, length));
        at_ += length;
        return true;
    }

    // A run goes on while dashes follow, spaced or not ("-- -" is one run): its length, 0 when not known yet.
    size_t whole_run(size_t length) {
        size_t end = at_ + length;
        for (;;) {
            const size_t space = end < in_.size() && in_[end] == ' ' ? 1 : 0;
            if (end + space >= in_.size()) return complete_ ? end - at_ : 0;
            const size_t dash = dash_at(in_, end + space);
            if (dash == 0) return end - at_;
            end += space + dash;
        }
    }

    // A dash as punctuation: kept (a run as one em dash) within writing.dashes' allowance, else a comma.
    bool punctuation_dash(size_t length, std::string_view kept) {
        const std::string_view original = in_.substr(at_, length);
        if (dashes_kept_ < allowed_punctuation_dashes(prose_words_)) {
            ++dashes_kept_;
            if (kept != original) event(GuardRule::Dashes);
            plain(kept);
        } else if (const char before = out_.text.empty() ? '\n' : out_.text.back();
                   is_space(before) || before == '"') {
            // Nothing a comma could follow: the dash stays (gone, it would give a face after it a context).
            if (kept != original) event(GuardRule::Dashes);
            plain(kept);
        } else {
            event(GuardRule::Dashes);
            space_.clear();
            space_droppable_ = false;
            const std::string& text = out_.text;
            const bool comma = !closes_phrase(text.back());
            if (comma) write(",");
            space_after_comma_ = true;
            // With no comma, what the dash kept apart stays apart ("?--!" must not become a shouting "?!").
            keep_apart_ = !comma;
        }
        at_ += length;
        return true;
    }

    bool exclamation_step() {
        const SpanMatch run = shouting_run_at(in_, at_, complete_);
        if (run.match == Match::need_more) return false;
        if (run.match == Match::yes) {
            const bool asks = in_.substr(at_, run.length).find('?') != std::string_view::npos;
            event(GuardRule::Exclamations);
            at_ += run.length;
            plain(asks ? "?" : exclamation_mark(false));
            return true;
        }
        // One mark (or "??"): '!' beyond the allowance becomes a full stop; "!=" is an operator.
        const bool operator_next = at_ + 1 < in_.size() && in_[at_ + 1] == '=';
        if (in_[at_] == '!' && !operator_next) {
            ++at_;
            plain(exclamation_mark(true));
            return true;
        }
        plain(in_.substr(at_, 1));
        ++at_;
        return true;
    }

    std::string_view exclamation_mark(bool count_change) {
        if (exclamations_kept_ < kMaxExclamations) {
            ++exclamations_kept_;
            return "!";
        }
        if (count_change) event(GuardRule::Exclamations);
        return ".";
    }

    // Text the rules leave as it is (or their replacement), after the pending whitespace.
    void plain(std::string_view text) {
        settle_space(text[0]);
        write(text);
    }

    // Decides the whitespace held before the next character `next`.
    void settle_space(char next) {
        if (space_droppable_ && (next == '\n' || next == '\r' || closes_phrase(next))) space_.clear();
        space_droppable_ = false;
        // A word after the comma gets its space; nothing else does (a space would let a face begin there).
        const bool word =
            std::isalnum(static_cast<unsigned char>(next)) || static_cast<unsigned char>(next) >= 0x80;
        const bool shout = next == '!' || next == '?';
        if (space_after_comma_ && space_.empty() && (keep_apart_ ? shout : word)) space_ = " ";
        space_after_comma_ = keep_apart_ = false;
        if (keep_mark_ != 0 && next == keep_mark_ && space_.empty()) space_ = " ";
        keep_mark_ = 0;
        flush_space();
    }

    void flush_space() {
        write(space_);
        space_.clear();
    }

    void write(std::string_view text) {
        for (char c : text) {
            if (is_space(c)) {
                note_sentence_end(c);
                in_prose_word_ = false;
                if (c == '\n') line_has_text_ = false;
            } else {
                if (mode_ != Mode::fence && mode_ != Mode::inline_code && !in_prose_word_) ++prose_words_;
                in_prose_word_ = mode_ != Mode::fence && mode_ != Mode::inline_code;
                line_has_text_ = true;
            }
            out_.text += c;
        }
    }

    // Whitespace after a finished sentence marks where the length rule may cut (never inside code).
    void note_sentence_end(char space) {
        const std::string& text = out_.text;
        if (mode_ != Mode::prose || text.empty() || is_space(text.back())) return;
        const bool ends = space == '\n' ? ends_sentence(text)
                                        : ends_with_sentence_punctuation(text) || text.ends_with("```");
        if (ends) out_.sentence_ends.push_back(text.size());
    }

    void event(GuardRule rule) { out_.events.emplace_back(rule, out_.text.size()); }

    // An earlier pass's event where this pass has read up to `at` lands where this one is writing.
    void carry_earlier_events(size_t at) {
        while (earlier_ && next_earlier_ < earlier_->size() && (*earlier_)[next_earlier_].second <= at) {
            // Right where an emoji was removed, a face may start ("Done\xF0\x9F\x98\x8A:)").
            if ((*earlier_)[next_earlier_].second == at) after_decoration_ = true;
            event((*earlier_)[next_earlier_++].first);
        }
    }

    const GuardSettings settings_;
    const Pass pass_;
    std::string_view in_;
    bool complete_ = false;
    bool finished_ = false;
    const std::vector<std::pair<GuardRule, size_t>>* earlier_ = nullptr;
    size_t next_earlier_ = 0;
    CleanText out_;
    size_t at_ = 0;
    Mode mode_ = Mode::prose;
    std::string space_;              // horizontal whitespace read and not yet written
    bool space_droppable_ = false;   // it came before a removed face
    bool drop_next_space_ = false;   // a face removed at a line's start takes the whitespace after it
    bool after_decoration_ = false;  // a face or emoji was just removed (a face may follow it directly)
    bool space_after_comma_ = false;
    bool keep_apart_ = false;
    char keep_mark_ = 0;  // a removed face came between two of these code or formula marks
    bool line_has_text_ = false;
    bool in_prose_word_ = false;
    int prose_words_ = 0;  // as writing.dashes counts them: outside code
    int dashes_kept_ = 0;
    int exclamations_kept_ = 0;
};

namespace {

GuardSettings only(GuardSettings settings, Cleaner::Pass pass) {
    const bool faces = pass != Cleaner::Pass::punctuation;
    settings.emoticons = settings.emoticons && faces;
    settings.dashes = settings.dashes && !faces;
    settings.exclamations = settings.exclamations && !faces;
    return settings;
}

}  // namespace

struct CleaningPipeline::Passes {
    using Pass = Cleaner::Pass;
    explicit Passes(const GuardSettings& settings)
        : emoji(only(settings, Pass::emoji), Pass::emoji),
          faces(only(settings, Pass::faces), Pass::faces),
          rest(only(settings, Pass::punctuation), Pass::punctuation) {}
    std::string valid;  // the input so far with invalid UTF-8 replaced
    size_t raw_read = 0;
    Cleaner emoji, faces, rest;
};

CleaningPipeline::CleaningPipeline(const GuardSettings& settings)
    : passes_(std::make_unique<Passes>(settings)) {}
CleaningPipeline::~CleaningPipeline() = default;

const CleanText& CleaningPipeline::feed(std::string_view raw, bool complete) {
    Passes& p = *passes_;
    p.raw_read += append_valid_utf8(raw.substr(p.raw_read), complete, p.valid);
    const CleanText& without_emoji = p.emoji.feed(p.valid, complete);
    const CleanText& faceless = p.faces.feed(without_emoji.text, complete, &without_emoji.events);
    return p.rest.feed(faceless.text, complete, &faceless.events);
}

size_t append_valid_utf8(std::string_view raw, bool complete, std::string& out) {
    static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    size_t at = 0;
    while (at < raw.size()) {
        const auto lead = static_cast<unsigned char>(raw[at]);
        if (lead < 0x80) {
            out += raw[at++];
            continue;
        }
        size_t n = 0;
        unsigned char low = 0x80, high = 0xBF;  // the second byte's range (no overlong forms, no surrogates)
        if (lead >= 0xC2 && lead <= 0xDF) {
            n = 2;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            n = 3;
            low = lead == 0xE0 ? 0xA0 : 0x80;
            high = lead == 0xED ? 0x9F : 0xBF;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            n = 4;
            low = lead == 0xF0 ? 0x90 : 0x80;
            high = lead == 0xF4 ? 0x8F : 0xBF;
        }
        size_t valid = n == 0 ? 0 : 1;
        while (valid > 0 && valid < n && at + valid < raw.size()) {
            const auto byte = static_cast<unsigned char>(raw[at + valid]);
            const bool fits = valid == 1 ? byte >= low && byte <= high : (byte & 0xC0) == 0x80;
            if (!fits) break;
            ++valid;
        }
        if (n > 0 && valid == n) {
            out.append(raw.substr(at, n));
            at += n;
        } else if (n > 0 && at + valid == raw.size() && !complete) {
            break;  // still arriving
        } else {
            out += kReplacement;
            at += valid == 0 ? 1 : valid;
        }
    }
    return at;
}

}  // namespace mimir::guard_detail
