// The tutor-tone checks: emoticons and emoji, flowery and harsh phrasing, runs of exclamation marks.
#include <re2/re2.h>
#include <utf8cpp/utf8.h>

#include <fstream>
#include <sstream>

#include "eval/checks.h"

namespace mimir::eval {

namespace {

Result<std::vector<std::string>> load_phrase_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{"not_found", "cannot read the phrase list " + path + " (pass --phrases DIR)"};
    std::vector<std::string> phrases;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        phrases.push_back(to_lower_ascii(line));
    }
    if (in.bad()) return Error{"read_failed", "cannot read the phrase list " + path};
    if (phrases.empty()) return Error{"invalid_phrases", "the phrase list " + path + " has no phrases"};
    return phrases;
}

bool is_word_character(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '\'' || static_cast<unsigned char>(c) >= 0x80;
}

// The first phrase of `phrases` found in `text` as whole words (case-insensitive), with where it was.
CheckResult first_phrase(std::string_view reply, const std::vector<std::string>& phrases, const char* what) {
    const std::string lower = to_lower_ascii(reply);
    for (const std::string& phrase : phrases) {
        for (size_t at = lower.find(phrase); at != std::string::npos; at = lower.find(phrase, at + 1)) {
            const bool starts_word =
                at == 0 || !is_word_character(lower[at - 1]) || !is_word_character(phrase[0]);
            const size_t end = at + phrase.size();
            const bool ends_word =
                end == lower.size() || !is_word_character(lower[end]) || !is_word_character(phrase.back());
            if (starts_word && ends_word) {
                return {Outcome::failed, std::string(what) + " \"" + excerpt(reply, at, end) + "\""};
            }
        }
    }
    return {};
}

}  // namespace

std::string_view trim_trailing_decoration(std::string_view text) {
    static const RE2 trailing_face(R"((?s)(.*?)\s*(?:[:;=][-']?[)(DPp3/|*]+|<3|[xX]D)$)");
    for (;;) {
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
        if (text.empty()) return text;
        re2::StringPiece before;
        if (RE2::FullMatch(text, trailing_face, &before)) {
            text = std::string_view(before.data(), before.size());
            continue;
        }
        auto end = text.end();
        auto start = end;
        try {
            if (!is_emoji(utf8::prior(start, text.begin()))) return text;
        } catch (const utf8::exception&) {
            return text;
        }
        text.remove_suffix(end - start);
    }
}

Result<PhraseLists> load_phrase_lists(const std::string& dir) {
    auto flowery = load_phrase_file(dir + "/flowery_phrases.txt");
    if (!flowery) return flowery.error();
    auto harsh = load_phrase_file(dir + "/harsh_phrases.txt");
    if (!harsh) return harsh.error();
    auto hedging = load_phrase_file(dir + "/hedging_phrases.txt");
    if (!hedging) return hedging.error();
    return PhraseLists{
        .flowery = std::move(*flowery), .harsh = std::move(*harsh), .hedging = std::move(*hedging)};
}

CheckResult check_no_emoticons(const CheckInput& in) {
    // The faces are agent/reply_flaws.h's, which the response guard removes.
    for (size_t at = 0; at < in.reply.size(); ++at) {
        if (at > 0 && !may_precede_emoticon(in.reply[at - 1])) continue;
        const SpanMatch face = emoticon_at(in.reply, at, /*complete=*/true);
        if (face.match == Match::yes) {
            return {Outcome::failed, "emoticon \"" + excerpt(in.reply, at, at + face.length) + "\""};
        }
    }
    auto it = in.reply.begin();
    while (it != in.reply.end()) {
        const auto start = it;
        uint32_t code_point = 0;
        try {
            code_point = utf8::next(it, in.reply.end());
        } catch (const utf8::exception&) {
            ++it;  // invalid UTF-8 is not an emoji; another layer reports it
            continue;
        }
        if (is_emoji(code_point)) {
            const size_t at = start - in.reply.begin();
            return {Outcome::failed, "emoji \"" + std::string(in.reply.substr(at, it - start)) + "\""};
        }
    }
    return {};
}

CheckResult check_not_flowery(const CheckInput& in) {
    return first_phrase(in.reply, in.phrases.flowery, "flowery phrase");
}

CheckResult check_not_harsh(const CheckInput& in) {
    return first_phrase(in.reply, in.phrases.harsh, "harsh phrase");
}

CheckResult check_no_hedging(const CheckInput& in) {
    return first_phrase(in.reply, in.phrases.hedging, "hedge");
}

CheckResult check_no_exclamation_runs(const CheckInput& in) {
    // "!!", "!?" and "?!" shout (agent/reply_flaws.h); so do many single ones in one reply.
    for (size_t at = 0; at < in.reply.size(); ++at) {
        if (at > 0 && (in.reply[at - 1] == '!' || in.reply[at - 1] == '?')) continue;
        const SpanMatch run = shouting_run_at(in.reply, at, /*complete=*/true);
        if (run.match != Match::yes) continue;
        size_t word = at;  // the word it ends, for the reason
        while (word > 0 &&
               (std::isalnum(static_cast<unsigned char>(in.reply[word - 1])) || in.reply[word - 1] == '_'))
            --word;
        return {Outcome::failed, "exclamation run \"" + excerpt(in.reply, word, at + run.length) + "\""};
    }
    const int max_exclamations = kMaxExclamations;
    const auto count = std::count(in.reply.begin(), in.reply.end(), '!');
    if (count > max_exclamations) {
        return {Outcome::failed, std::to_string(count) + " exclamation marks (at most " +
                                     std::to_string(max_exclamations) + ")"};
    }
    return {};
}

}  // namespace mimir::eval
