#include "agent/tutor_prompter.h"

#include <algorithm>
#include <cstdio>

#include "agent/tutor_prompt.h"

namespace mimir {
namespace {

const ChatMessage* previous_user_turn(const std::vector<ChatMessage>& conversation,
                                      const ChatMessage* before) {
    for (auto it = conversation.rbegin(); it != conversation.rend(); ++it) {
        if (before) {
            if (&*it == before) before = nullptr;
            continue;
        }
        if (it->role == "user") return &*it;
    }
    return nullptr;
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

TutorPrompter TutorPrompter::fixed(std::string system_prompt, TokenCounter count_tokens) {
    TutorPrompter prompter;
    prompter.shared_prefix_ = std::move(system_prompt);
    prompter.count_tokens_ = std::move(count_tokens);
    return prompter;
}

TutorPrompter TutorPrompter::fallback(std::string system_prompt, Error why, TokenCounter count_tokens) {
    TutorPrompter prompter = fixed(std::move(system_prompt), std::move(count_tokens));
    prompter.fallback_ = std::move(why);
    return prompter;
}

Result<TutorPrompter> TutorPrompter::from_snippets(SnippetLibrary library, SnippetClassifier classifier,
                                                   TokenCounter count_tokens, PrompterSettings settings) {
    for (const std::string& label : classifier.labels())
        if (!contains(library.labels, label))
            return Error{"classifier_labels", "the classifier's label \"" + label + "\" is not among " +
                                                  library.manifest_path + "'s labels"};
    TutorPrompter prompter;
    prompter.uses_snippets_ = true;
    for (const Snippet& snippet : library.snippets) {
        if (!snippet.always) continue;
        if (!prompter.shared_prefix_.empty()) prompter.shared_prefix_ += "\n\n";
        prompter.shared_prefix_ += snippet.text;
    }
    prompter.library_ = std::move(library);
    prompter.classifier_.push_back(std::move(classifier));
    prompter.count_tokens_ = std::move(count_tokens);
    prompter.settings_ = settings;
    return prompter;
}

std::vector<double> TutorPrompter::label_scores(const std::vector<ChatMessage>& conversation,
                                                std::string* top_label) const {
    const SnippetClassifier& classifier = classifier_.front();
    const ChatMessage* last = previous_user_turn(conversation, nullptr);
    if (!last) return std::vector<double>(classifier.labels().size(), 0.0);
    std::vector<double> scores = classifier.probabilities(last->content);
    *top_label = classifier.labels()[std::max_element(scores.begin(), scores.end()) - scores.begin()];
    // "I don't get it" says nothing of the subject: the turn before it does.
    if (!contains(library_.follow_up_labels, *top_label)) return scores;
    const ChatMessage* before = previous_user_turn(conversation, last);
    if (!before) return scores;
    const std::vector<double> earlier = classifier.probabilities(before->content);
    for (size_t l = 0; l < scores.size(); ++l) scores[l] = std::max(scores[l], earlier[l]);
    return scores;
}

PromptChoice TutorPrompter::choose(const std::vector<ChatMessage>& conversation) const {
    PromptChoice choice{.fallback = is_fallback()};
    if (!conversation.empty() && conversation.front().role == "system") {
        choice.client_prompt = true;
        return choice;
    }
    choice.system_prompt = shared_prefix_;
    if (!uses_snippets_) {
        if (count_tokens_) choice.tokens = count_tokens_(choice.system_prompt);
        return choice;
    }
    const SnippetClassifier& classifier = classifier_.front();
    const std::vector<double> label_scores = this->label_scores(conversation, &choice.label);
    std::vector<std::pair<double, size_t>> ranked;  // score, snippet index
    for (size_t i = 0; i < library_.snippets.size(); ++i) {
        const Snippet& snippet = library_.snippets[i];
        if (snippet.always) {
            choice.snippets.push_back(snippet.name);
            continue;
        }
        double score = 0;
        for (size_t l = 0; l < classifier.labels().size(); ++l)
            if (contains(snippet.labels, classifier.labels()[l])) score += label_scores[l];
        ranked.emplace_back(score, i);
    }
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<bool> chosen(library_.snippets.size(), false);
    const auto assemble = [&] {
        std::string text = shared_prefix_;
        for (size_t i = 0; i < library_.snippets.size(); ++i)
            if (chosen[i]) text += "\n\n" + library_.snippets[i].text;
        return text;
    };
    for (const auto& [score, index] : ranked) {
        choice.scores.emplace_back(library_.snippets[index].name, score);
        if (score < settings_.threshold) continue;
        chosen[index] = true;
        if (count_tokens_(assemble()) > settings_.prompt_budget) chosen[index] = false;
    }
    // Chosen snippets follow the manifest's order, so one combination is always the same text (and KV).
    for (size_t i = 0; i < library_.snippets.size(); ++i)
        if (chosen[i]) choice.snippets.push_back(library_.snippets[i].name);
    choice.system_prompt = assemble();
    choice.tokens = count_tokens_(choice.system_prompt);
    return choice;
}

std::vector<ChatMessage> with_prompt_choice(std::vector<ChatMessage> conversation,
                                            const PromptChoice& choice) {
    if (choice.client_prompt) return conversation;
    return with_tutor_system_prompt(std::move(conversation), choice.system_prompt);
}

std::string describe_choice(const PromptChoice& choice) {
    std::string snippets;
    for (const std::string& name : choice.snippets) snippets += (snippets.empty() ? "" : ",") + name;
    std::string top;
    for (size_t i = 0; i < choice.scores.size() && i < 3; ++i) {
        char part[96];
        std::snprintf(part, sizeof part, "%s%s:%.2f", i ? "," : "", choice.scores[i].first.c_str(),
                      choice.scores[i].second);
        top += part;
    }
    const std::string source = choice.client_prompt ? "client" : choice.fallback ? "fallback" : "tutor";
    return "prompt=" + source + " snippets=" + (snippets.empty() ? "-" : snippets) +
           " label=" + (choice.label.empty() ? "-" : choice.label) + " top=" + (top.empty() ? "-" : top) +
           " tokens=" + std::to_string(choice.tokens) + " fallback=" + (choice.fallback ? "true" : "false");
}

}  // namespace mimir
