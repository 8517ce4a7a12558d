#include <algorithm>
#include <utility>

#include "data_detail.hpp"
#include "tapegrad/autograd/npz.hpp"
#include "tapegrad/data/text.hpp"

namespace tapegrad::data {

namespace {

// The specials in their places, then every token non-empty, without line breaks, unique.
void check_tokens(const char* op, const std::vector<std::string>& tokens) {
  if (tokens.size() < 2 || tokens[0] != Vocabulary::pad_token ||
      tokens[1] != Vocabulary::unk_token) {
    throw value_error(fmt::format("{}: the first two tokens must be '{}' and '{}'", op,
                                  Vocabulary::pad_token, Vocabulary::unk_token));
  }
}

}  // namespace

Vocabulary::Vocabulary() : Vocabulary({std::string(pad_token), std::string(unk_token)}) {}

Vocabulary::Vocabulary(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  check_tokens("Vocabulary", tokens_);
  ids_.reserve(tokens_.size());
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    detail::check_list_entry("Vocabulary", "token", i, tokens_[i]);
    if (!ids_.emplace(tokens_[i], static_cast<Index>(i)).second) {
      throw value_error(fmt::format("Vocabulary: token {} '{}' is a duplicate of token {}", i,
                                    detail::printable(tokens_[i]), ids_.at(tokens_[i])));
    }
  }
}

Vocabulary Vocabulary::build(const std::vector<std::vector<std::string>>& token_lists,
                             std::size_t min_frequency, std::size_t max_size) {
  if (max_size != 0 && max_size < 2) {
    throw value_error(fmt::format(
        "Vocabulary::build: max_size {} leaves no room for '{}' and '{}' (0 means no limit)",
        max_size, pad_token, unk_token));
  }
  std::unordered_map<std::string, std::size_t> counts;
  for (std::size_t l = 0; l < token_lists.size(); ++l) {
    for (std::size_t t = 0; t < token_lists[l].size(); ++t) {
      const std::string& token = token_lists[l][t];
      if (token.empty() || token.find_first_of("\r\n") != std::string::npos) {
        throw value_error(fmt::format(
            "Vocabulary::build: token {} of list {} is {}", t, l,
            token.empty() ? std::string("empty")
                          : fmt::format("'{}', with a line break", detail::printable(token))));
      }
      if (token == pad_token || token == unk_token) continue;
      ++counts[token];
    }
  }
  std::vector<std::pair<std::string, std::size_t>> kept;
  for (auto& [token, count] : counts) {
    if (count >= std::max<std::size_t>(min_frequency, 1)) kept.emplace_back(token, count);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (max_size != 0 && kept.size() > max_size - 2) kept.resize(max_size - 2);
  std::vector<std::string> tokens{std::string(pad_token), std::string(unk_token)};
  tokens.reserve(kept.size() + 2);
  for (auto& entry : kept) tokens.push_back(std::move(entry.first));
  return Vocabulary(std::move(tokens));
}

void Vocabulary::save(const std::string& path) const {
  std::string text;
  for (const std::string& token : tokens_) {
    text += token;
    text += '\n';
  }
  write_file_atomic(path, text);
}

Vocabulary Vocabulary::load(const std::string& path) {
  std::vector<std::string> tokens = detail::read_list_file("Vocabulary::load", path, "token");
  const std::string_view specials[] = {pad_token, unk_token};
  for (std::size_t i = 0; i < 2; ++i) {
    if (tokens.size() <= i || tokens[i] != specials[i]) {
      throw value_error(fmt::format(
          "Vocabulary::load: '{}' line {}: expected '{}', got {}", path, i + 1, specials[i],
          tokens.size() <= i ? std::string("the end of the file")
                             : fmt::format("'{}'", detail::printable(tokens[i]))));
    }
  }
  return Vocabulary(std::move(tokens));
}

bool Vocabulary::contains(std::string_view token) const {
  return ids_.count(std::string(token)) != 0;
}

Index Vocabulary::id(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  return it == ids_.end() ? unk_id : it->second;
}

const std::string& Vocabulary::token(Index id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size()) {
    throw value_error(
        fmt::format("Vocabulary::token: id {} is outside [0, {})", id, tokens_.size()));
  }
  return tokens_[static_cast<std::size_t>(id)];
}

std::vector<Index> Vocabulary::encode(const std::vector<std::string>& tokens) const {
  std::vector<Index> ids;
  ids.reserve(tokens.size());
  for (const std::string& token : tokens) {
    const auto it = ids_.find(token);
    ids.push_back(it == ids_.end() ? unk_id : it->second);
  }
  return ids;
}

std::vector<std::vector<Index>> Vocabulary::encode_all(
    const std::vector<std::vector<std::string>>& token_lists) const {
  std::vector<std::vector<Index>> out;
  out.reserve(token_lists.size());
  for (const auto& tokens : token_lists) out.push_back(encode(tokens));
  return out;
}

std::vector<std::string> Vocabulary::decode(const std::vector<Index>& ids,
                                            bool skip_padding) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Index id = ids[i];
    if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size()) {
      throw value_error(fmt::format("Vocabulary::decode: id {} at position {} is outside [0, {})",
                                    id, i, tokens_.size()));
    }
    if (skip_padding && id == pad_id) continue;
    out.push_back(tokens_[static_cast<std::size_t>(id)]);
  }
  return out;
}

}  // namespace tapegrad::data
