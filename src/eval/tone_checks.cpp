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

bool is_emoji(uint32_t code_point) {
    return (code_point >= 0x1F000 && code_point <= 0x1FAFF) ||  // pictographs, emoticons, flags, symbols
           (code_point >= 0x2600 && code_point <= 0x27BF) ||    // miscellaneous symbols, dingbats
           code_point == 0x2B50 || code_point == 0x2B55 || code_point == 0xFE0F || code_point == 0x200D;
}

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
    // An emoticon stands alone: after a space, a quote or the start, before a space, punctuation or the
    // end, so "3:4", "a[:3]", "f(x)" and "http://" are not faces.
    static const RE2 ascii_face(
        R"((?:^|[\s"])([:;=][-'^]?[)(\]\[DPO3/\\|*]+|[:;][-']?[pSo]|<3|\^_\^|-_-|[xX]D)(?:$|[\s.,!?"]))");
    re2::StringPiece face;
    if (RE2::PartialMatch(in.reply, ascii_face, &face)) {
        const size_t at = face.data() - in.reply.data();
        return {Outcome::failed, "emoticon \"" + excerpt(in.reply, at, at + face.size()) + "\""};
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
    // "!!", "!?" and "?!" shout; so do many single ones in one reply.
    static const RE2 run(R"((\w*[!?]*(?:!!|!\?|\?!)[!?]*))");
    re2::StringPiece found;
    if (RE2::PartialMatch(in.reply, run, &found)) {
        const size_t at = found.data() - in.reply.data();
        return {Outcome::failed, "exclamation run \"" + excerpt(in.reply, at, at + found.size()) + "\""};
    }
    const int max_exclamations = 3;
    const auto count = std::count(in.reply.begin(), in.reply.end(), '!');
    if (count > max_exclamations) {
        return {Outcome::failed, std::to_string(count) + " exclamation marks (at most " +
                                     std::to_string(max_exclamations) + ")"};
    }
    return {};
}

}  // namespace mimir::eval
